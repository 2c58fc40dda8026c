/* Unit tests of broker/adapter_codec against the bytes that
 * @socket.io/redis-adapter 8.3 (socket.io 4.8) and @socket.io/redis-emitter
 * 5.1 publish (the .bin files of tests/unit/fixtures/adapter, captured by gen.mjs there
 * through fake Redis clients): every field decoded, our encodings compared
 * byte for byte with the adapter's, malformed input refused. */
#include <check.h>
#include <errno.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_codec.h"
#include "pd_wire.h"

#ifndef PD_ADAPTER_FIXTURES
#define PD_ADAPTER_FIXTURES "tests/unit/fixtures/adapter"
#endif

static uint8_t *fx(const char *name, size_t *n)
{
	char path[512];
	FILE *f;
	uint8_t *p;
	long len;

	snprintf(path, sizeof(path), "%s/%s.bin", PD_ADAPTER_FIXTURES, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	ck_assert_int_ge(len, 0);
	rewind(f);
	p = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return p;
}

static char *hex(const void *v, size_t n)
{
	const uint8_t *p = v;
	char *s = malloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = '\0';
	return s;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;
	ck_assert_uint_le(n, cap);
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		ck_assert_int_eq(sscanf(h + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

static void same_bytes(const struct pd_buf *b, const uint8_t *p, size_t n)
{
	char *got = hex(b->data, b->len), *want = hex(p, n);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
}

static void json_is(const json_t *v, const char *text)
{
	json_error_t je;
	json_t *want = json_loads(text, JSON_DECODE_ANY, &je);
	char *got;
	ck_assert_msg(want != NULL, "bad expected JSON %s", text);
	got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	ck_assert_msg(v != NULL && json_equal(v, want), "got %s, want %s", got ? got : "NULL", text);
	free(got);
	json_decref(want);
}

static void rooms_are(const struct adapter_rooms *r, size_t n, ...)
{
	va_list ap;
	ck_assert_uint_eq(r->n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(r->v[i], va_arg(ap, const char *));
	va_end(ap);
}

static void flags_are(const struct adapter_flags *f, int vol, int compress, long long timeout)
{
	ck_assert_int_eq(f->vol, vol);
	ck_assert_int_eq(f->compress, compress);
	ck_assert_int_eq(f->local, -1);
	ck_assert_int_eq(f->broadcast, -1);
	ck_assert_int_eq(f->expect_single, -1);
	ck_assert_int_eq(f->timeout, timeout);
}

static void bc_decode(const char *name, struct adapter_broadcast *b)
{
	size_t n;
	uint8_t *p = fx(name, &n);
	char err[128] = "";
	ck_assert_msg(adapter_broadcast_decode(p, n, b, err, sizeof(err)) == 0, "%s: %s", name, err);
	free(p);
}

/* Encode b again as the broker would publish it. */
static void bc_encode(const struct adapter_broadcast *b, struct pd_buf *out)
{
	struct adapter_emit e = {
		.uid = b->uid,
		.type = b->packet.type,
		.nsp = b->packet.nsp,
		.id = b->packet.id,
		.data = b->packet.data,
		.att = b->packet.att,
		.natt = b->packet.natt,
		.rooms = (const char *const *)b->rooms.v,
		.nrooms = b->rooms.n,
		.except = (const char *const *)b->except.v,
		.nexcept = b->except.n,
		.flags = &b->flags,
	};
	pd_buf_init(out, 0);
	ck_assert_int_eq(adapter_broadcast_encode(out, &e), 0);
}

/* Decode a fixture and check that our encoding is the adapter's, byte for byte. */
static void bc_roundtrip_exact(const char *name, struct adapter_broadcast *b)
{
	struct pd_buf out;
	size_t n;
	uint8_t *p = fx(name, &n);
	bc_decode(name, b);
	bc_encode(b, &out);
	same_bytes(&out, p, n);
	pd_buf_free(&out);
	free(p);
}

/* ---- channels ---- */

START_TEST(channel_names)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	ck_assert_int_eq(adapter_channel_broadcast(&b, NULL, NULL, NULL), 0);
	ck_assert_str_eq(b.data, "socket.io#/#");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_broadcast(&b, "", "/dashboard", "org:7"), 0);
	ck_assert_str_eq(b.data, "socket.io#/dashboard#org:7#");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_broadcast(&b, "pd", "/", "x#y"), 0);
	ck_assert_str_eq(b.data, "pd#/#x#y#");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_request(&b, NULL, "/"), 0);
	ck_assert_str_eq(b.data, "socket.io-request#/#");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_response(&b, "socket.io", "/", NULL), 0);
	ck_assert_str_eq(b.data, "socket.io-response#/#");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_response(&b, "socket.io", "/", "srv001"), 0);
	ck_assert_str_eq(b.data, "socket.io-response#/#srv001#");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_pattern(&b, NULL, "/"), 0);
	ck_assert_str_eq(b.data, "socket.io#/#*");
	pd_buf_reset(&b);
	ck_assert_int_eq(adapter_channel_pattern(&b, "a*b[c]", "/?\\"), 0);
	ck_assert_str_eq(b.data, "a\\*b\\[c\\]#/\\?\\\\#*");
	pd_buf_reset(&b);
	char big[ADAPTER_MAX_ROOM + 2];
	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(adapter_channel_broadcast(&b, NULL, "/", big), -EINVAL);
	pd_buf_free(&b);
}
END_TEST

/* Every channel the Node packages published, parsed and built again. */
START_TEST(channel_fixtures)
{
	char path[512], line[512];
	FILE *f;
	int count = 0;

	snprintf(path, sizeof(path), "%s/channels.txt", PD_ADAPTER_FIXTURES);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *tab = strchr(line, '\t'), *ch, err[128] = "";
		struct adapter_channel c;
		struct pd_buf b;
		char nsp[300], room[300];
		const char *key;

		ck_assert_ptr_nonnull(tab);
		ch = tab + 1;
		ch[strcspn(ch, "\n")] = '\0';
		key = strncmp(ch, "pd#", 3) == 0 ? "pd" : "socket.io";
		ck_assert_msg(adapter_channel_parse(key, ch, strlen(ch), &c, err, sizeof(err)) == 0,
			      "%s: %s", ch, err);
		snprintf(nsp, sizeof(nsp), "%.*s", (int)c.nsp.len, c.nsp.p);
		snprintf(room, sizeof(room), "%.*s", (int)c.room.len, c.room.p);
		pd_buf_init(&b, 0);
		if (c.kind == ADAPTER_CH_BROADCAST)
			adapter_channel_broadcast(&b, key, nsp, c.room.p != NULL ? room : NULL);
		else if (c.kind == ADAPTER_CH_REQUEST)
			adapter_channel_request(&b, key, nsp);
		else
			adapter_channel_response(&b, key, nsp, NULL);
		ck_assert_str_eq(b.data, ch);
		pd_buf_free(&b);
		count++;
	}
	fclose(f);
	ck_assert_int_ge(count, 30);
}
END_TEST

