/* Unit tests for pd_rooms: canonical names, classification of client-given
 * names, alias rooms and free rooms scoped per org. */
#include "pd_rooms.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ORG "0b7a4c1e-0000-4000-8000-00000000000a"
#define OTHER "0b7a4c1e-0000-4000-8000-00000000000b"

START_TEST(test_canonical)
{
	char b[PD_ROOM_MAX];
	ck_assert_int_eq(pd_room_user(b, sizeof(b), "u1"), 0);
	ck_assert_str_eq(b, "user:u1");
	ck_assert_int_eq(pd_room_org(b, sizeof(b), ORG), 0);
	ck_assert_str_eq(b, "org:" ORG);
	ck_assert_int_eq(pd_room_agents(b, sizeof(b), ORG), 0);
	ck_assert_str_eq(b, "agents:" ORG);
	ck_assert_int_eq(pd_room_role(b, sizeof(b), ORG, "agent"), 0);
	ck_assert_str_eq(b, "role:" ORG ":agent");
	ck_assert_int_eq(pd_room_team(b, sizeof(b), "t1"), 0);
	ck_assert_str_eq(b, "team:t1");
	ck_assert_int_eq(pd_room_ticket(b, sizeof(b), "k1"), 0);
	ck_assert_str_eq(b, "ticket:k1");
	ck_assert_int_eq(pd_room_free(b, sizeof(b), ORG, "project:123"), 0);
	ck_assert_str_eq(b, "free:" ORG ":project:123");
}
END_TEST

/* The automatic rooms of contract 3.1: staff alone get agents:, a team
 * only when the token names one; a buffer too small is an error. */
START_TEST(test_auto)
{
	char n[PD_ROOM_AUTO_MAX][PD_ROOM_MAX];
	ck_assert_int_eq(pd_room_auto("u1", ORG, "agent", "t1", n, PD_ROOM_AUTO_MAX), 5);
	ck_assert_str_eq(n[0], "user:u1");
	ck_assert_str_eq(n[1], "org:" ORG);
	ck_assert_str_eq(n[2], "role:" ORG ":agent");
	ck_assert_str_eq(n[3], "agents:" ORG);
	ck_assert_str_eq(n[4], "team:t1");
	ck_assert_int_eq(pd_room_auto("u2", ORG, "admin", "", n, PD_ROOM_AUTO_MAX), 4);
	ck_assert_str_eq(n[3], "agents:" ORG);
	ck_assert_int_eq(pd_room_auto("u3", ORG, "customer", NULL, n, PD_ROOM_AUTO_MAX), 3);
	ck_assert_str_eq(n[2], "role:" ORG ":customer");
	ck_assert_int_eq(pd_room_auto("u1", ORG, "agent", "t1", n, 4), -ENOSPC);
	ck_assert(pd_role_staff("agent") && pd_role_staff("admin"));
	ck_assert(!pd_role_staff("customer") && !pd_role_staff("service") && !pd_role_staff(NULL));
}
END_TEST

