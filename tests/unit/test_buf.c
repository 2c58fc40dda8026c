/* Unit tests for pd_buf: buffers with a cap, slices, base64 (RFC 4648
 * vectors, RFC 6455 accept key) and the strict UTF-8 validator. */
#include "pd_buf.h"

#include <check.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_append_and_nul)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_buf_append_str(&b, "hello"), 0);
	ck_assert_int_eq(pd_buf_append(&b, ", ", 2), 0);
	ck_assert_int_eq(pd_buf_printf(&b, "%s %d", "world", 42), 0);
	ck_assert_uint_eq(b.len, 15);
	ck_assert_str_eq(b.data, "hello, world 42");
	pd_buf_consume(&b, 7);
	ck_assert_str_eq(b.data, "world 42");
	ck_assert_uint_eq(b.len, 8);
	pd_buf_consume(&b, 100);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	pd_buf_free(&b);
	ck_assert_ptr_null(b.data);
	pd_buf_free(&b); /* twice is fine */
}
END_TEST

START_TEST(test_printf_long)
{
	struct pd_buf b;
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_buf_printf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(b.len, 1001);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[1000], '>');
	ck_assert_int_eq(b.data[1001], '\0');
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_cap)
{
	struct pd_buf b;
	pd_buf_init(&b, 10);
	ck_assert_int_eq(pd_buf_append(&b, "0123456789", 10), 0);
	ck_assert_int_eq(pd_buf_append(&b, "x", 1), -ENOBUFS);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "0123456789");
	ck_assert_int_eq(pd_buf_printf(&b, "%d", 1), -ENOBUFS);
	pd_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(pd_buf_append(&b, "abc", 3), 0);
	ck_assert_int_eq(pd_buf_reserve(&b, 8), -ENOBUFS);
	ck_assert_int_eq(pd_buf_reserve(&b, 7), 0);
	ck_assert_int_eq(pd_buf_reserve(&b, SIZE_MAX), -ENOBUFS);
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_steal)
{
	struct pd_buf b;
	size_t len = 99;
	pd_buf_init(&b, 0);
	ck_assert_ptr_null(pd_buf_steal(&b, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(pd_buf_append_str(&b, "abc"), 0);
	char *s = pd_buf_steal(&b, &len);
	ck_assert_str_eq(s, "abc");
	ck_assert_uint_eq(len, 3);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(s);
	/* reusable afterwards */
	ck_assert_int_eq(pd_buf_append_str(&b, "z"), 0);
	ck_assert_str_eq(b.data, "z");
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_str_eq)
{
	struct pd_str s = PD_STR("ticket");
	ck_assert(pd_str_eq(s, "ticket"));
	ck_assert(!pd_str_eq(s, "ticke"));
	ck_assert(!pd_str_eq(s, "tickets"));
	struct pd_str e = {NULL, 0};
	ck_assert(pd_str_eq(e, ""));
}
END_TEST

/* RFC 4648 section 10. */
static const char *const vec_plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const vec_b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
				      "Zm9vYmFy"};

START_TEST(test_base64_vectors)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	pd_buf_reset(&b);
	ck_assert_int_eq(pd_base64_encode((const uint8_t *)vec_plain[_i], strlen(vec_plain[_i]), &b),
			 0);
	ck_assert_uint_eq(b.len, strlen(vec_b64[_i]));
	ck_assert_str_eq(b.data, vec_b64[_i]);
	pd_buf_reset(&b);
	ck_assert_int_eq(pd_base64_decode(vec_b64[_i], strlen(vec_b64[_i]), &b), 0);
	ck_assert_uint_eq(b.len, strlen(vec_plain[_i]));
	ck_assert_str_eq(b.data, vec_plain[_i]);
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_base64_binary)
{
	uint8_t all[256];
	struct pd_buf e, d;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	pd_buf_init(&e, 0);
	pd_buf_init(&d, 0);
	ck_assert_int_eq(pd_base64_encode(all, sizeof(all), &e), 0);
	ck_assert_uint_eq(e.len, 344);
	/* standard alphabet, not base64url */
	ck_assert_ptr_nonnull(strstr(e.data, "+/"));
	ck_assert_int_eq(pd_base64_decode(e.data, e.len, &d), 0);
	ck_assert_uint_eq(d.len, 256);
	ck_assert_mem_eq(d.data, all, 256);
	/* decode appends */
	ck_assert_int_eq(pd_base64_decode("Zm9v", 4, &d), 0);
	ck_assert_uint_eq(d.len, 259);
	ck_assert_mem_eq(d.data + 256, "foo", 3);
	pd_buf_free(&e);
	pd_buf_free(&d);
}
END_TEST