START_TEST(channel_parse)
{
	struct adapter_channel c;
	char err[128];
	const char *s;

	s = "socket.io#/dashboard#org:7#";
	ck_assert_int_eq(adapter_channel_parse(NULL, s, strlen(s), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.kind, ADAPTER_CH_BROADCAST);
	ck_assert(c.nsp.len == 10 && memcmp(c.nsp.p, "/dashboard", 10) == 0);
	ck_assert(c.room.len == 5 && memcmp(c.room.p, "org:7", 5) == 0);
	s = "socket.io#/#";
	ck_assert_int_eq(adapter_channel_parse(NULL, s, strlen(s), &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c.room.p);
	s = "socket.io-response#/#srv001#";
	ck_assert_int_eq(adapter_channel_parse(NULL, s, strlen(s), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.kind, ADAPTER_CH_RESPONSE);
	ck_assert(c.uid.len == 6 && memcmp(c.uid.p, "srv001", 6) == 0);
	s = "socket.io-request#/#";
	ck_assert_int_eq(adapter_channel_parse(NULL, s, strlen(s), &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.kind, ADAPTER_CH_REQUEST);

	static const char *const bad[] = {
		"", "socket.io", "socket.io#", "socket.io#/", "socket.io##", "other#/#",
		"socket.io#/#room", "socket.io#/##", "socket.io-request#/#x#", "socket.io-foo#/#",
		"socket.io-response#/#a#b#", "socket.iox#/#",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(adapter_channel_parse(NULL, bad[i], strlen(bad[i]), &c, err, sizeof(err)) ==
				      -1,
			      "accepted %s", bad[i]);
		ck_assert(err[0] != '\0');
	}
	/* Lengths: a room of 256 bytes passes, 257 does not; same for the namespace. */
	char ch[600];
	snprintf(ch, sizeof(ch), "socket.io#/#%0256d#", 0);
	ck_assert_int_eq(adapter_channel_parse(NULL, ch, strlen(ch), &c, err, sizeof(err)), 0);
	snprintf(ch, sizeof(ch), "socket.io#/#%0257d#", 0);
	ck_assert_int_eq(adapter_channel_parse(NULL, ch, strlen(ch), &c, err, sizeof(err)), -1);
	snprintf(ch, sizeof(ch), "socket.io#/%0255d#", 0);
	ck_assert_int_eq(adapter_channel_parse(NULL, ch, strlen(ch), &c, err, sizeof(err)), -1);
	/* not NUL-terminated input: only len bytes are read */
	ck_assert_int_eq(adapter_channel_parse(NULL, "socket.io#/#XYZ", 12, &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c.room.p);
}
END_TEST

/* The adapter's own test for its namespace (startsWith, then the room). */
START_TEST(channel_room)
{
	struct pd_str r;
	const char *s = "pd#/a#b#r#1#";
	ck_assert_int_eq(adapter_channel_room("pd", "/a#b", s, strlen(s), &r), 1);
	ck_assert(r.len == 3 && memcmp(r.p, "r#1", 3) == 0);
	ck_assert_int_eq(adapter_channel_room("pd", "/a", s, strlen(s), &r), 1);
	ck_assert(r.len == 5 && memcmp(r.p, "b#r#1", 5) == 0);
	s = "socket.io#/#";
	ck_assert_int_eq(adapter_channel_room(NULL, "/", s, strlen(s), &r), 1);
	ck_assert_ptr_null(r.p);
	ck_assert_int_eq(adapter_channel_room(NULL, "/admin", s, strlen(s), &r), 0);
	s = "socket.io-request#/#";
	ck_assert_int_eq(adapter_channel_room(NULL, "/", s, strlen(s), &r), 0);
	s = "socket.io#/#x";
	ck_assert_int_eq(adapter_channel_room(NULL, "/", s, strlen(s), &r), 0);
}
END_TEST

/* ---- broadcasts ---- */

START_TEST(bc_room_known_answer)
{
	struct adapter_broadcast b;
	bc_roundtrip_exact("bc_room", &b);
	ck_assert_str_eq(b.uid, "srv001");
	ck_assert_int_eq(b.packet.type, 2);
	ck_assert_str_eq(b.packet.nsp, "/");
	ck_assert_int_eq(b.packet.id, -1);
	ck_assert_uint_eq(b.packet.natt, 0);
	json_is(b.packet.data, "[\"message:new\",{\"id\":\"m1\",\"n\":300,\"neg\":-5,\"f\":1.5,"
			       "\"ok\":true,\"nil\":null,\"arr\":[1,\"x\"]}]");
	rooms_are(&b.rooms, 1, "ticket:1");
	rooms_are(&b.except, 0);
	flags_are(&b.flags, -1, -1, -1);
	adapter_broadcast_clear(&b);
	adapter_broadcast_clear(&b); /* idempotent */
}
END_TEST

START_TEST(bc_all_and_except_known_answer)
{
	struct adapter_broadcast b;
	bc_roundtrip_exact("bc_all", &b);
	json_is(b.packet.data, "[\"ping\"]");
	rooms_are(&b.rooms, 0);
	adapter_broadcast_clear(&b);

	bc_roundtrip_exact("bc_rooms_except", &b);
	json_is(b.packet.data, "[\"ticket:created\",{\"eventId\":70000}]");
	rooms_are(&b.rooms, 2, "agents:o", "user:c");
	rooms_are(&b.except, 1, "user:x");
	adapter_broadcast_clear(&b);
}
END_TEST

START_TEST(bc_binary_known_answer)
{
	struct adapter_broadcast b;
	bc_roundtrip_exact("bc_binary", &b);
	json_is(b.packet.data, "[\"file\",{\"_placeholder\":true,\"num\":0},{\"name\":\"a.bin\","
			       "\"parts\":[{\"_placeholder\":true,\"num\":1},\"x\"]}]");
	ck_assert_uint_eq(b.packet.natt, 2);
	ck_assert_uint_eq(b.packet.att[0].len, 3);
	ck_assert_mem_eq(b.packet.att[0].p, "\x01\x02\x03", 3);
	ck_assert_uint_eq(b.packet.att[1].len, 2);
	ck_assert_mem_eq(b.packet.att[1].p, "hi", 2);
	rooms_are(&b.rooms, 1, "r");
	adapter_broadcast_clear(&b);
}
END_TEST

START_TEST(bc_flags_nsp_key_known_answer)
{
	struct adapter_broadcast b;
	bc_roundtrip_exact("bc_flags", &b);
	flags_are(&b.flags, 1, 0, -1);
	rooms_are(&b.rooms, 2, "r1", "r2");
	json_is(b.packet.data, "[\"v\",1]");
	adapter_broadcast_clear(&b);

	bc_roundtrip_exact("bc_nsp", &b);
	ck_assert_str_eq(b.packet.nsp, "/dashboard");
	json_is(b.packet.data, "[\"metrics:tickets\",{\"open\":1,\"pending\":0}]");
	rooms_are(&b.rooms, 1, "org:7");
	adapter_broadcast_clear(&b);

	bc_roundtrip_exact("bc_key", &b);
	ck_assert_str_eq(b.uid, "srv003");
	rooms_are(&b.rooms, 1, "x#y");
	json_is(b.packet.data, "[\"k\",[]]");
	adapter_broadcast_clear(&b);
}
END_TEST

/* io.to(42): the adapter keeps the number; we name the room "42". */
START_TEST(bc_numeric_room)
{
	struct adapter_broadcast b;
	struct pd_buf out;
	size_t n;
	uint8_t *p = fx("bc_numeric_room", &n);
	bc_decode("bc_numeric_room", &b);
	rooms_are(&b.rooms, 1, "42");
	json_is(b.packet.data, "[\"n\",-1000000,0.25]");
	bc_encode(&b, &out);
	/* the same bytes but for the room: 0x2a (42) there, "42" (a2 34 32) here */
	ck_assert_uint_eq(out.len, n + 2);
	char *h = hex(out.data, out.len);
	ck_assert_ptr_nonnull(strstr(h, "a5726f6f6d7391a23432"));
	free(h);
	pd_buf_free(&out);
	adapter_broadcast_clear(&b);
	free(p);
}
END_TEST

/* What @socket.io/redis-emitter publishes (its opts order is rooms, flags,
 * except: not ours, so the check is on the decoded fields). */
START_TEST(emitter_messages)
{
	struct adapter_broadcast b, c;
	struct pd_buf out;
	char err[128];

	bc_decode("em_room", &b);
	ck_assert_str_eq(b.uid, "emitter");
	json_is(b.packet.data, "[\"notification\",{\"id\":9,\"title\":\"\xc3\xa9\"}]");
	rooms_are(&b.rooms, 1, "user:5");
	/* our encoding decodes to the same */
	bc_encode(&b, &out);
	ck_assert_int_eq(adapter_broadcast_decode((uint8_t *)out.data, out.len, &c, err, sizeof(err)), 0);
	ck_assert(json_equal(b.packet.data, c.packet.data));
	rooms_are(&c.rooms, 1, "user:5");
	adapter_broadcast_clear(&c);
	pd_buf_free(&out);
	adapter_broadcast_clear(&b);

	bc_decode("em_binary", &b);
	json_is(b.packet.data, "[\"bin\",{\"_placeholder\":true,\"num\":0},\"tail\"]");
	ck_assert_uint_eq(b.packet.natt, 1);
	ck_assert_mem_eq(b.packet.att[0].p, "\xde\xad", 2);
	rooms_are(&b.rooms, 2, "a", "b");
	rooms_are(&b.except, 1, "c");
	adapter_broadcast_clear(&b);

	bc_decode("em_volatile", &b);
	flags_are(&b.flags, 1, -1, -1);
	json_is(b.packet.data, "[\"tick\"]");
	adapter_broadcast_clear(&b);

	/* new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)): timestamp 64 */
	bc_decode("em_date", &b);
	json_is(b.packet.data, "[\"when\",\"2024-01-02T03:04:05.678Z\"]");
	adapter_broadcast_clear(&b);

	bc_decode("em_dashboard", &b);
	ck_assert_str_eq(b.packet.nsp, "/dashboard");
	rooms_are(&b.rooms, 1, "org:1");
	json_is(b.packet.data, "[\"metrics:queue\",{\"unassigned\":2}]");
	adapter_broadcast_clear(&b);
}
END_TEST

static int bc_hex(const char *h, struct adapter_broadcast *b, char *err, size_t errlen)
{
	static uint8_t buf[8192];
	size_t n = unhex(h, buf, sizeof(buf));
	int rc = adapter_broadcast_decode(buf, n, b, err, errlen);
	if (rc != 0) {
		ck_assert_msg(err[0] != '\0', "no error text for %s", h);
		ck_assert_ptr_null(b->packet.data);
		ck_assert_ptr_null(b->rooms.v);
	}
	return rc;
}

/* msgpack forms notepack decodes that Node peers do not send but may meet:
 * undefined (fixext 1 type 0), timestamps, float 32, big integers, ext. */
START_TEST(bc_notepack_forms)
{
	struct adapter_broadcast b;
	char err[128];
	/* ["u", {type:2, data:["e", undefined, {a: undefined, b: 1}], nsp:"/"}, {}] */
	ck_assert_int_eq(bc_hex("93a17583a47479706502a46461746193a165d40000"
				"82a161d40000a16201a36e7370a12f80",
				&b, err, sizeof(err)),
			 0);
	json_is(b.packet.data, "[\"e\",null,{\"b\":1}]");
	rooms_are(&b.rooms, 0);
	flags_are(&b.flags, -1, -1, -1);
	adapter_broadcast_clear(&b);

	/* data: ["e", ts32 0, ts96 -1 s, float32 1.5, uint64 2^64-1, int64 -2^63,
	 *        ext 5 [0xaa], old Date 1 ms, nil nsp -> "/"] */
	ck_assert_int_eq(bc_hex("93c082a47479706502a4646174619aa165"
				"d6ff00000000"
				"c70cff00000000ffffffffffffffff"
				"ca3fc00000"
				"cfffffffffffffffff"
				"d38000000000000000"
				"d405aa"
				"d7000000000000000001"
				"cb7ff0000000000000"
				"c70cff0000000000000000ffffffff"
				"81a474696d6501",
				&b, err, sizeof(err)),
			 0);
	json_is(b.packet.data, "[\"e\",\"1970-01-01T00:00:00.000Z\",\"1969-12-31T23:59:59.000Z\","
			       "1.5,18446744073709551615.0,-9223372036854775808,"
			       "[5,{\"_placeholder\":true,\"num\":0}],\"1970-01-01T00:00:00.001Z\","
			       "null,\"2106-02-07T06:28:15.000Z\"]");
	ck_assert_str_eq(b.uid, "");
	ck_assert_str_eq(b.packet.nsp, "/");
	ck_assert_uint_eq(b.packet.natt, 1);
	ck_assert_uint_eq(b.packet.att[0].len, 1);
	ck_assert_int_eq(b.packet.att[0].p[0], 0xaa);
	adapter_broadcast_clear(&b);

	/* a year past 9999 and an invalid date: "+010000-01-01..." and null */
	ck_assert_int_eq(bc_hex("93a17583a47479706502a46461746193a165"
				"c70cff000000000000003afff44180"
				"c70cff0000000000ffffffffffffff"
				"a36e7370a12f80",
				&b, err, sizeof(err)),
			 0);
	json_is(b.packet.data, "[\"e\",\"+010000-01-01T00:00:00.000Z\",null]");
	adapter_broadcast_clear(&b);
}
END_TEST

START_TEST(bc_malformed)
{
	static const struct {
		const char *hex, *why;
	} bad[] = {
		{"", "empty"},
		{"92a175a0", "two items"},
		{"93a17580", "truncated"},
		{"93a1758380", "truncated map"},
		{"c1", "never used byte"},
		{"93a17583a47479706502a4646174619101a36e7370a12f8000", "trailing byte"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f8000", "trailing byte 2"},
		{"93a17583a47479706507a46461746191a165a36e7370a12f80", "packet type 7"},
		{"93a17583a47479706502a46461746190a36e7370a12f80", "event data empty"},
		{"93a17583a47479706502a46461746191a165a36e7370a161" "80", "nsp without /"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a5726f6f6d73a172",
		 "rooms a string"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a5726f6f6d7391c0", "room null"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a5726f6f6d7391c40178",
		 "binary room"},
		{"93c4017583a47479706502a46461746191a165a36e7370a12f80", "binary uid"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a5666c61677391c3", "flags array"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a5666c61677381a8766f6c6174696c65a178",
		 "flag a string"},
		{"93a17583a47479706502a46461746191a165a36e7370a12fa0", "opts a string"},
		{"93a17583a47479706502a46461746191a2c328a36e7370a12f80", "invalid UTF-8"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81c0c0", "nil map key"},
		{"93a175dd7fffffff", "array of 2^31 items in 8 bytes"},
		{"93a175df7fffffff", "map of 2^31 pairs in 8 bytes"},
		{"93a175c6ffffffff", "bin of 4 GiB in 8 bytes"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a5726f6f6d7391a30061", "NUL in room"},
		{"93a17583a47479706502a46461746191a165a36e7370a12f81a672a5726f6f6d73", "truncated key"},
		{"93a17583a47479706502a46461746192a165c70dff00000000000000000000000000a36e7370a12f80",
		 "timestamp 96 of 13 bytes"},
	};
	struct adapter_broadcast b;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128] = "";
		ck_assert_msg(bc_hex(bad[i].hex, &b, err, sizeof(err)) == -1, "accepted: %s", bad[i].why);
	}
}
END_TEST

/* Limits: 1024 rooms and 256-byte names pass, one more does not; 64
 * attachments pass, 65 do not; nesting past ADAPTER_MAX_DEPTH fails. */
static size_t build(uint8_t *buf, size_t cap, size_t nrooms, size_t roomlen, size_t natt,
		    size_t depth)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char room[600];
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_str_with_body(&pk, "u", 1);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_int(&pk, 2);
	msgpack_pack_str_with_body(&pk, "data", 4);
	msgpack_pack_array(&pk, 2 + natt);
	msgpack_pack_str_with_body(&pk, "e", 1);
	for (size_t i = 0; i < natt; i++)
		msgpack_pack_bin_with_body(&pk, "b", 1);
	for (size_t i = 0; i < depth; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	msgpack_pack_str_with_body(&pk, "nsp", 3);
	msgpack_pack_str_with_body(&pk, "/", 1);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "rooms", 5);
	msgpack_pack_array(&pk, nrooms);
	for (size_t i = 0; i < nrooms; i++) {
		snprintf(room, sizeof(room), "%0*zu", (int)roomlen, i);
		msgpack_pack_str_with_body(&pk, room, strlen(room));
	}
	ck_assert_uint_le(sb.size, cap);
	memcpy(buf, sb.data, sb.size);
	n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return n;
}

START_TEST(bc_limits)
{
	static uint8_t buf[1 << 20];
	struct adapter_broadcast b;
	char err[128];
	size_t n;

	n = build(buf, sizeof(buf), ADAPTER_MAX_ROOMS, ADAPTER_MAX_ROOM, 0, 0);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.rooms.n, ADAPTER_MAX_ROOMS);
	ck_assert_uint_eq(strlen(b.rooms.v[0]), ADAPTER_MAX_ROOM);
	adapter_broadcast_clear(&b);
	n = build(buf, sizeof(buf), ADAPTER_MAX_ROOMS + 1, 4, 0, 0);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), -1);
	n = build(buf, sizeof(buf), 1, ADAPTER_MAX_ROOM + 1, 0, 0);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), -1);

	n = build(buf, sizeof(buf), 0, 0, ADAPTER_MAX_ATTACHMENTS, 0);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.packet.natt, ADAPTER_MAX_ATTACHMENTS);
	adapter_broadcast_clear(&b);
	n = build(buf, sizeof(buf), 0, 0, ADAPTER_MAX_ATTACHMENTS + 1, 0);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), -1);

	/* [uid, packet, opts] -> data -> item: depth 3 before the nesting */
	n = build(buf, sizeof(buf), 0, 0, 0, ADAPTER_MAX_DEPTH - 3);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), 0);
	adapter_broadcast_clear(&b);
	n = build(buf, sizeof(buf), 0, 0, 0, ADAPTER_MAX_DEPTH - 2);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), -1);
	n = build(buf, sizeof(buf), 0, 0, 0, 100000);
	ck_assert_int_eq(adapter_broadcast_decode(buf, n, &b, err, sizeof(err)), -1);

	/* over ADAPTER_MAX_MSG: refused before parsing */
	uint8_t *big = calloc(1, ADAPTER_MAX_MSG + 1);
	ck_assert_int_eq(adapter_broadcast_decode(big, ADAPTER_MAX_MSG + 1, &b, err, sizeof(err)), -1);
	free(big);
}
END_TEST

