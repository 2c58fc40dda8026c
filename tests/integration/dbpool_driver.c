/* dbpool_driver: drives broker/dbpool and broker/dbq against a real
 * PostgreSQL ($PD_DATABASE_URL, schema applied): two event loops (loop.c)
 * receive the results, and every check prints a TAP line. With
 * DBPOOL_STOP_CMD / DBPOOL_START_CMD it also stops and restarts PostgreSQL
 * under a live pool. Fixtures are written over a separate connection on the
 * main thread (the test's own, not a loop). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbpool.h"
#include "dbq.h"
#include "loop.h"
#include "pd_db.h"
#include "pd_emitter.h"
#include "pd_log.h"

static int T, FAILED;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++T);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		FAILED++;
}

static unsigned long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- loops ---- */

static struct loop L1, L2;
static pthread_t T1, T2;

static void *loop_thread(void *arg)
{
	loop_run(arg);
	return NULL;
}

static void stop_fn(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

/* ---- completions: done() records, the main thread waits ---- */

static pthread_mutex_t MU = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t CV = PTHREAD_COND_INITIALIZER;
static long NDONE;
static enum pd_err LAST_ST;
static void *LAST_ARG;
static int WRONG_THREAD; /* done() ran off its loop's thread */
static struct loop *LAST_LOOP;

static void on_done(struct loop *l, void *arg, enum pd_err st)
{
	pthread_mutex_lock(&MU);
	if (!pthread_equal(pthread_self(), l == &L1 ? T1 : T2))
		WRONG_THREAD++;
	LAST_ST = st;
	LAST_ARG = arg;
	LAST_LOOP = l;
	NDONE++;
	pthread_cond_broadcast(&CV);
	pthread_mutex_unlock(&MU);
}

/* Wait until NDONE reaches n (at most secs). 1 if it did. */
static int wait_done(long n, int secs)
{
	struct timespec dl;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	pthread_mutex_lock(&MU);
	while (NDONE < n && rc == 0)
		rc = pthread_cond_timedwait(&CV, &MU, &dl);
	rc = NDONE >= n;
	pthread_mutex_unlock(&MU);
	return rc;
}

static long ndone(void)
{
	long n;
	pthread_mutex_lock(&MU);
	n = NDONE;
	pthread_mutex_unlock(&MU);
	return n;
}

/* Submit and wait; returns done's status, or -1 on a refused submit or a
 * timeout. *ms: elapsed. */
static int call(struct dbpool *p, struct loop *l, dbpool_job_fn fn, void *q, unsigned long long *ms)
{
	long n = ndone();
	unsigned long long t0 = now_ms();
	int rc = dbpool_submit(p, l, fn, on_done, q);
	if (rc != 0) {
		printf("# submit failed: %s\n", strerror(-rc));
		return -1;
	}
	if (!wait_done(n + 1, 30)) {
		printf("# no answer in 30 s\n");
		return -1;
	}
	if (ms != NULL)
		*ms = now_ms() - t0;
	pthread_mutex_lock(&MU);
	rc = LAST_ARG == q ? (int)LAST_ST : -1;
	pthread_mutex_unlock(&MU);
	return rc;
}

/* ---- fixtures over the test's own connection ---- */

static PGconn *FX;

static char *fx(const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(FX, sql, n, NULL, p, NULL, NULL, 0);
	char *v = NULL;
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "fixture failed: %s\n%s\n", PQerrorMessage(FX), sql);
		exit(2);
	}
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static char *mk_user(const char *org, const char *role, const char *name, const char *tag)
{
	char email[128];
	const char *p[4] = {org, role, name, email};
	snprintf(email, sizeof(email), "%s-%s@dbpool.test", name, tag);
	return fx("INSERT INTO users (org_id, role, name, email) VALUES ($1, $2, $3, $4) RETURNING id",
		  4, p);
}

static char *mk_ticket(const char *org, const char *cust, const char *assignee, const char *status)
{
	const char *p[4] = {org, cust, assignee, status};
	return fx("INSERT INTO tickets (org_id, customer_id, assignee_id, subject, status) "
		  "VALUES ($1, $2, $3, 'dbpool test', $4) RETURNING id",
		  4, p);
}

static long long fx_count(const char *sql, const char *a)
{
	const char *p[1] = {a};
	char *v = fx(sql, a != NULL ? 1 : 0, p);
	long long n = v != NULL ? strtoll(v, NULL, 10) : -1;
	free(v);
	return n;
}

/* ---- jobs of the driver's own ---- */

struct sleep_job {
	double secs;
};

static enum pd_err sleep_run(PGconn *c, void *arg)
{
	struct sleep_job *s = arg;
	char buf[32];
	const char *p[1] = {buf};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r;
	snprintf(buf, sizeof(buf), "%.3f", s->secs);
	r = pd_db_exec(c, "SELECT pg_sleep($1::float8)", 1, p, &e);
	if (r == NULL)
		return e;
	PQclear(r);
	return PD_OK;
}

static void posted(struct loop *l, void *arg)
{
	(void)l;
	pthread_mutex_lock(&MU);
	*(unsigned long long *)arg = now_ms();
	pthread_mutex_unlock(&MU);
}

/* ---- the checks ---- */

struct fixture {
	char *orgA, *orgB, *cust1, *cust2, *agent1, *admin1, *agentB;
	char *t1, *t2, *t3;
	struct dbq_who wcust1, wcust2, wagent1, wadmin1, wagentB;
};

