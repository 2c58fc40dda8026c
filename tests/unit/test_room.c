/* Unit tests for room.c: membership (join, leave, limits), room_select
 * (the one selection: union of rooms once, except by room and by socket
 * id, a socket id as a room, stop and skip), room_count, and room_emit
 * to every loop, each member once. No connections: fake_broker's loops
 * and sockets. */
#include "room.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "fake_broker.h"
#include "loop.h"
#include "msg.h"

START_TEST(test_join_leave)
{
	fb_init(1);
	struct fsock *a = fb_sock(0, 0, "A", "u1", "o1", NULL);
	struct nsp_rt *n = a->s.nsp;
	ck_assert(room_has(&a->s, "user:u1"));
	ck_assert(room_has(&a->s, "org:o1"));
	ck_assert_int_eq(room_join(&a->s, "r1"), 0);
	ck_assert_int_eq(room_join(&a->s, "r1"), 0); /* once */
	ck_assert_uint_eq(a->s.nrooms, 3);
	ck_assert_uint_eq(atomic_load(&n->nrooms), 3);
	ck_assert_int_eq(room_join(&a->s, ""), -EINVAL);
	char big[ROOM_NAME_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(room_join(&a->s, big), -EINVAL);
	room_leave(&a->s, "r1");
	ck_assert(!room_has(&a->s, "r1"));
	ck_assert_uint_eq(atomic_load(&n->nrooms), 2); /* the room died with its last member */
	room_leave(&a->s, "nope");
	room_leave_all(&a->s);
	ck_assert_uint_eq(a->s.nrooms, 0);
	ck_assert_uint_eq(atomic_load(&n->nrooms), 0);
}
END_TEST

START_TEST(test_room_limit)
{
	fb_init(1);
	struct fsock *a = fb_sock(0, 0, "A", "u1", "o1", NULL);
	char name[32];
	int rc = 0;
	for (int i = 0; rc == 0 && i < ROOM_MAX_PER_SOCKET + 5; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		rc = room_join(&a->s, name);
	}
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_uint_eq(a->s.nrooms, ROOM_MAX_PER_SOCKET);
	room_leave_all(&a->s);
}
END_TEST

struct seen {
	const char *ids[16];
	size_t n;
	int stop_at; /* visit number that returns 1; 0: never */
	const char *skip; /* id that returns -1 */
};

static int visit(struct sio_socket *s, void *ud)
{
	struct seen *v = ud;
	v->ids[v->n++] = s->id;
	if (v->skip != NULL && strcmp(s->id, v->skip) == 0)
		return -1;
	return v->stop_at != 0 && (int)v->n == v->stop_at ? 1 : 0;
}

static int saw(const struct seen *v, const char *id)
{
	int k = 0;
	for (size_t i = 0; i < v->n; i++)
		k += strcmp(v->ids[i], id) == 0;
	return k;
}

START_TEST(test_select)
{
	fb_init(1);
	struct nsp_rt *n = &fb_worker(0)->nsps[0];
	fb_sock(0, 0, "A", "u1", "o1", "r1");
	struct fsock *b = fb_sock(0, 0, "B", "u2", "o1", "r1");
	room_join(&b->s, "r2");
	fb_sock(0, 0, "C", "u3", "o2", "r2");
	fb_sock(0, 2, "D", "u4", "o1", "r1"); /* another namespace */

	struct seen v = {0};
	const char *r12[2] = {"r1", "r2"};
	ck_assert_uint_eq(room_select(n, r12, 2, NULL, 0, visit, &v), 3);
	ck_assert_int_eq(saw(&v, "A") + saw(&v, "B") + saw(&v, "C"), 3); /* B once */
	ck_assert_int_eq(saw(&v, "D"), 0);

	memset(&v, 0, sizeof(v));
	const char *ex_room[1] = {"r2"}, *ex_id[1] = {"A"};
	ck_assert_uint_eq(room_select(n, r12, 1, ex_room, 1, visit, &v), 1);
	ck_assert_int_eq(saw(&v, "A"), 1);
	memset(&v, 0, sizeof(v));
	ck_assert_uint_eq(room_select(n, NULL, 0, ex_id, 1, visit, &v), 2); /* all but A */
	ck_assert_int_eq(saw(&v, "A"), 0);

	/* a socket id names that socket; of this namespace only */
	memset(&v, 0, sizeof(v));
	const char *ids[3] = {"C", "D", "nobody"};
	ck_assert_uint_eq(room_select(n, ids, 3, NULL, 0, visit, &v), 1);
	ck_assert_int_eq(saw(&v, "C"), 1);

	/* stop after the second, skip one from the count */
	memset(&v, 0, sizeof(v));
	v.stop_at = 2;
	ck_assert_uint_eq(room_select(n, NULL, 0, NULL, 0, visit, &v), 2);
	ck_assert_uint_eq(v.n, 2);
	memset(&v, 0, sizeof(v));
	v.skip = "B";
	ck_assert_uint_eq(room_select(n, NULL, 0, NULL, 0, visit, &v), 2);
	ck_assert_uint_eq(v.n, 3);

	ck_assert_uint_eq(room_count(n, r12, 2, NULL, 0, (size_t)-1), 3);
	ck_assert_uint_eq(room_count(n, r12, 2, NULL, 0, 2), 2);
	ck_assert_uint_eq(room_count(n, r12, 2, NULL, 0, 0), 0);
	ck_assert_uint_eq(room_count(n, r12, 2, r12, 2, (size_t)-1), 0);
}
END_TEST

/* A visitor that takes each socket out of the room being walked. */
static int leave_r1(struct sio_socket *s, void *ud)
{
	(void)ud;
	room_leave(s, "r1");
	return 0;
}

START_TEST(test_select_leave)
{
	fb_init(1);
	struct nsp_rt *n = &fb_worker(0)->nsps[0];
	char id[8];
	for (int i = 0; i < 9; i++) {
		snprintf(id, sizeof(id), "S%d", i);
		fb_sock(0, 0, id, id, "o1", "r1");
	}
	const char *r1[1] = {"r1"};
	ck_assert_uint_eq(room_select(n, r1, 1, NULL, 0, leave_r1, NULL), 9);
	ck_assert_uint_eq(room_count(n, r1, 1, NULL, 0, (size_t)-1), 0);
}
END_TEST

static void barrier_each(struct loop *l, struct loop_each *e)
{
	(void)l;
	(void)e;
}

static void barrier_done(struct loop *l, struct loop_each *e)
{
	(void)l;
	(void)e;
	fb_done();
}

/* Every loop has run what was posted to it before. */
static void barrier(void)
{
	static struct loop_each e;
	struct broker *b = fb_broker();
	loop_each(&e, b->loops, b->nloops, &b->loops[0], barrier_each, barrier_done, &b->loops[0]);
	ck_assert_int_eq(fb_run(5000), 0);
}

START_TEST(test_emit_loops)
{
	fb_init(3);
	struct fsock *a = fb_sock(0, 0, "A", "u1", "o1", "r1");
	struct fsock *b = fb_sock(1, 0, "B", "u2", "o1", "r1");
	struct fsock *c = fb_sock(2, 0, "C", "u3", "o2", "r1");
	struct fsock *t = fb_sock(2, 1, "T", "u4", "o1", "r1"); /* a view of "/" */
	struct fsock *d = fb_sock(2, 2, "D", "u5", "o1", "r1"); /* another namespace */
	fb_start();
	json_t *data = json_pack("[s, i]", "hello", 1);
	struct msg *m = sio_msg(2, "/", -1, data, NULL, 0);
	const char *rooms[2] = {"r1", "org:o1"}, *except[1] = {"user:u2"};
	ck_assert_int_eq(room_emit(fb_worker(0), 0, rooms, 2, except, 1, m, data, NULL), 0);
	msg_unref(m);
	json_decref(data);
	barrier();
	ck_assert_uint_eq(fb_count(a, "hello"), 1);
	ck_assert_uint_eq(fb_count(b, "hello"), 0);
	ck_assert_uint_eq(fb_count(c, "hello"), 1);
	ck_assert_uint_eq(fb_count(t, "hello"), 1);
	ck_assert_uint_eq(fb_count(d, "hello"), 0);
}
END_TEST

static Suite *room_suite(void)
{
	Suite *s = suite_create("room");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_join_leave);
	tcase_add_test(tc, test_room_limit);
	tcase_add_test(tc, test_select);
	tcase_add_test(tc, test_select_leave);
	tcase_add_test(tc, test_emit_loops);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(room_suite());
}
