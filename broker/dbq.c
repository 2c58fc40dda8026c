/* dbq: the broker's queries, run as dbpool jobs. Inputs are copied into the
 * request struct on the loop thread; the job touches only that struct and
 * its PGconn; writes go through pd_store so that the broker and the API
 * produce the same rows and the same outbox events. */
#include "dbq.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pd_buf.h"
#include "pd_db.h"
#include "pd_emitter.h"
#include "pd_json.h"
#include "pd_jwt.h"
#include "pd_log.h"

static unsigned long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

/* Copy a UUID lower-cased into out (DBQ_ID bytes). 0, or -1 if s is not one. */
static int copy_uuid(char *out, const char *s)
{
	if (!pd_uuid_valid(s))
		return -1;
	for (int i = 0; i < 36; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[36] = '\0';
	return 0;
}

static enum pd_err answer(enum pd_err *err, char *msg, enum pd_err e, const char *text)
{
	*err = e;
	snprintf(msg, DBQ_MSG, "%s", text != NULL ? text : "");
	return e;
}

int dbq_who_set(struct dbq_who *w, const char *sub, const char *org, const char *role)
{
	memset(w, 0, sizeof(*w));
	if (copy_uuid(w->id, sub) != 0 || copy_uuid(w->org, org) != 0 || !pd_role_valid(role))
		return -EINVAL;
	snprintf(w->role, sizeof(w->role), "%s", role);
	return 0;
}

/* ---- grant cache ---- */

#define GRANT_BUCKETS 4096
#define GRANT_KEY (DBQ_ID * 3 + DBQ_ROLE)

struct grant {
	struct grant *next;
	unsigned long long expires;
	char key[GRANT_KEY];
};

struct dbq_grants {
	pthread_mutex_t mu;
	long ttl_ms;
	size_t max, n;
	struct grant *b[GRANT_BUCKETS];
};

static size_t grant_key(char *key, const char *ticket, const struct dbq_who *w)
{
	int n = snprintf(key, GRANT_KEY, "%s|%s|%s|%s", ticket, w->id, w->org, w->role);
	return n < 0 ? 0 : (size_t)n;
}

static size_t grant_hash(const char *k)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *k != '\0'; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ull;
	}
	return (size_t)(h & (GRANT_BUCKETS - 1));
}

struct dbq_grants *dbq_grants_new(long ttl_ms, size_t max_entries)
{
	struct dbq_grants *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	pthread_mutex_init(&g->mu, NULL);
	g->ttl_ms = ttl_ms < 0 ? 0 : ttl_ms;
	g->max = max_entries ? max_entries : 65536;
	return g;
}

/* Drop expired entries (all of them with all != 0). Under g->mu. */
static void grants_sweep(struct dbq_grants *g, unsigned long long now, int all)
{
	for (size_t i = 0; i < GRANT_BUCKETS; i++) {
		struct grant **pp = &g->b[i];
		while (*pp != NULL) {
			struct grant *e = *pp;
			if (all || e->expires <= now) {
				*pp = e->next;
				free(e);
				g->n--;
			} else {
				pp = &e->next;
			}
		}
	}
}

