/* Unit tests for pd_wire: the adapter's channel names (as
 * @socket.io/redis-adapter spells them), pushdesk's query request as the
 * brokers and pushdeskctl write it, and the reading of answers, with the
 * messages it must refuse. */
#include "pd_wire.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_run.h"

/* rc 0 and the channel want in b, then b emptied for the next */
static void is(struct pd_buf *b, int rc, const char *want)
{
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(b->data, want);
	b->len = 0;
}

START_TEST(test_channels)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	is(&b, pd_wire_channel_broadcast(&b, NULL, NULL, NULL), "socket.io#/#");
	is(&b, pd_wire_channel_broadcast(&b, "k", "/a", "org:1"), "k#/a#org:1#");
	is(&b, pd_wire_channel_request(&b, "k", ""), "k-request#/#");
	is(&b, pd_wire_channel_response(&b, "k", "/", NULL), "k-response#/#");
	is(&b, pd_wire_channel_response(&b, "k", "/", "UID"), "k-response#/#UID#");
	is(&b, pd_wire_channel_pattern(&b, "a*b", "/[x]"), "a\\*b#/\\[x\\]#*");
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_channel_limits)
{
	struct pd_buf b;
	char room[PD_WIRE_MAX_ROOM + 2], uid[PD_WIRE_MAX_UID + 2];
	pd_buf_init(&b, 0);
	memset(room, 'r', sizeof(room) - 1);
	room[sizeof(room) - 1] = '\0';
	memset(uid, 'u', sizeof(uid) - 1);
	uid[sizeof(uid) - 1] = '\0';
	ck_assert_int_eq(pd_wire_channel_broadcast(&b, "k", "/", room), -EINVAL);
	ck_assert_int_eq(pd_wire_channel_response(&b, "k", "/", uid), -EINVAL);
	room[PD_WIRE_MAX_ROOM] = '\0'; /* exactly the limit */
	ck_assert_int_eq(pd_wire_channel_broadcast(&b, "k", "/", room), 0);
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_query)
{
	struct pd_buf b;
	json_t *arg = json_pack("{s:s}", "nsp", "/"), *data;
	const json_t *a;

	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_wire_query_encode(&b, "U", "U-1", "rooms", arg), 0);
	ck_assert_str_eq(b.data, "{\"uid\":\"U\",\"requestId\":\"U-1\",\"type\":6,"
				 "\"data\":[\"pushdesk:request\",\"rooms\",{\"nsp\":\"/\"}]}");
	b.len = 0;
	ck_assert_int_eq(pd_wire_query_encode(&b, "U", "U-2", "stats", NULL), 0);
	ck_assert_str_eq(b.data, "{\"uid\":\"U\",\"requestId\":\"U-2\",\"type\":6,"
				 "\"data\":[\"pushdesk:request\",\"stats\",{}]}");
	json_t *o = json_loads(b.data, 0, NULL);
	ck_assert_str_eq(pd_wire_query_kind(json_object_get(o, "data"), &a), "stats");
	ck_assert(json_is_object(a));
	json_decref(o);
	/* not ours: another event, or no kind */
	data = json_pack("[s, s]", "other", "rooms");
	ck_assert_ptr_null(pd_wire_query_kind(data, &a));
	json_decref(data);
	data = json_pack("[s]", PD_WIRE_QUERY_EVENT);
	ck_assert_ptr_null(pd_wire_query_kind(data, &a));
	ck_assert_ptr_null(a);
	json_decref(data);
	json_decref(arg);
	pd_buf_free(&b);
}
END_TEST

START_TEST(test_answer)
{
	char id[PD_WIRE_MAX_UID + 1];
	json_t *data, *res = json_pack("{s:i}", "org:1", 2);
	const json_t *r;
	json_t *msg = json_pack("{s:i, s:s, s:o}", "type", 6, "requestId", "U-1", "data",
				pd_wire_answer_data("B1", res));
	char *text = json_dumps(msg, JSON_COMPACT);

	ck_assert_int_eq(pd_wire_answer_decode(text, strlen(text), id, &data), 0);
	ck_assert_str_eq(id, "U-1");
	ck_assert_str_eq(pd_wire_answer_uid(data, &r), "B1");
	ck_assert(json_equal((json_t *)r, res));
	json_decref(data);
	free(text);
	json_decref(msg);
	json_decref(res);
}
END_TEST

