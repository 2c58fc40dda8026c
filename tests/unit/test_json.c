/* Unit tests for pd_json (strict parsing, field readers, UUIDs) and for the
 * pd_err table that JSON error bodies are made from. */
#include "pd_err.h"
#include "pd_json.h"

#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static json_t *parse(const char *s)
{
	return pd_json_parse(s, strlen(s), err, sizeof(err));
}

START_TEST(test_parse_ok)
{
	static const char *const ok[] = {"{}", "[]", "\"str\"", "42", "-1.5e3", "true", "null",
					 " {\"a\": [1, {\"b\": null}]} \n", "{\"k\":\"\\u00e9\"}",
					 "\"caf\xc3\xa9\""};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		json_t *v = parse(ok[i]);
		ck_assert_msg(v != NULL, "%s: %s", ok[i], err);
		json_decref(v);
	}
}
END_TEST

START_TEST(test_parse_bad)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"{\"a\":1,}",
		"{\"a\":1}{}",            /* trailing value */
		"{\"a\":1} x",            /* trailing garbage */
		"{\"a\":1,\"a\":2}",      /* duplicate key */
		"\"\xc3\"",               /* invalid UTF-8 */
		"\"\xed\xa0\x80\"",       /* surrogate in UTF-8 */
		"\"\\u0000\"",            /* NUL in a string */
		"{'a':1}",
		"NaN",
		"[1,2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		json_t *v = parse(bad[i]);
		ck_assert_msg(v == NULL, "accepted: %s", bad[i]);
		ck_assert_int_gt(strlen(err), 0);
	}
	ck_assert_ptr_null(pd_json_parse("{}", 0, err, sizeof(err)));
	ck_assert_ptr_null(pd_json_parse(NULL, 0, err, sizeof(err)));
	/* an embedded NUL byte is not whitespace */
	ck_assert_ptr_null(pd_json_parse("{}\0", 3, err, sizeof(err)));
	/* the error names where */
	ck_assert_ptr_null(parse("{\n\"a\": tru}"));
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
}
END_TEST

static char *nested(int depth, char open, char close)
{
	char *s = malloc((size_t)depth * 2 + 1);
	memset(s, open, (size_t)depth);
	memset(s + depth, close, (size_t)depth);
	s[depth * 2] = '\0';
	return s;
}

START_TEST(test_depth)
{
	char *s = nested(64, '[', ']');
	json_t *v = parse(s);
	ck_assert_ptr_nonnull(v);
	json_decref(v);
	free(s);
	s = nested(65, '[', ']');
	ck_assert_ptr_null(parse(s));
	ck_assert_str_eq(err, "JSON nested deeper than 64 levels");
	free(s);
	/* objects count too */
	char buf[1024] = "";
	for (int i = 0; i < 65; i++)
		strcat(buf, "{\"a\":");
	strcat(buf, "1");
	for (int i = 0; i < 65; i++)
		strcat(buf, "}");
	ck_assert_ptr_null(parse(buf));
	/* brackets inside strings do not count */
	char str[400];
	strcpy(str, "[\"");
	for (int i = 0; i < 100; i++)
		strcat(str, "[");
	strcat(str, "\\\"[\"]");
	v = parse(str);
	ck_assert_msg(v != NULL, "%s", err);
	json_decref(v);
}
END_TEST

START_TEST(test_dump)
{
	json_t *v = parse("{ \"a\" : [ 1 , 2 ] , \"b\" : \"x\\\"y\" }");
	size_t len = 0;
	char *s = pd_json_dump(v, &len);
	ck_assert_str_eq(s, "{\"a\":[1,2],\"b\":\"x\\\"y\"}");
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	json_decref(v);
	v = json_string("plain");
	s = pd_json_dump(v, NULL);
	ck_assert_str_eq(s, "\"plain\"");
	free(s);
	json_decref(v);
}
END_TEST

