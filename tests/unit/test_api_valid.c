/* test_api_valid: the API's I/O-free input checks (api/valid.c): content
 * type, body parsing, field rules naming the field, cursors, limits, the
 * Valkey URL and login_rate. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "valid.h"

static json_t *obj(const char *s)
{
	char err[256];
	json_t *v = api_parse_object(s, strlen(s), err, sizeof(err));
	ck_assert_msg(v != NULL, "%s: %s", s, err);
	return v;
}

START_TEST(content_type)
{
	ck_assert(api_content_type_json("application/json"));
	ck_assert(api_content_type_json("Application/JSON; charset=utf-8"));
	ck_assert(!api_content_type_json(NULL));
	ck_assert(!api_content_type_json("text/plain"));
	ck_assert(!api_content_type_json("application/jsonx"));
	ck_assert(!api_content_type_json("application/x-www-form-urlencoded"));
}
END_TEST

START_TEST(body_parse)
{
	char err[256];
	ck_assert_ptr_null(api_parse_object("[1]", 3, err, sizeof(err)));
	ck_assert_str_eq(err, "body must be a JSON object");
	ck_assert_ptr_null(api_parse_object("{\"a\":1} x", 9, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "body is not valid JSON"));
	ck_assert_ptr_null(api_parse_object("{\"a\":\"\xff\"}", 8, err, sizeof(err)));
	ck_assert_str_eq(err, "body must be valid UTF-8");
	ck_assert_ptr_null(api_parse_object("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
}
END_TEST

START_TEST(ticket_fields)
{
	char err[256];
	struct v_ticket t;
	struct pd_ticket_patch p;
	json_t *v = obj("{\"subject\":\"\"}");
	ck_assert_int_eq(valid_ticket(v, &t, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "subject must be a string of 1..500 characters");
	json_decref(v);
	v = obj("{\"subject\":\"x\",\"bogus\":1}");
	ck_assert_int_eq(valid_ticket(v, &t, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown field: bogus");
	json_decref(v);
	v = obj("{\"subject\":\"x\",\"priority\":\"meh\"}");
	ck_assert_int_eq(valid_ticket(v, &t, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "priority must be one of low, normal, high, urgent");
	json_decref(v);
	/* 500 characters of 2 bytes each: fine; 501: not */
	{
		char buf[1200] = "{\"subject\":\"";
		size_t n = strlen(buf);
		for (int i = 0; i < 500; i++, n += 2)
			memcpy(buf + n, "\xc3\xa9", 2);
		strcpy(buf + n, "\"}");
		v = obj(buf);
		ck_assert_int_eq(valid_ticket(v, &t, err, sizeof(err)), 0);
		json_decref(v);
		memcpy(buf + n, "x\"}", 4);
		v = obj(buf);
		ck_assert_int_eq(valid_ticket(v, &t, err, sizeof(err)), -1);
		json_decref(v);
	}
	v = obj("{}");
	ck_assert_int_eq(valid_ticket_patch(v, &p, err, sizeof(err)), -1);
	json_decref(v);
	v = obj("{\"assigneeId\":null,\"status\":\"closed\"}");
	ck_assert_int_eq(valid_ticket_patch(v, &p, err, sizeof(err)), 0);
	ck_assert(p.set_assignee);
	ck_assert_ptr_null(p.assignee_id);
	ck_assert_str_eq(p.status, "closed");
	json_decref(v);
	v = obj("{\"assigneeId\":\"nope\"}");
	ck_assert_int_eq(valid_ticket_patch(v, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "assigneeId must be a UUID or null");
	json_decref(v);
}
END_TEST