void dbq_grants_free(struct dbq_grants *g)
{
	if (g == NULL)
		return;
	grants_sweep(g, 0, 1);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

int dbq_grants_check(struct dbq_grants *g, const char *ticket, const struct dbq_who *w)
{
	char key[GRANT_KEY];
	unsigned long long now = mono_ms();
	int hit = 0;

	if (g == NULL || g->ttl_ms == 0)
		return 0;
	grant_key(key, ticket, w);
	pthread_mutex_lock(&g->mu);
	for (struct grant *e = g->b[grant_hash(key)]; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			hit = e->expires > now;
			break;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return hit;
}

void dbq_grants_put(struct dbq_grants *g, const char *ticket, const struct dbq_who *w)
{
	char key[GRANT_KEY];
	unsigned long long now = mono_ms();
	struct grant *e;
	size_t h;

	if (g == NULL || g->ttl_ms == 0)
		return;
	grant_key(key, ticket, w);
	h = grant_hash(key);
	pthread_mutex_lock(&g->mu);
	for (e = g->b[h]; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			e->expires = now + (unsigned long long)g->ttl_ms;
			pthread_mutex_unlock(&g->mu);
			return;
		}
	}
	if (g->n >= g->max) {
		grants_sweep(g, now, 0);
		if (g->n >= g->max) /* all live: start over rather than grow */
			grants_sweep(g, now, 1);
	}
	if ((e = malloc(sizeof(*e))) != NULL) {
		memcpy(e->key, key, sizeof(key));
		e->expires = now + (unsigned long long)g->ttl_ms;
		e->next = g->b[h];
		g->b[h] = e;
		g->n++;
	}
	pthread_mutex_unlock(&g->mu);
}

size_t dbq_grants_count(struct dbq_grants *g)
{
	size_t n;
	pthread_mutex_lock(&g->mu);
	n = g->n;
	pthread_mutex_unlock(&g->mu);
	return n;
}

/* ---- ticket access ---- */

int dbq_access_prepare(struct dbq_access *q, const struct dbq_who *w, const char *ticket_id,
		       struct dbq_grants *grants)
{
	memset(q, 0, sizeof(*q));
	q->who = *w;
	q->grants = grants;
	if (ticket_id == NULL || copy_uuid(q->ticket, ticket_id) != 0) {
		answer(&q->err, q->msg, PD_E_NOT_FOUND, "ticket not found");
		return 1;
	}
	if (dbq_grants_check(grants, q->ticket, w)) {
		q->cached = 1;
		answer(&q->err, q->msg, PD_OK, NULL);
		return 1;
	}
	return 0;
}

enum pd_err dbq_access_job(PGconn *c, void *arg)
{
	struct dbq_access *q = arg;
	const char *p[4] = {q->ticket, q->who.org, q->who.id, q->who.role};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = pd_db_exec(c,
				 "SELECT 1 FROM tickets WHERE id = $1::uuid AND org_id = $2::uuid "
				 "AND ($4::text <> 'customer' OR customer_id = $3::uuid)",
				 4, p, &e);
	if (r == NULL)
		return answer(&q->err, q->msg, e, NULL);
	e = PQntuples(r) > 0 ? PD_OK : PD_E_NOT_FOUND;
	PQclear(r);
	if (e == PD_OK)
		dbq_grants_put(q->grants, q->ticket, &q->who);
	return answer(&q->err, q->msg, e, e == PD_OK ? NULL : "ticket not found");
}

/* ---- outbox rows ---- */

void dbq_event_emit(const struct dbq_event *e, struct pd_emit *out)
{
	memset(out, 0, sizeof(*out));
	out->nsp = e->nsp;
	out->event = e->event;
	out->payload = e->payload;
	out->rooms = e->rooms;
	out->nrooms = e->nrooms;
	out->except = e->except;
	out->nexcept = e->nexcept;
}

void dbq_events_free(struct dbq_event *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].rooms);
		free(v[i].strings);
		json_decref(v[i].payload);
	}
	free(v);
}

static int ids_param(struct pd_buf *b, const long long *ids, size_t n)
{
	int rc = pd_buf_append_str(b, "{");
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = pd_buf_printf(b, "%s%lld", i > 0 ? "," : "", ids[i]);
	return rc == 0 ? pd_buf_append_str(b, "}") : rc;
}

/* The outbox columns event_from_row reads, in order. */
#define OUTBOX_COLS                                                                               \
	"id, namespace, event, array_to_json(rooms)::text, array_to_json(except_rooms)::text, " \
	"payload::text"

/* Build one event from the OUTBOX_COLS of a row, starting at column off.
 * 0 or -1. */