/* Every strict prefix of every real message is refused, with a reason. */
START_TEST(truncations_refused)
{
	static const char *const names[] = {
		"bc_room", "bc_binary", "bc_flags", "em_date", "em_binary", "bc_timeout",
		"req_fetch", "req_sse", "resp_fetch", "resp_bc_ack", "resp_bc_count",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n;
		uint8_t *p = fx(names[i], &n);
		for (size_t k = 0; k < n; k++) {
			struct adapter_broadcast b;
			struct adapter_request q;
			struct adapter_response r;
			char err[128] = "";
			ck_assert_int_eq(adapter_broadcast_decode(p, k, &b, err, sizeof(err)), -1);
			ck_assert(err[0] != '\0');
			err[0] = '\0';
			ck_assert_int_eq(adapter_request_decode(p, k, &q, err, sizeof(err)), -1);
			ck_assert(err[0] != '\0');
			err[0] = '\0';
			ck_assert_int_eq(adapter_response_decode(p, k, &r, err, sizeof(err)), -1);
			ck_assert(err[0] != '\0');
		}
		free(p);
	}
}
END_TEST

START_TEST(bc_encode_errors)
{
	json_t *d = json_loads("[\"e\",{\"_placeholder\":true,\"num\":1}]", 0, NULL);
	struct adapter_bin att[1] = {{(uint8_t *)"x", 1}};
	struct adapter_emit e = {.uid = "me", .type = 2, .data = d, .att = att, .natt = 1};
	struct pd_buf out;
	pd_buf_init(&out, 0);
	pd_buf_append_str(&out, "keep");
	ck_assert_int_eq(adapter_broadcast_encode(&out, &e), -EINVAL);
	ck_assert_uint_eq(out.len, 4);
	e.uid = NULL;
	e.natt = 0;
	ck_assert_int_eq(adapter_broadcast_encode(&out, &e), -EINVAL);
	/* a cap too small: -ENOBUFS, out as it was */
	struct pd_buf small;
	pd_buf_init(&small, 8);
	e.uid = "me";
	ck_assert_int_lt(adapter_broadcast_encode(&small, &e), 0);
	ck_assert_uint_eq(small.len, 0);
	pd_buf_free(&small);
	json_decref(d);

	/* an emit from the broker: two attachments in nested data */
	d = json_loads("[\"file\",{\"_placeholder\":true,\"num\":0},{\"name\":\"a.bin\","
		       "\"parts\":[{\"_placeholder\":true,\"num\":1},\"x\"]}]",
		       0, NULL);
	struct adapter_bin two[2] = {{(uint8_t *)"\x01\x02\x03", 3}, {(uint8_t *)"hi", 2}};
	const char *rooms[] = {"r"};
	struct adapter_emit f = {.uid = "srv001", .type = 2, .nsp = "/", .id = -1, .data = d,
				 .att = two, .natt = 2, .rooms = rooms, .nrooms = 1};
	size_t n;
	uint8_t *p = fx("bc_binary", &n);
	pd_buf_reset(&out);
	ck_assert_int_eq(adapter_broadcast_encode(&out, &f), 0);
	same_bytes(&out, p, n);
	free(p);
	json_decref(d);
	pd_buf_free(&out);
}
END_TEST

