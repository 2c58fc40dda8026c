/* Unit tests of broker/sio_packet: the Socket.IO v5 spec's examples decoded
 * and re-encoded byte for byte, each malformed case rejected, and JSON
 * written the way JSON.stringify writes it. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sio_packet.h"

static int dec(const char *s, struct sio_packet *pk)
{
	char err[128] = "";
	int rc = sio_decode(s, strlen(s), pk, err, sizeof(err));
	if (rc != 0) {
		ck_assert_msg(err[0] != '\0', "no error text for %s", s);
		ck_assert_ptr_null(pk->data);
	}
	return rc;
}

/* The packet encoded again, in a static buffer. */
static const char *reencode(const struct sio_packet *pk)
{
	static struct pd_buf out;
	pd_buf_free(&out);
	pd_buf_init(&out, 0);
	ck_assert_int_eq(sio_encode(&out, pk->type, pk->nsp, pk->id, pk->attachments, pk->data), 0);
	return out.data;
}

/* Every example of the spec's "Packet encoding" section. */
static const struct {
	const char *wire;
	int type;
	const char *nsp;
	long long id;
	int attachments;
	const char *json; /* NULL: no payload */
} spec[] = {
	{"0", SIO_CONNECT, "/", -1, 0, NULL},
	{"0{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}", SIO_CONNECT, "/", -1, 0,
	 "{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}"},
	{"0/admin,", SIO_CONNECT, "/admin", -1, 0, NULL},
	{"0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", SIO_CONNECT, "/admin", -1, 0,
	 "{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}"},
	{"4{\"message\":\"Not authorized\"}", SIO_CONNECT_ERROR, "/", -1, 0,
	 "{\"message\":\"Not authorized\"}"},
	{"2[\"foo\"]", SIO_EVENT, "/", -1, 0, "[\"foo\"]"},
	{"2/admin,[\"bar\"]", SIO_EVENT, "/admin", -1, 0, "[\"bar\"]"},
	{"51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_EVENT, "/", -1, 1,
	 "[\"baz\",{\"_placeholder\":true,\"num\":0}]"},
	{"52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
	 SIO_BINARY_EVENT, "/admin", -1, 2,
	 "[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"},
	{"212[\"foo\"]", SIO_EVENT, "/", 12, 0, "[\"foo\"]"},
	{"312[]", SIO_ACK, "/", 12, 0, "[]"},
	{"2/admin,13[\"foo\"]", SIO_EVENT, "/admin", 13, 0, "[\"foo\"]"},
	{"3/admin,13[\"bar\"]", SIO_ACK, "/admin", 13, 0, "[\"bar\"]"},
	{"51-14[\"foo\",{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_EVENT, "/", 14, 1,
	 "[\"foo\",{\"_placeholder\":true,\"num\":0}]"},
	{"314[\"bar\"]", SIO_ACK, "/", 14, 0, "[\"bar\"]"},
	{"215[\"foo\"]", SIO_EVENT, "/", 15, 0, "[\"foo\"]"},
	{"61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]", SIO_BINARY_ACK, "/", 15, 1,
	 "[\"bar\",{\"_placeholder\":true,\"num\":0}]"},
	{"1", SIO_DISCONNECT, "/", -1, 0, NULL},
	{"1/admin,", SIO_DISCONNECT, "/admin", -1, 0, NULL},
};

START_TEST(spec_examples)
{
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		struct sio_packet pk;
		ck_assert_msg(dec(spec[i].wire, &pk) == 0, "%s", spec[i].wire);
		ck_assert_int_eq(pk.type, spec[i].type);
		ck_assert_str_eq(pk.nsp, spec[i].nsp);
		ck_assert_int_eq(pk.id, spec[i].id);
		ck_assert_int_eq(pk.attachments, spec[i].attachments);
		if (spec[i].json == NULL) {
			ck_assert_ptr_null(pk.data);
		} else {
			json_t *want = json_loads(spec[i].json, 0, NULL);
			ck_assert(json_equal(pk.data, want));
			json_decref(want);
		}
		/* encode(decode(x)) == x */
		ck_assert_str_eq(reencode(&pk), spec[i].wire);
		sio_packet_clear(&pk);
	}
}
END_TEST