static int event_from_row(const PGresult *r, int row, int off, struct dbq_event *e)
{
	char err[128];
	const char *nsp = PQgetvalue(r, row, off + 1), *ev = PQgetvalue(r, row, off + 2);
	const char *rs = PQgetvalue(r, row, off + 3), *es = PQgetvalue(r, row, off + 4),
		   *ps = PQgetvalue(r, row, off + 5);
	json_t *rooms = pd_json_parse(rs, strlen(rs), err, sizeof(err));
	json_t *exc = pd_json_parse(es, strlen(es), err, sizeof(err));
	size_t len = strlen(nsp) + strlen(ev) + 2, k = 0;
	json_t *arr[2] = {rooms, exc};
	char *s;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	e->id = strtoll(PQgetvalue(r, row, off), NULL, 10);
	if (rooms == NULL || exc == NULL || !json_is_array(rooms) || !json_is_array(exc))
		goto out;
	for (int a = 0; a < 2; a++) {
		size_t i;
		json_t *x;
		json_array_foreach(arr[a], i, x)
		{
			if (!json_is_string(x))
				goto out;
			len += json_string_length(x) + 1;
		}
	}
	e->nrooms = json_array_size(rooms);
	e->nexcept = json_array_size(exc);
	e->strings = malloc(len);
	e->rooms = calloc(e->nrooms + e->nexcept + 1, sizeof(*e->rooms));
	e->payload = pd_json_parse(ps, strlen(ps), err, sizeof(err));
	if (e->strings == NULL || e->rooms == NULL || e->payload == NULL)
		goto out;
	s = e->strings;
	e->nsp = s;
	s = stpcpy(s, nsp) + 1;
	e->event = s;
	s = stpcpy(s, ev) + 1;
	for (int a = 0; a < 2; a++) {
		size_t i;
		json_t *x;
		json_array_foreach(arr[a], i, x)
		{
			e->rooms[k++] = s;
			s = stpcpy(s, json_string_value(x)) + 1;
		}
	}
	e->except = e->rooms + e->nrooms;
	rc = 0;
out:
	json_decref(rooms);
	json_decref(exc);
	if (rc != 0) {
		free(e->rooms);
		free(e->strings);
		json_decref(e->payload);
		memset(e, 0, sizeof(*e));
	}
	return rc;
}

/* Read back committed outbox rows, in id order. On failure *out stays NULL
 * and *nout 0: the relay publishes them. */
static void fetch_events(PGconn *c, const long long *ids, size_t n, struct dbq_event **out,
			 size_t *nout)
{
	struct pd_buf b;
	PGresult *r = NULL;
	struct dbq_event *v = NULL;
	size_t k = 0;
	int rows;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return;
	pd_buf_init(&b, 0);
	if (ids_param(&b, ids, n) != 0)
		goto out;
	{
		const char *p[1] = {b.data};
		r = pd_db_exec(c,
			       "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ANY($1::bigint[]) "
			       "ORDER BY id",
			       1, p, NULL);
	}
	if (r == NULL || (rows = PQntuples(r)) == 0)
		goto out;
	if ((v = calloc((size_t)rows, sizeof(*v))) == NULL)
		goto out;
	for (int i = 0; i < rows; i++) {
		if (event_from_row(r, i, 0, &v[k]) != 0) {
			dbq_events_free(v, k);
			v = NULL;
			k = 0;
			goto out;
		}
		k++;
	}
	*out = v;
	*nout = k;
out:
	if (*nout < n)
		pd_log(LOG_WARNING, "dbq: %zu of %zu outbox events not read back: left to the relay",
		       n - *nout, n);
	PQclear(r);
	pd_buf_free(&b);
}