START_TEST(test_too_long)
{
	char b[8];
	ck_assert_int_eq(pd_room_user(b, sizeof(b), "12345678"), -ENAMETOOLONG);
	ck_assert_str_eq(b, "");
	ck_assert_int_eq(pd_room_user(b, 0, "x"), -ENAMETOOLONG);
	ck_assert_int_eq(pd_room_resolve(ORG, "project", b, sizeof(b), NULL, NULL),
			 -ENAMETOOLONG);
	ck_assert_str_eq(b, "");
	/* the longest client name with a 63-byte org still fits PD_ROOM_MAX */
	{
		char big[PD_ROOM_MAX], name[PD_ROOM_NAME_MAX + 2], org[64];
		memset(name, 'n', PD_ROOM_NAME_MAX);
		name[PD_ROOM_NAME_MAX] = '\0';
		memset(org, 'o', 63);
		org[63] = '\0';
		ck_assert_int_eq(pd_room_resolve(org, name, big, sizeof(big), NULL, NULL), 0);
		name[PD_ROOM_NAME_MAX] = 'n';
		name[PD_ROOM_NAME_MAX + 1] = '\0';
		ck_assert_int_eq(pd_room_classify(name), PD_ROOM_INVALID);
		ck_assert_int_eq(pd_room_resolve(org, name, big, sizeof(big), NULL, NULL), -EINVAL);
	}
	/* conv:<id> of the longest name: its ticket:<id> would be too long to
	 * give back (found by fuzz_rooms) */
	{
		char big[PD_ROOM_MAX], name[PD_ROOM_NAME_MAX + 1];
		memcpy(name, "conv:", 5);
		memset(name + 5, 'a', PD_ROOM_NAME_MAX - 5);
		name[PD_ROOM_NAME_MAX] = '\0';
		ck_assert_int_eq(pd_room_resolve("o", name, big, sizeof(big), NULL, NULL),
				 -ENAMETOOLONG);
		ck_assert_str_eq(big, "");
		name[PD_ROOM_NAME_MAX - 2] = '\0';
		ck_assert_int_eq(pd_room_resolve("o", name, big, sizeof(big), NULL, NULL), 0);
		ck_assert_uint_eq(strlen(big), PD_ROOM_NAME_MAX);
	}
}
END_TEST

static const struct {
	const char *name;
	enum pd_room_kind kind;
	int reserved;
} classify[] = {
	{"project:123", PD_ROOM_FREE, 0},   {"lobby", PD_ROOM_FREE, 0},
	{"User:x", PD_ROOM_FREE, 0},        {"users", PD_ROOM_FREE, 0},
	{"user:x", PD_ROOM_USER, 1},        {"org:x", PD_ROOM_ORG, 1},
	{"agents:x", PD_ROOM_AGENTS, 1},    {"role:agent", PD_ROOM_ROLE, 1},
	{"team:x", PD_ROOM_TEAM, 1},        {"ticket:x", PD_ROOM_TICKET, 1},
	{"presence:x", PD_ROOM_PRESENCE, 1}, {"ws:x", PD_ROOM_WS, 1},
	{"conv:x", PD_ROOM_CONV, 1},        {"free:x:y", PD_ROOM_INTERNAL_FREE, 1},
	{"ticket:", PD_ROOM_TICKET, 1},     {"", PD_ROOM_INVALID, 0},
	{"a\nb", PD_ROOM_INVALID, 0},       {"a\x7f", PD_ROOM_INVALID, 0},
	{"caf\xc3\xa9", PD_ROOM_FREE, 0},
};

START_TEST(test_classify)
{
	ck_assert_int_eq(pd_room_classify(classify[_i].name), classify[_i].kind);
	ck_assert_int_eq(pd_room_reserved(classify[_i].name), classify[_i].reserved);
}
END_TEST

static const struct {
	const char *name, *out;
	int rc;
	enum pd_room_kind kind;
	const char *id;
} resolve[] = {
	{"project:123", "free:" ORG ":project:123", 0, PD_ROOM_FREE, ""},
	{"Project:123", "free:" ORG ":Project:123", 0, PD_ROOM_FREE, ""},
	{"org:" ORG, "org:" ORG, 0, PD_ROOM_ORG, ""},
	{"agents:" ORG, "agents:" ORG, 0, PD_ROOM_AGENTS, ""},
	{"ws:" ORG, "agents:" ORG, 0, PD_ROOM_AGENTS, ""},
	{"role:agent", "role:" ORG ":agent", 0, PD_ROOM_ROLE, "agent"},
	{"role:" ORG ":admin", "role:" ORG ":admin", 0, PD_ROOM_ROLE, "admin"},
	{"conv:ABCDEF12-0000-4000-8000-000000000001", "ticket:abcdef12-0000-4000-8000-000000000001",
	 0, PD_ROOM_TICKET, "abcdef12-0000-4000-8000-000000000001"},
	{"ticket:k1", "ticket:k1", 0, PD_ROOM_TICKET, "k1"},
	{"user:U1", "user:u1", 0, PD_ROOM_USER, "u1"},
	{"team:t1", "team:t1", 0, PD_ROOM_TEAM, "t1"},
	/* another org's rooms */
	{"org:" OTHER, "", -EPERM, 0, NULL},
	{"agents:" OTHER, "", -EPERM, 0, NULL},
	{"ws:" OTHER, "", -EPERM, 0, NULL},
	{"role:" OTHER ":agent", "", -EPERM, 0, NULL},
	/* reserved names that cannot be named, bad parts */
	{"presence:x", "", -EINVAL, 0, NULL},
	{"free:" ORG ":x", "", -EINVAL, 0, NULL},
	{"role:", "", -EINVAL, 0, NULL},
	{"role:wizard", "", -EINVAL, 0, NULL},
	{"role:" ORG ":", "", -EINVAL, 0, NULL},
	{"ticket:", "", -EINVAL, 0, NULL},
	{"conv:a:b", "", -EINVAL, 0, NULL},
	{"user:", "", -EINVAL, 0, NULL},
	{"", "", -EINVAL, 0, NULL},
	{"bad\tname", "", -EINVAL, 0, NULL},
};

