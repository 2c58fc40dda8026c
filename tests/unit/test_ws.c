/* Unit tests of broker/ws: RFC 6455 header parsing and encoding, the
 * handshake key, and the reassembling parser (masking, fragmentation split
 * at every byte, interleaved control frames, UTF-8, size and close checks). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

/* Messages collected by the callback, as one byte string per message. */
struct msg {
	int opcode;
	size_t len;
	uint8_t *data;
};

struct sink {
	struct msg m[64];
	int n;
	int stop_after;          /* return 1 from the callback after this many, 0 = never */
	const uint8_t *in_start; /* to check zero-copy delivery from the input */
	const uint8_t *in_end;
	int from_input;
};

static int collect(void *ud, int opcode, uint8_t *data, size_t len)
{
	struct sink *s = ud;
	ck_assert_int_lt(s->n, 64);
	ck_assert_ptr_nonnull(data);
	s->m[s->n].opcode = opcode;
	s->m[s->n].len = len;
	s->m[s->n].data = malloc(len + 1);
	memcpy(s->m[s->n].data, data, len);
	if (s->in_start != NULL && data >= s->in_start && data < s->in_end)
		s->from_input++;
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after ? 1 : 0;
}

static void sink_clear(struct sink *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->m[i].data);
	memset(s, 0, sizeof(*s));
}

static void sink_eq(const struct sink *a, const struct sink *b)
{
	ck_assert_int_eq(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		ck_assert_int_eq(a->m[i].opcode, b->m[i].opcode);
		ck_assert_uint_eq(a->m[i].len, b->m[i].len);
		ck_assert(memcmp(a->m[i].data, b->m[i].data, a->m[i].len) == 0);
	}
}

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Append one frame to buf at *len. */
static void frame(uint8_t *buf, size_t *len, int fin, int opcode, const void *payload, size_t n,
		  const uint8_t *mask)
{
	*len += ws_frame_header_encode(buf + *len, fin, opcode, n, mask);
	if (n > 0)
		memcpy(buf + *len, payload, n);
	if (mask != NULL)
		ws_unmask(buf + *len, n, mask, 0);
	*len += n;
}

/* Feed all of p and return the result, collecting into s. */
static int feed_all(int require_mask, size_t max, const uint8_t *p, size_t n, struct sink *s)
{
	struct ws_parser *wp = ws_parser_new(max, require_mask);
	ck_assert_ptr_nonnull(wp);
	int rc = ws_parser_feed(wp, p, n, collect, s);
	ws_parser_free(wp);
	return rc;
}

START_TEST(accept_key_rfc)
{
	char out[29];
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -1);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), -1);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZ*==", out), -1);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQAA", out), -1);
	ck_assert_int_eq(ws_accept_key("", out), -1);
}
END_TEST

START_TEST(header_lengths)
{
	struct ws_frame f;
	uint8_t h[WS_MAX_HEADER];
	static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1ull << 32,
					(1ull << 63) - 1};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int m = 0; m < 2; m++) {
			size_t hl = ws_frame_header_encode(h, 1, WS_OP_BINARY, lens[i], m ? MASK : NULL);
			size_t want = 2 + (lens[i] < 126 ? 0 : lens[i] <= 0xffff ? 2 : 8) + (m ? 4 : 0);
			ck_assert_uint_eq(hl, want);
			/* every prefix asks for more */
			for (size_t k = 0; k < hl; k++)
				ck_assert_int_eq(ws_frame_parse_header(h, k, &f), 0);
			ck_assert_int_eq(ws_frame_parse_header(h, hl, &f), (ssize_t)hl);
			ck_assert_uint_eq(f.payload_len, lens[i]);
			ck_assert_uint_eq(f.header_len, hl);
			ck_assert_int_eq(f.fin, 1);
			ck_assert_int_eq(f.opcode, WS_OP_BINARY);
			ck_assert_int_eq(f.masked, m);
			if (m)
				ck_assert(memcmp(f.mask, MASK, 4) == 0);
		}
	}
	/* RFC 6455 5.7: a single-frame unmasked text message */
	static const uint8_t hello[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
	ck_assert_int_eq(ws_frame_parse_header(hello, sizeof(hello), &f), 2);
	ck_assert_int_eq(f.opcode, WS_OP_TEXT);
	ck_assert_uint_eq(f.payload_len, 5);
	/* 256 bytes binary in a single unmasked frame */
	static const uint8_t b256[] = {0x82, 0x7E, 0x01, 0x00};
	ck_assert_int_eq(ws_frame_parse_header(b256, 4, &f), 4);
	ck_assert_uint_eq(f.payload_len, 256);
	/* 64 KiB */
	static const uint8_t b64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
	ck_assert_int_eq(ws_frame_parse_header(b64k, 10, &f), 10);
	ck_assert_uint_eq(f.payload_len, 65536);
}
END_TEST