/* ---- requests ---- */

static void req_decode(const char *name, struct adapter_request *r)
{
	size_t n;
	uint8_t *p = fx(name, &n);
	char err[128] = "";
	ck_assert_msg(adapter_request_decode(p, n, r, err, sizeof(err)) == 0, "%s: %s", name, err);
	free(p);
}

/* Decode, check our encoding is the adapter's own bytes. */
static void req_exact(const char *name, struct adapter_request *r)
{
	struct pd_buf out;
	size_t n;
	uint8_t *p = fx(name, &n);
	req_decode(name, r);
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_request_encode(&out, r), 0);
	same_bytes(&out, p, n);
	pd_buf_free(&out);
	free(p);
}

START_TEST(requests_known_answer)
{
	struct adapter_request r;

	req_exact("req_all_rooms", &r);
	ck_assert_int_eq(r.type, ADAPTER_ALL_ROOMS);
	ck_assert_str_eq(r.uid, "srv001");
	ck_assert_str_eq(r.request_id, "req006");
	adapter_request_clear(&r);

	req_exact("req_fetch", &r);
	ck_assert_int_eq(r.type, ADAPTER_REMOTE_FETCH);
	ck_assert_str_eq(r.request_id, "req005");
	ck_assert_int_eq(r.has_opts, 1);
	rooms_are(&r.opt_rooms, 1, "org:1");
	rooms_are(&r.opt_except, 1, "user:x");
	adapter_request_clear(&r);

	req_exact("req_join", &r);
	ck_assert_int_eq(r.type, ADAPTER_REMOTE_JOIN);
	ck_assert_str_eq(r.request_id, "");
	rooms_are(&r.opt_rooms, 1, "org:1");
	rooms_are(&r.opt_except, 0);
	rooms_are(&r.rooms, 2, "room2", "room3");
	adapter_request_clear(&r);

	req_exact("req_leave", &r);
	ck_assert_int_eq(r.type, ADAPTER_REMOTE_LEAVE);
	ck_assert_int_eq(r.has_opts, 1);
	rooms_are(&r.opt_rooms, 0);
	rooms_are(&r.rooms, 1, "room2");
	adapter_request_clear(&r);

	req_exact("req_disconnect", &r);
	ck_assert_int_eq(r.type, ADAPTER_REMOTE_DISCONNECT);
	ck_assert_int_eq(r.close, 1);
	rooms_are(&r.opt_rooms, 1, "user:9");
	adapter_request_clear(&r);

	req_exact("req_sse", &r);
	ck_assert_int_eq(r.type, ADAPTER_SERVER_SIDE_EMIT);
	ck_assert_str_eq(r.request_id, "");
	json_is(r.data, "[\"room:members\",{\"room\":\"ticket:1\"}]");
	adapter_request_clear(&r);

	req_exact("req_sse_ack", &r);
	ck_assert_str_eq(r.request_id, "req004");
	json_is(r.data, "[\"count\"]");
	adapter_request_clear(&r);

	/* io.timeout(50).emit("q", "x", cb): BROADCAST, msgpack */
	req_exact("bc_timeout", &r);
	ck_assert_int_eq(r.type, ADAPTER_BROADCAST);
	ck_assert_str_eq(r.uid, "srv001");
	ck_assert_str_eq(r.request_id, "req003");
	ck_assert_int_eq(r.packet.type, 2);
	ck_assert_int_eq(r.packet.id, -1);
	json_is(r.packet.data, "[\"q\",\"x\"]");
	flags_are(&r.flags, -1, -1, 50);
	rooms_are(&r.opt_rooms, 0);
	adapter_request_clear(&r);

	/* the emitter: no uid on join/disconnect */
	req_exact("em_sse", &r);
	ck_assert_str_eq(r.uid, "emitter");
	json_is(r.data, "[\"hello\",\"world\",1]");
	adapter_request_clear(&r);
	req_exact("em_join", &r);
	ck_assert_str_eq(r.uid, "");
	rooms_are(&r.opt_rooms, 1, "org:1");
	rooms_are(&r.rooms, 1, "room4");
	adapter_request_clear(&r);
	req_exact("em_disconnect", &r);
	ck_assert_int_eq(r.close, 0);
	rooms_are(&r.opt_rooms, 1, "user:2");
	adapter_request_clear(&r);
}
END_TEST