START_TEST(encode_cases)
{
	struct pd_buf out;
	json_t *foo = json_pack("[s]", "foo");
	pd_buf_init(&out, 0);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, "/admin", 12, 0, foo), 0);
	ck_assert_str_eq(out.data, "2/admin,12[\"foo\"]");
	pd_buf_reset(&out);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, NULL, 0, 0, foo), 0);
	ck_assert_str_eq(out.data, "20[\"foo\"]");
	pd_buf_reset(&out);
	ck_assert_int_eq(sio_encode(&out, SIO_BINARY_EVENT, "/", -1, 3, foo), 0);
	ck_assert_str_eq(out.data, "53-[\"foo\"]");
	pd_buf_reset(&out);
	ck_assert_int_eq(sio_encode(&out, SIO_BINARY_ACK, "/x", 7, 1, foo), 0);
	ck_assert_str_eq(out.data, "61-/x,7[\"foo\"]");
	pd_buf_reset(&out);
	ck_assert_int_eq(sio_encode(&out, SIO_CONNECT, "/", -1, 0, NULL), 0);
	ck_assert_str_eq(out.data, "0");
	/* appends */
	ck_assert_int_eq(sio_encode(&out, SIO_DISCONNECT, "/x", -1, 0, NULL), 0);
	ck_assert_str_eq(out.data, "01/x,");
	/* caller bugs */
	ck_assert_int_eq(sio_encode(&out, 7, NULL, -1, 0, NULL), -EINVAL);
	ck_assert_int_eq(sio_encode(&out, -1, NULL, -1, 0, NULL), -EINVAL);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, NULL, -1, 1, foo), -EINVAL);
	ck_assert_int_eq(sio_encode(&out, SIO_BINARY_EVENT, NULL, -1, 0, foo), -EINVAL);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, "admin", -1, 0, foo), -EINVAL);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, "/a,b", -1, 0, foo), -EINVAL);
	ck_assert_str_eq(out.data, "01/x,");
	pd_buf_free(&out);
	/* too long for the buffer: left as it was */
	pd_buf_init(&out, 8);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, NULL, -1, 0, foo), 0);
	ck_assert_int_eq(sio_encode(&out, SIO_EVENT, NULL, -1, 0, foo), -ENOBUFS);
	ck_assert_str_eq(out.data, "2[\"foo\"]");
	pd_buf_free(&out);
	json_decref(foo);
}
END_TEST

START_TEST(decode_edges)
{
	struct sio_packet pk;
	/* namespace without the comma at the end */
	ck_assert_int_eq(dec("0/admin", &pk), 0);
	ck_assert_str_eq(pk.nsp, "/admin");
	ck_assert_ptr_null(pk.data);
	ck_assert_str_eq(reencode(&pk), "0/admin,");
	/* only the first comma ends the namespace */
	ck_assert_int_eq(dec("2/a,[\"x,y\",\"/b,\"]", &pk), 0);
	ck_assert_str_eq(pk.nsp, "/a");
	ck_assert_str_eq(sio_event_name(&pk), "x,y");
	sio_packet_clear(&pk);
	/* a payload that starts like a namespace only when it starts with '/' */
	ck_assert_int_eq(dec("0{\"a\":\"/b,\"}", &pk), 0);
	ck_assert_str_eq(pk.nsp, "/");
	sio_packet_clear(&pk);
	/* ack id 0, and the largest one */
	ck_assert_int_eq(dec("20[\"a\"]", &pk), 0);
	ck_assert_int_eq(pk.id, 0);
	sio_packet_clear(&pk);
	ck_assert_int_eq(dec("29007199254740991[\"a\"]", &pk), 0);
	ck_assert_int_eq(pk.id, 9007199254740991LL);
	sio_packet_clear(&pk);
	/* attachments up to the limit */
	ck_assert_int_eq(dec("564-[\"a\"]", &pk), 0);
	ck_assert_int_eq(pk.attachments, 64);
	sio_packet_clear(&pk);
	ck_assert_int_eq(dec("61-[]", &pk), 0);
	ck_assert_int_eq(pk.attachments, 1);
	sio_packet_clear(&pk);
	/* CONNECT_ERROR: object, string or nothing */
	ck_assert_int_eq(dec("4\"nope\"", &pk), 0);
	ck_assert_str_eq(json_string_value(pk.data), "nope");
	ck_assert_str_eq(reencode(&pk), "4\"nope\"");
	sio_packet_clear(&pk);
	ck_assert_int_eq(dec("4", &pk), 0);
	/* an event name that is not reserved, and the accessor */
	ck_assert_int_eq(dec("2[\"connected\",{\"a\":[1,2,{}]},null,true,false]", &pk), 0);
	ck_assert_str_eq(sio_event_name(&pk), "connected");
	ck_assert_str_eq(reencode(&pk), "2[\"connected\",{\"a\":[1,2,{}]},null,true,false]");
	sio_packet_clear(&pk);
	ck_assert_int_eq(dec("3[\"a\"]", &pk), 0);
	ck_assert_ptr_null(sio_event_name(&pk));
	sio_packet_clear(&pk);
	/* whitespace JSON.parse takes */
	ck_assert_int_eq(dec("2 [ \"a\" , 1 ] ", &pk), 0);
	ck_assert_str_eq(reencode(&pk), "2[\"a\",1]");
	sio_packet_clear(&pk);
	/* strings holding NUL are data like any other */
	ck_assert_int_eq(dec("2[\"a\",\"x\\u0000y\"]", &pk), 0);
	ck_assert_str_eq(reencode(&pk), "2[\"a\",\"x\\u0000y\"]");
	sio_packet_clear(&pk);
	/* integers past 2^63 are read as JavaScript reads them */
	ck_assert_int_eq(dec("2[\"a\",100000000000000000000,1]", &pk), 0);
	ck_assert_str_eq(reencode(&pk), "2[\"a\",100000000000000000000,1]");
	sio_packet_clear(&pk);
}
END_TEST

