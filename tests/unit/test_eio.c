/* Unit tests of broker/eio_packet: text packets, binary 'b' + base64,
 * polling payloads split on \x1e, and the OPEN handshake JSON. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"

static int decode(const char *s, struct pd_buf *scratch, struct eio_packet *pk)
{
	return eio_decode_text(s, strlen(s), scratch, pk);
}

START_TEST(decode_types)
{
	struct pd_buf scratch;
	struct eio_packet pk;
	pd_buf_init(&scratch, 0);
	static const struct {
		const char *in;
		int type;
		const char *data;
	} ok[] = {
		{"0{\"sid\":\"x\"}", EIO_OPEN, "{\"sid\":\"x\"}"},
		{"1", EIO_CLOSE, ""},
		{"2", EIO_PING, ""},
		{"2probe", EIO_PING, "probe"},
		{"3probe", EIO_PONG, "probe"},
		{"4hello", EIO_MESSAGE, "hello"},
		{"42[\"hello\"]", EIO_MESSAGE, "2[\"hello\"]"},
		{"4", EIO_MESSAGE, ""},
		{"5", EIO_UPGRADE, ""},
		{"6", EIO_NOOP, ""},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(decode(ok[i].in, &scratch, &pk), 0);
		ck_assert_int_eq(pk.type, ok[i].type);
		ck_assert_int_eq(pk.binary, 0);
		ck_assert_uint_eq(pk.len, strlen(ok[i].data));
		ck_assert(memcmp(pk.data, ok[i].data, pk.len) == 0);
		/* borrowed from the input */
		ck_assert_ptr_eq(pk.data, (const uint8_t *)ok[i].in + 1);
	}
	static const char *bad[] = {"", "7", "9x", "x", "/", "\x1e", " 4hello", "-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(decode(bad[i], &scratch, &pk), -1);
	pd_buf_free(&scratch);
}
END_TEST

START_TEST(decode_binary)
{
	struct pd_buf scratch;
	struct eio_packet pk;
	pd_buf_init(&scratch, 0);
	pd_buf_append(&scratch, "stale", 5);
	ck_assert_int_eq(decode("bAQIDBA==", &scratch, &pk), 0);
	ck_assert_int_eq(pk.type, EIO_MESSAGE);
	ck_assert_int_eq(pk.binary, 1);
	ck_assert_uint_eq(pk.len, 4);
	ck_assert(memcmp(pk.data, "\x01\x02\x03\x04", 4) == 0);
	ck_assert_ptr_eq(pk.data, (const uint8_t *)scratch.data);
	ck_assert_int_eq(decode("bAQID", &scratch, &pk), 0);
	ck_assert_uint_eq(pk.len, 3);
	ck_assert(memcmp(pk.data, "\x01\x02\x03", 3) == 0);
	ck_assert_int_eq(decode("b", &scratch, &pk), 0);
	ck_assert_int_eq(pk.binary, 1);
	ck_assert_uint_eq(pk.len, 0);
	ck_assert_int_eq(decode("bAQI=", &scratch, &pk), 0);
	ck_assert_uint_eq(pk.len, 2);
	ck_assert_int_eq(decode("bAQI", &scratch, &pk), -1);
	/* not base64 */
	ck_assert_int_eq(decode("bAQ", &scratch, &pk), -1);
	ck_assert_int_eq(decode("bAQ*D", &scratch, &pk), -1);
	ck_assert_int_eq(decode("b====", &scratch, &pk), -1);
	ck_assert_int_eq(decode("bAQIDBA=", &scratch, &pk), -1);
	pd_buf_free(&scratch);
}
END_TEST

/* Split body and compare with the expected elements. */
static void split_eq(const char *body, size_t n, const char *const *want, size_t nwant)
{
	const char *p = body, *e;
	size_t left = n, elen, k = 0;
	while (eio_payload_next(&p, &left, &e, &elen)) {
		ck_assert_uint_lt(k, nwant);
		ck_assert_uint_eq(elen, strlen(want[k]));
		ck_assert(memcmp(e, want[k], elen) == 0);
		k++;
	}
	ck_assert_uint_eq(k, nwant);
	/* stays at the end */
	ck_assert_int_eq(eio_payload_next(&p, &left, &e, &elen), 0);
}

START_TEST(payload_split)
{
	/* the spec's examples */
	static const char *const a[] = {"4hello", "4€"};
	split_eq("4hello\x1e" "4€", strlen("4hello\x1e" "4€"), a, 2);
	static const char *const b[] = {"4hello", "bAQIDBA=="};
	split_eq("4hello\x1e" "bAQIDBA==", 16, b, 2);
	static const char *const c[] = {"42[\"hello\"]", "42[\"world\"]"};
	split_eq("42[\"hello\"]\x1e" "42[\"world\"]", 23, c, 2);
	static const char *const one[] = {"2"};
	split_eq("2", 1, one, 1);
	/* empty elements are returned, for the caller to reject */
	static const char *const empty[] = {""};
	split_eq("", 0, empty, 1);
	split_eq(NULL, 0, empty, 1);
	static const char *const trail[] = {"4a", ""};
	split_eq("4a\x1e", 3, trail, 2);
	static const char *const mid[] = {"4a", "", "4b"};
	split_eq("4a\x1e\x1e" "4b", 6, mid, 3);
	static const char *const lead[] = {"", "4a"};
	split_eq("\x1e" "4a", 3, lead, 2);
	/* each element then decodes (or not) on its own */
	struct pd_buf scratch;
	struct eio_packet pk;
	const char *body = "4hello\x1e" "bAQIDBA==\x1e" "2\x1e" "6", *p = body, *e;
	size_t left = strlen(body), elen;
	int types[4], bins[4], k = 0;
	pd_buf_init(&scratch, 0);
	while (eio_payload_next(&p, &left, &e, &elen)) {
		ck_assert_int_eq(eio_decode_text(e, elen, &scratch, &pk), 0);
		types[k] = pk.type;
		bins[k++] = pk.binary;
	}
	ck_assert_int_eq(k, 4);
	ck_assert_int_eq(types[0], EIO_MESSAGE);
	ck_assert_int_eq(bins[1], 1);
	ck_assert_int_eq(types[2], EIO_PING);
	ck_assert_int_eq(types[3], EIO_NOOP);
	pd_buf_free(&scratch);
}
END_TEST