START_TEST(test_get_string)
{
	json_t *v = parse("{\"s\":\"hello\",\"e\":\"\",\"n\":5,\"z\":null,\"u\":\"\xc3\xa9\xc3\xa9\"}");
	const char *out = "untouched";
	ck_assert_int_eq(pd_json_get_string(v, "s", 5, 0, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "hello");
	out = "untouched";
	ck_assert_int_eq(pd_json_get_string(v, "s", 4, 0, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "s must be at most 4 bytes long");
	ck_assert_str_eq(out, "untouched");
	ck_assert_int_eq(pd_json_get_string(v, "missing", 5, 0, &out, err, sizeof(err)), 1);
	ck_assert_str_eq(out, "untouched");
	ck_assert_int_eq(pd_json_get_string(v, "e", 5, 0, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "e must not be empty");
	ck_assert_int_eq(pd_json_get_string(v, "e", 5, 1, &out, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(pd_json_get_string(v, "n", 5, 0, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "n must be a string");
	ck_assert_int_eq(pd_json_get_string(v, "z", 5, 1, &out, err, sizeof(err)), -1);
	ck_assert_int_eq(pd_json_get_string(v, "u", 4, 0, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(pd_json_get_string(v, "u", 3, 0, &out, err, sizeof(err)), -1);
	json_decref(v);
	/* a value built in C with an embedded NUL */
	v = json_object();
	json_object_set_new(v, "x", json_stringn("a\0b", 3));
	ck_assert_int_eq(pd_json_get_string(v, "x", 10, 0, &out, err, sizeof(err)), -1);
	json_decref(v);
	/* not an object */
	v = parse("[1]");
	ck_assert_int_eq(pd_json_get_string(v, "s", 5, 0, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "body must be a JSON object");
	json_decref(v);
}
END_TEST

START_TEST(test_get_int)
{
	json_t *v = parse("{\"i\":42,\"neg\":-3,\"f\":1.0,\"s\":\"5\",\"big\":9223372036854775807}");
	long long out = -99;
	ck_assert_int_eq(pd_json_get_int(v, "i", 1, 100, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out, 42);
	ck_assert_int_eq(pd_json_get_int(v, "i", 1, 41, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "i must be between 1 and 41");
	ck_assert_int_eq(pd_json_get_int(v, "i", 43, 100, &out, err, sizeof(err)), -1);
	ck_assert_int_eq(pd_json_get_int(v, "i", 42, 42, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(pd_json_get_int(v, "neg", -3, 0, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out, -3);
	ck_assert_int_eq(pd_json_get_int(v, "f", 0, 10, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "f must be an integer");
	ck_assert_int_eq(pd_json_get_int(v, "s", 0, 10, &out, err, sizeof(err)), -1);
	ck_assert_int_eq(pd_json_get_int(v, "big", 0, LLONG_MAX, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out, LLONG_MAX);
	out = 7;
	ck_assert_int_eq(pd_json_get_int(v, "none", 0, 10, &out, err, sizeof(err)), 1);
	ck_assert_int_eq(out, 7);
	json_decref(v);
	/* beyond 64 bits is a parse error, not a wrapped value */
	ck_assert_ptr_null(parse("{\"i\":99999999999999999999}"));
}
END_TEST

START_TEST(test_get_bool)
{
	json_t *v = parse("{\"t\":true,\"f\":false,\"n\":1,\"s\":\"true\"}");
	int out = -1;
	ck_assert_int_eq(pd_json_get_bool(v, "t", &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out, 1);
	ck_assert_int_eq(pd_json_get_bool(v, "f", &out, err, sizeof(err)), 0);
	ck_assert_int_eq(out, 0);
	ck_assert_int_eq(pd_json_get_bool(v, "n", &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "n must be true or false");
	ck_assert_int_eq(pd_json_get_bool(v, "s", &out, err, sizeof(err)), -1);
	ck_assert_int_eq(pd_json_get_bool(v, "x", &out, err, sizeof(err)), 1);
	json_decref(v);
}
END_TEST

START_TEST(test_only_fields)
{
	static const char *const allowed[] = {"subject", "status", NULL};
	static const char *const none[] = {NULL};
	json_t *v = parse("{\"subject\":\"x\",\"status\":\"open\"}");
	ck_assert_int_eq(pd_json_only_fields(v, allowed, err, sizeof(err)), 0);
	ck_assert_int_eq(pd_json_only_fields(v, none, err, sizeof(err)), -1);
	json_decref(v);
	v = parse("{\"subject\":\"x\",\"priority\":\"high\"}");
	ck_assert_int_eq(pd_json_only_fields(v, allowed, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown field: priority");
	json_decref(v);
	v = parse("{}");
	ck_assert_int_eq(pd_json_only_fields(v, none, err, sizeof(err)), 0);
	json_decref(v);
	v = parse("\"x\"");
	ck_assert_int_eq(pd_json_only_fields(v, allowed, err, sizeof(err)), -1);
	json_decref(v);
}
END_TEST

START_TEST(test_uuid)
{
	ck_assert(pd_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
	ck_assert(pd_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
	ck_assert(pd_uuid_valid("00000000-0000-0000-0000-000000000000"));
	ck_assert(!pd_uuid_valid("123e4567-e89b-12d3-a456-42661417400"));
	ck_assert(!pd_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
	ck_assert(!pd_uuid_valid("123e4567e89b12d3a456426614174000"));
	ck_assert(!pd_uuid_valid("{123e4567-e89b-12d3-a456-426614174000}"));
	ck_assert(!pd_uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));
	ck_assert(!pd_uuid_valid("123e4567_e89b-12d3-a456-426614174000"));
	ck_assert(!pd_uuid_valid(""));
	ck_assert(!pd_uuid_valid(NULL));
}
END_TEST

START_TEST(test_err_table)
{
	ck_assert_str_eq(pd_err_code(PD_E_NOT_FOUND), "NOT_FOUND");
	ck_assert_int_eq(pd_err_http_status(PD_E_NOT_FOUND), 404);
	ck_assert_str_eq(pd_err_code(PD_E_RATE_LIMITED), "RATE_LIMITED");
	ck_assert_int_eq(pd_err_http_status(PD_E_RATE_LIMITED), 429);
	ck_assert_str_eq(pd_err_code(PD_E_UNSUPPORTED_MEDIA), "UNSUPPORTED_MEDIA_TYPE");
	ck_assert_int_eq(pd_err_http_status(PD_E_TIMEOUT), 504);
	ck_assert_str_eq(pd_err_code(PD_E_FORBIDDEN), "FORBIDDEN");
	ck_assert_str_eq(pd_err_code(PD_E_BAD_REQUEST), "BAD_REQUEST");
	ck_assert_str_eq(pd_err_code(PD_E_INTERNAL), "INTERNAL");
	for (int e = 0; e < PD_E__COUNT; e++) {
		ck_assert_ptr_nonnull(pd_err_code((enum pd_err)e));
		ck_assert_ptr_nonnull(pd_err_message((enum pd_err)e));
		ck_assert_int_ge(pd_err_http_status((enum pd_err)e), 200);
	}
	/* out of range maps to INTERNAL instead of reading past the table */
	ck_assert_str_eq(pd_err_code((enum pd_err)1000), "INTERNAL");
}
END_TEST

START_TEST(test_time_ms)
{
	static const struct {
		long long ms;
		const char *want; /* NULL: JSON null */
	} v[] = {
		{1765028400123LL, "2025-12-06T13:40:00.123Z"},
		{1000, "1970-01-01T00:00:01.000Z"},
		{1, "1970-01-01T00:00:00.001Z"},
		{253402300799999LL, "9999-12-31T23:59:59.999Z"},
		{0, NULL},
		{-5, NULL},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *t = pd_json_time_ms(v[i].ms);
		ck_assert_ptr_nonnull(t);
		if (v[i].want == NULL)
			ck_assert(json_is_null(t));
		else
			ck_assert_str_eq(json_string_value(t), v[i].want);
		json_decref(t);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_json");
	TCase *tc = tcase_create("json");
	tcase_add_test(tc, test_parse_ok);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_dump);
	tcase_add_test(tc, test_get_string);
	tcase_add_test(tc, test_get_int);
	tcase_add_test(tc, test_get_bool);
	tcase_add_test(tc, test_only_fields);
	tcase_add_test(tc, test_uuid);
	tcase_add_test(tc, test_err_table);
	tcase_add_test(tc, test_time_ms);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