/* ---- message:send ---- */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int dbq_send_prepare(struct dbq_send *q, const struct dbq_who *w, const json_t *payload)
{
	const json_t *tid, *ct;
	size_t n;

	memset(q, 0, sizeof(*q));
	q->who = *w;
	if (!json_is_object(payload)) {
		answer(&q->err, q->msg, PD_E_BAD_REQUEST, "payload must be an object {ticketId, content}");
		return 1;
	}
	tid = json_object_get(payload, "ticketId");
	ct = json_object_get(payload, "content");
	if (!json_is_string(tid)) {
		answer(&q->err, q->msg, PD_E_BAD_REQUEST, "ticketId is required: a ticket id");
		return 1;
	}
	if (!json_is_string(ct) || strlen(json_string_value(ct)) != json_string_length(ct) ||
	    (n = utf8_chars(json_string_value(ct))) < 1 || n > DBQ_MAX_CONTENT) {
		answer(&q->err, q->msg, PD_E_BAD_REQUEST,
		       "content must be a string of 1..20000 characters");
		return 1;
	}
	if (copy_uuid(q->ticket, json_string_value(tid)) != 0) {
		answer(&q->err, q->msg, PD_E_NOT_FOUND, "ticket not found");
		return 1;
	}
	if ((q->content = strdup(json_string_value(ct))) == NULL)
		return -ENOMEM;
	q->err = PD_E_UNAVAILABLE;
	return 0;
}

enum pd_err dbq_send_job(PGconn *c, void *arg)
{
	struct dbq_send *q = arg;
	struct pd_actor a = {q->who.id, q->who.org, q->who.role};
	struct pd_store_out o;
	enum pd_err e = pd_store_message_create(c, &a, q->ticket, q->content, &o);

	if (e != PD_OK) {
		answer(&q->err, q->msg, e, o.msg);
		pd_store_out_free(&o);
		return e;
	}
	q->message = o.obj;
	o.obj = NULL;
	memcpy(q->events, o.events, sizeof(q->events));
	q->nevents = o.nevents;
	snprintf(q->customer_id, sizeof(q->customer_id), "%.36s", o.customer_id);
	snprintf(q->assignee_id, sizeof(q->assignee_id), "%.36s", o.assignee_id);
	pd_store_out_free(&o);
	fetch_events(c, q->events, q->nevents, &q->ev, &q->nev);
	return answer(&q->err, q->msg, PD_OK, NULL);
}

void dbq_send_clear(struct dbq_send *q)
{
	free(q->content);
	json_decref(q->message);
	dbq_events_free(q->ev, q->nev);
	memset(q, 0, sizeof(*q));
}

/* ---- read receipts ---- */

int dbq_read_prepare(struct dbq_read *q, const struct dbq_who *w, const char *ticket_id,
		     const char *message_id)
{
	memset(q, 0, sizeof(*q));
	q->who = *w;
	if ((ticket_id == NULL && message_id == NULL) ||
	    (ticket_id != NULL && copy_uuid(q->ticket, ticket_id) != 0)) {
		answer(&q->err, q->msg, PD_E_NOT_FOUND, "ticket not found");
		return 1;
	}
	if (message_id != NULL && copy_uuid(q->message, message_id) != 0) {
		answer(&q->err, q->msg, PD_E_NOT_FOUND, "message not found");
		return 1;
	}
	q->err = PD_E_UNAVAILABLE;
	return 0;
}

/* The message:read event of a receipt, from the OUTBOX_COLS at column off
 * (all NULL when nothing was new). */
static void read_event(const PGresult *r, int off, struct dbq_read *q)
{
	if (PQgetisnull(r, 0, off))
		return;
	if ((q->ev = calloc(1, sizeof(*q->ev))) != NULL && event_from_row(r, 0, off, q->ev) == 0) {
		q->nev = 1;
		q->event_id = q->ev->id;
		return;
	}
	free(q->ev);
	q->ev = NULL;
	q->event_id = strtoll(PQgetvalue(r, 0, off), NULL, 10);
	pd_log(LOG_WARNING, "dbq: message:read event %lld not decoded: left to the relay",
	       q->event_id);
}

/* The outbox row of message:read {ticketId, userId, messageId, eventId} to
 * ticket:<id>, written in the same statement as the receipts, only when one
 * was new: CTE m(ticket, message) and i (new receipts) must exist; $2 org,
 * $3 user. */
