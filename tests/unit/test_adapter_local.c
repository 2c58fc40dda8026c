/* Unit tests for the local adapter (adapter_local.c) and the shared
 * parts of adapter.c: emit, count and queries over several loops
 * (loop_each), the typed query's wire form, and presence in one process
 * (user:online once per user, presence:update, online lists, statuses).
 * No stack: fake_broker's loops and sockets. */
#include "adapter.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "fake_broker.h"
#include "loop.h"
#include "room.h"

static struct loop *L0(void)
{
	return &fb_broker()->loops[0];
}

/* ---- the typed query ---- */

START_TEST(test_kinds)
{
	ck_assert_int_eq(adapter_kind_find("sockets", 1), AK_SOCKETS);
	ck_assert_int_eq(adapter_kind_find("stats", 1), AK_STATS);
	ck_assert_int_eq(adapter_kind_find("join", 1), -1); /* not on pushdesk's wire */
	ck_assert_int_eq(adapter_kind_find("join", 0), AK_JOIN);
	ck_assert_int_eq(adapter_kind_find("bogus", 0), -1);
	ck_assert_int_eq(adapter_kind_find(NULL, 0), -1);
	for (int k = 0; k < AK__N; k++)
		ck_assert_int_eq(adapter_kind_find(adapter_kind_names[k], 0), k);
}
END_TEST

START_TEST(test_query_json)
{
	fb_init(1);
	json_t *arg = json_pack("{s:s, s:[s, s], s:[s], s:[s, i], s:b}", "nsp", "/dashboard",
				"rooms", "r1", "r2", "except", "x", "targets", "t1", 7, "close", 1);
	struct adapter_query q;
	const struct broker *b = fb_broker();
	ck_assert_int_eq(adapter_query_from_json(&q, AK_JOIN, arg, b->nsps, b->nnsps), 0);
	ck_assert_uint_eq(q.nsp_idx, 2);
	ck_assert_uint_eq(q.nrooms, 2);
	ck_assert_str_eq(q.rooms[1], "r2");
	ck_assert_uint_eq(q.nexcept, 1);
	ck_assert_uint_eq(q.ntargets, 1); /* the number is no name */
	ck_assert_int_eq(q.close, 1);
	json_t *back = adapter_query_to_json(&q, b->nsps, b->nnsps);
	ck_assert_str_eq(json_string_value(json_object_get(back, "nsp")), "/dashboard");
	ck_assert_uint_eq(json_array_size(json_object_get(back, "rooms")), 2);
	ck_assert(json_is_true(json_object_get(back, "close")));
	json_decref(back);
	adapter_query_clear(&q);
	json_decref(arg);

	/* an unknown namespace: only stats has a part */
	arg = json_pack("{s:s, s:s}", "nsp", "/nope", "org", "o1");
	ck_assert_int_eq(adapter_query_from_json(&q, AK_ONLINE, arg, b->nsps, b->nnsps), 0);
	ck_assert_uint_eq(q.nsp_idx, ADAPTER_NO_NSP);
	ck_assert_str_eq(q.id, "o1");
	ck_assert_ptr_null(adapter_local_part(fb_worker(0), &q));
	ck_assert_ptr_null(adapter_query_to_json(&q, b->nsps, b->nnsps));
	q.kind = AK_STATS;
	json_t *st = adapter_local_part(fb_worker(0), &q);
	ck_assert(json_is_object(st));
	json_decref(st);
	adapter_query_clear(&q);
	json_decref(arg);
}
END_TEST

START_TEST(test_merge)
{
	json_t *p[4] = {json_pack("[s, s]", "a", "b"), NULL, json_pack("[s, s]", "b", "c"),
			json_pack("[s]", "a")};
	json_t *m = adapter_merge(AK_SOCKETS, p, 4); /* ids are unique already: kept */
	ck_assert_uint_eq(json_array_size(m), 5);
	json_decref(m);
	json_decref(p[0]);
	p[0] = json_pack("[s, s]", "a", "b"); /* the first part became the merge */
	m = adapter_merge(AK_ONLINE, p, 4); /* deduplicated */
	ck_assert_uint_eq(json_array_size(m), 3);
	json_decref(m);
	json_t *o[2] = {json_pack("{s:i, s:i}", "r1", 2, "r2", 1), json_pack("{s:i}", "r1", 3)};
	m = adapter_merge(AK_ROOMS, o, 2);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "r1")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "r2")), 1);
	json_decref(m);
	json_t *none[1] = {NULL};
	m = adapter_merge(AK_COUNT, none, 1);
	ck_assert(json_is_null(m));
	json_decref(m);
	for (int i = 0; i < 4; i++)
		json_decref(p[i]);
	json_decref(o[0]);
	json_decref(o[1]);
}
END_TEST

