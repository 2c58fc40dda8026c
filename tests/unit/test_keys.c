/* Unit tests for pd_keys: every key name for a prefix (the names the
 * broker, the API and pushdeskctl read and write), the default prefix,
 * bounded buffers, and the Lua that names the same keys. */
#include "pd_keys.h"

#include <check.h>
#include <string.h>

#include "check_run.h"
#include "pd_slot.h"

START_TEST(test_names)
{
	char b[PD_KEYS_MAX];
	ck_assert_int_eq(pd_keys_brokers(b, sizeof(b), "pd"), 0);
	ck_assert_str_eq(b, "pd:{brokers}");
	ck_assert_int_eq(pd_keys_broker(b, sizeof(b), "pd", "AbC123"), 0);
	ck_assert_str_eq(b, "pd:{brokers}:AbC123");
	ck_assert_int_eq(pd_keys_presence_user(b, sizeof(b), "pd", "u1"), 0);
	ck_assert_str_eq(b, "pd:{presence}:u1");
	ck_assert_int_eq(pd_keys_presence_conns(b, sizeof(b), "pd", "u1"), 0);
	ck_assert_str_eq(b, "pd:{presence}:u1:conns");
	ck_assert_int_eq(pd_keys_presence_org(b, sizeof(b), "pd", "o1"), 0);
	ck_assert_str_eq(b, "pd:{presence}:org:o1");
	ck_assert_int_eq(pd_keys_presence_org(b, sizeof(b), "pd", "*"), 0);
	ck_assert_str_eq(b, "pd:{presence}:org:*");
	ck_assert_int_eq(pd_keys_presence_all(b, sizeof(b), "pd"), 0);
	ck_assert_str_eq(b, "pd:{presence}:conns");
	ck_assert_int_eq(pd_keys_presence_lock(b, sizeof(b), "pd"), 0);
	ck_assert_str_eq(b, "pd:{presence}:sweeper");
}
END_TEST

/* A cluster takes a script only when its keys share a slot: every key of
 * a family hashes as its tag does, whatever the ids. */
START_TEST(test_slots)
{
	char b[PD_KEYS_MAX];
	unsigned pres = pd_slot_of("presence", 8), brokers = pd_slot_of("brokers", 7);
#define SLOT_IS(call, want)                                                                        \
	do {                                                                                       \
		ck_assert_int_eq(call, 0);                                                         \
		ck_assert_uint_eq(pd_slot_of(b, strlen(b)), want);                                 \
	} while (0)
	SLOT_IS(pd_keys_brokers(b, sizeof(b), "pd"), brokers);
	SLOT_IS(pd_keys_broker(b, sizeof(b), "socket.io", "Zz9"), brokers);
	SLOT_IS(pd_keys_presence_user(b, sizeof(b), "pd", "u1"), pres);
	SLOT_IS(pd_keys_presence_user(b, sizeof(b), "pd", "u2"), pres);
	SLOT_IS(pd_keys_presence_conns(b, sizeof(b), "x", "u1"), pres);
	SLOT_IS(pd_keys_presence_org(b, sizeof(b), "pd", "o1"), pres);
	SLOT_IS(pd_keys_presence_all(b, sizeof(b), "pd"), pres);
	SLOT_IS(pd_keys_presence_lock(b, sizeof(b), "pd"), pres);
	/* a script of recovery touches the stream with the session or with
	 * an event's seen key: one slot */
	unsigned rec = pd_slot_of("recovery", 8);
	SLOT_IS(pd_keys_recovery_stream(b, sizeof(b), "pd", "/dashboard"), rec);
	SLOT_IS(pd_keys_recovery_session(b, sizeof(b), "pd", "Pq1"), rec);
	SLOT_IS(pd_keys_recovery_seen(b, sizeof(b), "x", "outbox:42"), rec);
	ck_assert_str_eq(b, "x:{recovery}:seen:outbox:42");
#undef SLOT_IS
	ck_assert_uint_ne(pres, brokers);
}
END_TEST