#define READ_OUTBOX                                                                               \
	"o AS (INSERT INTO outbox (id, org_id, event, rooms, payload) "                          \
	"SELECT n.id, $2::uuid, 'message:read', ARRAY['ticket:' || x.ticket::text], "            \
	"jsonb_build_object('ticketId', x.ticket, 'userId', $3::uuid, 'messageId', x.message, "  \
	"'eventId', n.id) FROM x CROSS JOIN LATERAL (SELECT nextval('outbox_id_seq') AS id) n "  \
	"WHERE EXISTS (SELECT 1 FROM i) RETURNING " OUTBOX_COLS ") "

enum pd_err dbq_read_message_job(PGconn *c, void *arg)
{
	struct dbq_read *q = arg;
	const char *p[5] = {q->message, q->who.org, q->who.id, q->who.role,
			    q->ticket[0] != '\0' ? q->ticket : NULL};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r;

	dbq_read_clear_out(q);
	if (q->message[0] == '\0')
		return answer(&q->err, q->msg, PD_E_NOT_FOUND, "message not found");
	/* One statement, so one transaction: receipt and event commit together. */
	r = pd_db_exec(c,
		       "WITH x AS (SELECT m.id AS message, m.ticket_id AS ticket FROM messages m "
		       "JOIN tickets t ON t.id = m.ticket_id WHERE m.id = $1::uuid "
		       "AND t.org_id = $2::uuid AND ($4::text <> 'customer' OR t.customer_id = $3::uuid) "
		       "AND ($5::uuid IS NULL OR m.ticket_id = $5::uuid)), "
		       "i AS (INSERT INTO message_reads (message_id, user_id) "
		       "SELECT message, $3::uuid FROM x ON CONFLICT DO NOTHING RETURNING 1), "
		       READ_OUTBOX
		       "SELECT x.ticket, (SELECT count(*) FROM i), o.* FROM x LEFT JOIN o ON true",
		       5, p, &e);
	if (r == NULL)
		return answer(&q->err, q->msg, e, NULL);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return answer(&q->err, q->msg, PD_E_NOT_FOUND, "message not found");
	}
	snprintf(q->ticket_id, sizeof(q->ticket_id), "%s", PQgetvalue(r, 0, 0));
	snprintf(q->last_id, sizeof(q->last_id), "%s", q->message);
	q->added = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	read_event(r, 2, q);
	PQclear(r);
	return answer(&q->err, q->msg, PD_OK, NULL);
}

enum pd_err dbq_read_ticket_job(PGconn *c, void *arg)
{
	struct dbq_read *q = arg;
	const char *p[4] = {q->ticket, q->who.org, q->who.id, q->who.role};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r;
	const char *last;

	dbq_read_clear_out(q);
	if (q->ticket[0] == '\0')
		return answer(&q->err, q->msg, PD_E_NOT_FOUND, "ticket not found");
	/* One statement: the receipts, the newest message and the event see one
	 * snapshot ("up to now" is the statement's start) and commit together. */
	r = pd_db_exec(c,
		       "WITH t AS (SELECT id FROM tickets WHERE id = $1::uuid AND org_id = $2::uuid "
		       "AND ($4::text <> 'customer' OR customer_id = $3::uuid)), "
		       "i AS (INSERT INTO message_reads (message_id, user_id) "
		       "SELECT m.id, $3::uuid FROM messages m JOIN t ON m.ticket_id = t.id "
		       "WHERE m.sender_id <> $3::uuid AND NOT EXISTS (SELECT 1 FROM message_reads r "
		       "WHERE r.message_id = m.id AND r.user_id = $3::uuid) "
		       "ON CONFLICT DO NOTHING RETURNING 1), "
		       "x AS (SELECT m.id AS message, m.ticket_id AS ticket FROM messages m "
		       "JOIN t ON m.ticket_id = t.id ORDER BY m.seq DESC LIMIT 1), "
		       READ_OUTBOX
		       "SELECT (SELECT message FROM x), (SELECT count(*) FROM i), o.* "
		       "FROM t LEFT JOIN o ON true",
		       4, p, &e);
	if (r == NULL)
		return answer(&q->err, q->msg, e, NULL);
	if (PQntuples(r) == 0) {
		PQclear(r);
		return answer(&q->err, q->msg, PD_E_NOT_FOUND, "ticket not found");
	}
	last = pd_db_get(r, 0, 0);
	snprintf(q->last_id, sizeof(q->last_id), "%s", last != NULL ? last : "");
	snprintf(q->ticket_id, sizeof(q->ticket_id), "%s", q->ticket);
	q->added = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	read_event(r, 2, q);
	PQclear(r);
	return answer(&q->err, q->msg, PD_OK, NULL);
}