static int access_call(struct dbpool *p, const struct dbq_who *w, const char *ticket,
		       struct dbq_grants *g, int *cached)
{
	struct dbq_access q;
	int rc = dbq_access_prepare(&q, w, ticket, g);
	*cached = q.cached;
	if (rc == 1)
		return (int)q.err;
	rc = call(p, &L1, dbq_access_job, &q, NULL);
	if (rc >= 0 && rc != (int)q.err)
		return -2;
	return rc;
}

static void check_access(struct dbpool *p, struct fixture *f)
{
	struct dbq_grants *g = dbq_grants_new(60000, 0), *gs = dbq_grants_new(200, 0);
	int cached;
	char upper[64];

	ok(access_call(p, &f->wagent1, f->t1, g, &cached) == PD_OK && !cached,
	   "ticket:join: an agent of the org may join");
	ok(WRONG_THREAD == 0 && LAST_LOOP == &L1, "done() ran on the reply_to loop's thread");
	ok(access_call(p, &f->wcust1, f->t1, g, &cached) == PD_OK, "ticket:join: the owner customer");
	ok(access_call(p, &f->wcust2, f->t1, g, &cached) == PD_E_NOT_FOUND,
	   "ticket:join: another customer of the org gets NOT_FOUND");
	ok(access_call(p, &f->wagentB, f->t1, g, &cached) == PD_E_NOT_FOUND,
	   "ticket:join: an agent of another org gets NOT_FOUND");
	ok(access_call(p, &f->wagent1, "00000000-0000-4000-8000-000000000000", g, &cached) ==
		   PD_E_NOT_FOUND,
	   "ticket:join: an unknown ticket is NOT_FOUND");
	{
		struct dbq_access q;
		ok(dbq_access_prepare(&q, &f->wagent1, "not-a-uuid'; DROP TABLE x", g) == 1 &&
			   q.err == PD_E_NOT_FOUND,
		   "ticket:join: a malformed id is NOT_FOUND without a query");
	}
	ok(access_call(p, &f->wcust1, f->t1, g, &cached) == PD_OK && cached == 1,
	   "grant cache: a second join is answered from the cache");
	snprintf(upper, sizeof(upper), "%s", f->t1);
	for (char *s = upper; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 32);
	ok(access_call(p, &f->wcust1, upper, g, &cached) == PD_OK && cached == 1,
	   "grant cache: the id is normalised (upper case hits)");
	ok(access_call(p, &f->wcust2, f->t1, g, &cached) == PD_E_NOT_FOUND && !cached,
	   "grant cache: refusals are not cached, and not shared between users");
	ok(access_call(p, &f->wcust1, f->t1, gs, &cached) == PD_OK && !cached &&
		   access_call(p, &f->wcust1, f->t1, gs, &cached) == PD_OK && cached,
	   "grant cache (ttl 200 ms): cached right after");
	sleep_ms(300);
	ok(access_call(p, &f->wcust1, f->t1, gs, &cached) == PD_OK && !cached,
	   "grant cache: expired after grant_cache_seconds");
	{
		struct dbq_grants *g0 = dbq_grants_new(0, 0);
		ok(access_call(p, &f->wcust1, f->t1, g0, &cached) == PD_OK && !cached &&
			   access_call(p, &f->wcust1, f->t1, g0, &cached) == PD_OK && !cached,
		   "grant cache: ttl 0 disables it");
		dbq_grants_free(g0);
	}
	{
		struct dbq_grants *g2 = dbq_grants_new(60000, 2);
		dbq_grants_put(g2, f->t1, &f->wcust1);
		dbq_grants_put(g2, f->t2, &f->wcust1);
		dbq_grants_put(g2, f->t3, &f->wcust1);
		ok(dbq_grants_count(g2) <= 2 && dbq_grants_check(g2, f->t3, &f->wcust1),
		   "grant cache: bounded (max_entries), the newest grant kept");
		dbq_grants_free(g2);
	}
	dbq_grants_free(g);
	dbq_grants_free(gs);
}

static json_t *obj2(const char *k1, json_t *v1, const char *k2, json_t *v2)
{
	json_t *o = json_object();
	if (v1 != NULL)
		json_object_set_new(o, k1, v1);
	if (v2 != NULL)
		json_object_set_new(o, k2, v2);
	return o;
}

static int send_call(struct dbpool *p, const struct dbq_who *w, json_t *payload, struct dbq_send *q)
{
	int rc = dbq_send_prepare(q, w, payload);
	json_decref(payload);
	if (rc == 1)
		return (int)q->err;
	if (rc < 0)
		return -1;
	return call(p, &L1, dbq_send_job, q, NULL);
}

static char *LAST_MSG_ID;

