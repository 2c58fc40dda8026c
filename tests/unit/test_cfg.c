/* Unit tests for pd_cfg: the file syntax and its errors (with line numbers),
 * environment overrides, typed getters and the key table. */
#include "pd_cfg.h"
#include "pd_log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

/* Write text to a fresh temporary file named in path. */
static void write_conf(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/pd_cfg_test.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct pd_cfg *cfg;
static char err[512];

static void setup(void)
{
	cfg = pd_cfg_new();
	ck_assert_ptr_nonnull(cfg);
	err[0] = '\0';
	path[0] = '\0';
}

static void teardown(void)
{
	pd_cfg_free(cfg);
	if (path[0] != '\0')
		unlink(path);
}

/* Load text; return the rc, err holds the message. */
static int load(const char *text)
{
	write_conf(text);
	return pd_cfg_load_file(cfg, path, err, sizeof(err));
}

/* err must be "PATH:LINE: rest". */
static void assert_err(int line, const char *rest)
{
	char want[512];
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, rest);
	ck_assert_str_eq(err, want);
}

START_TEST(test_defaults)
{
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_alg"), "HS256");
	ck_assert_str_eq(pd_cfg_get(cfg, "adapter_key"), "socket.io");
	ck_assert_str_eq(pd_cfg_get(cfg, "adapter_mode"), "classic");
	ck_assert_str_eq(pd_cfg_get(cfg, "broker_listen"), "127.0.0.1:3000");
	ck_assert_str_eq(pd_cfg_get(cfg, "token_cookie"), "pushdesk_token");
	ck_assert_str_eq(pd_cfg_get(cfg, "database_url"), "");
	ck_assert_str_eq(pd_cfg_get(cfg, "rate_typing_start"), "10/10");
	ck_assert_str_eq(pd_cfg_get(cfg, "log_target"), "stderr");
	ck_assert_ptr_null(pd_cfg_get(cfg, "no_such_key"));
}
END_TEST

START_TEST(test_table)
{
	const char *dflt, *help, *name;
	size_t i = 0;
	/* every default passes its own checks, every key has help, names unique */
	while ((name = pd_cfg_key_at(i, &dflt, &help)) != NULL) {
		ck_assert_ptr_nonnull(dflt);
		ck_assert_ptr_nonnull(help);
		ck_assert_int_gt(strlen(help), 5);
		ck_assert_str_eq(pd_cfg_get(cfg, name), dflt);
		ck_assert_int_eq(pd_cfg_set(cfg, name, dflt), 0);
		for (size_t k = 0; k < i; k++)
			ck_assert_str_ne(pd_cfg_key_at(k, NULL, NULL), name);
		i++;
	}
	ck_assert_uint_eq(i, 56);
}
END_TEST

START_TEST(test_file_syntax)
{
	ck_assert_int_eq(load("# a comment\n"
			      "\n"
			      "   \t\n"
			      "  database_url   =   host=/tmp dbname=pushdesk  \n"
			      "jwt_secret=\"  spaced # not a comment \\\"q\\\" \\\\ \"\n"
			      "\t# indented comment\n"
			      "cors_origins = https://a.example, https://b.example\r\n"
			      "valkey_url =\n"
			      "jwt_issuer = \"\"\n"
			      "jwt_audience = pass#word\n"
			      "broker_threads = 4\n"
			      "broker_threads = 8\n"),
			 0);
	ck_assert_str_eq(pd_cfg_get(cfg, "database_url"), "host=/tmp dbname=pushdesk");
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_secret"), "  spaced # not a comment \"q\" \\ ");
	ck_assert_str_eq(pd_cfg_get(cfg, "cors_origins"), "https://a.example, https://b.example");
	ck_assert_str_eq(pd_cfg_get(cfg, "valkey_url"), "");
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_issuer"), "");
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_audience"), "pass#word");
	ck_assert_str_eq(pd_cfg_get(cfg, "broker_threads"), "8"); /* later wins */
}
END_TEST

START_TEST(test_file_no_final_newline)
{
	ck_assert_int_eq(load("adapter_key = pd"), 0);
	ck_assert_str_eq(pd_cfg_get(cfg, "adapter_key"), "pd");
}
END_TEST

START_TEST(test_bad_line)
{
	ck_assert_int_eq(load("# ok\nadapter_key = x\n\njust some words\n"), -1);
	assert_err(4, "expected key = value");
}
END_TEST