START_TEST(decode_rejects)
{
	static const char *const bad[] = {
		"",
		"7",
		"9[]",
		"a",
		"-1",
		/* EVENT */
		"2",
		"2/admin,",
		"2[]",
		"2[1]",
		"2[null]",
		"2[[\"a\"]]",
		"2{}",
		"2\"a\"",
		"2[\"connect\"]",
		"2[\"connect_error\"]",
		"2[\"disconnect\"]",
		"2[\"disconnecting\"]",
		"2[\"newListener\"]",
		"2[\"removeListener\"]",
		"2[\"a\\u0000b\"]",
		"2[\"a\"",
		"2[\"a\"]x",
		"2[\"a\"][]",
		"2[\"a\",]",
		"2['a']",
		"2[\"\\ud800\"]",
		"2[\"a\",1e400]",
		"2/admin[\"a\"]",
		"2admin,[\"a\"]",
		"29007199254740992[\"a\"]",
		"299999999999999999999999[\"a\"]",
		/* ACK */
		"3",
		"312",
		"3{}",
		"3\"a\"",
		/* CONNECT */
		"0[]",
		"0\"x\"",
		"01",
		"012{}",
		"0/admin,12{}",
		"0null",
		/* DISCONNECT */
		"1{}",
		"1/admin,{}",
		"1[]",
		"112",
		/* CONNECT_ERROR */
		"4[]",
		"412{}",
		"41",
		/* BINARY_* attachments */
		"5[\"a\"]",
		"5-[\"a\"]",
		"50-[\"a\"]",
		"60-[]",
		"5x-[\"a\"]",
		"51[\"a\"]",
		"51",
		"565-[\"a\"]",
		"599999999999-[\"a\"]",
		"51-[]",
		"51-{}",
		"61-",
		"61-{}",
		"21-[\"a\"]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sio_packet pk;
		ck_assert_msg(dec(bad[i], &pk) == -1, "accepted %s", bad[i]);
	}
	/* a namespace too long for the struct */
	char longnsp[600];
	struct sio_packet pk;
	longnsp[0] = '2';
	longnsp[1] = '/';
	memset(longnsp + 2, 'n', 300);
	strcpy(longnsp + 302, ",[\"a\"]");
	ck_assert_int_eq(dec(longnsp, &pk), -1);
	/* 255 characters fit */
	strcpy(longnsp + 2 + 254, ",[\"a\"]");
	ck_assert_int_eq(dec(longnsp, &pk), 0);
	ck_assert_uint_eq(strlen(pk.nsp), 255);
	sio_packet_clear(&pk);
	/* a NUL in the namespace */
	ck_assert_int_eq(sio_decode("2/a\0b,[\"a\"]", 11, &pk, NULL, 0), -1);
	/* the length given is what is decoded, not up to a NUL */
	ck_assert_int_eq(sio_decode("2[\"a\"]garbage", 6, &pk, NULL, 0), 0);
	sio_packet_clear(&pk);
}
END_TEST