START_TEST(header_rejects)
{
	struct ws_frame f;
	static const uint8_t rsv1[] = {0xC1, 0x00}, rsv2[] = {0xA1, 0x00}, rsv3[] = {0x91, 0x00};
	ck_assert_int_eq(ws_frame_parse_header(rsv1, 2, &f), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(ws_frame_parse_header(rsv2, 2, &f), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(ws_frame_parse_header(rsv3, 2, &f), -WS_CLOSE_PROTOCOL);
	for (int op = 0; op < 16; op++) {
		uint8_t h[2] = {(uint8_t)(0x80 | op), 0x00};
		int known = op <= 2 || (op >= 8 && op <= 10);
		ck_assert_int_eq(ws_frame_parse_header(h, 2, &f), known ? 2 : -WS_CLOSE_PROTOCOL);
	}
	/* fragmented control frames */
	for (int op = 8; op <= 10; op++) {
		uint8_t h[2] = {(uint8_t)op, 0x00};
		ck_assert_int_eq(ws_frame_parse_header(h, 2, &f), -WS_CLOSE_PROTOCOL);
	}
	/* control payload > 125, even before the length bytes arrive */
	static const uint8_t ping126[] = {0x89, 0x7E}, ping127[] = {0x89, 0x7F};
	ck_assert_int_eq(ws_frame_parse_header(ping126, 2, &f), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(ws_frame_parse_header(ping127, 2, &f), -WS_CLOSE_PROTOCOL);
	static const uint8_t ping125[] = {0x89, 0x7D};
	ck_assert_int_eq(ws_frame_parse_header(ping125, 2, &f), 2);
	/* non-minimal lengths */
	static const uint8_t nm16[] = {0x82, 0x7E, 0x00, 0x7D};
	static const uint8_t ok16[] = {0x82, 0x7E, 0x00, 0x7E};
	static const uint8_t nm64[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const uint8_t msb64[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
	ck_assert_int_eq(ws_frame_parse_header(nm16, 4, &f), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(ws_frame_parse_header(ok16, 4, &f), 4);
	ck_assert_int_eq(ws_frame_parse_header(nm64, 10, &f), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(ws_frame_parse_header(msb64, 10, &f), -WS_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(unmask_offsets)
{
	uint8_t a[37], b[37];
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 7);
	ws_unmask(a, sizeof(a), MASK, 0);
	for (size_t i = 0; i < sizeof(a); i++)
		ck_assert_int_eq(a[i], (uint8_t)(b[i] ^ MASK[i % 4]));
	/* unmasking in pieces with running offsets equals unmasking at once */
	memcpy(a, b, sizeof(a));
	ws_unmask(a, 3, MASK, 0);
	ws_unmask(a + 3, 10, MASK, 3);
	ws_unmask(a + 13, 24, MASK, 13);
	for (size_t i = 0; i < sizeof(a); i++)
		ck_assert_int_eq(a[i], (uint8_t)(b[i] ^ MASK[i % 4]));
}
END_TEST

START_TEST(rfc_examples)
{
	struct sink s = {0};
	/* 5.7: masked "Hello" (client to server) */
	static const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	ck_assert_int_eq(feed_all(1, 1000, masked, sizeof(masked), &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.m[0].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(s.m[0].len, 5);
	ck_assert(memcmp(s.m[0].data, "Hello", 5) == 0);
	sink_clear(&s);
	/* the same masked frame at a client is an error, and unmasked at a server */
	ck_assert_int_eq(feed_all(0, 1000, masked, sizeof(masked), &s), -WS_CLOSE_PROTOCOL);
	static const uint8_t plain[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
	ck_assert_int_eq(feed_all(1, 1000, plain, sizeof(plain), &s), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(feed_all(0, 1000, plain, sizeof(plain), &s), 0);
	ck_assert_int_eq(s.n, 1);
	sink_clear(&s);
	/* fragmented unmasked "Hel" + "lo" */
	static const uint8_t frag[] = {0x01, 0x03, 'H', 'e', 'l', 0x80, 0x02, 'l', 'o'};
	ck_assert_int_eq(feed_all(0, 1000, frag, sizeof(frag), &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.m[0].opcode, WS_OP_TEXT);
	ck_assert(memcmp(s.m[0].data, "Hello", 5) == 0);
	sink_clear(&s);
	/* unmasked ping "Hello", masked pong "Hello" */
	static const uint8_t ping[] = {0x89, 0x05, 'H', 'e', 'l', 'l', 'o'};
	static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				       0x7f, 0x9f, 0x4d, 0x51, 0x58};
	ck_assert_int_eq(feed_all(0, 1000, ping, sizeof(ping), &s), 0);
	ck_assert_int_eq(feed_all(1, 1000, pong, sizeof(pong), &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(s.m[0].opcode, WS_OP_PING);
	ck_assert_int_eq(s.m[1].opcode, WS_OP_PONG);
	ck_assert(memcmp(s.m[1].data, "Hello", 5) == 0);
	sink_clear(&s);
}
END_TEST

/* A stream exercising every path: 7/16/64-bit lengths, fragments with
 * interleaved control frames, empty frames, multi-byte UTF-8 cut across
 * fragments, a close. Returns its length; *nmsg the messages it holds. */
static size_t build_stream(uint8_t *buf, const uint8_t *mask)
{
	static uint8_t big[70000];
	uint8_t mid[300];
	size_t len = 0;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	for (size_t i = 0; i < sizeof(mid); i++)
		mid[i] = (uint8_t)('a' + i % 26);
	frame(buf, &len, 1, WS_OP_TEXT, "42[\"hello\"]", 11, mask);
	frame(buf, &len, 1, WS_OP_BINARY, mid, sizeof(mid), mask);
	frame(buf, &len, 1, WS_OP_TEXT, "", 0, mask);
	frame(buf, &len, 0, WS_OP_TEXT, "caf\xc3", 4, mask); /* é cut in two */
	frame(buf, &len, 1, WS_OP_PING, "p1", 2, mask);
	frame(buf, &len, 0, WS_OP_CONT, "", 0, mask);
	frame(buf, &len, 1, WS_OP_PONG, "", 0, mask);
	frame(buf, &len, 0, WS_OP_CONT, "\xa9 \xf0\x9f", 4, mask); /* U+1F600 cut */
	frame(buf, &len, 1, WS_OP_CONT, "\x98\x80!", 3, mask);
	frame(buf, &len, 1, WS_OP_BINARY, big, sizeof(big), mask);
	frame(buf, &len, 0, WS_OP_BINARY, big, 5000, mask);
	frame(buf, &len, 1, WS_OP_PING, "p2", 2, mask);
	frame(buf, &len, 1, WS_OP_CONT, big + 5000, 6000, mask);
	frame(buf, &len, 0, WS_OP_TEXT, "", 0, mask);
	frame(buf, &len, 1, WS_OP_CONT, "", 0, mask);
	frame(buf, &len, 1, WS_OP_CLOSE, "\x03\xe8" "bye", 5, mask);
	return len;
}

static void check_stream(const struct sink *s)
{
	ck_assert_int_eq(s->n, 11);
	ck_assert_int_eq(s->m[0].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(s->m[0].len, 11);
	ck_assert_int_eq(s->m[1].opcode, WS_OP_BINARY);
	ck_assert_uint_eq(s->m[1].len, 300);
	ck_assert_int_eq(s->m[2].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(s->m[2].len, 0);
	ck_assert_int_eq(s->m[3].opcode, WS_OP_PING);
	ck_assert_int_eq(s->m[4].opcode, WS_OP_PONG);
	ck_assert_int_eq(s->m[5].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(s->m[5].len, 11);
	ck_assert(memcmp(s->m[5].data, "caf\xc3\xa9 \xf0\x9f\x98\x80!", 11) == 0);
	ck_assert_int_eq(s->m[6].opcode, WS_OP_BINARY);
	ck_assert_uint_eq(s->m[6].len, 70000);
	ck_assert_int_eq(s->m[7].opcode, WS_OP_PING);
	ck_assert(memcmp(s->m[7].data, "p2", 2) == 0);
	ck_assert_int_eq(s->m[8].opcode, WS_OP_BINARY);
	ck_assert_uint_eq(s->m[8].len, 11000);
	ck_assert(memcmp(s->m[8].data, s->m[6].data, 11000) == 0);
	ck_assert_int_eq(s->m[9].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(s->m[9].len, 0);
	ck_assert_int_eq(s->m[10].opcode, WS_OP_CLOSE);
	ck_assert_uint_eq(s->m[10].len, 5);
}

static uint8_t stream[100000], scratch[100000];

START_TEST(stream_whole_and_bytewise)
{
	for (int server = 0; server < 2; server++) {
		size_t len = build_stream(stream, server ? MASK : NULL);
		struct sink whole = {0}, bytes = {0};
		ck_assert_int_eq(feed_all(server, 100000, stream, len, &whole), 0);
		check_stream(&whole);

		struct ws_parser *wp = ws_parser_new(100000, server);
		for (size_t i = 0; i < len; i++)
			ck_assert_int_eq(ws_parser_feed(wp, stream + i, 1, collect, &bytes), 0);
		sink_eq(&whole, &bytes);
		ck_assert_uint_eq(ws_parser_buffered(wp), 0);
		ws_parser_free(wp);
		sink_clear(&bytes);

		/* the same through the in-place path */
		memcpy(scratch, stream, len);
		wp = ws_parser_new(100000, server);
		bytes.in_start = scratch;
		bytes.in_end = scratch + len;
		ck_assert_int_eq(ws_parser_feed_mut(wp, scratch, len, collect, &bytes), 0);
		sink_eq(&whole, &bytes);
		/* whole frames are handed over from the input, not copied */
		ck_assert_int_ge(bytes.from_input, 7);
		ws_parser_free(wp);
		sink_clear(&bytes);
		sink_clear(&whole);
	}
}
END_TEST

/* Two feeds split at every byte: the same messages, both entry points. */
START_TEST(stream_every_split)
{
	size_t len = build_stream(stream, MASK);
	struct sink whole = {0};
	ck_assert_int_eq(feed_all(1, 100000, stream, len, &whole), 0);
	/* Only split in the first 12000 bytes and the last 2000: the big frame
	 * in between behaves the same at every cut and the test stays fast. */
	for (size_t cut = 0; cut <= len; cut++) {
		if (cut > 12000 && cut < len - 2000 && cut % 997 != 0)
			continue;
		for (int mut = 0; mut < 2; mut++) {
			struct sink s = {0};
			struct ws_parser *wp = ws_parser_new(100000, 1);
			if (mut) {
				memcpy(scratch, stream, len);
				ck_assert_int_eq(ws_parser_feed_mut(wp, scratch, cut, collect, &s), 0);
				ck_assert_int_eq(
					ws_parser_feed_mut(wp, scratch + cut, len - cut, collect, &s), 0);
			} else {
				ck_assert_int_eq(ws_parser_feed(wp, stream, cut, collect, &s), 0);
				ck_assert_int_eq(ws_parser_feed(wp, stream + cut, len - cut, collect, &s),
						 0);
			}
			sink_eq(&whole, &s);
			ws_parser_free(wp);
			sink_clear(&s);
		}
	}
	sink_clear(&whole);
}
END_TEST

START_TEST(sequencing_errors)
{
	uint8_t b[256];
	size_t len = 0;
	struct sink s = {0};
	/* continuation without a start */
	frame(b, &len, 1, WS_OP_CONT, "x", 1, MASK);
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), -WS_CLOSE_PROTOCOL);
	/* a new TEXT while a fragmented message is open */
	len = 0;
	frame(b, &len, 0, WS_OP_TEXT, "a", 1, MASK);
	frame(b, &len, 1, WS_OP_TEXT, "b", 1, MASK);
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), -WS_CLOSE_PROTOCOL);
	len = 0;
	frame(b, &len, 0, WS_OP_BINARY, "a", 1, MASK);
	frame(b, &len, 1, WS_OP_PING, "", 0, MASK);
	frame(b, &len, 0, WS_OP_BINARY, "b", 1, MASK);
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(s.n, 1); /* the ping came through first */
	sink_clear(&s);
	/* a continuation after a finished message */
	len = 0;
	frame(b, &len, 1, WS_OP_TEXT, "a", 1, MASK);
	frame(b, &len, 1, WS_OP_CONT, "b", 1, MASK);
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(s.n, 1);
	sink_clear(&s);
	/* the error is sticky */
	struct ws_parser *wp = ws_parser_new(1000, 1);
	static const uint8_t rsv[] = {0xC1, 0x80, 1, 2, 3, 4};
	ck_assert_int_eq(ws_parser_feed(wp, rsv, sizeof(rsv), collect, &s), -WS_CLOSE_PROTOCOL);
	len = 0;
	frame(b, &len, 1, WS_OP_TEXT, "a", 1, MASK);
	ck_assert_int_eq(ws_parser_feed(wp, b, len, collect, &s), -WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(s.n, 0);
	ws_parser_free(wp);
}
END_TEST

static int text_result(const char *payload, size_t n, int fragment_at)
{
	uint8_t b[256];
	size_t len = 0;
	struct sink s = {0};
	if (fragment_at > 0) {
		frame(b, &len, 0, WS_OP_TEXT, payload, (size_t)fragment_at, MASK);
		frame(b, &len, 1, WS_OP_CONT, payload + fragment_at, n - (size_t)fragment_at, MASK);
	} else {
		frame(b, &len, 1, WS_OP_TEXT, payload, n, MASK);
	}
	int rc = feed_all(1, 1000, b, len, &s);
	if (rc == 0)
		ck_assert_int_eq(s.n, 1);
	sink_clear(&s);
	return rc;
}

START_TEST(utf8_checks)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{"plain ascii", 1},
		{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1}, /* κόσμε */
		{"\xf4\x8f\xbf\xbf", 1},                             /* U+10FFFF */
		{"\xed\x9f\xbf", 1},                                 /* U+D7FF */
		{"\xee\x80\x80", 1},                                 /* U+E000 */
		{"\xc0\xaf", 0},                                     /* overlong '/' */
		{"\xe0\x80\xaf", 0},                                 /* overlong */
		{"\xf0\x80\x80\xaf", 0},                             /* overlong */
		{"\xed\xa0\x80", 0},                                 /* surrogate U+D800 */
		{"\xed\xbf\xbf", 0},                                 /* surrogate U+DFFF */
		{"\xf4\x90\x80\x80", 0},                             /* U+110000 */
		{"\xf5\x80\x80\x80", 0},
		{"\xff", 0},
		{"\x80", 0},    /* lone continuation */
		{"ab\xc3", 0},  /* truncated at the end */
		{"\xe2\x82", 0}, /* truncated */
		{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].s);
		int want = cases[i].ok ? 0 : -WS_CLOSE_BAD_DATA;
		for (size_t at = 0; at < n; at++)
			ck_assert_msg(text_result(cases[i].s, n, (int)at) == want, "case %zu at %zu", i, at);
	}
	/* binary messages are not checked */
	uint8_t b[16];
	size_t len = 0;
	struct sink s = {0};
	frame(b, &len, 1, WS_OP_BINARY, "\xff\xfe", 2, MASK);
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), 0);
	sink_clear(&s);
}
END_TEST

START_TEST(utf8_fail_fast)
{
	/* An invalid first fragment fails before the message is complete. */
	uint8_t b[64];
	size_t len = 0;
	struct sink s = {0};
	frame(b, &len, 0, WS_OP_TEXT, "ok\xc0\xaf", 4, MASK);
	struct ws_parser *wp = ws_parser_new(1000, 1);
	ck_assert_int_eq(ws_parser_feed(wp, b, len, collect, &s), -WS_CLOSE_BAD_DATA);
	ws_parser_free(wp);
	/* and also inside a partial frame */
	len = 0;
	frame(b, &len, 1, WS_OP_TEXT, "\xed\xa0\x80 and more to come", 20, MASK);
	wp = ws_parser_new(1000, 1);
	ck_assert_int_eq(ws_parser_feed(wp, b, 10, collect, &s), -WS_CLOSE_BAD_DATA);
	ws_parser_free(wp);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(too_big)
{
	static uint8_t b[1024], payload[512];
	size_t len = 0;
	struct sink s = {0};
	memset(payload, 'x', sizeof(payload));
	frame(b, &len, 1, WS_OP_TEXT, payload, 100, MASK);
	ck_assert_int_eq(feed_all(1, 100, b, len, &s), 0);
	ck_assert_int_eq(feed_all(1, 99, b, len, &s), -WS_CLOSE_TOO_BIG);
	sink_clear(&s);
	/* the header alone is enough to refuse */
	ck_assert_int_eq(feed_all(1, 99, b, 6, &s), -WS_CLOSE_TOO_BIG);
	/* across fragments, with control frames not counted */
	len = 0;
	frame(b, &len, 0, WS_OP_BINARY, payload, 60, MASK);
	frame(b, &len, 1, WS_OP_PING, payload, 125, MASK);
	frame(b, &len, 1, WS_OP_CONT, payload, 40, MASK);
	ck_assert_int_eq(feed_all(1, 100, b, len, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_uint_eq(s.m[1].len, 100);
	sink_clear(&s);
	len = 0;
	frame(b, &len, 0, WS_OP_BINARY, payload, 60, MASK);
	frame(b, &len, 1, WS_OP_CONT, payload, 41, MASK);
	ck_assert_int_eq(feed_all(1, 100, b, len, &s), -WS_CLOSE_TOO_BIG);
	ck_assert_int_eq(s.n, 0);
	/* a 2^62 length is refused without allocating */
	static const uint8_t huge[] = {0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	ck_assert_int_eq(feed_all(1, 1 << 20, huge, sizeof(huge), &s), -WS_CLOSE_TOO_BIG);
}
END_TEST

static int close_result(const uint8_t *payload, size_t n)
{
	uint8_t b[256];
	size_t len = 0;
	struct sink s = {0};
	frame(b, &len, 1, WS_OP_CLOSE, payload, n, MASK);
	int rc = feed_all(1, 1000, b, len, &s);
	if (rc == 0) {
		ck_assert_int_eq(s.n, 1);
		ck_assert_int_eq(s.m[0].opcode, WS_OP_CLOSE);
		ck_assert_uint_eq(s.m[0].len, n);
	} else {
		ck_assert_int_eq(s.n, 0);
	}
	sink_clear(&s);
	return rc;
}

START_TEST(close_codes)
{
	static const struct {
		unsigned code;
		int ok;
	} codes[] = {
		{0, 0},    {999, 0},  {1000, 1}, {1001, 1}, {1002, 1}, {1003, 1}, {1004, 0},
		{1005, 0}, {1006, 0}, {1007, 1}, {1008, 1}, {1009, 1}, {1010, 1}, {1011, 1},
		{1012, 1}, {1013, 1}, {1014, 1}, {1015, 0}, {1016, 0}, {2000, 0}, {2999, 0},
		{3000, 1}, {3999, 1}, {4000, 1}, {4999, 1}, {5000, 0}, {65535, 0},
	};
	ck_assert_int_eq(close_result(NULL, 0), 0);
	static const uint8_t one[] = {0x03};
	ck_assert_int_eq(close_result(one, 1), -WS_CLOSE_PROTOCOL);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		uint8_t p[2] = {(uint8_t)(codes[i].code >> 8), (uint8_t)codes[i].code};
		ck_assert_msg(close_result(p, 2) == (codes[i].ok ? 0 : -WS_CLOSE_PROTOCOL), "code %u",
			      codes[i].code);
	}
	static const uint8_t reason[] = {0x03, 0xe8, 'b', 'y', 0xc3, 0xa9};
	ck_assert_int_eq(close_result(reason, sizeof(reason)), 0);
	static const uint8_t bad_reason[] = {0x03, 0xe8, 'b', 'y', 0xc3};
	ck_assert_int_eq(close_result(bad_reason, sizeof(bad_reason)), -WS_CLOSE_BAD_DATA);
	static const uint8_t surrogate[] = {0x03, 0xe8, 0xed, 0xa0, 0x80};
	ck_assert_int_eq(close_result(surrogate, sizeof(surrogate)), -WS_CLOSE_BAD_DATA);
}
END_TEST

START_TEST(after_close_ignored)
{
	uint8_t b[64];
	size_t len = 0;
	struct sink s = {0};
	frame(b, &len, 1, WS_OP_CLOSE, "\x03\xe8", 2, MASK);
	frame(b, &len, 1, WS_OP_TEXT, "late", 4, MASK);
	b[len++] = 0xff; /* garbage too */
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.m[0].opcode, WS_OP_CLOSE);
	sink_clear(&s);
}
END_TEST

START_TEST(memory_released)
{
	static uint8_t b[20000], payload[9000];
	size_t len = 0;
	struct sink s = {0};
	struct ws_parser *wp = ws_parser_new(100000, 1);
	memset(payload, 'y', sizeof(payload));
	frame(b, &len, 1, WS_OP_BINARY, payload, sizeof(payload), MASK);
	ck_assert_uint_eq(ws_parser_buffered(wp), 0);
	/* a partial header costs nothing */
	ck_assert_int_eq(ws_parser_feed(wp, b, 3, collect, &s), 0);
	ck_assert_uint_eq(ws_parser_buffered(wp), 0);
	/* a partial payload is buffered, and grows with what arrives */
	ck_assert_int_eq(ws_parser_feed(wp, b + 3, 100, collect, &s), 0);
	ck_assert_uint_gt(ws_parser_buffered(wp), 0);
	ck_assert_uint_lt(ws_parser_buffered(wp), 1024);
	ck_assert_int_eq(ws_parser_feed(wp, b + 103, len - 103, collect, &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(ws_parser_buffered(wp), 0);
	/* an open fragmented message keeps its buffer, then drops it */
	len = 0;
	frame(b, &len, 0, WS_OP_TEXT, "abc", 3, MASK);
	ck_assert_int_eq(ws_parser_feed(wp, b, len, collect, &s), 0);
	ck_assert_uint_gt(ws_parser_buffered(wp), 0);
	len = 0;
	frame(b, &len, 1, WS_OP_CONT, "def", 3, MASK);
	ck_assert_int_eq(ws_parser_feed(wp, b, len, collect, &s), 0);
	ck_assert_uint_eq(ws_parser_buffered(wp), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert(memcmp(s.m[1].data, "abcdef", 6) == 0);
	/* a split control frame with no message open */
	len = 0;
	frame(b, &len, 1, WS_OP_PING, "pingpayload", 11, MASK);
	ck_assert_int_eq(ws_parser_feed(wp, b, 9, collect, &s), 0);
	ck_assert_int_eq(ws_parser_feed(wp, b + 9, len - 9, collect, &s), 0);
	ck_assert_uint_eq(ws_parser_buffered(wp), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert(memcmp(s.m[2].data, "pingpayload", 11) == 0);
	ws_parser_free(wp);
	ws_parser_free(NULL);
	sink_clear(&s);
}
END_TEST

START_TEST(callback_stops)
{
	uint8_t b[64];
	size_t len = 0;
	struct sink s = {0};
	s.stop_after = 2;
	frame(b, &len, 1, WS_OP_TEXT, "1", 1, MASK);
	frame(b, &len, 1, WS_OP_TEXT, "2", 1, MASK);
	frame(b, &len, 1, WS_OP_TEXT, "3", 1, MASK);
	ck_assert_int_eq(feed_all(1, 1000, b, len, &s), 1);
	ck_assert_int_eq(s.n, 2);
	sink_clear(&s);
}
END_TEST

START_TEST(encode_roundtrip)
{
	/* a frame we encode unmasked is read back by a client-side parser */
	uint8_t b[200];
	size_t len = 0;
	struct sink s = {0};
	frame(b, &len, 1, WS_OP_TEXT, "40{\"sid\":\"x\"}", 13, NULL);
	ck_assert_int_eq(b[0], 0x81);
	ck_assert_int_eq(b[1], 13);
	ck_assert_int_eq(feed_all(0, 1000, b, len, &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert(memcmp(s.m[0].data, "40{\"sid\":\"x\"}", 13) == 0);
	sink_clear(&s);
	uint8_t h[WS_MAX_HEADER];
	ck_assert_uint_eq(ws_frame_header_encode(h, 0, WS_OP_BINARY, 126, NULL), 4);
	ck_assert_int_eq(h[0], 0x02);
	ck_assert_int_eq(h[1], 126);
	ck_assert_int_eq(h[2], 0);
	ck_assert_int_eq(h[3], 126);
	ck_assert_uint_eq(ws_frame_header_encode(h, 1, WS_OP_CLOSE, 65536, MASK), 14);
	ck_assert_int_eq(h[0], 0x88);
	ck_assert_int_eq(h[1], 0xff);
	ck_assert_int_eq(h[7], 1);
	ck_assert(memcmp(h + 10, MASK, 4) == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("ws");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, accept_key_rfc);
	tcase_add_test(tc, header_lengths);
	tcase_add_test(tc, header_rejects);
	tcase_add_test(tc, unmask_offsets);
	tcase_add_test(tc, rfc_examples);
	tcase_add_test(tc, stream_whole_and_bytewise);
	tcase_add_test(tc, stream_every_split);
	tcase_add_test(tc, sequencing_errors);
	tcase_add_test(tc, utf8_checks);
	tcase_add_test(tc, utf8_fail_fast);
	tcase_add_test(tc, too_big);
	tcase_add_test(tc, close_codes);
	tcase_add_test(tc, after_close_ignored);
	tcase_add_test(tc, memory_released);
	tcase_add_test(tc, callback_stops);
	tcase_add_test(tc, encode_roundtrip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