static void check_send(struct dbpool *p, struct fixture *f, long long *ev_ids, size_t *nev_ids)
{
	struct dbq_send q;
	long long before = fx_count("SELECT count(*) FROM messages WHERE ticket_id = $1", f->t1);
	int rc = send_call(p, &f->wcust1,
			   obj2("ticketId", json_string(f->t1), "content", json_string("hello agent")),
			   &q);
	const char *mid = json_string_value(json_object_get(q.message, "id"));

	ok(rc == PD_OK && mid != NULL &&
		   strcmp(json_string_value(json_object_get(q.message, "content")), "hello agent") == 0 &&
		   strcmp(json_string_value(json_object_get(q.message, "senderId")), f->cust1) == 0 &&
		   strcmp(json_string_value(json_object_get(q.message, "ticketId")), f->t1) == 0 &&
		   strcmp(json_string_value(json_object_get(q.message, "senderRole")), "customer") == 0,
	   "message:send: stored, the message JSON as the API returns it");
	ok(fx_count("SELECT count(*) FROM messages WHERE ticket_id = $1", f->t1) == before + 1,
	   "message:send: one row in messages");
	ok(strcmp(q.customer_id, f->cust1) == 0 && strcmp(q.assignee_id, f->agent1) == 0,
	   "message:send: the ticket's customer and assignee for `delivered`");
	/* message:new to ticket:<id>, the dialects' message:feed (ticket room and
	 * staff) and message:participants (the assignee's user room), then
	 * notification + notification:count for the assignee (the customer is
	 * the sender). */
	ok(q.nevents == 5 && q.nev == 5 && strcmp(q.ev[0].event, "message:new") == 0 &&
		   q.ev[0].nrooms == 1 && strncmp(q.ev[0].rooms[0], "ticket:", 7) == 0 &&
		   strcmp(q.ev[0].rooms[0] + 7, f->t1) == 0 && strcmp(q.ev[0].nsp, "/") == 0 &&
		   strcmp(q.ev[1].event, "message:feed") == 0 &&
		   strcmp(q.ev[2].event, "message:participants") == 0 &&
		   strcmp(q.ev[3].event, "notification") == 0 &&
		   strcmp(q.ev[4].event, "notification:count") == 0,
	   "message:send: outbox events message:new, message:feed, message:participants, "
	   "notification, notification:count (got %zu)",
	   q.nev);
	if (q.nev >= 1) {
		json_t *pl = q.ev[0].payload;
		struct pd_emit e;
		dbq_event_emit(&q.ev[0], &e);
		ok(json_integer_value(json_object_get(pl, "eventId")) == q.events[0] &&
			   q.ev[0].id == q.events[0] &&
			   json_equal(json_object_get(pl, "id"), json_object_get(q.message, "id")) &&
			   json_object_get(pl, "senderName") != NULL &&
			   json_object_get(pl, "updatedAt") == NULL && e.nrooms == 1 &&
			   e.payload == pl && strcmp(e.event, "message:new") == 0,
		   "message:new payload: eventId = outbox id, the contract's fields");
	} else {
		ok(0, "message:new payload: eventId = outbox id, the contract's fields");
	}
	if (q.nev == 5) {
		char room[64];
		snprintf(room, sizeof(room), "user:%s", f->agent1);
		/* participants: the ticket room, then the assignee's user room */
		ok(q.ev[2].nrooms == 2 && strcmp(q.ev[2].rooms[1], room) == 0 &&
			   strcmp(q.ev[3].rooms[0], room) == 0 &&
			   json_integer_value(json_object_get(q.ev[4].payload, "unread")) == 1,
		   "message:send: the assignee is notified, unread 1");
	} else {
		ok(0, "message:send: the assignee is notified, unread 1");
	}
	{
		char ids[64];
		snprintf(ids, sizeof(ids), "%lld", q.events[0]);
		/* (under tests/run the API's relay may already have published it) */
		ok(fx_count("SELECT count(*) FROM outbox WHERE id = $1::bigint", ids) == 1,
		   "message:send: outbox rows committed before done() runs");
	}
	memcpy(ev_ids, q.events, q.nevents * sizeof(long long));
	*nev_ids = q.nevents;
	free(LAST_MSG_ID);
	LAST_MSG_ID = mid != NULL ? strdup(mid) : NULL;
	dbq_send_clear(&q);

	/* validation */
	ok(send_call(p, &f->wcust1, obj2("ticketId", json_string(f->t1), "content", json_string("")),
		     &q) == PD_E_BAD_REQUEST &&
		   strstr(q.msg, "content") != NULL,
	   "message:send: empty content is BAD_REQUEST naming content");
	dbq_send_clear(&q);
	{
		char *big = malloc(20002);
		memset(big, 'x', 20001);
		big[20001] = '\0';
		ok(send_call(p, &f->wcust1,
			     obj2("ticketId", json_string(f->t1), "content", json_string(big)),
			     &q) == PD_E_BAD_REQUEST,
		   "message:send: 20001 characters is BAD_REQUEST");
		dbq_send_clear(&q);
		/* 20000 two-byte characters: within the limit (characters, as the API) */
		char *wide = malloc(40001);
		for (int i = 0; i < 20000; i++) {
			wide[2 * i] = (char)0xC3;
			wide[2 * i + 1] = (char)0xA9;
		}
		wide[40000] = '\0';
		ok(send_call(p, &f->wcust1,
			     obj2("ticketId", json_string(f->t1), "content", json_string(wide)),
			     &q) == PD_OK,
		   "message:send: 20000 characters of 2 bytes are accepted");
		dbq_send_clear(&q);
		free(big);
		free(wide);
	}
	ok(send_call(p, &f->wcust1,
		     obj2("ticketId", json_string(f->t1), "content", json_stringn("a\0b", 3)),
		     &q) == PD_E_BAD_REQUEST,
	   "message:send: content with NUL is BAD_REQUEST");
	dbq_send_clear(&q);
	ok(send_call(p, &f->wcust1, json_string("hi"), &q) == PD_E_BAD_REQUEST,
	   "message:send: a payload that is not an object is BAD_REQUEST");
	dbq_send_clear(&q);
	ok(send_call(p, &f->wcust1, obj2("content", json_string("x"), NULL, NULL), &q) ==
		   PD_E_BAD_REQUEST,
	   "message:send: missing ticketId is BAD_REQUEST");
	dbq_send_clear(&q);
	ok(send_call(p, &f->wcust1,
		     obj2("ticketId", json_string("1234"), "content", json_string("x")), &q) ==
		   PD_E_NOT_FOUND,
	   "message:send: a malformed ticketId is NOT_FOUND");
	dbq_send_clear(&q);
	before = fx_count("SELECT count(*) FROM messages WHERE ticket_id = $1", f->t1);
	ok(send_call(p, &f->wcust2, obj2("ticketId", json_string(f->t1), "content", json_string("x")),
		     &q) == PD_E_NOT_FOUND &&
		   q.message == NULL && q.nev == 0,
	   "message:send: another customer's ticket is NOT_FOUND");
	dbq_send_clear(&q);
	ok(send_call(p, &f->wagentB,
		     obj2("ticketId", json_string(f->t1), "content", json_string("x")), &q) ==
		   PD_E_NOT_FOUND,
	   "message:send: another org's ticket is NOT_FOUND");
	dbq_send_clear(&q);
	ok(fx_count("SELECT count(*) FROM messages WHERE ticket_id = $1", f->t1) == before,
	   "message:send: refused sends stored nothing");
}