START_TEST(test_default_prefix)
{
	char b[PD_KEYS_MAX];
	ck_assert_str_eq(pd_keys_prefix(NULL), "socket.io");
	ck_assert_str_eq(pd_keys_prefix(""), "socket.io");
	ck_assert_str_eq(pd_keys_prefix("x"), "x");
	ck_assert_int_eq(pd_keys_brokers(b, sizeof(b), NULL), 0);
	ck_assert_str_eq(b, "socket.io:{brokers}");
	ck_assert_int_eq(pd_keys_presence_user(b, sizeof(b), "", "u"), 0);
	ck_assert_str_eq(b, "socket.io:{presence}:u");
}
END_TEST

START_TEST(test_bounds)
{
	char b[32], big[PD_KEYS_MAX];
	char prefix[PD_KEYS_MAX_PREFIX + 1], id[PD_KEYS_MAX_ID + 1];

	/* "pd:{brokers}" is 12 bytes: fits in 13, not in 12 (buf left "") */
	ck_assert_int_eq(pd_keys_brokers(b, 13, "pd"), 0);
	ck_assert_str_eq(b, "pd:{brokers}");
	memset(b, 'x', sizeof(b));
	ck_assert_int_eq(pd_keys_brokers(b, 12, "pd"), -1);
	ck_assert_str_eq(b, "");
	/* the prefix alone overflowing */
	ck_assert_int_eq(pd_keys_presence_all(b, 3, "pd"), -1);
	ck_assert_str_eq(b, "");
	ck_assert_int_eq(pd_keys_presence_all(b, 0, "pd"), -1);
	/* the longest prefix and id fit in PD_KEYS_MAX for every key */
	memset(prefix, 'k', PD_KEYS_MAX_PREFIX);
	prefix[PD_KEYS_MAX_PREFIX] = '\0';
	memset(id, 'i', PD_KEYS_MAX_ID);
	id[PD_KEYS_MAX_ID] = '\0';
	ck_assert_int_eq(pd_keys_brokers(big, sizeof(big), prefix), 0);
	ck_assert_int_eq(pd_keys_broker(big, sizeof(big), prefix, id), 0);
	ck_assert_int_eq(pd_keys_presence_user(big, sizeof(big), prefix, id), 0);
	ck_assert_int_eq(pd_keys_presence_conns(big, sizeof(big), prefix, id), 0);
	ck_assert_uint_eq(strlen(big), PD_KEYS_MAX_PREFIX + strlen(":{presence}:") +
					   PD_KEYS_MAX_ID + strlen(":conns"));
	ck_assert_int_eq(pd_keys_presence_org(big, sizeof(big), prefix, id), 0);
	ck_assert_int_eq(pd_keys_presence_all(big, sizeof(big), prefix), 0);
	ck_assert_int_eq(pd_keys_presence_lock(big, sizeof(big), prefix), 0);
}
END_TEST

/* The Lua names the keys as the C builders do. */
START_TEST(test_lua)
{
	ck_assert_ptr_nonnull(strstr(PD_KEYS_LUA_PRESENCE,
				     "k_user(p, u) return p .. ':{presence}:' .. u end"));
	ck_assert_ptr_nonnull(strstr(PD_KEYS_LUA_PRESENCE,
				     "k_conns(p, u) return p .. ':{presence}:' .. u .. ':conns' end"));
	ck_assert_ptr_nonnull(strstr(PD_KEYS_LUA_PRESENCE,
				     "k_org(p, o) return p .. ':{presence}:org:' .. o end"));
	/* both lease scripts read Valkey's clock, the clock of the scores */
	ck_assert_int_eq(strncmp(pd_keys_lua_lease, PD_KEYS_LUA_NOW, strlen(PD_KEYS_LUA_NOW)), 0);
	ck_assert_int_eq(strncmp(pd_keys_lua_live, PD_KEYS_LUA_NOW, strlen(PD_KEYS_LUA_NOW)), 0);
	ck_assert_ptr_nonnull(strstr(pd_keys_lua_live, "ZRANGEBYSCORE', KEYS[1], '(' .. now"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_keys");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_default_prefix);
	tcase_add_test(tc, test_slots);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_lua);
	suite_add_tcase(s, tc);
	return check_run(s);
}