START_TEST(payload_append)
{
	struct pd_buf out;
	pd_buf_init(&out, 0);
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 0, (const uint8_t *)"hello", 5), 0);
	ck_assert_str_eq(out.data, "4hello");
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 1, (const uint8_t *)"\x01\x02\x03\x04", 4),
			 0);
	ck_assert_str_eq(out.data, "4hello\x1e" "bAQIDBA==");
	ck_assert_int_eq(eio_payload_append(&out, EIO_PING, 0, NULL, 0), 0);
	ck_assert_int_eq(eio_payload_append(&out, EIO_NOOP, 0, NULL, 0), 0);
	ck_assert_str_eq(out.data, "4hello\x1e" "bAQIDBA==\x1e" "2\x1e" "6");
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 1, NULL, 0), 0);
	ck_assert_str_eq(out.data, "4hello\x1e" "bAQIDBA==\x1e" "2\x1e" "6\x1e" "b");
	ck_assert_int_eq(eio_payload_append(&out, '9', 0, NULL, 0), -EINVAL);
	pd_buf_free(&out);

	/* a packet that does not fit leaves the payload untouched */
	pd_buf_init(&out, 12);
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 0, (const uint8_t *)"abcdef", 6), 0);
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 0, (const uint8_t *)"abcdef", 6),
			 -ENOBUFS);
	ck_assert_uint_eq(out.len, 7);
	ck_assert_str_eq(out.data, "4abcdef");
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 1, (const uint8_t *)"abc", 3), -ENOBUFS);
	ck_assert_str_eq(out.data, "4abcdef");
	ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 0, (const uint8_t *)"abc", 3), 0);
	ck_assert_str_eq(out.data, "4abcdef\x1e" "4abc");
	pd_buf_free(&out);
}
END_TEST

START_TEST(append_then_split)
{
	/* what we append splits and decodes back to the same packets; binary
	 * ones hold every byte value, \x1e included */
	struct pd_buf out, scratch;
	struct eio_packet pk;
	uint8_t bin[256];
	char text[64];
	for (int i = 0; i < 256; i++)
		bin[i] = (uint8_t)i;
	pd_buf_init(&out, 0);
	pd_buf_init(&scratch, 0);
	for (size_t n = 0; n < 40; n++) {
		if (n & 1) {
			ck_assert_int_eq(eio_payload_append(&out, EIO_MESSAGE, 1, bin + n, n * 5), 0);
		} else {
			int tl = snprintf(text, sizeof(text), "2[\"m\",%zu]", n);
			ck_assert_int_eq(
				eio_payload_append(&out, EIO_MESSAGE, 0, (const uint8_t *)text, (size_t)tl), 0);
		}
	}
	const char *p = out.data, *e;
	size_t left = out.len, elen, k = 0;
	while (eio_payload_next(&p, &left, &e, &elen)) {
		ck_assert_int_eq(eio_decode_text(e, elen, &scratch, &pk), 0);
		ck_assert_int_eq(pk.type, EIO_MESSAGE);
		ck_assert_int_eq(pk.binary, (int)(k & 1));
		if (pk.binary) {
			ck_assert_uint_eq(pk.len, k * 5);
			ck_assert(memcmp(pk.data, bin + k, pk.len) == 0);
		} else {
			int tl = snprintf(text, sizeof(text), "2[\"m\",%zu]", k);
			ck_assert_uint_eq(pk.len, (size_t)tl);
			ck_assert(memcmp(pk.data, text, pk.len) == 0);
		}
		k++;
	}
	ck_assert_uint_eq(k, 40);
	pd_buf_free(&out);
	pd_buf_free(&scratch);
}
END_TEST

START_TEST(open_json)
{
	struct pd_buf out;
	pd_buf_init(&out, 0);
	ck_assert_int_eq(eio_open_json(&out, "lv_VI97HAXpY6yYWAAAC", 1, 25000, 20000, 1000000), 0);
	ck_assert_str_eq(out.data, "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
				   "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
	pd_buf_reset(&out);
	ck_assert_int_eq(eio_open_json(&out, "abc", 0, 300, 200, 1000), 0);
	ck_assert_str_eq(out.data, "{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":300,"
				   "\"pingTimeout\":200,\"maxPayload\":1000}");
	/* appends: the daemon writes the '0' type first */
	pd_buf_reset(&out);
	pd_buf_append(&out, "0", 1);
	ck_assert_int_eq(eio_open_json(&out, "s", 1, 1, 2, 3), 0);
	ck_assert(strncmp(out.data, "0{\"sid\":\"s\",", 12) == 0);
	size_t before = out.len;
	ck_assert_int_eq(eio_open_json(&out, "a\"b", 1, 1, 2, 3), -EINVAL);
	ck_assert_uint_eq(out.len, before);
	pd_buf_free(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eio_packet");
	TCase *tc = tcase_create("eio_packet");
	tcase_add_test(tc, decode_types);
	tcase_add_test(tc, decode_binary);
	tcase_add_test(tc, payload_split);
	tcase_add_test(tc, payload_append);
	tcase_add_test(tc, append_then_split);
	tcase_add_test(tc, open_json);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