static int req_str(const char *s, struct adapter_request *r)
{
	char err[128] = "";
	int rc = adapter_request_decode((const uint8_t *)s, strlen(s), r, err, sizeof(err));
	if (rc != 0) {
		ck_assert_msg(err[0] != '\0', "no error for %s", s);
		ck_assert_ptr_null(r->data);
	}
	return rc;
}

START_TEST(requests_other_forms)
{
	struct adapter_request r;
	struct pd_buf out;
	const char *legacy[] = {
		"{\"uid\":\"a\",\"requestId\":\"j1\",\"type\":2,\"sid\":\"s1\",\"room\":\"r9\"}",
		"{\"uid\":\"a\",\"requestId\":\"j2\",\"type\":3,\"sid\":\"s1\",\"room\":\"r9\"}",
		"{\"uid\":\"a\",\"requestId\":\"j3\",\"type\":4,\"sid\":\"s1\",\"close\":true}",
		"{\"uid\":\"srv001\",\"requestId\":\"sreq01\",\"type\":0,\"rooms\":[\"org:1\"]}",
	};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(req_str(legacy[i], &r), 0);
		pd_buf_init(&out, 0);
		ck_assert_int_eq(adapter_request_encode(&out, &r), 0);
		ck_assert_str_eq(out.data, legacy[i]);
		pd_buf_free(&out);
		adapter_request_clear(&r);
	}
	ck_assert_int_eq(req_str(legacy[0], &r), 0);
	ck_assert_str_eq(r.sid, "s1");
	ck_assert_str_eq(r.room, "r9");
	ck_assert_int_eq(r.has_opts, 0);
	adapter_request_clear(&r);

	/* a request the broker builds: SERVER_SIDE_EMIT with an ack */
	adapter_request_init(&r);
	r.type = ADAPTER_SERVER_SIDE_EMIT;
	strcpy(r.uid, "srv001");
	strcpy(r.request_id, "req004");
	r.data = json_pack("[s]", "count");
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_request_encode(&out, &r), 0);
	size_t n;
	uint8_t *p = fx("req_sse_ack", &n);
	same_bytes(&out, p, n);
	free(p);
	pd_buf_free(&out);
	adapter_request_clear(&r);

	static const char *const bad[] = {
		"", "[]", "{", "{}", "{\"type\":10,\"requestId\":\"x\"}",
		"{\"type\":8,\"requestId\":\"x\",\"clientCount\":1}", "{\"type\":\"1\",\"requestId\":\"x\"}",
		"{\"type\":1}", "{\"type\":5,\"requestId\":\"x\"}",
		"{\"type\":5,\"requestId\":\"x\",\"opts\":[]}", "{\"type\":6,\"data\":[]}",
		"{\"type\":6,\"data\":[1]}", "{\"type\":6,\"data\":\"e\"}",
		"{\"type\":2,\"opts\":{\"rooms\":[]}}", "{\"type\":2,\"sid\":\"s\"}",
		"{\"type\":2,\"sid\":\"s\",\"room\":{}}", "{\"type\":4,\"sid\":\"s\",\"close\":\"yes\"}",
"{\"type\":1,\"requestId\":\"x\"}x",
		"{\"type\":1,\"requestId\":7}", "{\"type\":1,\"requestId\":\"x\",\"uid\":[]}",
		"{\"type\":0,\"requestId\":\"x\",\"rooms\":[null]}",
		"{\"type\":7,\"requestId\":\"x\",\"opts\":{},\"packet\":{\"type\":2,\"data\":\"e\"}}",
		"{\"type\":1,\"requestId\":\"01234567890123456789012345678901234567890123456789012345678901234\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(req_str(bad[i], &r) == -1, "accepted %s", bad[i]);
	/* trailing whitespace: JSON.parse takes it; so do we */
	ck_assert_int_eq(req_str("{\"type\":1,\"requestId\":\"x\"}\n", &r), 0);
	adapter_request_clear(&r);
}
END_TEST

/* ---- responses ---- */

