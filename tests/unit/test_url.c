/* Unit tests for pd_url: valkey_url parsing, the forms the API, the broker
 * and pushdeskctl accept (the union of their old parsers) and the rejects. */
#include "pd_url.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const struct good {
	const char *url;
	const char *host;
	int port, db;
	const char *user, *password, *unix_path;
} good[] = {
	{"redis://127.0.0.1:6380", "127.0.0.1", 6380, 0, "", "", ""},
	{"redis://h", "h", 6379, 0, "", "", ""},
	{"redis://h/", "h", 6379, 0, "", "", ""},
	{"redis://h:1/3", "h", 1, 3, "", "", ""},
	{"redis://h:65535/100000", "h", 65535, 100000, "", "", ""},
	{"valkey://vk.example:7000/2", "vk.example", 7000, 2, "", "", ""},
	{"redis://:pw@h/3", "h", 6379, 3, "", "pw", ""},
	{"redis://pw@h", "h", 6379, 0, "", "pw", ""},          /* password only, no ':' */
	{"redis://alice:s3cret@h:6390/1", "h", 6390, 1, "alice", "s3cret", ""},
	{"redis://alice:@h", "h", 6379, 0, "alice", "", ""},   /* user, empty password */
	{"redis://:a:b/c@h", "h", 6379, 0, "", "a:b/c", ""},   /* password with ':' and '/' */
	{"redis://:p@ss@h", "ss@h", 6379, 0, "", "p", ""},     /* userinfo ends at the first '@' */
	{"redis://", "127.0.0.1", 6379, 0, "", "", ""},         /* empty host: localhost */
	{"redis://:6380/1", "127.0.0.1", 6380, 1, "", "", ""},
	{"redis://:pw@/2", "127.0.0.1", 6379, 2, "", "pw", ""},
	{"redis://[::1]:6380/1", "::1", 6380, 1, "", "", ""},  /* IPv6 (was broker only) */
	{"redis://[fe80::1%eth0]", "fe80::1%eth0", 6379, 0, "", "", ""},
	{"valkey://u:p@[2001:db8::7]:7001", "2001:db8::7", 7001, 0, "u", "p", ""},
	{"h:6381", "h", 6381, 0, "", "", ""},                   /* bare (was CLI and broker) */
	{"h", "h", 6379, 0, "", "", ""},
	{"10.0.0.1:6379/4", "10.0.0.1", 6379, 4, "", "", ""},
	{":pw@h:1", "h", 1, 0, "", "pw", ""},
	{"[::1]:1", "::1", 1, 0, "", "", ""},
	{"unix:///run/v.sock", "", 6379, 0, "", "", "/run/v.sock"},
};

START_TEST(test_good)
{
	const struct good *g = &good[_i];
	struct pd_redis_url u;
	ck_assert_msg(pd_redis_url_parse(g->url, &u) == 0, "%s: %s", g->url, u.err);
	ck_assert_str_eq(u.host, g->host);
	ck_assert_int_eq(u.port, g->port);
	ck_assert_int_eq(u.db, g->db);
	ck_assert_str_eq(u.user, g->user);
	ck_assert_str_eq(u.password, g->password);
	ck_assert_str_eq(u.unix_path, g->unix_path);
	ck_assert_ptr_null(u.err);
}
END_TEST

static const char *const bad[] = {
	"",
	"redis://h:0",
	"redis://h:65536",
	"redis://h:abc",
	"redis://h:",
	"redis://h:-1",
	"redis://h:99999",
	"redis://h:1x",
	"redis://h:1:2",
	"h:0",
	"h:65536",
	"redis://h/-1",
	"redis://h/100001",
	"redis://h/99999999999999999999999",
	"redis://h/x",
	"redis://h/1x",
	"redis://h/1/2",
	"http://x",                 /* unknown scheme */
	"rediss://h:6379",
	"://h:6379",
	"/run/v.sock",              /* a socket needs unix:// */
	"unix:/run/v.sock",
	"unix://run/v.sock",        /* relative */
	"unix://",
	"redis://[::1",             /* unclosed */
	"redis://[]:1",
	"redis://[::1]x",
	"redis://[::1]:0",
	"redis://[::1]:",
	"redis://::1",              /* IPv6 needs brackets */
	"redis://h:1,h:0",          /* several seeds: each is checked */
	"redis://h:1,h:",
	"redis://h:1,x:y",
	"redis://h:1,[::1",
	"redis://h:1,[::1]x",
	"redis://a:1,b:2/3",        /* a cluster has database 0 only */
	"redis://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", /* over PD_URL_SEEDS_MAX */
};

START_TEST(test_bad)
{
	struct pd_redis_url u;
	ck_assert_msg(pd_redis_url_parse(bad[_i], &u) == -1, "accepted %s", bad[_i]);
	ck_assert_ptr_nonnull(u.err);
}
END_TEST

