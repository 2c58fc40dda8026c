/* test_emitter: pd_emitter against byte strings produced by
 * @socket.io/redis-emitter 5.1 (notepack.io) for the same emits, and the
 * structure decoded back with msgpack-c. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_emitter.h"

static char *hex(const char *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", (unsigned char)p[i]);
	s[2 * n] = '\0';
	return s;
}

static void expect(const struct pd_emit *e, const char *key, const char *channel, const char *want)
{
	struct pd_buf b, ch;
	char *got;
	pd_buf_init(&b, 0);
	pd_buf_init(&ch, 0);
	ck_assert_int_eq(pd_emitter_encode(e, &b), 0);
	ck_assert_int_eq(pd_emitter_channel(key, e, &ch), 0);
	ck_assert_str_eq(ch.data, channel);
	got = hex(b.data, b.len);
	ck_assert_str_eq(got, want);
	free(got);
	pd_buf_free(&b);
	pd_buf_free(&ch);
}

/* emitter.to("ticket:1").emit("message:new", {...}) */
START_TEST(one_room_known_answer)
{
	json_error_t je;
	json_t *p = json_loads("{\"id\":\"m1\",\"n\":300,\"neg\":-5,\"f\":1.5,\"ok\":true,\"nil\":null,"
			       "\"arr\":[1,\"x\"]}",
			       0, &je);
	const char *rooms[] = {"ticket:1"};
	struct pd_emit e = {.event = "message:new", .payload = p, .rooms = rooms, .nrooms = 1};
	ck_assert_ptr_nonnull(p);
	expect(&e, NULL, "socket.io#/#ticket:1#",
	       "93a7656d697474657283a47479706502a46461746192ab6d6573736167653a6e657787a26964a26d31"
	       "a16ecd012ca36e6567fba166cb3ff8000000000000a26f6bc3a36e696cc0a36172729201a178a36e73"
	       "70a12f83a5726f6f6d7391a87469636b65743a31a5666c61677380a665786365707490");
	json_decref(p);
}
END_TEST

/* emitter.to(["agents:o","user:c"]).except("user:x").emit("ticket:created", {eventId:70000}) */
START_TEST(two_rooms_except_known_answer)
{
	json_t *p = json_pack("{s:i}", "eventId", 70000);
	const char *rooms[] = {"agents:o", "user:c"}, *except[] = {"user:x"};
	struct pd_emit e = {.event = "ticket:created",
			    .payload = p,
			    .rooms = rooms,
			    .nrooms = 2,
			    .except = except,
			    .nexcept = 1};
	expect(&e, "socket.io", "socket.io#/#",
	       "93a7656d697474657283a47479706502a46461746192ae7469636b65743a6372656174656481a7657665"
	       "6e744964ce00011170a36e7370a12f83a5726f6f6d7392a86167656e74733a6fa6757365723a63a566"
	       "6c61677380a665786365707491a6757365723a78");
	json_decref(p);
}
END_TEST

/* emitter.emit("all") and new Emitter(c, {key:"pd"}).of("/dashboard").emit("m", "s") */
START_TEST(no_payload_and_namespace_known_answer)
{
	struct pd_emit e = {.event = "all"};
	json_t *s = json_string("s");
	struct pd_emit d = {.nsp = "/dashboard", .event = "m", .payload = s};
	expect(&e, "", "socket.io#/#",
	       "93a7656d697474657283a47479706502a46461746191a3616c6ca36e7370a12f83a5726f6f6d7390a566"
	       "6c61677380a665786365707490");
	expect(&d, "pd", "pd#/dashboard#",
	       "93a7656d697474657283a47479706502a46461746192a16da173a36e7370aa2f64617368626f61726483"
	       "a5726f6f6d7390a5666c61677380a665786365707490");
	json_decref(s);
}
END_TEST

