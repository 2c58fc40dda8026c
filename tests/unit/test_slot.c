/* Unit tests for pd_slot: the key slots of the Redis Cluster specification
 * (its CRC16 check value and its hash tag examples; the slots were also
 * asked of redis-server 7 with CLUSTER KEYSLOT), the key position of the
 * commands pushdesk sends, redirect errors good and bad, the arguments of a
 * formatted command, and a client's slot map (pd_kvc's routing). */
#include "pd_slot.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
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

/* argv formatted by hiredis, as pd_kvc gets it: *len its length */
static char *fmt(int argc, const char **argv, size_t *len)
{
	char *cmd = NULL;
	int n = redisFormatCommandArgv(&cmd, argc, argv, NULL);
	ck_assert_int_ge(n, 0);
	*len = (size_t)n;
	return cmd;
}

START_TEST(test_resp_args)
{
	const char *set[] = {"SET", "k", "v"};
	const char *bin[] = {"SPUBLISH", "a\r\nb", ""};
	const char *argv[4];
	size_t lens[4], n;
	char *cmd = fmt(3, set, &n);

	ck_assert_int_eq(n, strlen("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"));
	ck_assert_int_eq(memcmp(cmd, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", n), 0);
	ck_assert_int_eq(pd_slot_resp_args(cmd, n, 4, argv, lens), 3);
	ck_assert_int_eq(lens[0], 3);
	ck_assert_int_eq(memcmp(argv[0], "SET", 3), 0);
	ck_assert_int_eq(lens[1], 1);
	ck_assert_int_eq(argv[1][0], 'k');
	ck_assert_int_eq(pd_slot_resp_args(cmd, n, 2, argv, lens), 2); /* at most max */
	ck_assert_int_eq(pd_slot_resp_args(cmd, n, 0, argv, lens), 0);
	/* only n bytes are read: a command cut short is not one */
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_lt(pd_slot_resp_args(cmd, cut, 4, argv, lens), 3);
	free(cmd);
	cmd = fmt(3, bin, &n); /* CR LF inside an argument, an empty one */
	ck_assert_int_eq(pd_slot_resp_args(cmd, n, 4, argv, lens), 3);
	ck_assert_int_eq(lens[1], 4);
	ck_assert_int_eq(memcmp(argv[1], "a\r\nb", 4), 0);
	ck_assert_int_eq(lens[2], 0);
	free(cmd);
}
END_TEST

static const char *const bad_resp[] = {
    "",
    "PING\r\n",                         /* inline, not an array */
    "*\r\n",
    "*1\r\n",                           /* an argument missing */
    "*1\r\n$4\r\nPIN",
    "*1\r\n$4\r\nPINGxx",               /* no CR LF after the bytes */
    "*1\r\n:4\r\nPING\r\n",             /* not a bulk string */
    "*1\r\n$-1\r\n",
    "*1\r\n$4",
    "*1\r\n$4\n\rPING\r\n",
    "*1\r\n$9999999999\r\nPING\r\n",    /* over 9 digits */
    "*1\r\n$99999999\r\nPING\r\n",      /* past the end */
    "*x\r\n",
};

START_TEST(test_resp_bad)
{
	const char *argv[4];
	size_t lens[4];
	const char *c = bad_resp[_i];
	ck_assert_int_eq(pd_slot_resp_args(c, strlen(c), 4, argv, lens), -1);
}
END_TEST

/* The node m routes argv to. */
static int route(const struct pd_slot_map *m, int argc, const char **argv)
{
	size_t n;
	char *cmd = fmt(argc, argv, &n);
	int i = pd_slot_map_route(m, cmd, n);
	free(cmd);
	return i;
}

START_TEST(test_map)
{
	struct pd_slot_map *m = pd_slot_map_new();
	const char *xadd[] = {"XADD", "socket.io:{recovery}:events:/", "MAXLEN", "~", "10", "*",
			      "m", "x"};
	const char *spub[] = {"SPUBLISH", "socket.io#/#ticket:1#", "msg"};
	const char *get[] = {"GET", "{recovery}"};
	const char *eval[] = {"EVAL", "return 1", "1", "socket.io#/#ticket:1#", "a"};
	const char *eval0[] = {"EVAL", "return 1", "0", "a"};
	const char *pub[] = {"PUBLISH", "socket.io#/#ticket:1#", "msg"};
	const char *ping[] = {"PING"};
	unsigned rec = pd_slot_of("{recovery}", 10);
	unsigned room = pd_slot_of(spub[1], strlen(spub[1]));
	char host[32];
	int port;

	ck_assert_ptr_nonnull(m);
	/* empty (a plain Valkey): every command goes where the client is */
	ck_assert_int_eq(route(m, 8, xadd), -1);
	ck_assert_int_eq(pd_slot_map_node(m, "127.0.0.1", 7000), 0);
	ck_assert_int_eq(pd_slot_map_node(m, "127.0.0.1", 7001), 1);
	ck_assert_int_eq(pd_slot_map_node(m, "127.0.0.1", 7000), 0); /* known */
	ck_assert_int_eq(pd_slot_map_node(m, "", 7002), -1);
	ck_assert_str_eq(pd_slot_map_addr(m, 1, &port), "127.0.0.1");
	ck_assert_int_eq(port, 7001);
	ck_assert_ptr_null(pd_slot_map_addr(m, 2, &port));
	ck_assert_ptr_null(pd_slot_map_addr(m, -1, &port));
	/* slots not told yet */
	ck_assert_int_eq(route(m, 8, xadd), -1);
	ck_assert_int_eq(route(m, 3, spub), -1);
	/* MOVED told them */
	pd_slot_map_set(m, rec, 0);
	pd_slot_map_set(m, room, 1);
	ck_assert_int_eq(route(m, 8, xadd), 0);
	ck_assert_int_eq(route(m, 2, get), 0); /* the same tag */
	ck_assert_int_eq(route(m, 3, spub), 1);
	ck_assert_int_eq(route(m, 5, eval), 1); /* EVAL's first key */
	ck_assert_int_eq(route(m, 4, eval0), -1);
	ck_assert_int_eq(route(m, 3, pub), -1); /* any node delivers PUBLISH */
	ck_assert_int_eq(route(m, 1, ping), -1);
	ck_assert_int_eq(pd_slot_map_route(m, "garbage", 7), -1);
	/* node 1 failed: its slots go back to the redirects */
	pd_slot_map_forget(m, 1);
	ck_assert_int_eq(route(m, 3, spub), -1);
	ck_assert_int_eq(route(m, 8, xadd), 0);
	pd_slot_map_set(m, rec, -1);
	ck_assert_int_eq(route(m, 8, xadd), -1);
	pd_slot_map_set(m, rec, 5); /* no node 5: ignored */
	ck_assert_int_eq(route(m, 8, xadd), -1);
	/* bounded: PD_SLOT_NODES_MAX nodes, then none more */
	for (int i = 2; i < PD_SLOT_NODES_MAX; i++) {
		snprintf(host, sizeof(host), "10.0.0.%d", i);
		ck_assert_int_eq(pd_slot_map_node(m, host, 6379), i);
	}
	ck_assert_int_eq(pd_slot_map_node(m, "10.0.1.1", 6379), -1);
	ck_assert_int_eq(pd_slot_map_node(m, "10.0.0.2", 6379), 2); /* still found */
	pd_slot_map_set(m, PD_SLOT_COUNT - 1, PD_SLOT_NODES_MAX - 1);
	pd_slot_map_free(m);
	pd_slot_map_free(NULL);
}
END_TEST

START_TEST(test_map_long_host)
{
	struct pd_slot_map *m = pd_slot_map_new();
	char host[PD_SLOT_HOST_MAX + 1];
	memset(host, 'h', PD_SLOT_HOST_MAX);
	host[PD_SLOT_HOST_MAX] = '\0';
	ck_assert_int_eq(pd_slot_map_node(m, host, 1), -1);
	host[PD_SLOT_HOST_MAX - 1] = '\0'; /* what a redirect holds at most */
	ck_assert_int_eq(pd_slot_map_node(m, host, 1), 0);
	pd_slot_map_free(m);
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
	tcase_add_test(tc, test_resp_args);
	tcase_add_loop_test(tc, test_resp_bad, 0, (int)(sizeof(bad_resp) / sizeof(bad_resp[0])));
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_map_long_host);
	suite_add_tcase(s, tc);
	return check_run(s);
}