START_TEST(test_empty_key)
{
	ck_assert_int_eq(load(" = value\n"), -1);
	assert_err(1, "expected key = value");
}
END_TEST

START_TEST(test_bad_key_chars)
{
	ck_assert_int_eq(load("\n\nJWT_SECRET = x\n"), -1);
	ck_assert_ptr_nonnull(strstr(err, ":3: expected key = value"));
}
END_TEST

START_TEST(test_unknown_key)
{
	ck_assert_int_eq(load("jwt_alg = HS256\n# c\n\n\n\n\nfoo = bar\n"), -1);
	assert_err(7, "unknown key 'foo'");
	/* the earlier line was applied, nothing after */
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_alg"), "HS256");
}
END_TEST

START_TEST(test_unterminated_quote)
{
	ck_assert_int_eq(load("jwt_secret = \"abc\n"), -1);
	assert_err(1, "unterminated quoted value");
}
END_TEST

START_TEST(test_text_after_quote)
{
	ck_assert_int_eq(load("jwt_secret = \"abc\" def\n"), -1);
	assert_err(1, "unexpected text after quoted value");
}
END_TEST

START_TEST(test_bad_integer_in_file)
{
	ck_assert_int_eq(load("ping_interval = 25s\n"), -1);
	assert_err(1, "ping_interval: expected a non-negative integer");
	teardown();
	setup();
	ck_assert_int_eq(load("\nrate_default = 100 per minute\n"), -1);
	assert_err(2, "rate_default: expected COUNT/SECONDS, both positive integers");
}
END_TEST

START_TEST(test_value_too_long)
{
	char *text = malloc(5000 + 32);
	strcpy(text, "jwt_secret = ");
	memset(text + 13, 'a', 5000);
	strcpy(text + 13 + 5000, "\n");
	ck_assert_int_eq(load(text), -1);
	assert_err(1, "jwt_secret: value too long");
	free(text);
}
END_TEST