static int read_call(struct dbpool *p, const struct dbq_who *w, const char *ticket,
		     const char *message, struct dbq_read *q)
{
	int rc;
	dbq_read_clear(q);
	rc = dbq_read_prepare(q, w, ticket, message);
	if (rc == 1)
		return (int)q->err;
	return call(p, &L1, message != NULL ? dbq_read_message_job : dbq_read_ticket_job, q, NULL);
}

static void check_reads(struct dbpool *p, struct fixture *f)
{
	struct dbq_read q = {0};
	char *m2 = NULL, *m3 = NULL;
	char troom[64];

	snprintf(troom, sizeof(troom), "ticket:%s", f->t1);
	ok(read_call(p, &f->wagent1, NULL, LAST_MSG_ID, &q) == PD_OK && q.added == 1 &&
		   strcmp(q.ticket_id, f->t1) == 0 && strcmp(q.last_id, LAST_MSG_ID) == 0,
	   "chat:focus: a message marked read (new receipt)");
	ok(q.nev == 1 && q.event_id > 0 && q.ev[0].id == q.event_id &&
		   strcmp(q.ev[0].event, "message:read") == 0 && q.ev[0].nrooms == 1 &&
		   strcmp(q.ev[0].rooms[0], troom) == 0 &&
		   json_integer_value(json_object_get(q.ev[0].payload, "eventId")) == q.event_id &&
		   strcmp(json_string_value(json_object_get(q.ev[0].payload, "messageId")),
			  LAST_MSG_ID) == 0 &&
		   strcmp(json_string_value(json_object_get(q.ev[0].payload, "userId")), f->agent1) ==
			   0 &&
		   strcmp(json_string_value(json_object_get(q.ev[0].payload, "ticketId")), f->t1) == 0,
	   "chat:focus: message:read {ticketId, userId, messageId, eventId} in the outbox");
	ok(read_call(p, &f->wagent1, f->t1, LAST_MSG_ID, &q) == PD_OK && q.added == 0 &&
		   q.nev == 0 && q.event_id == 0,
	   "chat:focus: marking it again adds nothing, no event (ON CONFLICT DO NOTHING)");
	ok(read_call(p, &f->wagent1, f->t2, LAST_MSG_ID, &q) == PD_E_NOT_FOUND,
	   "chat:focus: a message of another ticket than the one named is NOT_FOUND");
	ok(read_call(p, &f->wcust2, NULL, LAST_MSG_ID, &q) == PD_E_NOT_FOUND,
	   "chat:focus: another customer cannot mark it (NOT_FOUND)");
	ok(read_call(p, &f->wagentB, NULL, LAST_MSG_ID, &q) == PD_E_NOT_FOUND,
	   "chat:focus: another org cannot mark it (NOT_FOUND)");
	ok(read_call(p, &f->wagent1, NULL, "zz", &q) == PD_E_NOT_FOUND,
	   "chat:focus: a malformed message id is NOT_FOUND");

	/* Two more messages from the customer, then "read all" for the agent. */
	{
		const char *pp[3] = {f->t1, f->orgA, f->cust1};
		free(fx("INSERT INTO messages (ticket_id, org_id, sender_id, content) "
			"VALUES ($1, $2, $3, 'two') RETURNING id",
			3, pp));
		m2 = fx("INSERT INTO messages (ticket_id, org_id, sender_id, content) "
			"VALUES ($1, $2, $3, 'three') RETURNING id",
			3, pp);
		const char *pa[3] = {f->t1, f->orgA, f->agent1};
		free(fx("INSERT INTO messages (ticket_id, org_id, sender_id, content) "
			"VALUES ($1, $2, $3, 'agent says') RETURNING id",
			3, pa));
		m3 = fx("SELECT id FROM messages WHERE ticket_id = $1 ORDER BY seq DESC LIMIT 1", 1,
			pp);
	}
	long long unread_for_agent = fx_count(
		"SELECT count(*) FROM messages m WHERE m.ticket_id = $1 AND m.sender_id <> (SELECT "
		"assignee_id FROM tickets WHERE id = $1) AND NOT EXISTS (SELECT 1 FROM message_reads r "
		"WHERE r.message_id = m.id AND r.user_id = (SELECT assignee_id FROM tickets WHERE id = "
		"$1))",
		f->t1);
	int rc = read_call(p, &f->wagent1, f->t1, NULL, &q);
	ok(rc == PD_OK && q.added == unread_for_agent &&
		   q.added >= 2 && m3 != NULL && strcmp(q.last_id, m3) == 0,
	   "chat:focus: mark all of the ticket read: %lld new, last message id returned",
	   q.added);
	ok(rc == PD_OK && q.nev == 1 &&
		   strcmp(json_string_value(json_object_get(q.ev[0].payload, "messageId")), m3) == 0,
	   "chat:focus: one message:read up to the newest message");
	{
		char ids[32];
		snprintf(ids, sizeof(ids), "%lld", q.event_id);
		ok(fx_count("SELECT count(*) FROM outbox WHERE id = $1::bigint AND event = "
			    "'message:read'",
			    ids) == 1,
		   "chat:focus: the event is committed with the receipts");
	}
	ok(read_call(p, &f->wagent1, f->t1, NULL, &q) == PD_OK && q.added == 0 &&
		   strcmp(q.last_id, m3) == 0 && q.nev == 0,
	   "chat:focus: again: nothing new, no event");
	ok(fx_count("SELECT count(*) FROM message_reads r JOIN messages m ON m.id = r.message_id "
		    "WHERE m.ticket_id = $1 AND r.user_id = m.sender_id",
		    f->t1) == 0,
	   "chat:focus: one's own messages get no receipt");
	ok(read_call(p, &f->wcust2, f->t1, NULL, &q) == PD_E_NOT_FOUND,
	   "chat:focus: read-all on another customer's ticket is NOT_FOUND");
	ok(read_call(p, &f->wagent1, f->t3, NULL, &q) == PD_OK && q.added == 0 && q.last_id[0] == 0,
	   "chat:focus: a ticket without messages: no last id");
	dbq_read_clear(&q);
	free(m2);
	free(m3);
}