static void resp_exact(const char *name, struct adapter_response *r)
{
	struct pd_buf out;
	size_t n;
	uint8_t *p = fx(name, &n);
	char err[128] = "";
	ck_assert_msg(adapter_response_decode(p, n, r, err, sizeof(err)) == 0, "%s: %s", name, err);
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_response_encode(&out, r), 0);
	same_bytes(&out, p, n);
	pd_buf_free(&out);
	free(p);
}

START_TEST(responses_known_answer)
{
	struct adapter_response r;

	resp_exact("resp_all_rooms", &r);
	ck_assert_int_eq(r.type, -1);
	ck_assert_str_eq(r.request_id, "req006");
	ck_assert_int_eq(r.has_rooms, 1);
	rooms_are(&r.rooms, 2, "sock1", "org:1");
	adapter_response_clear(&r);

	resp_exact("resp_fetch", &r);
	ck_assert_str_eq(r.request_id, "req005");
	json_is(r.sockets,
		"[{\"id\":\"sock1\",\"handshake\":{\"headers\":{\"host\":\"h\"},\"time\":\"T\","
		"\"address\":\"::1\",\"xdomain\":false,\"secure\":false,\"issued\":1700000000000,"
		"\"url\":\"/socket.io/?EIO=4\",\"query\":{\"EIO\":\"4\"},\"auth\":{\"token\":\"x\"}},"
		"\"rooms\":[\"sock1\",\"org:1\"],\"data\":{\"userId\":\"u1\",\"n\":2}}]");
	adapter_response_clear(&r);

	resp_exact("resp_sockets", &r);
	json_is(r.sockets, "[\"sock1\"]");
	ck_assert_int_eq(r.has_rooms, 0);
	adapter_response_clear(&r);

	resp_exact("resp_sse", &r);
	ck_assert_int_eq(r.type, ADAPTER_SERVER_SIDE_EMIT);
	ck_assert_str_eq(r.request_id, "req004");
	json_is(r.data, "{\"n\":3}");
	adapter_response_clear(&r);

	resp_exact("resp_join", &r);
	ck_assert_str_eq(r.request_id, "jreq01");
	ck_assert_ptr_null(r.sockets);
	adapter_response_clear(&r);

	resp_exact("resp_bc_count", &r);
	ck_assert_int_eq(r.type, ADAPTER_BROADCAST_CLIENT_COUNT);
	ck_assert_int_eq(r.client_count, 1);
	adapter_response_clear(&r);

	resp_exact("resp_bc_ack", &r);
	ck_assert_int_eq(r.type, ADAPTER_BROADCAST_ACK);
	ck_assert_str_eq(r.request_id, "req003");
	json_is(r.packet, "{\"ok\":true}");
	adapter_response_clear(&r);
}
END_TEST

START_TEST(responses_malformed)
{
	static const char *const bad[] = {
		"{}", "{\"requestId\":1}", "{\"requestId\":\"\"}", "{\"requestId\":\"x\",\"rooms\":{}}",
		"{\"requestId\":\"x\",\"sockets\":[1]}", "{\"requestId\":\"x\",\"sockets\":[{}]}",
		"{\"requestId\":\"x\",\"sockets\":[{\"id\":\"s\",\"handshake\":1}]}",
		"{\"requestId\":\"x\",\"sockets\":[{\"id\":\"s\",\"rooms\":[{}]}]}",
		"{\"type\":8,\"requestId\":\"x\"}", "{\"type\":8,\"requestId\":\"x\",\"clientCount\":-1}",
		"{\"type\":10,\"requestId\":\"x\"}", "[\"requestId\"]", "{\"requestId\":\"x\"",
	};
	struct adapter_response r;
	char err[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(adapter_response_decode((const uint8_t *)bad[i], strlen(bad[i]), &r, err,
						      sizeof(err)) == -1,
			      "accepted %s", bad[i]);
		ck_assert(err[0] != '\0');
		ck_assert_ptr_null(r.sockets);
	}
	/* a binary ack reply (msgpack), and a binary outside the ack packet */
	uint8_t buf[64];
	size_t n = unhex("83a47479706509a9726571756573744964a178a67061636b657492c40101c3", buf,
			 sizeof(buf));
	ck_assert_int_eq(adapter_response_decode(buf, n, &r, err, sizeof(err)), 0);
	json_is(r.packet, "[{\"_placeholder\":true,\"num\":0},true]");
	ck_assert_uint_eq(r.natt, 1);
	struct pd_buf out;
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_response_encode(&out, &r), 0);
	same_bytes(&out, buf, n);
	pd_buf_free(&out);
	adapter_response_clear(&r);
	n = unhex("83a47479706506a9726571756573744964a178a464617461c40101", buf, sizeof(buf));
	ck_assert_int_eq(adapter_response_decode(buf, n, &r, err, sizeof(err)), -1);
}
END_TEST

/* ---- the sharded adapter ----
 * Messages captured with SSUBSCRIBE from @socket.io/redis-adapter 8.3.0's
 * createShardedAdapter (socket.io-adapter 2.5.8, dynamic mode); the same
 * bytes are in tests/fuzz/corpus/adapter/sh_*.bin. */
#define SH_UID "beaa592ae0364dd8"

static void sh_ok(const char *msg, struct adapter_sh_msg *m)
{
	char err[128];
	ck_assert_msg(adapter_sh_decode((const uint8_t *)msg, strlen(msg), m, err, sizeof(err)) == 0,
		      "%s: %s", msg, err);
}