static const msgpack_object *map_get(const msgpack_object *m, const char *k)
{
	ck_assert_int_eq(m->type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	return NULL;
}

static int str_is(const msgpack_object *o, const char *s)
{
	return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Decode what we encode: [uid, {type, data:[event, payload], nsp}, {rooms, flags, except}]. */
START_TEST(decodes_as_adapter_expects)
{
	json_t *p = json_pack("{s:s,s:I,s:f,s:[i,i],s:{s:b}}", "content", "héllo \"q\"", "big",
			      (json_int_t)5000000000LL, "pi", 3.25, "a", 1, -200, "o", "x", 0);
	const char *rooms[] = {"a", "b", "c"};
	struct pd_emit e = {.event = "ev", .payload = p, .rooms = rooms, .nrooms = 3};
	struct pd_buf b;
	msgpack_unpacked u;
	size_t off = 0;
	const msgpack_object *pk, *opts, *data, *pl, *v;

	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_emitter_encode(&e, &b), 0);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, b.data, b.len, &off), MSGPACK_UNPACK_SUCCESS);
	ck_assert_uint_eq(off, b.len);
	ck_assert_int_eq(u.data.type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(u.data.via.array.size, 3);
	ck_assert(str_is(&u.data.via.array.ptr[0], "emitter"));
	pk = &u.data.via.array.ptr[1];
	opts = &u.data.via.array.ptr[2];
	ck_assert_uint_eq(map_get(pk, "type")->via.u64, 2);
	ck_assert(str_is(map_get(pk, "nsp"), "/"));
	data = map_get(pk, "data");
	ck_assert_int_eq(data->type, MSGPACK_OBJECT_ARRAY);
	ck_assert_uint_eq(data->via.array.size, 2);
	ck_assert(str_is(&data->via.array.ptr[0], "ev"));
	pl = &data->via.array.ptr[1];
	ck_assert(str_is(map_get(pl, "content"), "héllo \"q\""));
	ck_assert_uint_eq(map_get(pl, "big")->via.u64, 5000000000ULL);
	v = map_get(pl, "pi");
	ck_assert_int_eq(v->type, MSGPACK_OBJECT_FLOAT64);
	ck_assert(v->via.f64 == 3.25);
	v = map_get(pl, "a");
	ck_assert_int_eq(v->via.array.ptr[1].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	ck_assert_int_eq(v->via.array.ptr[1].via.i64, -200);
	ck_assert_int_eq(map_get(map_get(pl, "o"), "x")->type, MSGPACK_OBJECT_BOOLEAN);
	v = map_get(opts, "rooms");
	ck_assert_uint_eq(v->via.array.size, 3);
	ck_assert(str_is(&v->via.array.ptr[2], "c"));
	ck_assert_uint_eq(map_get(opts, "flags")->via.map.size, 0);
	ck_assert_uint_eq(map_get(opts, "except")->via.array.size, 0);
	msgpack_unpacked_destroy(&u);
	pd_buf_free(&b);
	json_decref(p);
}
END_TEST

START_TEST(refuses_missing_event)
{
	struct pd_emit e = {0};
	struct pd_buf b;
	pd_buf_init(&b, 0);
	ck_assert_int_lt(pd_emitter_encode(&e, &b), 0);
	ck_assert_uint_eq(b.len, 0);
	pd_buf_free(&b);
}
END_TEST

/* Long strings take the str16/str32 forms; a capped buffer fails cleanly. */
START_TEST(long_strings_and_cap)
{
	char *big = malloc(70000);
	json_t *p;
	struct pd_emit e = {.event = "x"};
	struct pd_buf b;
	memset(big, 'a', 69999);
	big[69999] = '\0';
	p = json_string(big);
	e.payload = p;
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_emitter_encode(&e, &b), 0);
	ck_assert_ptr_nonnull(memmem(b.data, b.len, "\xdb\x00\x01\x11\x6f", 5));
	pd_buf_free(&b);
	pd_buf_init(&b, 1000);
	ck_assert_int_lt(pd_emitter_encode(&e, &b), 0);
	ck_assert_uint_eq(b.len, 0);
	pd_buf_free(&b);
	json_decref(p);
	free(big);
}
END_TEST

/* ---- sharded (createShardedAdapter) ----
 * Each expected message is what @socket.io/redis-adapter 8.3.0's
 * createShardedAdapter (subscriptionMode "dynamic", socket.io-adapter 2.5.8)
 * SPUBLISHed for the io call named, captured with SSUBSCRIBE on redis 7,
 * with that server's uid replaced by ours ("emitter"). */
static void expect_sharded(const char *payload, const char *nsp, const char *const *rooms,
			   size_t nrooms, const char *const *except, size_t nexcept,
			   const char *event, const char *channel, const char *want)
{
	json_error_t je;
	json_t *p = payload != NULL ? json_loads(payload, JSON_DECODE_ANY, &je) : NULL;
	struct pd_emit e = {nsp, event, p, rooms, nrooms, except, nexcept, NULL};
	struct pd_buf b, ch;
	pd_buf_init(&b, 0);
	pd_buf_init(&ch, 0);
	ck_assert(payload == NULL || p != NULL);
	ck_assert_int_eq(pd_emitter_encode_sharded(&e, &b), 0);
	ck_assert_int_eq(pd_emitter_channel_sharded(NULL, &e, &ch), 0);
	ck_assert_str_eq(ch.data, channel);
	ck_assert_uint_eq(b.len, strlen(want));
	ck_assert_int_eq(memcmp(b.data, want, b.len), 0);
	json_decref(p);
	pd_buf_free(&b);
	pd_buf_free(&ch);
}