static int notif_call(struct dbpool *p, const struct dbq_who *w, const char *id, dbpool_job_fn fn,
		      struct dbq_notif *q)
{
	int rc = dbq_notif_prepare(q, w, id);
	if (rc == 1)
		return (int)q->err;
	return call(p, &L1, fn, q, NULL);
}

static void check_notifications(struct dbpool *p, struct fixture *f)
{
	struct dbq_notif q;
	long long want = fx_count("SELECT count(*) FROM notifications WHERE user_id = $1 AND "
				  "read_at IS NULL",
				  f->agent1);
	char *nid = fx("SELECT id FROM notifications WHERE user_id = $1 AND read_at IS NULL LIMIT 1",
		       1, (const char *const[]){f->agent1});

	int rc = notif_call(p, &f->wagent1, NULL, dbq_notif_count_job, &q);
	ok(want >= 2 && rc == PD_OK && q.unread == want,
	   "notification:count: unread %lld", q.unread);
	dbq_notif_clear(&q);
	ok(notif_call(p, &f->wcust1, nid, dbq_notif_read_job, &q) == PD_E_NOT_FOUND,
	   "notification:markRead: another user's notification is NOT_FOUND");
	dbq_notif_clear(&q);
	rc = notif_call(p, &f->wagent1, nid, dbq_notif_read_job, &q);
	ok(rc == PD_OK && q.unread == want - 1 && q.nev == 1 &&
		   strcmp(q.ev[0].event, "notification:count") == 0,
	   "notification:markRead: new count %lld, notification:count event to publish",
	   q.unread);
	dbq_notif_clear(&q);
	ok(notif_call(p, &f->wagent1, nid, dbq_notif_read_job, &q) == PD_OK &&
		   q.unread == want - 1,
	   "notification:markRead: twice is harmless");
	dbq_notif_clear(&q);
	ok(notif_call(p, &f->wagent1, "nope", dbq_notif_read_job, &q) == PD_E_NOT_FOUND,
	   "notification:markRead: a malformed id is NOT_FOUND");
	dbq_notif_clear(&q);
	ok(notif_call(p, &f->wagent1, NULL, dbq_notif_read_all_job, &q) == PD_OK && q.unread == 0 &&
		   q.nev == 1 && json_integer_value(json_object_get(q.ev[0].payload, "unread")) == 0,
	   "notification:markAllRead: 0");
	dbq_notif_clear(&q);
	ok(notif_call(p, &f->wagent1, NULL, dbq_notif_count_job, &q) == PD_OK && q.unread == 0,
	   "notification:count after markAllRead: 0");
	dbq_notif_clear(&q);
	free(nid);
}

static void check_dashboard(struct dbpool *p, struct fixture *f)
{
	struct dbq_dashboard q;
	const char *pa[1] = {f->t2};
	int rc;

	free(fx("UPDATE tickets SET created_at = now() - interval '100 seconds' WHERE id = $1", 1, pa));
	rc = dbq_dashboard_prepare(&q, f->orgA);
	rc = rc == 0 ? call(p, &L2, dbq_dashboard_job, &q, NULL) : -1;
	ok(rc == PD_OK && q.open == 2 && q.pending == 1 && q.resolved == 0 && q.closed == 0,
	   "dashboard: tickets by status {open %lld, pending %lld, resolved %lld, closed %lld}",
	   q.open, q.pending, q.resolved, q.closed);
	ok(rc == PD_OK && q.unassigned == 1 && q.oldest_waiting_s >= 100 && q.oldest_waiting_s < 200,
	   "dashboard: queue {unassigned %lld, oldestWaitingSeconds %lld}", q.unassigned,
	   q.oldest_waiting_s);
	{
		int a = 0, b = 0;
		for (size_t i = 0; i < q.nstaff; i++) {
			a += strcmp(q.staff[i], f->agent1) == 0;
			b += strcmp(q.staff[i], f->admin1) == 0;
		}
		ok(q.nstaff == 2 && a == 1 && b == 1, "dashboard: the org's agents and admins");
	}
	{
		json_t *t = dbq_dashboard_tickets_json(&q), *u = dbq_dashboard_queue_json(&q);
		ok(json_integer_value(json_object_get(t, "open")) == 2 &&
			   json_integer_value(json_object_get(u, "oldestWaitingSeconds")) ==
				   q.oldest_waiting_s &&
			   json_object_size(t) == 4 && json_object_size(u) == 2,
		   "dashboard: metrics:tickets / metrics:queue JSON");
		json_decref(t);
		json_decref(u);
	}
	ok(WRONG_THREAD == 0 && LAST_LOOP == &L2, "a job for loop 2 is answered on loop 2's thread");
	dbq_dashboard_clear(&q);
	rc = dbq_dashboard_prepare(&q, f->orgB);
	rc = rc == 0 ? call(p, &L1, dbq_dashboard_job, &q, NULL) : -1;
	ok(rc == PD_OK && q.open == 0 && q.unassigned == 0 && q.oldest_waiting_s == 0 &&
		   q.nstaff == 1 && strcmp(q.staff[0], f->agentB) == 0,
	   "dashboard: an org without tickets: zeros, oldestWaitingSeconds 0");
	dbq_dashboard_clear(&q);
}