static const char *const bad_answers[] = {
	"",
	"\x82\xa4type\x06",                                          /* msgpack */
	"{",                                                          /* not JSON */
	"[6]",                                                        /* not an object */
	"{\"type\":5,\"requestId\":\"r\",\"data\":{\"uid\":\"b\"}}",  /* not SERVER_SIDE_EMIT */
	"{\"requestId\":\"r\",\"data\":{\"uid\":\"b\"}}",             /* no type */
	"{\"type\":6,\"data\":{\"uid\":\"b\"}}",                      /* no requestId */
	"{\"type\":6,\"requestId\":\"\",\"data\":{\"uid\":\"b\"}}",   /* empty requestId */
	"{\"type\":6,\"requestId\":7,\"data\":{\"uid\":\"b\"}}",      /* requestId a number */
	"{\"type\":6,\"requestId\":\"r\",\"data\":{\"result\":1}}",   /* no uid */
	"{\"type\":6,\"requestId\":\"r\",\"data\":[\"b\"]}",          /* data not an object */
	"{\"type\":6,\"requestId\":\"r\",\"data\":{\"uid\":\"b\"}} x", /* trailing bytes */
	"{\"type\":6,\"requestId\":\"r\",\"requestId\":\"s\",\"data\":{\"uid\":\"b\"}}", /* twice */
};

START_TEST(test_answer_bad)
{
	char id[PD_WIRE_MAX_UID + 1];
	json_t *data = (json_t *)1;
	const char *m = bad_answers[_i];
	ck_assert_int_eq(pd_wire_answer_decode(m, strlen(m), id, &data), -1);
	ck_assert_ptr_null(data);
}
END_TEST

START_TEST(test_answer_long_id)
{
	char id[PD_WIRE_MAX_UID + 1], msg[256], rid[PD_WIRE_MAX_UID + 2];
	json_t *data;
	memset(rid, 'r', sizeof(rid) - 1);
	rid[sizeof(rid) - 1] = '\0';
	snprintf(msg, sizeof(msg), "{\"type\":6,\"requestId\":\"%s\",\"data\":{\"uid\":\"b\"}}", rid);
	ck_assert_int_eq(pd_wire_answer_decode(msg, strlen(msg), id, &data), -1);
	rid[PD_WIRE_MAX_UID] = '\0'; /* exactly the limit */
	snprintf(msg, sizeof(msg), "{\"type\":6,\"requestId\":\"%s\",\"data\":{\"uid\":\"b\"}}", rid);
	ck_assert_int_eq(pd_wire_answer_decode(msg, strlen(msg), id, &data), 0);
	ck_assert_str_eq(id, rid);
	json_decref(data);
	/* over PD_WIRE_MAX_MSG: refused before parsing */
	ck_assert_int_eq(pd_wire_answer_decode(msg, PD_WIRE_MAX_MSG + 1, id, &data), -1);
}
END_TEST

/* pd_wire_sh_offset: the key added last, JSON and msgpack; refusals
 * leave the message as it was */
START_TEST(test_sh_offset)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	ck_assert_int_eq(pd_buf_append_str(&b, "{\"type\":3}"), 0);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "1-2", 3), 0);
	ck_assert_uint_eq(b.len, strlen("{\"type\":3,\"offset\":\"1-2\"}"));
	ck_assert_int_eq(memcmp(b.data, "{\"type\":3,\"offset\":\"1-2\"}", b.len), 0);
	/* not an id: nothing to quote in JSON or to size in msgpack */
	size_t len = b.len;
	ck_assert_int_eq(pd_wire_sh_offset(&b, "1\"-2", 4), -EINVAL);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "", 0), -EINVAL);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "12345678901234567890-12345678901", 32), -EINVAL);
	ck_assert_uint_eq(b.len, len);
	pd_buf_reset(&b);
	/* msgpack {"a": 1} -> {"a": 1, "offset": "5-0"} */
	const uint8_t mp[] = {0x81, 0xa1, 'a', 0x01};
	const uint8_t want[] = {0x82, 0xa1, 'a', 0x01, 0xa6, 'o', 'f', 'f', 's', 'e', 't',
				0xa3, '5', '-', '0'};
	ck_assert_int_eq(pd_buf_append(&b, mp, sizeof(mp)), 0);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "5-0", 3), 0);
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_int_eq(memcmp(b.data, want, sizeof(want)), 0);
	/* neither: an array, a map of 15 keys (no fixmap for 16), too short */
	const uint8_t arr[] = {0x93, 0x01, 0x02, 0x03}, m15[] = {0x8f, 0x00};
	pd_buf_reset(&b);
	ck_assert_int_eq(pd_buf_append(&b, arr, sizeof(arr)), 0);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "5-0", 3), -EINVAL);
	pd_buf_reset(&b);
	ck_assert_int_eq(pd_buf_append(&b, m15, sizeof(m15)), 0);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "5-0", 3), -EINVAL);
	pd_buf_reset(&b);
	ck_assert_int_eq(pd_buf_append(&b, "{", 1), 0);
	ck_assert_int_eq(pd_wire_sh_offset(&b, "5-0", 3), -EINVAL);
	pd_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pd_wire");
	TCase *tc = tcase_create("wire");
	tcase_add_test(tc, test_channels);
	tcase_add_test(tc, test_channel_limits);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_answer);
	tcase_add_loop_test(tc, test_answer_bad, 0,
			    (int)(sizeof(bad_answers) / sizeof(bad_answers[0])));
	tcase_add_test(tc, test_answer_long_id);
	tcase_add_test(tc, test_sh_offset);
	suite_add_tcase(s, tc);
	return check_run(s);
}