static const char *const room1[] = {"room1"}, *const ab[] = {"a", "b"}, *const c1[] = {"c"};
static const char *const sid20[] = {"abcdefghijklmnopqrst"};
static const struct sharded_case {
	const char *payload, *nsp;
	const char *const *rooms;
	size_t nrooms;
	const char *const *except;
	size_t nexcept;
	const char *event, *channel, *want;
} sharded_cases[] = {
	/* io.to("room1").emit("ev", {a: 1}): the room's own channel */
	{"{\"a\":1}", NULL, room1, 1, NULL, 0, "ev", "socket.io#/#room1#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"ev\",{\"a\":1}]},"
	 "\"opts\":{\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/\"}"},
	/* io.emit("ev2", "x") */
	{"\"x\"", "/", NULL, 0, NULL, 0, "ev2", "socket.io#/#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"ev2\",\"x\"]},"
	 "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/\"}"},
	/* io.to(["a", "b"]).except("c").emit("ev3", 1): two rooms, the namespace's channel */
	{"1", NULL, ab, 2, c1, 1, "ev3", "socket.io#/#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"ev3\",1]},"
	 "\"opts\":{\"rooms\":[\"a\",\"b\"],\"except\":[\"c\"],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/\"}"},
	/* io.of("/admin").emit("adm", null) */
	{"null", "/admin", NULL, 0, NULL, 0, "adm", "socket.io#/admin#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"adm\",null]},"
	 "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/admin\"}"},
	/* io.to(<20 bytes>).emit("sid", true): a socket id has no room channel */
	{"true", NULL, sid20, 1, NULL, 0, "sid", "socket.io#/#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"sid\",true]},"
	 "\"opts\":{\"rooms\":[\"abcdefghijklmnopqrst\"],\"except\":[],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/\"}"},
	/* io.emit("bare"): no argument */
	{NULL, NULL, NULL, 0, NULL, 0, "bare", "socket.io#/#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"bare\"]},"
	 "\"opts\":{\"rooms\":[],\"except\":[],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/\"}"},
	/* io.to("room1").emit("utf", {s: 'hé "q" \\ /', n: -7, arr: [1, "x", false]}) */
	{"{\"s\":\"h\xc3\xa9 \\\"q\\\" \\\\ /\",\"n\":-7,\"arr\":[1,\"x\",false]}", NULL,
	 room1, 1, NULL, 0, "utf", "socket.io#/#room1#",
	 "{\"type\":3,\"data\":{\"packet\":{\"type\":2,\"data\":[\"utf\",{\"s\":\"h\xc3\xa9 "
	 "\\\"q\\\" \\\\ /\",\"n\":-7,\"arr\":[1,\"x\",false]}]},"
	 "\"opts\":{\"rooms\":[\"room1\"],\"except\":[],\"flags\":{}}},"
	 "\"uid\":\"emitter\",\"nsp\":\"/\"}"},
};

START_TEST(sharded_known_answers)
{
	const struct sharded_case *k = &sharded_cases[_i];
	expect_sharded(k->payload, k->nsp, k->rooms, k->nrooms, k->except, k->nexcept, k->event,
		       k->channel, k->want);
}
END_TEST

START_TEST(sharded_mode_and_bad_input)
{
	struct pd_emit e = {0};
	struct pd_buf b;
	const char *longroom[] = {NULL};
	char big[600];
	ck_assert_int_eq(pd_emitter_mode("classic"), PD_EMIT_CLASSIC);
	ck_assert_int_eq(pd_emitter_mode("sharded"), PD_EMIT_SHARDED);
	ck_assert_int_eq(pd_emitter_mode("Sharded"), -1);
	ck_assert_int_eq(pd_emitter_mode(""), -1);
	ck_assert_int_eq(pd_emitter_mode(NULL), -1);
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_emitter_encode_sharded(&e, &b), -EINVAL); /* no event */
	ck_assert_uint_eq(b.len, 0);
	/* a room over the channel limit is refused, as in classic mode */
	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	longroom[0] = big;
	e.event = "x";
	e.rooms = longroom;
	e.nrooms = 1;
	ck_assert_int_eq(pd_emitter_channel_sharded(NULL, &e, &b), pd_emitter_channel(NULL, &e, &b));
	pd_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emitter");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, one_room_known_answer);
	tcase_add_test(tc, two_rooms_except_known_answer);
	tcase_add_test(tc, no_payload_and_namespace_known_answer);
	tcase_add_test(tc, decodes_as_adapter_expects);
	tcase_add_test(tc, refuses_missing_event);
	tcase_add_test(tc, long_strings_and_cap);
	tcase_add_loop_test(tc, sharded_known_answers, 0,
			    (int)(sizeof(sharded_cases) / sizeof(sharded_cases[0])));
	tcase_add_test(tc, sharded_mode_and_bad_input);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