static void check_members(struct dbpool *p, struct fixture *f)
{
	struct dbq_members q;
	json_t *ids = json_pack("[s,s,s,s]", f->cust1, f->agentB, "junk", f->admin1);
	int rc = dbq_members_prepare(&q, f->orgA, ids);
	rc = rc == 0 ? call(p, &L1, dbq_members_job, &q, NULL) : -1;
	ok(rc == PD_OK && q.nids == 4 && q.member[0] == 1 && q.member[1] == 0 && q.member[2] == 0 &&
		   q.member[3] == 1 && q.nmembers == 2,
	   "presence:subscribe: same-org check per id");
	dbq_members_clear(&q);
	json_decref(ids);
	ids = json_array();
	ok(dbq_members_prepare(&q, f->orgA, ids) == 1 && q.err == PD_E_BAD_REQUEST,
	   "presence:subscribe: an empty list is BAD_REQUEST");
	dbq_members_clear(&q);
	json_decref(ids);
}

static void check_outbox(struct dbpool *p, const long long *ids, size_t n)
{
	struct dbq_outbox_mark q = {0};
	memcpy(q.ids, ids, n * sizeof(*ids));
	q.n = n;
	int rc = call(p, &L1, dbq_outbox_mark_job, &q, NULL);
	char arr[256];
	size_t off = 0;
	off += (size_t)snprintf(arr, sizeof(arr), "{");
	for (size_t i = 0; i < n && off < sizeof(arr) - 24; i++)
		off += (size_t)snprintf(arr + off, sizeof(arr) - off, "%s%lld", i ? "," : "", ids[i]);
	snprintf(arr + off, sizeof(arr) - off, "}");
	/* the relay (under tests/run) may have taken some first: all are marked
	 * now, and the job marked at most the rest */
	ok(rc == PD_OK && n > 0 && q.marked <= (long long)n &&
		   fx_count("SELECT count(*) FROM outbox WHERE id = ANY($1::bigint[]) AND "
			    "published_at IS NOT NULL",
			    arr) == (long long)n,
	   "outbox: the events marked published (%lld by the job)", q.marked);
	ok(call(p, &L1, dbq_outbox_mark_job, &q, NULL) == PD_OK && q.marked == 0,
	   "outbox: marking again changes nothing (the relay's rows are not re-marked)");
}