void dbq_read_clear_out(struct dbq_read *q)
{
	dbq_events_free(q->ev, q->nev);
	q->ev = NULL;
	q->nev = 0;
	q->event_id = 0;
}

void dbq_read_clear(struct dbq_read *q)
{
	dbq_events_free(q->ev, q->nev);
	memset(q, 0, sizeof(*q));
}

/* ---- notifications ---- */

int dbq_notif_prepare(struct dbq_notif *q, const struct dbq_who *w, const char *id)
{
	memset(q, 0, sizeof(*q));
	q->who = *w;
	if (id != NULL && copy_uuid(q->id, id) != 0) {
		answer(&q->err, q->msg, PD_E_NOT_FOUND, "notification not found");
		return 1;
	}
	q->err = PD_E_UNAVAILABLE;
	return 0;
}

static enum pd_err notif_count(PGconn *c, struct dbq_notif *q)
{
	const char *p[2] = {q->who.id, q->who.org};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = pd_db_exec(c,
				 "SELECT count(*) FROM notifications WHERE user_id = $1::uuid "
				 "AND org_id = $2::uuid AND read_at IS NULL",
				 2, p, &e);
	if (r == NULL)
		return answer(&q->err, q->msg, e, NULL);
	q->unread = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return answer(&q->err, q->msg, PD_OK, NULL);
}

enum pd_err dbq_notif_count_job(PGconn *c, void *arg)
{
	return notif_count(c, arg);
}

static enum pd_err notif_read(PGconn *c, struct dbq_notif *q, const char *id)
{
	struct pd_actor a = {q->who.id, q->who.org, q->who.role};
	struct pd_store_out o;
	enum pd_err e = pd_store_notification_read(c, &a, id, &o);
	int have = 0;

	if (e != PD_OK) {
		answer(&q->err, q->msg, e, o.msg);
		pd_store_out_free(&o);
		return e;
	}
	memcpy(q->events, o.events, sizeof(q->events));
	q->nevents = o.nevents;
	pd_store_out_free(&o);
	fetch_events(c, q->events, q->nevents, &q->ev, &q->nev);
	/* The count the notification:count event carries, as committed. */
	for (size_t i = 0; i < q->nev; i++) {
		json_t *u = json_object_get(q->ev[i].payload, "unread");
		if (strcmp(q->ev[i].event, "notification:count") == 0 && json_is_integer(u)) {
			q->unread = json_integer_value(u);
			have = 1;
		}
	}
	if (!have && notif_count(c, q) != PD_OK)
		q->unread = 0; /* the write committed: report it, the event will follow */
	return answer(&q->err, q->msg, PD_OK, NULL);
}

enum pd_err dbq_notif_read_job(PGconn *c, void *arg)
{
	struct dbq_notif *q = arg;
	if (q->id[0] == '\0')
		return answer(&q->err, q->msg, PD_E_NOT_FOUND, "notification not found");
	return notif_read(c, q, q->id);
}

enum pd_err dbq_notif_read_all_job(PGconn *c, void *arg)
{
	return notif_read(c, arg, NULL);
}

void dbq_notif_clear(struct dbq_notif *q)
{
	dbq_events_free(q->ev, q->nev);
	memset(q, 0, sizeof(*q));
}