START_TEST(other_bodies)
{
	char err[256];
	struct v_user u;
	struct v_notification n;
	struct v_emit e;
	const char *content;
	json_t *v = obj("{\"name\":\"A\",\"email\":\"no-at\",\"role\":\"agent\"}");
	ck_assert_int_eq(valid_user(v, &u, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "email must be an e-mail address");
	json_decref(v);
	v = obj("{\"name\":\"A\",\"email\":\"a@b\",\"role\":\"root\"}");
	ck_assert_int_eq(valid_user(v, &u, err, sizeof(err)), -1);
	json_decref(v);
	v = obj("{\"content\":5}");
	ck_assert_int_eq(valid_message(v, &content, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "content must be a string of 1..20000 characters");
	json_decref(v);
	v = obj("{\"userId\":\"00000000-0000-0000-0000-000000000001\",\"type\":\"t\",\"title\":\"x\","
		"\"data\":[1]}");
	ck_assert_int_eq(valid_notification(v, &n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "data must be a JSON object");
	json_decref(v);
	v = obj("{\"event\":\"disconnect\"}");
	ck_assert_int_eq(valid_emit(v, &e, err, sizeof(err)), -1);
	json_decref(v);
	v = obj("{\"event\":\"x\",\"rooms\":[\"a\",\"b\"],\"data\":[1,2]}");
	ck_assert_int_eq(valid_emit(v, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.nrooms, 2);
	ck_assert_str_eq(e.nsp, "/");
	json_decref(v);
	v = obj("{\"event\":\"x\",\"users\":[\"a\"]}");
	ck_assert_int_eq(valid_emit(v, &e, err, sizeof(err)), -1);
	json_decref(v);
}
END_TEST

START_TEST(cursor_roundtrip)
{
	char c[128], id[64];
	long long us;
	ck_assert_int_eq(api_cursor_encode(1795381234123456LL, "f5f31fa1-58a9-4c98-b06e-bc17d9c10216",
					   c, sizeof(c)),
			 0);
	ck_assert_ptr_null(strpbrk(c, "+/="));
	ck_assert_int_eq(api_cursor_decode(c, &us, id, sizeof(id)), 0);
	ck_assert_int_eq(us, 1795381234123456LL);
	ck_assert_str_eq(id, "f5f31fa1-58a9-4c98-b06e-bc17d9c10216");
	ck_assert_int_eq(api_cursor_decode("", &us, id, sizeof(id)), -1);
	ck_assert_int_eq(api_cursor_decode("!!!", &us, id, sizeof(id)), -1);
	ck_assert_int_eq(api_cursor_decode("MTIzLm5vdC1hLXV1aWQ", &us, id, sizeof(id)), -1);
}
END_TEST

START_TEST(limits_urls_rates)
{
	struct api_kv_url u;
	long n, s;
	ck_assert_int_eq(api_parse_limit(NULL, 50, 100), 50);
	ck_assert_int_eq(api_parse_limit("7", 50, 100), 7);
	ck_assert_int_eq(api_parse_limit("1000", 50, 100), 100);
	ck_assert_int_eq(api_parse_limit("99999999999999999999999", 50, 100), 100);
	ck_assert_int_eq(api_parse_limit("0", 50, 100), -1);
	ck_assert_int_eq(api_parse_limit("-1", 50, 100), -1);
	ck_assert_int_eq(api_parse_limit("5x", 50, 100), -1);
	ck_assert_int_eq(api_kv_parse_url("redis://127.0.0.1:6380", &u), 0);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_int_eq(u.port, 6380);
	ck_assert_int_eq(api_kv_parse_url("redis://:pw@h/3", &u), 0);
	ck_assert_str_eq(u.password, "pw");
	ck_assert_int_eq(u.port, 6379);
	ck_assert_int_eq(u.db, 3);
	ck_assert_int_eq(api_kv_parse_url("unix:///run/v.sock", &u), 0);
	ck_assert_str_eq(u.unix_path, "/run/v.sock");
	ck_assert_int_eq(api_kv_parse_url("http://x", &u), -1);
	ck_assert_int_eq(api_kv_parse_url("redis://h:99999", &u), -1);
	ck_assert_int_eq(api_parse_rate("10/300", &n, &s), 0);
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(s, 300);
	ck_assert_int_eq(api_parse_rate("10", &n, &s), -1);
	ck_assert_int_eq(api_parse_rate("0/5", &n, &s), -1);
}
END_TEST

START_TEST(cookie_names)
{
	static const char *const good[] = {"pushdesk_token", "a", "__Host-t", "x.y~z|1!#$%&'*+^`"};
	static const char *const bad[] = {"", "a b", "a=b", "a;b", "tok\"", "a,b", "(x)", "a\tb",
					  "caf\xc3\xa9", "a/b", "a@b", "[x]"};
	char longname[80];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(api_cookie_name_valid(good[i]), "%s refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!api_cookie_name_valid(bad[i]), "%s accepted", bad[i]);
	memset(longname, 'c', 64);
	longname[64] = '\0';
	ck_assert(api_cookie_name_valid(longname));
	longname[64] = 'c';
	longname[65] = '\0';
	ck_assert(!api_cookie_name_valid(longname));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_valid");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, content_type);
	tcase_add_test(tc, body_parse);
	tcase_add_test(tc, ticket_fields);
	tcase_add_test(tc, other_bodies);
	tcase_add_test(tc, cursor_roundtrip);
	tcase_add_test(tc, limits_urls_rates);
	tcase_add_test(tc, cookie_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