/* ---- emit, count, query on three loops ---- */

static struct fsock *A, *B, *C, *T;
static struct adapter *ad;

static void three_loops(void)
{
	fb_init(3);
	A = fb_sock(0, 0, "A", "u1", "o1", "r1");
	B = fb_sock(1, 0, "B", "u2", "o1", "r1");
	C = fb_sock(2, 0, "C", "u1", "o1", NULL);
	T = fb_sock(2, 1, "T", "u3", "o1", "r1"); /* a view of "/" */
	ad = adapter_local_new(0);
	fb_start();
}

static size_t counted;
static void on_count(struct loop *l, size_t found, void *ud)
{
	ck_assert_ptr_eq(l, L0());
	(void)ud;
	counted = found;
	fb_done();
}

static json_t *result;
static void on_result(struct loop *l, json_t *merged, int missing, void *ud)
{
	ck_assert_ptr_eq(l, L0());
	ck_assert_int_eq(missing, 0);
	(void)ud;
	result = merged;
	fb_done();
}

static json_t *run_query(enum adapter_kind kind, const char **rooms, size_t nrooms,
			 const char **targets, size_t ntargets)
{
	struct adapter_query q = {.kind = kind, .nsp_idx = 0, .rooms = rooms, .nrooms = nrooms,
				  .targets = targets, .ntargets = ntargets};
	result = NULL;
	ck_assert_int_eq(ad->ops->query(ad, L0(), &q, on_result, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
	return result;
}

START_TEST(test_emit_count_query)
{
	three_loops();
	const char *r1[1] = {"r1"}, *ex[1] = {"user:u2"};
	ck_assert_int_eq(ad->ops->count(ad, L0(), 0, r1, 1, NULL, 0, on_count, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
	ck_assert_uint_eq(counted, 3); /* A, B and the view's T */
	ck_assert_int_eq(ad->ops->count(ad, L0(), 0, r1, 1, ex, 1, on_count, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
	ck_assert_uint_eq(counted, 2);

	json_t *ids = run_query(AK_SOCKETS, r1, 1, NULL, 0);
	ck_assert_uint_eq(json_array_size(ids), 3);
	json_decref(ids);

	/* join on every loop, then the joined room is seen everywhere */
	const char *org[1] = {"org:o1"}, *t[1] = {"joined"}, *joined[1] = {"joined"};
	json_decref(run_query(AK_JOIN, org, 1, t, 1));
	ids = run_query(AK_SOCKETS, joined, 1, NULL, 0);
	ck_assert_uint_eq(json_array_size(ids), 3); /* A, B, C of "/"; T's own namespace not joined */
	json_decref(ids);
	json_t *rooms = run_query(AK_ROOMS, NULL, 0, NULL, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(rooms, "joined")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(rooms, "org:o1")), 3);
	json_decref(rooms);

	json_t *n = run_query(AK_COUNT, joined, 1, NULL, 0);
	ck_assert_int_eq(json_integer_value(n), 3);
	json_decref(n);

	const char *u1[1] = {"user:u1"};
	json_decref(run_query(AK_DISCONNECT, u1, 1, NULL, 0));
	ck_assert_int_eq(A->disconnects, 1);
	ck_assert_int_eq(C->disconnects, 1);
	ck_assert_int_eq(B->disconnects, 0);

	/* the emit reaches every loop; a count after it is a barrier */
	json_t *p = json_pack("{s:i}", "n", 1);
	ck_assert_int_eq(ad->ops->emit(ad, L0(), 0, r1, 1, ex, 1, "ping:x", p), 0);
	json_decref(p);
	ck_assert_int_eq(ad->ops->count(ad, L0(), 0, NULL, 0, NULL, 0, on_count, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
	ck_assert_uint_eq(fb_count(A, "ping:x"), 1);
	ck_assert_uint_eq(fb_count(B, "ping:x"), 0);
	ck_assert_uint_eq(fb_count(C, "ping:x"), 0);
	ck_assert_str_eq(ad->ops->state(ad), "none");
	ad->ops->free(ad);
}
END_TEST

/* ---- presence in one process ---- */

static json_t *listed;
static void on_list(const json_t *list, void *ud)
{
	(void)ud;
	listed = list != NULL ? json_deep_copy(list) : NULL;
	fb_done();
}

static void sync_loops(void)
{
	ck_assert_int_eq(ad->ops->count(ad, L0(), 0, NULL, 0, NULL, 0, on_count, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
}

START_TEST(test_presence)
{
	three_loops();
	struct adapter_conn a = {.sid = "A", .user = "u1", .org = "o1", .team = "", .main = 1};
	struct adapter_conn c = {.sid = "C", .user = "u1", .org = "o1", .team = "", .main = 1};
	struct adapter_conn b = {.sid = "B", .user = "u2", .org = "o1", .team = "t9", .main = 1};
	ck_assert_int_eq(ad->ops->pres_connect(ad, L0(), &a), 0);
	ck_assert_int_eq(ad->ops->pres_connect(ad, L0(), &a), -EEXIST);
	ck_assert_int_eq(ad->ops->pres_connect(ad, L0(), &c), 0);
	ck_assert_int_eq(ad->ops->pres_connect(ad, L0(), &b), 0);
	struct adapter_conn bad = {.sid = "Z", .user = "", .org = "o1"};
	ck_assert_int_eq(ad->ops->pres_connect(ad, L0(), &bad), -EINVAL);
	sync_loops();
	/* user:online once per user, to the org's sockets on every loop */
	ck_assert_uint_eq(fb_count(B, "\"user:online\",\"u1\""), 1);
	ck_assert_uint_eq(fb_count(B, "\"user:online\",\"u2\""), 1);
	ck_assert_uint_eq(fb_count(T, "\"user:online\",\"u1\""), 1);

	ck_assert_int_eq(ad->ops->pres_online(ad, "o1", L0(), on_list, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
	ck_assert_uint_eq(json_array_size(listed), 2);
	json_decref(listed);

	ck_assert_int_eq(ad->ops->pres_status(ad, L0(), &c, "away"), 0);
	sync_loops();
	ck_assert_uint_eq(fb_count(B, "\"presence:update\",{\"userId\":\"u1\",\"status\":\"away\""), 1);
	const char *users[3] = {"u1", "u2", "u7"};
	ck_assert_int_eq(ad->ops->pres_get(ad, users, 3, L0(), on_list, NULL), 0);
	ck_assert_int_eq(fb_run(5000), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(listed, 0), "status")),
			 "away");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(listed, 1), "status")),
			 "online");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(listed, 2), "status")),
			 "offline");
	json_decref(listed);

	/* the last connection of a user goes: user:offline, once */
	ck_assert_int_eq(ad->ops->pres_disconnect(ad, L0(), "A", 0), 0);
	ck_assert_int_eq(ad->ops->pres_disconnect(ad, L0(), "A", 0), 0);
	sync_loops();
	ck_assert_uint_eq(fb_count(B, "user:offline"), 0);
	ck_assert_int_eq(ad->ops->pres_disconnect(ad, L0(), "C", 0), 0);
	sync_loops();
	ck_assert_uint_eq(fb_count(B, "\"user:offline\",\"u1\""), 1);
	ck_assert_int_eq(ad->ops->pres_roster(ad, "o1", L0(), on_list, NULL), -ENOTSUP);
	ck_assert_int_eq(ad->ops->pres_ping(ad, "B"), 0);
	ad->ops->free(ad);
}
END_TEST

static Suite *adapter_suite(void)
{
	Suite *s = suite_create("adapter_local");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_query_json);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_emit_count_query);
	tcase_add_test(tc, test_presence);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(adapter_suite());
}