START_TEST(sh_decode_known)
{
	struct adapter_sh_msg m;
	/* io.to("room1").emit("ev", {a: 1}) */
	sh_ok("{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"ev\",{\"a\":1}]},\"opts\":{"
	      "\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}}},\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.type, ADAPTER_SH_BROADCAST);
	ck_assert_str_eq(m.uid, SH_UID);
	ck_assert_str_eq(m.nsp, "/");
	ck_assert_str_eq(m.packet.nsp, "/");
	ck_assert_int_eq(m.packet.type, 2);
	ck_assert_str_eq(json_string_value(json_array_get(m.packet.data, 0)), "ev");
	ck_assert_uint_eq(m.rooms.n, 1);
	ck_assert_str_eq(m.rooms.v[0], "room1");
	ck_assert_uint_eq(m.except.n, 0);
	ck_assert_int_eq(m.flags.vol, -1);
	ck_assert_str_eq(m.request_id, "");
	adapter_sh_clear(&m);
	/* io.timeout(500).emit("withack", "q", cb): requestId, flags.timeout */
	sh_ok("{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"withack\",\"q\"]},\"requestId\":"
	      "\"4fd4846be4ac460f\",\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{\"timeout\":500}}},"
	      "\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_str_eq(m.request_id, "4fd4846be4ac460f");
	ck_assert_int_eq(m.flags.timeout, 500);
	adapter_sh_clear(&m);
	/* io.serverSideEmit("hello", "world", 1) */
	sh_ok("{\"type\":9,\"data\":{\"packet\":[\"hello\",\"world\",1]},\"uid\":\"" SH_UID
	      "\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.type, ADAPTER_SH_SERVER_SIDE_EMIT);
	ck_assert_uint_eq(json_array_size(m.packet.data), 3);
	adapter_sh_clear(&m);
	/* io.in("a").socketsLeave(["b", "c"]) */
	sh_ok("{\"type\":5,\"data\":{\"opts\":{\"rooms\":[\"a\"],\"except\":[],\"flags\":{}},\"rooms\":"
	      "[\"b\",\"c\"]},\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.type, ADAPTER_SH_SOCKETS_LEAVE);
	ck_assert_str_eq(m.rooms.v[0], "a");
	ck_assert_uint_eq(m.targets.n, 2);
	ck_assert_str_eq(m.targets.v[1], "c");
	adapter_sh_clear(&m);
	/* io.in("x").disconnectSockets(true) */
	sh_ok("{\"type\":6,\"data\":{\"opts\":{\"rooms\":[\"x\"],\"except\":[],\"flags\":{}},\"close\":"
	      "true},\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.close, 1);
	adapter_sh_clear(&m);
	/* io.fetchSockets(), and another server's answer on our response channel */
	sh_ok("{\"type\":7,\"data\":{\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}},\"requestId\":"
	      "\"0fdf03c4ab195f7c\"},\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.type, ADAPTER_SH_FETCH_SOCKETS);
	adapter_sh_clear(&m);
	sh_ok("{\"type\":8,\"data\":{\"requestId\":\"0fdf03c4ab195f7c\",\"sockets\":[]},\"uid\":"
	      "\"cc1af0190095b964\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.type, ADAPTER_SH_FETCH_SOCKETS_RESPONSE);
	ck_assert_uint_eq(json_array_size(m.sockets), 0);
	adapter_sh_clear(&m);
	sh_ok("{\"type\":11,\"data\":{\"requestId\":\"4fd4846be4ac460f\",\"clientCount\":0},\"uid\":"
	      "\"cc1af0190095b964\",\"nsp\":\"/\"}",
	      &m);
	ck_assert_int_eq(m.client_count, 0);
	adapter_sh_clear(&m);
	sh_ok("{\"type\":2,\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}", &m); /* a heartbeat */
	ck_assert_int_eq(m.type, ADAPTER_SH_HEARTBEAT);
	adapter_sh_clear(&m);
}
END_TEST

/* io.to("room1").emit("bin", Buffer.from([1, 2, 3])): msgpack */
static const char SH_BIN[] =
    "84a47479706503a46461746182a67061636b657482a47479706502a46461746192a362696ec403010203a46f70"
    "747383a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380a3756964b0323662396137616230"
    "37303565336231a36e7370a12f";

START_TEST(sh_encode_known)
{
	uint8_t buf[512];
	size_t n = unhex(SH_BIN, buf, sizeof(buf));
	struct adapter_sh_msg m;
	struct pd_buf out;
	char err[128];
	const char *flags_msg =
	    "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"flags\",1]},\"opts\":{\"rooms\":[],"
	    "\"except\":[],\"flags\":{\"volatile\":true,\"compress\":false}}},\"uid\":\"" SH_UID
	    "\",\"nsp\":\"/\"}";
	const char *ack_msg =
	    "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"withack\",\"q\"]},\"requestId\":"
	    "\"4fd4846be4ac460f\",\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{\"timeout\":500}}},"
	    "\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}";
	const char *utf_msg =
	    "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"utf\",{\"s\":\"h\xc3\xa9 \\\"q\\\" "
	    "\\\\ /\",\"n\":-7,\"arr\":[1,\"x\",false]}]},\"opts\":{\"rooms\":[\"room1\"],\"except\":[],"
	    "\"flags\":{}}},\"uid\":\"" SH_UID "\",\"nsp\":\"/\"}";
	const char *const texts[] = {flags_msg, ack_msg, utf_msg};

	/* the adapter's own messages, decoded and encoded again: the same bytes */
	for (size_t i = 0; i < 3; i++) {
		sh_ok(texts[i], &m);
		struct adapter_emit e = {m.uid, m.packet.type, m.nsp, -1, m.packet.data, NULL, 0,
					 (const char *const *)m.rooms.v, m.rooms.n,
					 (const char *const *)m.except.v, m.except.n, &m.flags};
		pd_buf_init(&out, 0);
		ck_assert_int_eq(
		    adapter_sh_broadcast_encode(&out, &e, m.request_id[0] ? m.request_id : NULL), 0);
		ck_assert_uint_eq(out.len, strlen(texts[i]));
		ck_assert_int_eq(memcmp(out.data, texts[i], out.len), 0);
		pd_buf_free(&out);
		adapter_sh_clear(&m);
	}
	/* binary: msgpack, the placeholder back into a bin */
	ck_assert_int_eq(adapter_sh_decode(buf, n, &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.packet.natt, 1);
	ck_assert_uint_eq(m.packet.att[0].len, 3);
	ck_assert_int_eq(m.packet.att[0].p[2], 3);
	ck_assert_str_eq(m.uid, "26b9a7ab0705e3b1");
	struct adapter_emit e = {m.uid, m.packet.type, m.nsp, -1, m.packet.data, m.packet.att,
				 m.packet.natt, (const char *const *)m.rooms.v, m.rooms.n,
				 (const char *const *)m.except.v, m.except.n, &m.flags};
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_sh_broadcast_encode(&out, &e, NULL), 0);
	same_bytes(&out, buf, n);
	adapter_sh_clear(&m);
	/* recovery: the stream id spliced in (msgpack) reads back as the
	 * offset, the rest unchanged */
	ck_assert_int_eq(pd_wire_sh_offset(&out, "1733500000000-7", 15), 0);
	ck_assert_int_eq(adapter_sh_decode((const uint8_t *)out.data, out.len, &m, err, sizeof(err)),
			 0);
	ck_assert_str_eq(m.offset, "1733500000000-7");
	ck_assert_uint_eq(m.packet.natt, 1);
	ck_assert_int_eq(m.packet.att[0].p[2], 3);
	adapter_sh_clear(&m);
	pd_buf_free(&out);
	/* and in JSON; an offset that is no stream id is not one */
	sh_ok(texts[0], &m);
	ck_assert_str_eq(m.offset, "");
	adapter_sh_clear(&m);
	pd_buf_init(&out, 0);
	ck_assert_int_eq(pd_buf_append_str(&out, texts[0]), 0);
	ck_assert_int_eq(pd_wire_sh_offset(&out, "12-0", 4), 0);
	sh_ok(out.data, &m);
	ck_assert_str_eq(m.offset, "12-0");
	adapter_sh_clear(&m);
	pd_buf_free(&out);
	const char *bad_off = "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"e\"]},"
			      "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},\"uid\":\"u\","
			      "\"nsp\":\"/\",\"offset\":\"12-x\"}";
	sh_ok(bad_off, &m);
	ck_assert_str_eq(m.offset, "");
	adapter_sh_clear(&m);
	/* which broadcasts take a room's channel (computeChannel, dynamic) */
	const char *one[] = {"room1"}, *sid[] = {"abcdefghijklmnopqrst"}, *two[] = {"a", "b"};
	ck_assert_int_eq(adapter_sh_room_channel(one, 1, 0), 1);
	ck_assert_int_eq(adapter_sh_room_channel(one, 1, 1), 0);
	ck_assert_int_eq(adapter_sh_room_channel(sid, 1, 0), 0);
	ck_assert_int_eq(adapter_sh_room_channel(two, 2, 0), 0);
	ck_assert_int_eq(adapter_sh_room_channel(NULL, 0, 0), 0);
}
END_TEST

static const char *const sh_bad[] = {
    "",
    "[]",
    "{}",
    "{\"type\":0,\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":14,\"data\":{},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":\"3\",\"data\":{},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":2,\"uid\":\"u\"}",                       /* no nsp */
    "{\"type\":2,\"uid\":\"u\",\"nsp\":\"x\"}",         /* not a namespace */
    "{\"type\":2,\"uid\":7,\"nsp\":\"/\"}",
    "{\"type\":3,\"uid\":\"u\",\"nsp\":\"/\"}",          /* no data */
    "{\"type\":3,\"data\":[],\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":3,\"data\":{\"opts\":{}},\"uid\":\"u\",\"nsp\":\"/\"}", /* no packet */
    "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"e\"]}},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[1]},\"opts\":{}},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"e\"]},\"opts\":{\"rooms\":\"r\"}},"
    "\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":4,\"data\":{\"opts\":{}},\"uid\":\"u\",\"nsp\":\"/\"}", /* no rooms */
    "{\"type\":7,\"data\":{\"opts\":{}},\"uid\":\"u\",\"nsp\":\"/\"}", /* no requestId */
    "{\"type\":8,\"data\":{\"requestId\":\"r\",\"sockets\":{}},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":9,\"data\":{\"packet\":[]},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":11,\"data\":{\"requestId\":\"r\",\"clientCount\":-1},\"uid\":\"u\",\"nsp\":\"/\"}",
    "{\"type\":12,\"data\":{\"packet\":1},\"uid\":\"u\",\"nsp\":\"/\"}", /* no requestId */
    "{\"type\":2,\"uid\":\"u\",\"nsp\":\"/\"}x",        /* trailing bytes (JSON.parse too) */
    "{\"type\":2,\"uid\":\"u\",\"nsp\":\"/\"",          /* truncated */
    "\x84\xa4type\x03",                                  /* truncated msgpack */
};

START_TEST(sh_decode_bad)
{
	struct adapter_sh_msg m;
	char err[128];
	const char *b = sh_bad[_i];
	ck_assert_msg(adapter_sh_decode((const uint8_t *)b, strlen(b), &m, err, sizeof(err)) == -1,
		      "accepted %s", b);
	ck_assert(err[0] != '\0');
	ck_assert_ptr_null(m.packet.data);
	ck_assert_ptr_null(m.rooms.v);
	ck_assert_ptr_null(m.sockets);
}
END_TEST

START_TEST(sh_limits)
{
	struct adapter_sh_msg m;
	char err[128], uid[ADAPTER_MAX_UID + 2], msg[ADAPTER_MAX_UID + 64];
	struct adapter_emit e = {0};
	struct pd_buf out;
	memset(uid, 'u', sizeof(uid) - 1);
	uid[sizeof(uid) - 1] = '\0'; /* one byte over */
	snprintf(msg, sizeof(msg), "{\"type\":2,\"uid\":\"%s\",\"nsp\":\"/\"}", uid);
	ck_assert_int_eq(adapter_sh_decode((const uint8_t *)msg, strlen(msg), &m, err, sizeof(err)), -1);
	uid[sizeof(uid) - 2] = '\0';
	snprintf(msg, sizeof(msg), "{\"type\":2,\"uid\":\"%s\",\"nsp\":\"/\"}", uid);
	ck_assert_int_eq(adapter_sh_decode((const uint8_t *)msg, strlen(msg), &m, err, sizeof(err)), 0);
	adapter_sh_clear(&m);
	/* encode refuses what no broker sends */
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_sh_broadcast_encode(&out, &e, NULL), -EINVAL); /* no uid, data */
	e.uid = "me";
	e.type = 9;
	ck_assert_int_eq(adapter_sh_broadcast_encode(&out, &e, NULL), -EINVAL);
	ck_assert_uint_eq(out.len, 0);
	pd_buf_free(&out);
}
END_TEST

/* Connection state recovery: the stream id pushdesk publishes as a fourth
 * item ([uid, packet, opts, id]), and the order of stream ids. */
START_TEST(broadcast_offset)
{
	static const char *const good[] = {"0-0", "1733500000000-17",
					   "18446744073709551615-18446744073709551615"};
	static const char *const bad[] = {"", "-", "1-", "-1", "1-2-3", "a-1", "1 -1", "1-1x",
					  "123456789012345678901-0"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(adapter_offset_valid(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!adapter_offset_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
	ck_assert_int_lt(adapter_offset_cmp("9-0", "10-0"), 0);
	ck_assert_int_lt(adapter_offset_cmp("10-2", "10-10"), 0);
	ck_assert_int_gt(adapter_offset_cmp("10-10", "10-2"), 0);
	ck_assert_int_eq(adapter_offset_cmp("007-1", "7-1"), 0);
	ck_assert_int_lt(adapter_offset_cmp("", "0-0"), 0);
	ck_assert_int_eq(adapter_offset_cmp("", ""), 0);

	/* the same message with and without the fourth item */
	const char *const rooms[] = {"r1"};
	json_t *data = json_pack("[s,i]", "ev", 1);
	struct adapter_emit e = {.uid = "u1", .type = 2, .nsp = "/", .id = -1, .data = data,
				 .rooms = rooms, .nrooms = 1};
	struct pd_buf out;
	struct adapter_broadcast b;
	char err[128];
	pd_buf_init(&out, 0);
	ck_assert_int_eq(adapter_broadcast_encode(&out, &e), 0);
	ck_assert_int_eq((uint8_t)out.data[0], 0x93);
	ck_assert_int_eq(adapter_broadcast_decode((uint8_t *)out.data, out.len, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.offset, "");
	adapter_broadcast_clear(&b);
	out.data[0] = (char)0x94; /* as pd_keys_lua_xpub publishes it */
	ck_assert_int_eq(pd_buf_append(&out, "\xb0" "1733500000000-17", 17), 0);
	ck_assert_int_eq(adapter_broadcast_decode((uint8_t *)out.data, out.len, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.offset, "1733500000000-17");
	ck_assert_str_eq(b.rooms.v[0], "r1");
	adapter_broadcast_clear(&b);
	/* a fourth item that is no stream id is ignored, as adapters ignore it */
	memcpy(out.data + out.len - 16, "17335000000x0-17", 16);
	ck_assert_int_eq(adapter_broadcast_decode((uint8_t *)out.data, out.len, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.offset, "");
	adapter_broadcast_clear(&b);
	pd_buf_free(&out);
	json_decref(data);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("adapter_codec");
	TCase *c = tcase_create("channels");
	tcase_add_test(c, channel_names);
	tcase_add_test(c, channel_fixtures);
	tcase_add_test(c, channel_parse);
	tcase_add_test(c, channel_room);
	suite_add_tcase(s, c);
	c = tcase_create("broadcast");
	tcase_add_test(c, bc_room_known_answer);
	tcase_add_test(c, bc_all_and_except_known_answer);
	tcase_add_test(c, bc_binary_known_answer);
	tcase_add_test(c, bc_flags_nsp_key_known_answer);
	tcase_add_test(c, bc_numeric_room);
	tcase_add_test(c, emitter_messages);
	tcase_add_test(c, bc_notepack_forms);
	tcase_add_test(c, bc_malformed);
	tcase_add_test(c, bc_limits);
	tcase_add_test(c, truncations_refused);
	tcase_add_test(c, bc_encode_errors);
	suite_add_tcase(s, c);
	c = tcase_create("requests");
	tcase_add_test(c, requests_known_answer);
	tcase_add_test(c, requests_other_forms);
	tcase_add_test(c, responses_known_answer);
	tcase_add_test(c, responses_malformed);
	tcase_add_test(c, broadcast_offset);
	suite_add_tcase(s, c);
	c = tcase_create("sharded");
	tcase_add_test(c, sh_decode_known);
	tcase_add_test(c, sh_encode_known);
	tcase_add_loop_test(c, sh_decode_bad, 0, (int)(sizeof(sh_bad) / sizeof(sh_bad[0])));
	tcase_add_test(c, sh_limits);
	suite_add_tcase(s, c);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	int failed;
	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