START_TEST(test_missing_file)
{
	ck_assert_int_eq(pd_cfg_load_file(cfg, "/nonexistent/pushdesk.conf", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/pushdesk.conf: No such file or directory");
}
END_TEST

START_TEST(test_env_override)
{
	char *envp[] = {
		"PATH=/usr/bin",
		"PUSHDESK_JWT_SECRET=from-env",
		"PUSHDESK_BROKER_LISTEN=0.0.0.0:4000",
		"PUSHDESK_CONFIG=/etc/whatever.conf", /* not a key: ignored */
		"PUSHDESK_STATE=/tmp/state",          /* belongs to scripts: ignored */
		"PUSHDESK_jwt_alg=RS256",             /* not upper case: ignored */
		"PUSHDESK_VALKEY_URL=",
		NULL,
	};
	ck_assert_int_eq(load("jwt_secret = from-file\nvalkey_url = redis://x:1\n"), 0);
	ck_assert_int_eq(pd_cfg_load_env(cfg, envp, err, sizeof(err)), 0);
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_secret"), "from-env");
	ck_assert_str_eq(pd_cfg_get(cfg, "broker_listen"), "0.0.0.0:4000");
	ck_assert_str_eq(pd_cfg_get(cfg, "valkey_url"), "");
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_alg"), "HS256");
}
END_TEST

START_TEST(test_env_bad_value)
{
	char *envp[] = {"PUSHDESK_PING_TIMEOUT=soon", NULL};
	ck_assert_int_eq(pd_cfg_load_env(cfg, envp, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "PUSHDESK_PING_TIMEOUT: expected a non-negative integer");
}
END_TEST

START_TEST(test_load_order)
{
	ck_assert_int_eq(load("adapter_key = from-file\ntoken_cookie = c1\n"), 0);
	teardown();
	setup();
	write_conf("adapter_key = from-file\ntoken_cookie = c1\n");
	setenv("PUSHDESK_CONFIG", path, 1);
	setenv("PUSHDESK_TOKEN_COOKIE", "c2", 1);
	ck_assert_int_eq(pd_cfg_load(cfg, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(pd_cfg_get(cfg, "adapter_key"), "from-file");
	ck_assert_str_eq(pd_cfg_get(cfg, "token_cookie"), "c2");
	unsetenv("PUSHDESK_CONFIG");
	unsetenv("PUSHDESK_TOKEN_COOKIE");
}
END_TEST

START_TEST(test_set)
{
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_secret", "s"), 0);
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_secret"), "s");
	ck_assert_int_eq(pd_cfg_set(cfg, "nope", "s"), -1);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_leeway", "ten"), -1);
	ck_assert_int_eq(pd_cfg_set(cfg, "jwt_leeway", "-1"), -1);
	ck_assert_str_eq(pd_cfg_get(cfg, "jwt_leeway"), "0");
}
END_TEST

START_TEST(test_get_long)
{
	long v = -7;
	ck_assert_int_eq(pd_cfg_get_long(cfg, "ping_interval", 1, 1000000, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 25000);
	ck_assert_int_eq(pd_cfg_set(cfg, "api_workers", "0"), 0);
	v = -7;
	ck_assert_int_eq(pd_cfg_get_long(cfg, "api_workers", 1, 64, &v, err, sizeof(err)), -1);
	ck_assert_int_eq(v, -7);
	ck_assert_str_eq(err, "api_workers: '0' is not an integer in [1, 64]");
	ck_assert_int_eq(pd_cfg_set(cfg, "api_workers", "64"), 0);
	ck_assert_int_eq(pd_cfg_get_long(cfg, "api_workers", 1, 64, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v, 64);
	ck_assert_int_eq(pd_cfg_set(cfg, "api_workers", "65"), 0);
	ck_assert_int_eq(pd_cfg_get_long(cfg, "api_workers", 1, 64, &v, err, sizeof(err)), -1);
	/* overflow is refused when set */
	ck_assert_int_eq(pd_cfg_set(cfg, "api_workers", "99999999999999999999999"), -1);
	/* a string key asked as a number */
	ck_assert_int_eq(pd_cfg_get_long(cfg, "adapter_key", 0, 10, &v, err, sizeof(err)), -1);
	/* the error names the file line the value came from */
	ck_assert_int_eq(load("\nlease_ttl = 100\n"), 0);
	ck_assert_int_eq(pd_cfg_get_long(cfg, "lease_ttl", 1, 60, &v, err, sizeof(err)), -1);
	char want[256];
	snprintf(want, sizeof(want), "%s:2: lease_ttl: '100' is not an integer in [1, 60]", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_get_bool)
{
	ck_assert_int_eq(pd_cfg_set(cfg, "adapter_key", "yes"), 0);
	ck_assert_int_eq(pd_cfg_get_bool(cfg, "adapter_key"), 1);
	ck_assert_int_eq(pd_cfg_set(cfg, "adapter_key", "Off"), 0);
	ck_assert_int_eq(pd_cfg_get_bool(cfg, "adapter_key"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "adapter_key", ""), 0);
	ck_assert_int_eq(pd_cfg_get_bool(cfg, "adapter_key"), 0);
	ck_assert_int_eq(pd_cfg_set(cfg, "adapter_key", "maybe"), 0);
	ck_assert_int_eq(pd_cfg_get_bool(cfg, "adapter_key"), -1);
}
END_TEST

START_TEST(test_rate)
{
	long n = 0, s = 0;
	ck_assert_int_eq(pd_cfg_get_rate(cfg, "rate_message_send", &n, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(s, 1);
	ck_assert_int_eq(pd_cfg_get_rate(cfg, "login_rate", &n, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(s, 300);
	ck_assert_int_eq(pd_cfg_set(cfg, "rate_default", "20/5"), 0);
	ck_assert_int_eq(pd_cfg_get_rate(cfg, "rate_default", &n, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(s, 5);
	static const char *const bad[] = {"", "5", "5/", "/5", "0/10", "5/0", "a/b", "5/1/2",
					  "-1/5", "5 /1", "5/1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pd_cfg_set(cfg, "rate_default", bad[i]) == -1, "%s", bad[i]);
	/* a string key holding junk, asked as a rate */
	ck_assert_int_eq(pd_cfg_set(cfg, "adapter_key", "x/y"), 0);
	ck_assert_int_eq(pd_cfg_get_rate(cfg, "adapter_key", &n, &s, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "adapter_key: 'x/y' is not COUNT/SECONDS (e.g. 10/60)");
}
END_TEST

/* pushdesk.conf.example documents every key with its default: uncommenting
 * every "#key = value" line gives a file that loads and changes nothing. */
START_TEST(test_example_file)
{
	FILE *in = fopen(PD_SRCDIR "/pushdesk.conf.example", "r");
	ck_assert_ptr_nonnull(in);
	char line[1024];
	char text[16384] = "";
	int seen[64] = {0};
	while (fgets(line, sizeof(line), in) != NULL) {
		if (line[0] != '#' || line[1] == ' ' || line[1] == '\n' || line[1] == '-')
			continue;
		ck_assert_uint_lt(strlen(text) + strlen(line), sizeof(text));
		strcat(text, line + 1);
		const char *name;
		for (size_t i = 0; (name = pd_cfg_key_at(i, NULL, NULL)) != NULL; i++)
			if (strncmp(line + 1, name, strlen(name)) == 0 && line[1 + strlen(name)] == ' ')
				seen[i]++;
	}
	fclose(in);
	ck_assert_int_eq(load(text), 0);
	const char *name, *dflt;
	for (size_t i = 0; (name = pd_cfg_key_at(i, &dflt, NULL)) != NULL; i++) {
		ck_assert_msg(seen[i] == 1, "%s appears %d times in the example", name, seen[i]);
		ck_assert_str_eq(pd_cfg_get(cfg, name), dflt);
	}
}
END_TEST

/* pd_log: the level and target names that log_level/log_target take, and
 * the stderr line format. */
START_TEST(test_log)
{
	ck_assert_int_eq(pd_log_level_parse(pd_cfg_get(cfg, "log_level")), LOG_INFO);
	ck_assert_int_eq(pd_log_level_parse("error"), LOG_ERR);
	ck_assert_int_eq(pd_log_level_parse("err"), LOG_ERR);
	ck_assert_int_eq(pd_log_level_parse("warning"), LOG_WARNING);
	ck_assert_int_eq(pd_log_level_parse("warn"), LOG_WARNING);
	ck_assert_int_eq(pd_log_level_parse("notice"), LOG_NOTICE);
	ck_assert_int_eq(pd_log_level_parse("DEBUG"), LOG_DEBUG);
	ck_assert_int_eq(pd_log_level_parse("loud"), -1);
	ck_assert_int_eq(pd_log_target_parse(pd_cfg_get(cfg, "log_target")), PD_LOG_STDERR);
	ck_assert_int_eq(pd_log_target_parse("syslog"), PD_LOG_SYSLOG);
	ck_assert_int_eq(pd_log_target_parse("file"), -1);

	/* capture stderr in a file */
	write_conf("");
	FILE *f = fopen(path, "w+");
	ck_assert_ptr_nonnull(f);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	pd_log_init("pushdesk-test", LOG_NOTICE, PD_LOG_STDERR);
	pd_log(LOG_WARNING, "event=%s n=%d", "x", 7);
	pd_log(LOG_INFO, "not shown");
	pd_log(LOG_ERR, "two\nlines");
	dup2(saved, STDERR_FILENO);
	close(saved);
	char text[512] = "";
	rewind(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	char want[128];
	snprintf(want, sizeof(want), "Z pushdesk-test[%ld]: warning: event=x n=7\n", (long)getpid());
	/* "2026-11-22T20:00:00Z pushdesk-test[pid]: warning: event=x n=7" */
	ck_assert_int_eq(text[4], '-');
	ck_assert_int_eq(text[10], 'T');
	ck_assert_msg(strncmp(text + 19, want, strlen(want)) == 0, "got: %s", text);
	ck_assert_ptr_null(strstr(text, "not shown"));
	ck_assert_ptr_nonnull(strstr(text, "error: two lines\n"));
	ck_assert_int_eq(pd_log_get_level(), LOG_NOTICE);
	pd_log_set_level(LOG_DEBUG + 5);
	ck_assert_int_eq(pd_log_get_level(), LOG_DEBUG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_cfg");
	TCase *tc = tcase_create("cfg");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_file_syntax);
	tcase_add_test(tc, test_file_no_final_newline);
	tcase_add_test(tc, test_bad_line);
	tcase_add_test(tc, test_empty_key);
	tcase_add_test(tc, test_bad_key_chars);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_unterminated_quote);
	tcase_add_test(tc, test_text_after_quote);
	tcase_add_test(tc, test_bad_integer_in_file);
	tcase_add_test(tc, test_value_too_long);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_env_override);
	tcase_add_test(tc, test_env_bad_value);
	tcase_add_test(tc, test_load_order);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_get_long);
	tcase_add_test(tc, test_get_bool);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_log);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