static const char *const bad_b64[] = {
	"Zg",       /* unpadded */
	"Zg=",      /* short padding */
	"Zm9",      /* length not a multiple of 4 */
	"Zg=a",     /* data after padding */
	"Z===",     /* too much padding */
	"====",     /* only padding */
	"Zm 9v",    /* whitespace */
	"Zm9v\n",   /* newline */
	"Zm-_",     /* base64url alphabet */
	"Zh==",     /* non-zero unused bits (canonical is Zg==) */
	"Zm9=",     /* non-zero unused bits (canonical is Zm8=) */
	"Zg==Zg==", /* padding in the middle */
};

START_TEST(test_base64_bad)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_buf_append_str(&b, "keep"), 0);
	ck_assert_int_eq(pd_base64_decode(bad_b64[_i], strlen(bad_b64[_i]), &b), -EINVAL);
	ck_assert_uint_eq(b.len, 4); /* untouched on error */
	ck_assert_str_eq(b.data, "keep");
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_base64_cap)
{
	struct pd_buf b;
	pd_buf_init(&b, 3);
	ck_assert_int_eq(pd_base64_encode((const uint8_t *)"ab", 2, &b), -ENOBUFS);
	ck_assert_int_eq(pd_base64_decode("Zm9vYg==", 8, &b), -ENOBUFS);
	ck_assert_int_eq(pd_base64_decode("Zm9v", 4, &b), 0);
	pd_buf_free(&b);
}
END_TEST

/* RFC 6455 section 1.3: the Sec-WebSocket-Accept example. */
START_TEST(test_base64_rfc6455)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[SHA_DIGEST_LENGTH];
	struct pd_buf b;
	SHA1((const unsigned char *)key, strlen(key), md);
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_base64_encode(md, sizeof(md), &b), 0);
	ck_assert_str_eq(b.data, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	pd_buf_free(&b);
}
END_TEST

struct u8vec {
	const char *bytes;
	size_t len;
	int valid;
};
#define U8(lit, v) {lit, sizeof(lit) - 1, v}
static const struct u8vec u8[] = {
	U8("", 1),
	U8("plain ascii", 1),
	U8("caf\xc3\xa9", 1),                 /* U+00E9 */
	U8("\xe2\x82\xac", 1),                 /* U+20AC */
	U8("\xf0\x9f\x98\x80", 1),             /* U+1F600 */
	U8("\xef\xbf\xbf", 1),                 /* U+FFFF */
	U8("\xf4\x8f\xbf\xbf", 1),             /* U+10FFFF */
	U8("\xed\x9f\xbf", 1),                 /* U+D7FF */
	U8("\xee\x80\x80", 1),                 /* U+E000 */
	U8("a\0b", 1),                         /* NUL is valid UTF-8 */
	U8("\xc0\x80", 0),                     /* overlong NUL */
	U8("\xc1\xbf", 0),                     /* overlong */
	U8("\xe0\x80\x80", 0),                 /* overlong 3 bytes */
	U8("\xe0\x9f\xbf", 0),                 /* overlong U+07FF */
	U8("\xf0\x80\x80\x80", 0),             /* overlong 4 bytes */
	U8("\xf0\x8f\xbf\xbf", 0),             /* overlong U+FFFF */
	U8("\xed\xa0\x80", 0),                 /* surrogate U+D800 */
	U8("\xed\xbf\xbf", 0),                 /* surrogate U+DFFF */
	U8("\xf4\x90\x80\x80", 0),             /* U+110000 */
	U8("\xf5\x80\x80\x80", 0),             /* lead byte past U+10FFFF */
	U8("\x80", 0),                         /* lone continuation */
	U8("\xc3", 0),                         /* truncated */
	U8("\xe2\x82", 0),                     /* truncated */
	U8("\xf0\x9f\x98", 0),                 /* truncated */
	U8("\xc3\x28", 0),                     /* bad continuation */
	U8("\xe2\x28\xa1", 0),                 /* bad continuation */
	U8("\xfe", 0),
	U8("\xff", 0),
	U8("ok\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1), /* "κόσμε" */
};

START_TEST(test_utf8)
{
	ck_assert_msg(pd_utf8_valid((const uint8_t *)u8[_i].bytes, u8[_i].len) == u8[_i].valid,
		      "vector %d", _i);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_buf");
	TCase *tc = tcase_create("buf");
	tcase_add_test(tc, test_append_and_nul);
	tcase_add_test(tc, test_printf_long);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_steal);
	tcase_add_test(tc, test_str_eq);
	suite_add_tcase(s, tc);
	tc = tcase_create("base64");
	tcase_add_loop_test(tc, test_base64_vectors, 0, (int)(sizeof(vec_b64) / sizeof(vec_b64[0])));
	tcase_add_test(tc, test_base64_binary);
	tcase_add_loop_test(tc, test_base64_bad, 0, (int)(sizeof(bad_b64) / sizeof(bad_b64[0])));
	tcase_add_test(tc, test_base64_cap);
	tcase_add_test(tc, test_base64_rfc6455);
	suite_add_tcase(s, tc);
	tc = tcase_create("utf8");
	tcase_add_loop_test(tc, test_utf8, 0, (int)(sizeof(u8) / sizeof(u8[0])));
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