START_TEST(test_resolve)
{
	char b[PD_ROOM_MAX];
	enum pd_room_kind k = PD_ROOM_INVALID;
	const char *id = NULL;
	int rc = pd_room_resolve(ORG, resolve[_i].name, b, sizeof(b), &k, &id);
	ck_assert_msg(rc == resolve[_i].rc, "%s: rc %d", resolve[_i].name, rc);
	ck_assert_str_eq(b, resolve[_i].out);
	if (rc == 0) {
		ck_assert_int_eq(k, resolve[_i].kind);
		ck_assert_str_eq(id, resolve[_i].id);
	}
}
END_TEST

START_TEST(test_orgs_never_meet)
{
	char a[PD_ROOM_MAX], b[PD_ROOM_MAX];
	ck_assert_int_eq(pd_room_resolve(ORG, "lobby", a, sizeof(a), NULL, NULL), 0);
	ck_assert_int_eq(pd_room_resolve(OTHER, "lobby", b, sizeof(b), NULL, NULL), 0);
	ck_assert_str_ne(a, b);
	/* a client cannot spell another org's internal free room */
	ck_assert_int_eq(pd_room_resolve(ORG, b, a, sizeof(a), NULL, NULL), -EINVAL);
	ck_assert_int_eq(pd_room_free(a, sizeof(a), ORG, "free:x"), -EINVAL);
	ck_assert_int_eq(pd_room_resolve(ORG, "x", a, sizeof(a), NULL, NULL), 0);
	ck_assert_int_eq(pd_room_resolve("", "x", a, sizeof(a), NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_unalias)
{
	char b[PD_ROOM_MAX], small[8];
	ck_assert_int_eq(pd_room_unalias("ws:" ORG, b, sizeof(b)), 0);
	ck_assert_str_eq(b, "agents:" ORG);
	ck_assert_int_eq(pd_room_unalias("conv:ABC", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "ticket:abc");
	ck_assert_int_eq(pd_room_unalias("role:agent", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "role:agent"); /* needs an org: left as it is */
	ck_assert_int_eq(pd_room_unalias("project:1", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "project:1");
	ck_assert_int_eq(pd_room_unalias("ws:" ORG, small, sizeof(small)), -ENAMETOOLONG);
	ck_assert_int_eq(pd_room_unalias("", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_rooms");
	TCase *tc = tcase_create("rooms");
	tcase_add_test(tc, test_canonical);
	tcase_add_test(tc, test_auto);
	tcase_add_test(tc, test_too_long);
	tcase_add_loop_test(tc, test_classify, 0, (int)(sizeof(classify) / sizeof(classify[0])));
	tcase_add_loop_test(tc, test_resolve, 0, (int)(sizeof(resolve) / sizeof(resolve[0])));
	tcase_add_test(tc, test_orgs_never_meet);
	tcase_add_test(tc, test_unalias);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
