/* Unit tests for pd_slot: the key slots of the Redis Cluster specification
 * (its CRC16 check value and its hash tag examples; the slots were also
 * asked of redis-server 7 with CLUSTER KEYSLOT), the key position of the
 * commands pushdesk sends, and redirect errors good and bad. */
#include "pd_slot.h"

#include <string.h>

#include "check_run.h"

static const struct {
	const char *key;
	unsigned slot;
} slots[] = {
    {"123456789", 12739}, /* CRC16 0x31C3, the spec's check value */
    {"foo", 12182},
    {"bar", 5061},
    {"hello", 866},
    {"a", 15495},
    {"{user1000}.following", 3443}, /* the spec's tag examples */
    {"{user1000}.followers", 3443},
    {"foo{}{bar}", 8363},    /* empty tag: the whole key */
    {"foo{{bar}}zap", 4015}, /* tag "{bar" */
    {"foo{bar}{zap}", 5061}, /* tag "bar", as "bar" */
    {"{}foo", 9500},
    {"{socket.io:presence}:u1", 6218},
    {"socket.io:presence:u1", 7039},
    {"", 0},
};

START_TEST(test_slots)
{
	const char *k = slots[_i].key;
	ck_assert_uint_eq(pd_slot_of(k, strlen(k)), slots[_i].slot);
}
END_TEST

START_TEST(test_crc)
{
	ck_assert_uint_eq(pd_slot_crc16("123456789", 9), 0x31C3);
	ck_assert_uint_eq(pd_slot_of("foo{", 4), pd_slot_crc16("foo{", 4) % 16384);
	ck_assert_uint_eq(pd_slot_of("x{a}", 4), pd_slot_of("a", 1));
}
END_TEST

START_TEST(test_cmd_key)
{
	const char *eval1[] = {"EVAL", "return 1", "1", "k", "arg"};
	const char *eval0[] = {"eval", "return 1", "0", "arg"};
	const char *evalbad[] = {"EVAL", "return 1", "x", "k"};
	const char *evalsha[] = {"EVALSHA", "abc", "2", "k1", "k2"};
	const char *hset[] = {"HSET", "k", "f", "v"};
	const char *pub[] = {"PUBLISH", "ch", "m"};
	const char *ping[] = {"PING"};
	const char *scan[] = {"scan", "0", "MATCH", "x*"};
	const size_t lens[] = {4, 8, 1, 1, 3};

	ck_assert_int_eq(pd_slot_cmd_key(5, eval1, NULL), 3);
	ck_assert_int_eq(pd_slot_cmd_key(5, eval1, lens), 3);
	ck_assert_int_eq(pd_slot_cmd_key(4, eval0, NULL), -1);
	ck_assert_int_eq(pd_slot_cmd_key(4, evalbad, NULL), -1);
	ck_assert_int_eq(pd_slot_cmd_key(3, eval1, NULL), -1); /* no key given */
	ck_assert_int_eq(pd_slot_cmd_key(5, evalsha, NULL), 3);
	ck_assert_int_eq(pd_slot_cmd_key(4, hset, NULL), 1);
	ck_assert_int_eq(pd_slot_cmd_key(3, pub, NULL), -1);
	ck_assert_int_eq(pd_slot_cmd_key(1, ping, NULL), -1);
	ck_assert_int_eq(pd_slot_cmd_key(4, scan, NULL), -1);
}
END_TEST

START_TEST(test_redirect_good)
{
	struct pd_slot_redirect r;
	const char *m = "MOVED 3999 127.0.0.1:6381";
	const char *a = "ASK 16383 ::1:7000";
	const char *e = "MOVED 0 :6380";

	ck_assert_int_eq(pd_slot_redirect_parse(m, strlen(m), &r), 0);
	ck_assert_int_eq(r.ask, 0);
	ck_assert_uint_eq(r.slot, 3999);
	ck_assert_str_eq(r.host, "127.0.0.1");
	ck_assert_int_eq(r.port, 6381);
	ck_assert_int_eq(pd_slot_redirect_parse(a, strlen(a), &r), 0);
	ck_assert_int_eq(r.ask, 1);
	ck_assert_uint_eq(r.slot, 16383);
	ck_assert_str_eq(r.host, "::1");
	ck_assert_int_eq(r.port, 7000);
	ck_assert_int_eq(pd_slot_redirect_parse(e, strlen(e), &r), 0);
	ck_assert_str_eq(r.host, "");
	ck_assert_int_eq(r.port, 6380);
}
END_TEST

static const char *const bad_redirects[] = {
    "",
    "MOVED",
    "MOVED ",
    "MOVED 3999",
    "MOVED 3999 ",
    "MOVED 16384 h:1",     /* slot out of range */
    "MOVED 999999 h:1",
    "MOVED -1 h:1",
    "MOVED 12 h",          /* no port */
    "MOVED 12 h:",
    "MOVED 12 h:0",
    "MOVED 12 h:65536",
    "MOVED 12 h:99999999999999999999",
    "MOVED 12 h:1x",
    "MOVED 12 h x:1",      /* a space in the host */
    "MOVED x h:1",
    "ASK12 h:1",
    "ERR unknown command",
    "WRONGTYPE Operation against a key",
    "moved 12 h:1",        /* the server spells it in capitals */
};

START_TEST(test_redirect_bad)
{
	struct pd_slot_redirect r;
	const char *e = bad_redirects[_i];
	ck_assert_int_eq(pd_slot_redirect_parse(e, strlen(e), &r), -1);
}
END_TEST

START_TEST(test_redirect_long_host)
{
	struct pd_slot_redirect r;
	char e[PD_SLOT_HOST_MAX + 32];
	memcpy(e, "MOVED 1 ", 8);
	memset(e + 8, 'h', PD_SLOT_HOST_MAX);
	strcpy(e + 8 + PD_SLOT_HOST_MAX, ":1");
	ck_assert_int_eq(pd_slot_redirect_parse(e, strlen(e), &r), -1);
	/* one byte shorter fits */
	memmove(e + 8 + PD_SLOT_HOST_MAX - 1, e + 8 + PD_SLOT_HOST_MAX, 3);
	ck_assert_int_eq(pd_slot_redirect_parse(e, strlen(e), &r), 0);
	ck_assert_uint_eq(strlen(r.host), PD_SLOT_HOST_MAX - 1);
	/* not NUL-terminated: only n bytes are read */
	ck_assert_int_eq(pd_slot_redirect_parse("MOVED 1 h:12", 11, &r), 0);
	ck_assert_int_eq(r.port, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_slot");
	TCase *tc = tcase_create("slot");
	tcase_add_loop_test(tc, test_slots, 0, (int)(sizeof(slots) / sizeof(slots[0])));
	tcase_add_test(tc, test_crc);
	tcase_add_test(tc, test_cmd_key);
	tcase_add_test(tc, test_redirect_good);
	tcase_add_loop_test(tc, test_redirect_bad, 0,
			    (int)(sizeof(bad_redirects) / sizeof(bad_redirects[0])));
	tcase_add_test(tc, test_redirect_long_host);
	suite_add_tcase(s, tc);
	return check_run(s);
}