/* "redis://" + n copies of c + rest, in a malloc'd string */
static char *mk(const char *pre, size_t n, char c, const char *rest)
{
	size_t lp = strlen(pre), lr = strlen(rest);
	char *s = malloc(lp + n + lr + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, pre, lp);
	memset(s + lp, c, n);
	memcpy(s + lp + n, rest, lr + 1);
	return s;
}

START_TEST(test_lengths)
{
	struct pd_redis_url u;
	char *s;

	s = mk("redis://", sizeof(u.host) - 1, 'h', ":1"); /* longest host */
	ck_assert_int_eq(pd_redis_url_parse(s, &u), 0);
	ck_assert_uint_eq(strlen(u.host), sizeof(u.host) - 1);
	free(s);
	s = mk("redis://", sizeof(u.host), 'h', ":1");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), -1);
	ck_assert_str_eq(u.err, "host too long");
	free(s);
	s = mk("redis://[", sizeof(u.host), 'a', "]:1");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), -1);
	free(s);

	s = mk("redis://:", sizeof(u.password) - 1, 'p', "@h");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), 0);
	ck_assert_uint_eq(strlen(u.password), sizeof(u.password) - 1);
	free(s);
	s = mk("redis://:", sizeof(u.password), 'p', "@h");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), -1);
	ck_assert_str_eq(u.err, "password too long");
	free(s);
	s = mk("redis://", sizeof(u.password), 'p', "@h"); /* password only */
	ck_assert_int_eq(pd_redis_url_parse(s, &u), -1);
	free(s);

	s = mk("redis://", sizeof(u.user) - 1, 'u', ":p@h");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), 0);
	free(s);
	s = mk("redis://", sizeof(u.user), 'u', ":p@h");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), -1);
	ck_assert_str_eq(u.err, "user too long");
	free(s);

	s = mk("unix:///", sizeof(u.unix_path) - 2, 's', ""); /* '/' + 106 + NUL */
	ck_assert_int_eq(pd_redis_url_parse(s, &u), 0);
	ck_assert_uint_eq(strlen(u.unix_path), sizeof(u.unix_path) - 1);
	free(s);
	s = mk("unix:///", sizeof(u.unix_path) - 1, 's', "");
	ck_assert_int_eq(pd_redis_url_parse(s, &u), -1);
	free(s);
}
END_TEST

START_TEST(test_seeds)
{
	struct pd_redis_url u;
	ck_assert_int_eq(pd_redis_url_parse("redis://h:7", &u), 0);
	ck_assert_int_eq(u.nseeds, 1);
	ck_assert_str_eq(u.seeds[0].host, "h");
	ck_assert_int_eq(u.seeds[0].port, 7);
	ck_assert_msg(pd_redis_url_parse("redis://u:pw@10.0.0.1:7000,vk2,[::1]:7002,:7003/0", &u) == 0,
		      "%s", u.err);
	ck_assert_int_eq(u.nseeds, 4);
	ck_assert_str_eq(u.host, "10.0.0.1");
	ck_assert_int_eq(u.port, 7000);
	ck_assert_str_eq(u.user, "u");
	ck_assert_str_eq(u.password, "pw");
	ck_assert_str_eq(u.seeds[1].host, "vk2");
	ck_assert_int_eq(u.seeds[1].port, 6379);
	ck_assert_str_eq(u.seeds[2].host, "::1");
	ck_assert_int_eq(u.seeds[2].port, 7002);
	ck_assert_str_eq(u.seeds[3].host, "127.0.0.1");
	ck_assert_int_eq(u.seeds[3].port, 7003);
	ck_assert_int_eq(pd_redis_url_parse("a:1,b:2", &u), 0); /* bare, as the broker took */
	ck_assert_int_eq(u.nseeds, 2);
	ck_assert_int_eq(pd_redis_url_parse("redis://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &u), 0);
	ck_assert_int_eq(u.nseeds, PD_URL_SEEDS_MAX);
	ck_assert_str_eq(u.seeds[15].host, "16");
	ck_assert_int_eq(pd_redis_url_parse("unix:///s", &u), 0);
	ck_assert_int_eq(u.nseeds, 0);
}
END_TEST

START_TEST(test_cleared)
{
	struct pd_redis_url u;
	ck_assert_int_eq(pd_redis_url_parse("redis://a:b@h:7/5", &u), 0);
	ck_assert_int_eq(pd_redis_url_parse("redis://h:bad", &u), -1);
	ck_assert_int_eq(pd_redis_url_parse("unix:///s", &u), 0); /* nothing left over */
	ck_assert_str_eq(u.host, "");
	ck_assert_str_eq(u.user, "");
	ck_assert_str_eq(u.password, "");
	ck_assert_int_eq(u.port, 6379);
	ck_assert_int_eq(u.db, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_url");
	TCase *tc = tcase_create("url");
	tcase_add_loop_test(tc, test_good, 0, (int)(sizeof(good) / sizeof(good[0])));
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_cleared);
	tcase_add_test(tc, test_seeds);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