static void check_pool_limits(const char *url, struct fixture *f)
{
	struct dbpool_opts o = {.url = url, .nthreads = 1, .queue_max = 2};
	/* long enough that a loop held by it would answer far past the bound
	 * below (under ASan on a loaded machine too) */
	struct sleep_job s = {1.5}, quick = {0};
	int err;
	struct dbpool *p = dbpool_new(&o, &err);
	long n0 = ndone();
	int r1, r2, r3, r4;
	unsigned long long t_post = 0, t_posted, t0;

	(void)f;
	if (p == NULL) {
		ok(0, "pool with queue_max 2 starts");
		return;
	}
	r1 = dbpool_submit(p, &L1, sleep_run, on_done, &s);
	/* the thread took it: the queue is empty again (polled: a fixed 150 ms
	 * was not always enough for the thread to start under load) */
	for (int i = 0; i < 500; i++) {
		struct dbpool_stats st;
		dbpool_get_stats(p, &st);
		if (st.queued == 0)
			break;
		sleep_ms(10);
	}
	r2 = dbpool_submit(p, &L1, sleep_run, on_done, &quick);
	r3 = dbpool_submit(p, &L1, sleep_run, on_done, &quick);
	r4 = dbpool_submit(p, &L1, sleep_run, on_done, &quick);
	ok(r1 == 0 && r2 == 0 && r3 == 0 && r4 == -EAGAIN, "submit: -EAGAIN when the queue is full");
	/* While a DB thread waits on PostgreSQL, the loop answers at once. */
	t0 = now_ms();
	loop_post(&L1, posted, &t_post);
	/* the answer, or 800 ms: a loop held by the job answers only when it
	 * ends (1.5 s); a fixed 100 ms missed a loop thread scheduled late */
	for (;;) {
		pthread_mutex_lock(&MU);
		t_posted = t_post;
		pthread_mutex_unlock(&MU);
		if (t_posted != 0 || now_ms() - t0 >= 800)
			break;
		sleep_ms(5);
	}
	ok(t_posted != 0 && t_posted - t0 < 800,
	   "the loop keeps running while a job waits on the database (%llu ms)",
	   t_posted != 0 ? t_posted - t0 : 0ULL);
	ok(wait_done(n0 + 3, 10), "every accepted job answered once");
	{
		struct dbpool_stats st;
		dbpool_get_stats(p, &st);
		ok(st.submitted == 3 && st.refused == 1 && st.completed == 3 && st.queued == 0,
		   "stats: submitted 3, refused 1, completed 3");
	}
	/* shutdown with work queued: the running job ends, the queued ones are
	 * answered UNAVAILABLE without running, later submits refused. */
	n0 = ndone();
	s.secs = 0.3;
	dbpool_submit(p, &L1, sleep_run, on_done, &s);
	sleep_ms(100);
	dbpool_submit(p, &L1, sleep_run, on_done, &quick);
	dbpool_submit(p, &L1, sleep_run, on_done, &quick);
	t0 = now_ms();
	dbpool_shutdown(p);
	ok(now_ms() - t0 < 2000 && wait_done(n0 + 3, 5) && ndone() == n0 + 3,
	   "shutdown: cancels the running statement, answers the queued jobs, joins (%llu ms)",
	   now_ms() - t0);
	ok(dbpool_submit(p, &L1, sleep_run, on_done, &quick) == -ESHUTDOWN,
	   "submit after shutdown: -ESHUTDOWN");
	dbpool_free(p);

	/* statement_timeout applies to the pool's connections */
	struct dbpool_opts o2 = {.url = url, .nthreads = 1, .statement_timeout_ms = 200};
	p = dbpool_new(&o2, &err);
	if (p == NULL) {
		ok(0, "pool with statement_timeout starts");
		return;
	}
	{
		struct sleep_job longer = {3.0};
		unsigned long long ms = 0;
		int st = call(p, &L1, sleep_run, &longer, &ms);
		ok(st == PD_E_UNAVAILABLE && ms < 2500,
		   "statement_timeout (200 ms): a long statement fails UNAVAILABLE in %llu ms", ms);
		ok(call(p, &L1, sleep_run, &quick, NULL) == PD_OK,
		   "the connection is still good after a timeout");
	}
	{
		char *app = fx("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
			       "'pushdesk-broker'",
			       0, NULL);
		ok(app != NULL && atoi(app) >= 1, "connections carry application_name=pushdesk-broker");
		free(app);
	}
	dbpool_free(p);
	{
		struct dbpool_opts bad = {.url = url, .nthreads = 0};
		ok(dbpool_new(&bad, &err) == NULL && err == -EINVAL, "dbpool_new: 0 threads is -EINVAL");
	}
}