/* ---- dashboard ---- */

int dbq_dashboard_prepare(struct dbq_dashboard *q, const char *org)
{
	memset(q, 0, sizeof(*q));
	if (org == NULL || copy_uuid(q->org, org) != 0) {
		answer(&q->err, q->msg, PD_E_BAD_REQUEST, "org must be a UUID");
		return 1;
	}
	q->err = PD_E_UNAVAILABLE;
	return 0;
}

enum pd_err dbq_dashboard_job(PGconn *c, void *arg)
{
	struct dbq_dashboard *q = arg;
	const char *p[1] = {q->org};
	enum pd_err e = PD_E_UNAVAILABLE;
	const char *staff;
	PGresult *r;
	size_t n;

	free(q->staff);
	q->staff = NULL;
	q->nstaff = 0;
	/* tickets_org_status_idx serves the counts, tickets_unassigned_idx the
	 * queue; the staff list rides along in the same round trip. */
	r = pd_db_exec(c,
		       "SELECT count(*) FILTER (WHERE status = 'open'), "
		       "count(*) FILTER (WHERE status = 'pending'), "
		       "count(*) FILTER (WHERE status = 'resolved'), "
		       "count(*) FILTER (WHERE status = 'closed'), "
		       "count(*) FILTER (WHERE status = 'open' AND assignee_id IS NULL), "
		       "COALESCE(GREATEST(0, floor(extract(epoch FROM now() - min(created_at) "
		       "FILTER (WHERE status = 'open' AND assignee_id IS NULL)))), 0)::bigint, "
		       "(SELECT COALESCE(string_agg(u.id::text, ',' ORDER BY u.id), '') FROM users u "
		       "WHERE u.org_id = $1::uuid AND u.role IN ('agent', 'admin')) "
		       "FROM tickets WHERE org_id = $1::uuid",
		       1, p, &e);
	if (r == NULL)
		return answer(&q->err, q->msg, e, NULL);
	q->open = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	q->pending = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	q->resolved = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	q->closed = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	q->unassigned = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	q->oldest_waiting_s = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
	staff = PQgetvalue(r, 0, 6);
	n = staff[0] != '\0' ? 1 : 0;
	for (const char *s = staff; *s != '\0'; s++)
		n += *s == ',';
	if (n > 0) {
		if ((q->staff = calloc(n, sizeof(*q->staff))) == NULL) {
			PQclear(r);
			return answer(&q->err, q->msg, PD_E_UNAVAILABLE, NULL);
		}
		for (const char *s = staff; q->nstaff < n; q->nstaff++) {
			size_t len = strcspn(s, ",");
			snprintf(q->staff[q->nstaff], DBQ_ID, "%.*s", (int)len, s);
			s += len + (s[len] == ',');
		}
	}
	PQclear(r);
	return answer(&q->err, q->msg, PD_OK, NULL);
}

json_t *dbq_dashboard_tickets_json(const struct dbq_dashboard *q)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "open", (json_int_t)q->open, "pending",
			 (json_int_t)q->pending, "resolved", (json_int_t)q->resolved, "closed",
			 (json_int_t)q->closed);
}

json_t *dbq_dashboard_queue_json(const struct dbq_dashboard *q)
{
	return json_pack("{s:I,s:I}", "unassigned", (json_int_t)q->unassigned,
			 "oldestWaitingSeconds", (json_int_t)q->oldest_waiting_s);
}

void dbq_dashboard_clear(struct dbq_dashboard *q)
{
	free(q->staff);
	memset(q, 0, sizeof(*q));
}

/* ---- org membership ---- */