static const char *json_js(const char *in, size_t flags)
{
	static struct pd_buf out;
	json_error_t je;
	json_t *v = json_loads(in, flags | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	ck_assert_msg(v != NULL, "%s: %s", in, je.text);
	pd_buf_free(&out);
	pd_buf_init(&out, 0);
	ck_assert_int_eq(sio_json_append(&out, v), 0);
	json_decref(v);
	return out.data;
}

START_TEST(json_like_javascript)
{
	/* the expected strings are what node's JSON.stringify(JSON.parse(in)) prints */
	static const struct {
		const char *in, *js;
	} cases[] = {
		{"1.5", "1.5"},
		{"0.1", "0.1"},
		{"-0.1", "-0.1"},
		{"2.0", "2"},
		{"-0.0", "0"},
		{"1E3", "1000"},
		{"1e21", "1e+21"},
		{"1e20", "100000000000000000000"},
		{"123456789012345678901.0", "123456789012345680000"},
		{"1e-7", "1e-7"},
		{"0.000001", "0.000001"},
		{"0.0000012345", "0.0000012345"},
		{"1.2345e-7", "1.2345e-7"},
		{"5e-324", "5e-324"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"3.14159", "3.14159"},
		{"-1.25e-10", "-1.25e-10"},
		{"1.5e300", "1.5e+300"},
		{"12345.678", "12345.678"},
		{"100", "100"},
		{"-42", "-42"},
		{"9007199254740993", "9007199254740992"},
		{"\"a/b\"", "\"a/b\""},
		{"\"caf\\u00e9 \\ud83d\\ude00\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
		{"\"\\u001f\\u0001\\u007f\"", "\"\\u001f\\u0001\x7f\""},
		{"\"\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\\b\\f\\n\\r\\t\\\"\\\\\""},
		{"\"\\u2028\"", "\"\xe2\x80\xa8\""},
		{"{\"b\":1,\"2\":2,\"a\":3,\"1\":4,\"01\":5,\"4294967295\":6,\"4294967294\":7,\"-1\":8}",
		 "{\"1\":4,\"2\":2,\"4294967294\":7,\"b\":1,\"a\":3,\"01\":5,\"4294967295\":6,\"-1\":8}"},
		{"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"},
		{"[ ]", "[]"},
		{"{ }", "{}"},
		{"[1, [2, {\"x\" : null}], true, false]", "[1,[2,{\"x\":null}],true,false]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(json_js(cases[i].in, 0), cases[i].js);
	/* every number as a double prints the same */
	ck_assert_str_eq(json_js("[1,-7,1e2,65536]", JSON_DECODE_INT_AS_REAL), "[1,-7,100,65536]");
}
END_TEST

static int ph(const char *json)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
	ck_assert_ptr_nonnull(v);
	int n = sio_placeholders_check(v);
	json_decref(v);
	return n;
}

START_TEST(placeholders)
{
	ck_assert_int_eq(ph("[\"a\"]"), 0);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":0}]"), 1);
	ck_assert_int_eq(ph("[\"a\",{\"x\":[{\"_placeholder\":true,\"num\":1}]},"
			    "{\"_placeholder\":true,\"num\":0}]"),
			 2);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":false,\"num\":7}]"), 0);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":1}]"), -1);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]"),
			 -1);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":-1}]"), -1);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":0.5}]"), -1);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]"), -1);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true}]"), -1);
	ck_assert_int_eq(ph("[\"a\",{\"_placeholder\":true,\"num\":64}]"), -1);
	/* 64 of them, in any order */
	char big[4096];
	size_t n = (size_t)snprintf(big, sizeof(big), "[\"a\"");
	for (int i = 63; i >= 0; i--)
		n += (size_t)snprintf(big + n, sizeof(big) - n, ",{\"_placeholder\":true,\"num\":%d}", i);
	snprintf(big + n, sizeof(big) - n, "]");
	ck_assert_int_eq(ph(big), 64);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sio_packet");
	TCase *tc = tcase_create("sio_packet");
	tcase_add_test(tc, spec_examples);
	tcase_add_test(tc, encode_cases);
	tcase_add_test(tc, decode_edges);
	tcase_add_test(tc, decode_rejects);
	tcase_add_test(tc, json_like_javascript);
	tcase_add_test(tc, placeholders);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
