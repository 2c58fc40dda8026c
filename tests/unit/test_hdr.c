/* Unit tests for broker/hdr: Accept-Encoding, If-None-Match and
 * Content-Length values as clients and attackers send them. */
#include "hdr.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

static const struct gz {
	const char *v;
	int want;
} gz[] = {
	{"gzip", 1},
	{"gzip, deflate, br", 1},
	{"br;q=1, gzip;q=0.8", 1},
	{"GZIP", 1},
	{"x-gzip", 1},
	{"*", 1},
	{"*;q=0.1", 1},
	{" gzip ; q=1 ", 1},
	{"gzip;q=0", 0},
	{"gzip; q=0.000, identity", 0},
	{"gzip;Q=0.", 0},
	{"gzip;q=0.001", 1},
	{"br, deflate", 0},
	{"gzipx", 0},
	{"xgzip", 0},
	{"", 0},
	{",,,", 0},
	{"gzip;q=", 1}, /* an invalid q is not a zero */
	{"identity;q=0, *;q=0", 0},
};

START_TEST(test_gzip)
{
	ck_assert_msg(hdr_accepts_gzip(gz[_i].v) == gz[_i].want, "Accept-Encoding: %s", gz[_i].v);
}
END_TEST

static const struct inm {
	const char *v;
	int want;
} inm[] = {
	{"\"abc\"", 1},
	{"W/\"abc\"", 1},
	{"\"x\", \"abc\"", 1},
	{"\"x\",W/\"abc\" ,\"y\"", 1},
	{"*", 1},
	{"\"abcd\"", 0},
	{"\"ab\"", 0},
	{"abc", 0},
	{"", 0},
	{"W/", 0},
	{"\"x\", *", 1},
};

START_TEST(test_etag)
{
	ck_assert_msg(hdr_etag_match(inm[_i].v, "\"abc\"") == inm[_i].want, "If-None-Match: %s",
		      inm[_i].v);
}
END_TEST

START_TEST(test_etag_null)
{
	ck_assert_int_eq(hdr_etag_match(NULL, "\"abc\""), 0);
	ck_assert_int_eq(hdr_accepts_gzip(NULL), 0);
	uint64_t n;
	ck_assert_int_eq(hdr_content_length(NULL, &n), -1);
}
END_TEST

static const struct cl {
	const char *v;
	int ok;
	uint64_t n;
} cl[] = {
	{"0", 0, 0},
	{"42", 0, 42},
	{"42, 42", 0, 42},
	{"42,42", 0, 42},
	{"007", 0, 7},
	{"9007199254740992", 0, 9007199254740992ull},
	{"9007199254740993", -1, 0},
	{"99999999999999999999999999", -1, 0},
	{"42, 43", -1, 0},
	{"+42", -1, 0},
	{"-1", -1, 0},
	{"4 2", -1, 0},
	{"0x10", -1, 0},
	{"", -1, 0},
	{" ", -1, 0},
	{",", -1, 0},
};

START_TEST(test_cl)
{
	uint64_t n = 12345;
	ck_assert_msg(hdr_content_length(cl[_i].v, &n) == cl[_i].ok, "Content-Length: %s", cl[_i].v);
	if (cl[_i].ok == 0)
		ck_assert_uint_eq(n, cl[_i].n);
	else
		ck_assert_uint_eq(n, 12345); /* untouched */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hdr");
	TCase *tc = tcase_create("hdr");
	tcase_add_loop_test(tc, test_gzip, 0, (int)(sizeof(gz) / sizeof(gz[0])));
	tcase_add_loop_test(tc, test_etag, 0, (int)(sizeof(inm) / sizeof(inm[0])));
	tcase_add_test(tc, test_etag_null);
	tcase_add_loop_test(tc, test_cl, 0, (int)(sizeof(cl) / sizeof(cl[0])));
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