int dbq_members_prepare(struct dbq_members *q, const char *org, const json_t *user_ids)
{
	size_t i, n;
	json_t *x;

	memset(q, 0, sizeof(*q));
	if (org == NULL || copy_uuid(q->org, org) != 0) {
		answer(&q->err, q->msg, PD_E_BAD_REQUEST, "org must be a UUID");
		return 1;
	}
	n = json_array_size(user_ids);
	if (!json_is_array(user_ids) || n < 1 || n > DBQ_MAX_IDS) {
		answer(&q->err, q->msg, PD_E_BAD_REQUEST,
		       "userIds must be an array of 1..1000 user ids");
		return 1;
	}
	json_array_foreach(user_ids, i, x)
	{
		if (!json_is_string(x)) {
			answer(&q->err, q->msg, PD_E_BAD_REQUEST, "userIds must hold strings");
			return 1;
		}
	}
	q->ids = calloc(n, sizeof(*q->ids));
	q->member = calloc(n, 1);
	if (q->ids == NULL || q->member == NULL) {
		dbq_members_clear(q);
		return -ENOMEM;
	}
	q->nids = n;
	json_array_foreach(user_ids, i, x)
	{
		/* a non-UUID keeps "" and is no member */
		if (copy_uuid(q->ids[i], json_string_value(x)) != 0)
			q->ids[i][0] = '\0';
	}
	q->err = PD_E_UNAVAILABLE;
	return 0;
}

enum pd_err dbq_members_job(PGconn *c, void *arg)
{
	struct dbq_members *q = arg;
	enum pd_err e = PD_E_UNAVAILABLE;
	struct pd_buf b;
	PGresult *r = NULL;
	int any = 0, rc;

	q->nmembers = 0;
	if (q->member != NULL)
		memset(q->member, 0, q->nids);
	pd_buf_init(&b, 0);
	rc = pd_buf_append_str(&b, "{");
	for (size_t i = 0; rc == 0 && i < q->nids; i++) {
		if (q->ids[i][0] == '\0')
			continue;
		rc = pd_buf_printf(&b, "%s%s", any ? "," : "", q->ids[i]);
		any = 1;
	}
	if (rc != 0 || pd_buf_append_str(&b, "}") != 0) {
		pd_buf_free(&b);
		return answer(&q->err, q->msg, PD_E_UNAVAILABLE, NULL);
	}
	if (!any) {
		pd_buf_free(&b);
		return answer(&q->err, q->msg, PD_OK, NULL);
	}
	{
		const char *p[2] = {q->org, b.data};
		r = pd_db_exec(c,
			       "SELECT id::text FROM users WHERE org_id = $1::uuid "
			       "AND id = ANY($2::uuid[])",
			       2, p, &e);
	}
	pd_buf_free(&b);
	if (r == NULL)
		return answer(&q->err, q->msg, e, NULL);
	for (int row = 0; row < PQntuples(r); row++) {
		const char *id = PQgetvalue(r, row, 0);
		for (size_t i = 0; i < q->nids; i++) {
			if (!q->member[i] && strcmp(q->ids[i], id) == 0) {
				q->member[i] = 1;
				q->nmembers++;
			}
		}
	}
	PQclear(r);
	return answer(&q->err, q->msg, PD_OK, NULL);
}

void dbq_members_clear(struct dbq_members *q)
{
	free(q->ids);
	free(q->member);
	memset(q, 0, sizeof(*q));
}

/* ---- outbox ---- */

enum pd_err dbq_outbox_mark_job(PGconn *c, void *arg)
{
	struct dbq_outbox_mark *q = arg;
	struct pd_buf b;
	PGresult *r = NULL;
	enum pd_err e = PD_E_UNAVAILABLE;

	q->marked = 0;
	if (q->n == 0 || q->n > sizeof(q->ids) / sizeof(q->ids[0]))
		return q->err = q->n == 0 ? PD_OK : PD_E_BAD_REQUEST;
	pd_buf_init(&b, 0);
	if (ids_param(&b, q->ids, q->n) == 0) {
		const char *p[1] = {b.data};
		r = pd_db_exec(c,
			       "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]) "
			       "AND published_at IS NULL",
			       1, p, &e);
	}
	pd_buf_free(&b);
	if (r == NULL)
		return q->err = e;
	q->marked = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return q->err = PD_OK;
}