static int run_cmd(const char *env)
{
	const char *cmd = getenv(env);
	int rc;
	if (cmd == NULL || cmd[0] == '\0') {
		printf("# %s is not set\n", env);
		return -1;
	}
	fflush(stdout);
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

static void check_outage(struct dbpool *p, struct fixture *f)
{
	struct sleep_job s = {3.0}; /* under the pool's statement_timeout (5 s) */
	long n0 = ndone();
	unsigned long long worst = 0, t0;
	int all_unavail = 1, st, cached;
	struct dbq_grants *g = NULL; /* no cache: every check hits the database */

	PQfinish(FX);
	FX = NULL;
	/* a statement running when PostgreSQL goes down fails, it does not hang */
	ok(dbpool_submit(p, &L1, sleep_run, on_done, &s) == 0, "outage: a 3 s statement in flight");
	sleep_ms(300);
	t0 = now_ms();
	ok(run_cmd("DBPOOL_STOP_CMD") == 0, "outage: PostgreSQL stopped");
	{
		int got = wait_done(n0 + 1, 10);
		unsigned long long ms = now_ms() - t0;
		pthread_mutex_lock(&MU);
		got = got && LAST_ARG == &s && LAST_ST == PD_E_UNAVAILABLE;
		pthread_mutex_unlock(&MU);
		ok(got && ms < 2500, "outage: the in-flight job is answered UNAVAILABLE (%llu ms)", ms);
	}
	for (int i = 0; i < 6; i++) {
		unsigned long long ms = 0;
		struct dbq_access q;
		dbq_access_prepare(&q, &f->wagent1, f->t1, g);
		st = call(p, &L1, dbq_access_job, &q, &ms);
		if (st != PD_E_UNAVAILABLE)
			all_unavail = 0;
		if (ms > worst)
			worst = ms;
		sleep_ms(100);
	}
	ok(all_unavail, "outage: jobs fail with UNAVAILABLE (database unavailable)");
	ok(worst < 1500, "outage: and fast (slowest %llu ms)", worst);
	ok(!dbpool_up(p), "outage: dbpool_up() is 0");
	(void)cached;

	ok(run_cmd("DBPOOL_START_CMD") == 0, "outage: PostgreSQL started again");
	t0 = now_ms();
	st = -1;
	while (now_ms() - t0 < 15000) {
		struct dbq_access q;
		dbq_access_prepare(&q, &f->wagent1, f->t1, g);
		st = call(p, &L1, dbq_access_job, &q, NULL);
		if (st == PD_OK)
			break;
		sleep_ms(100);
	}
	ok(st == PD_OK, "recovery: jobs succeed again after %llu ms", now_ms() - t0);
	{
		/* every thread reconnected: a burst of jobs all succeed */
		int good = 0;
		struct dbq_access qs[8];
		long n1 = ndone();
		for (int i = 0; i < 8; i++) {
			dbq_access_prepare(&qs[i], &f->wagent1, f->t1, g);
			if (dbpool_submit(p, i % 2 ? &L2 : &L1, dbq_access_job, on_done, &qs[i]) != 0)
				qs[i].err = PD_E_INTERNAL;
		}
		wait_done(n1 + 8, 20);
		for (int i = 0; i < 8; i++)
			good += qs[i].err == PD_OK;
		ok(good == 8 && WRONG_THREAD == 0, "recovery: a burst on both loops all succeed (%d/8)",
		   good);
	}
	ok(dbpool_up(p), "recovery: dbpool_up() is 1");
}

int main(void)
{
	const char *url = getenv("PD_DATABASE_URL");
	char tag[32];
	struct fixture f = {0};
	struct dbpool *p;
	int err;

	pd_log_init("dbpool_driver", getenv("DBPOOL_DEBUG") ? LOG_DEBUG : LOG_ERR, PD_LOG_STDERR);
	if (url == NULL || url[0] == '\0') {
		fprintf(stderr, "PD_DATABASE_URL is not set\n");
		return 2;
	}
	FX = PQconnectdb(url);
	if (PQstatus(FX) != CONNECTION_OK) {
		fprintf(stderr, "fixture connection: %s", PQerrorMessage(FX));
		return 2;
	}
	snprintf(tag, sizeof(tag), "%ld-%d", (long)time(NULL), (int)getpid());
	{
		const char *pa[1] = {"dbpool A"}, *pb[1] = {"dbpool B"};
		f.orgA = fx("INSERT INTO organizations (name) VALUES ($1) RETURNING id", 1, pa);
		f.orgB = fx("INSERT INTO organizations (name) VALUES ($1) RETURNING id", 1, pb);
	}
	f.cust1 = mk_user(f.orgA, "customer", "cust1", tag);
	f.cust2 = mk_user(f.orgA, "customer", "cust2", tag);
	f.agent1 = mk_user(f.orgA, "agent", "agent1", tag);
	f.admin1 = mk_user(f.orgA, "admin", "admin1", tag);
	f.agentB = mk_user(f.orgB, "agent", "agentB", tag);
	f.t1 = mk_ticket(f.orgA, f.cust1, f.agent1, "open");
	f.t2 = mk_ticket(f.orgA, f.cust2, NULL, "open");
	f.t3 = mk_ticket(f.orgA, f.cust1, NULL, "pending");
	if (dbq_who_set(&f.wcust1, f.cust1, f.orgA, "customer") != 0 ||
	    dbq_who_set(&f.wcust2, f.cust2, f.orgA, "customer") != 0 ||
	    dbq_who_set(&f.wagent1, f.agent1, f.orgA, "agent") != 0 ||
	    dbq_who_set(&f.wadmin1, f.admin1, f.orgA, "admin") != 0 ||
	    dbq_who_set(&f.wagentB, f.agentB, f.orgB, "agent") != 0) {
		fprintf(stderr, "dbq_who_set failed\n");
		return 2;
	}
	{
		struct dbq_who w;
		ok(dbq_who_set(&w, f.cust1, f.orgA, "root") == -EINVAL &&
			   dbq_who_set(&w, "x", f.orgA, "agent") == -EINVAL,
		   "dbq_who_set refuses an unknown role or a malformed id");
	}

	if (loop_init(&L1, 0) != 0 || loop_init(&L2, 1) != 0) {
		fprintf(stderr, "loop_init failed\n");
		return 2;
	}
	pthread_create(&T1, NULL, loop_thread, &L1);
	pthread_create(&T2, NULL, loop_thread, &L2);

	{
		struct dbpool_opts o = {.url = url, .nthreads = 2, .statement_timeout_ms = 5000,
					.backoff_min_ms = 100, .backoff_max_ms = 1000};
		p = dbpool_new(&o, &err);
	}
	if (p == NULL) {
		ok(0, "dbpool_new: %s", strerror(-err));
		return 1;
	}
	{
		unsigned long long t0 = now_ms();
		while (now_ms() - t0 < 10000) {
			struct dbpool_stats st;
			dbpool_get_stats(p, &st);
			if (st.connected == 2)
				break;
			sleep_ms(50);
		}
		struct dbpool_stats st;
		dbpool_get_stats(p, &st);
		ok(st.connected == 2, "pool: both threads connected");
	}

	long long ev[PD_STORE_MAX_EVENTS];
	size_t nev = 0;
	check_access(p, &f);
	check_send(p, &f, ev, &nev);
	check_reads(p, &f);
	check_notifications(p, &f);
	check_dashboard(p, &f);
	check_members(p, &f);
	check_outbox(p, ev, nev);
	check_pool_limits(url, &f);
	if (getenv("DBPOOL_STOP_CMD") != NULL)
		check_outage(p, &f);
	else
		ok(0, "outage test: DBPOOL_STOP_CMD / DBPOOL_START_CMD not set");

	dbpool_free(p);
	loop_post(&L1, stop_fn, NULL);
	loop_post(&L2, stop_fn, NULL);
	pthread_join(T1, NULL);
	pthread_join(T2, NULL);
	loop_fini(&L1);
	loop_fini(&L2);
	if (FX != NULL)
		PQfinish(FX);
	free(LAST_MSG_ID);
	free(f.orgA), free(f.orgB), free(f.cust1), free(f.cust2), free(f.agent1);
	free(f.admin1), free(f.agentB), free(f.t1), free(f.t2), free(f.t3);
	printf("1..%d\n", T);
	return FAILED ? 1 : 0;
}
