/* pd_store: domain writes with their outbox rows in one transaction, and the
 * outbox publisher. Resources are built as JSON by PostgreSQL
 * (json_build_object), so the API response and the event payload come from
 * the same row; event payloads keep exactly the fields of contract 3.1. */
#include "pd_store.h"

#include <errno.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_db.h"
#include "pd_emitter.h"
#include "pd_json.h"
#include "pd_log.h"

void pd_store_out_free(struct pd_store_out *o)
{
	json_decref(o->obj);
	memset(o, 0, sizeof(*o));
}

static enum pd_err fail(struct pd_store_out *o, enum pd_err e, const char *msg)
{
	if (msg != NULL)
		snprintf(o->msg, sizeof(o->msg), "%s", msg);
	return e;
}

/* '{"a","b"}' for a text[] parameter. */
static int text_array(struct pd_buf *b, const char *const *v, size_t n)
{
	int rc = pd_buf_append_str(b, "{");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = pd_buf_append_str(b, i > 0 ? ",\"" : "\"");
		for (const char *p = v[i]; rc == 0 && *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				rc = pd_buf_append(b, "\\", 1);
			if (rc == 0)
				rc = pd_buf_append(b, p, 1);
		}
		if (rc == 0)
			rc = pd_buf_append_str(b, "\"");
	}
	return rc == 0 ? pd_buf_append_str(b, "}") : rc;
}

int pd_store_outbox_add(PGconn *c, const char *org, const char *nsp, const char *event,
			const char *const *rooms, size_t nrooms, const char *const *except,
			size_t nexcept, const char *payload_json, int add_event_id, long long *id,
			enum pd_err *err)
{
	struct pd_buf rb, eb;
	PGresult *r = NULL;
	int rc = -1;

	pd_buf_init(&rb, 0);
	pd_buf_init(&eb, 0);
	if (text_array(&rb, rooms, nrooms) != 0 || text_array(&eb, except, nexcept) != 0) {
		*err = PD_E_UNAVAILABLE;
		goto out;
	}
	{
		const char *p[7] = {org, nsp != NULL ? nsp : "/", event, rb.data, eb.data,
				    payload_json, add_event_id ? "t" : "f"};
		r = pd_db_exec(c,
			       "INSERT INTO outbox (id, org_id, namespace, event, rooms, except_rooms, "
			       "payload) SELECT n.id, $1, $2, $3, $4::text[], $5::text[], "
			       "CASE WHEN $7::boolean AND jsonb_typeof($6::jsonb) = 'object' "
			       "THEN $6::jsonb || jsonb_build_object('eventId', n.id) "
			       "ELSE $6::jsonb END "
			       "FROM (SELECT nextval('outbox_id_seq') AS id) n RETURNING id",
			       7, p, err);
	}
	if (r == NULL)
		goto out;
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	rc = 0;
out:
	PQclear(r);
	pd_buf_free(&rb);
	pd_buf_free(&eb);
	return rc;
}

/* Add an outbox row whose payload is a jansson value; records the id in o. */
static int event(PGconn *c, struct pd_store_out *o, const char *org, const char *ev,
		 const char *const *rooms, size_t nrooms, json_t *payload, enum pd_err *err)
{
	char *txt = pd_json_dump(payload, NULL);
	long long id;
	int rc;

	if (txt == NULL || o->nevents >= PD_STORE_MAX_EVENTS) {
		free(txt);
		*err = PD_E_UNAVAILABLE;
		return -1;
	}
	rc = pd_store_outbox_add(c, org, "/", ev, rooms, nrooms, NULL, 0, txt, 1, &id, err);
	free(txt);
	if (rc == 0)
		o->events[o->nevents++] = id;
	return rc;
}

/* A copy of obj with only the named keys (NULL-terminated). */
static json_t *pick(const json_t *obj, const char *const *keys)
{
	json_t *r = json_object();
	for (size_t i = 0; r != NULL && keys[i] != NULL; i++) {
		json_t *v = json_object_get(obj, keys[i]);
		json_object_set(r, keys[i], v != NULL ? v : json_null());
	}
	return r;
}

static json_t *parse_row(const PGresult *r, int row, int col)
{
	const char *s = pd_db_get(r, row, col);
	char err[128];
	return s != NULL ? pd_json_parse(s, strlen(s), err, sizeof(err)) : NULL;
}

static void room(char *buf, size_t n, const char *prefix, const char *id)
{
	snprintf(buf, n, "%s:%s", prefix, id);
}

/* notification + notification:count for user_id, inside the transaction. */
static int notify(PGconn *c, struct pd_store_out *o, const char *org, const char *user_id,
		  const char *type, const char *title, const char *message, const char *data,
		  json_t **stored, enum pd_err *err)
{
	static const char *const EV[] = {"id", "type", "title", "message", "data", "createdAt", NULL};
	const char *p[6] = {org, user_id, type, title, message, data != NULL ? data : "{}"};
	char ur[80];
	const char *rooms[1] = {ur};
	json_t *n = NULL, *ev = NULL, *cnt = NULL;
	PGresult *r;
	int rc = -1;

	r = pd_db_exec(c,
		       "WITH n AS (INSERT INTO notifications (org_id, user_id, type, title, message, "
		       "data) VALUES ($1, $2, $3, left($4, 500), left($5, 5000), $6::jsonb) "
		       "RETURNING *) SELECT " PD_STORE_NOTIFICATION_JSON ", "
		       "(SELECT count(*) FROM notifications x WHERE x.user_id = $2 AND "
		       "x.read_at IS NULL) + 1 FROM n",
		       6, p, err);
	if (r == NULL)
		return -1;
	room(ur, sizeof(ur), "user", user_id);
	if ((n = parse_row(r, 0, 0)) == NULL || (ev = pick(n, EV)) == NULL ||
	    (cnt = json_pack("{s:I}", "unread", (json_int_t)strtoll(PQgetvalue(r, 0, 1), NULL, 10))) ==
		    NULL) {
		*err = PD_E_UNAVAILABLE;
		goto out;
	}
	if (event(c, o, org, "notification", rooms, 1, ev, err) != 0 ||
	    event(c, o, org, "notification:count", rooms, 1, cnt, err) != 0)
		goto out;
	if (stored != NULL) {
		*stored = n;
		n = NULL;
	}
	rc = 0;
out:
	PQclear(r);
	json_decref(n);
	json_decref(ev);
	json_decref(cnt);
	return rc;
}

static const char *const TICKET_SUMMARY[] = {"id",         "subject",    "status",    "priority",
					     "customerId", "assigneeId", "createdAt", NULL};
static const char *const TICKET_UPDATED[] = {"id",         "subject",    "status",
					     "priority",   "customerId", "assigneeId",
					     "createdAt",  "updatedAt",  "updatedBy", NULL};
static const char *const MESSAGE_EVENT[] = {"id",         "ticketId",   "content",   "senderId",
					    "senderName", "senderRole", "createdAt", NULL};

enum pd_err pd_store_ticket_create(PGconn *c, const struct pd_actor *a, const char *customer_id,
				   const char *subject, const char *priority,
				   struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = NULL;
	json_t *sum = NULL;
	char ar[80], ur[80];
	const char *rooms[2] = {ar, ur};

	memset(o, 0, sizeof(*o));
	if (customer_id == NULL)
		customer_id = a->id;
	if (pd_db_begin(c, &e) != 0)
		return fail(o, e, NULL);
	{
		const char *p[2] = {customer_id, a->org};
		r = pd_db_exec(c, "SELECT 1 FROM users WHERE id = $1 AND org_id = $2", 2, p, &e);
		if (r == NULL)
			goto bad;
		if (PQntuples(r) == 0) {
			e = fail(o, PD_E_BAD_REQUEST, "customerId must be a user of this organization");
			goto bad;
		}
		PQclear(r);
	}
	{
		const char *p[5] = {a->org, customer_id, subject, priority != NULL ? priority : "normal",
				    a->id};
		r = pd_db_exec(c,
			       "WITH t AS (INSERT INTO tickets (org_id, customer_id, subject, priority, "
			       "updated_by) VALUES ($1, $2, $3, $4, $5) RETURNING *) SELECT " PD_STORE_TICKET_JSON
			       " FROM t",
			       5, p, &e);
	}
	if (r == NULL || (o->obj = parse_row(r, 0, 0)) == NULL || (sum = pick(o->obj, TICKET_SUMMARY)) == NULL)
		goto bad;
	room(ar, sizeof(ar), "agents", a->org);
	room(ur, sizeof(ur), "user", customer_id);
	if (event(c, o, a->org, "ticket:created", rooms, 2, sum, &e) != 0 || pd_db_commit(c, &e) != 0)
		goto bad;
	PQclear(r);
	json_decref(sum);
	return PD_OK;
bad:
	PQclear(r);
	json_decref(sum);
	pd_db_rollback(c);
	json_decref(o->obj);
	o->obj = NULL;
	o->nevents = 0;
	return e;
}

enum pd_err pd_store_ticket_update(PGconn *c, const struct pd_actor *a, const char *ticket_id,
				   const struct pd_ticket_patch *pt, struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = NULL;
	json_t *upd = NULL, *asg = NULL;
	char old_assignee[64] = "";
	char tr[80], ar[80], ur[80], sr[80];

	memset(o, 0, sizeof(*o));
	if (pd_db_begin(c, &e) != 0)
		return fail(o, e, NULL);
	{
		const char *p[2] = {ticket_id, a->org};
		r = pd_db_exec(c, "SELECT assignee_id FROM tickets WHERE id = $1 AND org_id = $2 "
				  "FOR UPDATE",
			       2, p, &e);
		if (r == NULL)
			goto bad;
		if (PQntuples(r) == 0) {
			e = fail(o, PD_E_NOT_FOUND, "ticket not found");
			goto bad;
		}
		if (!PQgetisnull(r, 0, 0))
			snprintf(old_assignee, sizeof(old_assignee), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		r = NULL;
	}
	if (pt->set_assignee && pt->assignee_id != NULL) {
		const char *p[2] = {pt->assignee_id, a->org};
		r = pd_db_exec(c, "SELECT 1 FROM users WHERE id = $1 AND org_id = $2 AND "
				  "role IN ('agent', 'admin')",
			       2, p, &e);
		if (r == NULL)
			goto bad;
		if (PQntuples(r) == 0) {
			e = fail(o, PD_E_BAD_REQUEST,
				 "assigneeId must be an agent or admin of this organization");
			goto bad;
		}
		PQclear(r);
		r = NULL;
	}
	{
		const char *p[7] = {ticket_id,   pt->subject, pt->status,
				    pt->priority, pt->set_assignee ? "t" : "f",
				    pt->assignee_id, a->id};
		r = pd_db_exec(c,
			       /* old: the row as it was (every part of a WITH sees the
				* snapshot before the UPDATE), for "did the status change" */
			       "WITH old AS (SELECT status AS old_status FROM tickets WHERE id = $1), "
			       "t AS (UPDATE tickets SET subject = COALESCE($2, subject), "
			       "status = COALESCE($3, status), priority = COALESCE($4, priority), "
			       "assignee_id = CASE WHEN $5::boolean THEN $6::uuid ELSE assignee_id END, "
			       "updated_at = now(), updated_by = $7 WHERE id = $1 RETURNING *) "
			       "SELECT " PD_STORE_TICKET_JSON ", (SELECT old_status FROM old) FROM t",
			       7, p, &e);
	}
	if (r == NULL || (o->obj = parse_row(r, 0, 0)) == NULL ||
	    (upd = pick(o->obj, TICKET_UPDATED)) == NULL)
		goto bad;
	room(tr, sizeof(tr), "ticket", ticket_id);
	room(ar, sizeof(ar), "agents", a->org);
	room(ur, sizeof(ur), "user", json_string_value(json_object_get(o->obj, "customerId")));
	{
		const char *rooms[3] = {tr, ar, ur};
		if (event(c, o, a->org, "ticket:updated", rooms, 3, upd, &e) != 0)
			goto bad;
	}
	/* ticket:status, for the dialects alone (contract 7.4: seed 004's
	 * conversation_status_changed to ws:<org>), only when the status changed */
	if (pt->status != NULL && PQnfields(r) > 1 && strcmp(PQgetvalue(r, 0, 1), pt->status) != 0) {
		const char *rooms[1] = {ar};
		if (event(c, o, a->org, "ticket:status", rooms, 1, upd, &e) != 0)
			goto bad;
	}
	if (pt->set_assignee && pt->assignee_id != NULL) {
		const char *now = json_string_value(json_object_get(o->obj, "assigneeId"));
		if (now != NULL && strcmp(now, old_assignee) != 0) {
			const char *rooms[2] = {sr, tr};
			room(sr, sizeof(sr), "user", now);
			asg = json_pack("{s:O,s:s,s:s}", "ticketId", json_object_get(o->obj, "id"),
					"assigneeId", now, "assignedBy", a->id);
			if (asg == NULL || event(c, o, a->org, "ticket:assigned", rooms, 2, asg, &e) != 0)
				goto bad;
		}
	}
	if (pd_db_commit(c, &e) != 0)
		goto bad;
	PQclear(r);
	json_decref(upd);
	json_decref(asg);
	return PD_OK;
bad:
	PQclear(r);
	json_decref(upd);
	json_decref(asg);
	pd_db_rollback(c);
	json_decref(o->obj);
	o->obj = NULL;
	o->nevents = 0;
	return e;
}

const char *pd_store_visible_as(const struct pd_actor *a)
{
	return strcmp(a->role, "customer") == 0 ? a->id : NULL;
}

/* Lock the ticket the actor may see; fills customer/assignee/subject. */
static enum pd_err see_ticket(PGconn *c, const struct pd_actor *a, const char *ticket_id,
			      struct pd_store_out *o, char *subject, size_t sublen)
{
	const char *p[3] = {ticket_id, a->org, pd_store_visible_as(a)};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = pd_db_exec(c,
				 "SELECT t.customer_id, t.assignee_id, t.subject FROM tickets t "
				 "WHERE t.id = $1 AND " PD_STORE_TICKET_VISIBLE("$2", "$3") " FOR SHARE",
				 3, p, &e);
	if (r == NULL)
		return e;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return fail(o, PD_E_NOT_FOUND, "ticket not found");
	}
	snprintf(o->customer_id, sizeof(o->customer_id), "%s", PQgetvalue(r, 0, 0));
	snprintf(o->assignee_id, sizeof(o->assignee_id), "%s",
		 PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1));
	if (subject != NULL)
		snprintf(subject, sublen, "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	return PD_OK;
}

enum pd_err pd_store_message_create(PGconn *c, const struct pd_actor *a, const char *ticket_id,
				    const char *content, struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = NULL;
	json_t *ev = NULL, *data = NULL;
	char subject[2048], title[2100], tr[80], ar[80];
	const char *rooms[1] = {tr};
	char *datatxt = NULL;

	memset(o, 0, sizeof(*o));
	if (pd_db_begin(c, &e) != 0)
		return fail(o, e, NULL);
	if ((e = see_ticket(c, a, ticket_id, o, subject, sizeof(subject))) != PD_OK)
		goto bad;
	e = PD_E_UNAVAILABLE;
	{
		const char *p[4] = {ticket_id, a->org, a->id, content};
		r = pd_db_exec(c,
			       "WITH m AS (INSERT INTO messages (ticket_id, org_id, sender_id, content) "
			       "VALUES ($1, $2, $3, $4) RETURNING *) SELECT " PD_STORE_MESSAGE_JSON
			       " FROM m JOIN users u ON u.id = m.sender_id",
			       4, p, &e);
	}
	if (r == NULL)
		goto bad;
	if (PQntuples(r) == 0) {
		e = fail(o, PD_E_NOT_FOUND, "sender not found");
		goto bad;
	}
	if ((o->obj = parse_row(r, 0, 0)) == NULL || (ev = pick(o->obj, MESSAGE_EVENT)) == NULL)
		goto bad;
	room(tr, sizeof(tr), "ticket", ticket_id);
	if (event(c, o, a->org, "message:new", rooms, 1, ev, &e) != 0)
		goto bad;
	/* The org's staff feed of messages (contract 7.4: seed 004's
	 * new_message / user_message to ws:<org> and conv:<id>); only the
	 * workspace dialect shows it, every other one drops it. */
	{
		const char *feed[2] = {tr, ar};
		room(ar, sizeof(ar), "agents", a->org);
		if (event(c, o, a->org, "message:feed", feed, 2, ev, &e) != 0)
			goto bad;
	}
	/* The conversation's participants on every device (contract 7.3:
	 * seed 003's new_message to the room and the other participants' user
	 * rooms); only the presence dialect shows it. */
	{
		char cr[80], asr[80];
		const char *to[3] = {tr, cr, asr};
		size_t n = 1;
		room(cr, sizeof(cr), "user", o->customer_id);
		room(asr, sizeof(asr), "user", o->assignee_id);
		if (o->customer_id[0] != '\0' && strcmp(o->customer_id, a->id) != 0)
			to[n++] = cr;
		if (o->assignee_id[0] != '\0' && strcmp(o->assignee_id, a->id) != 0 &&
		    strcmp(o->assignee_id, o->customer_id) != 0)
			to[n++] = asr;
		if (event(c, o, a->org, "message:participants", to, n, ev, &e) != 0)
			goto bad;
	}
	/* Tell the ticket's other participants (customer, assignee) who are not
	 * the sender: one notification each. */
	snprintf(title, sizeof(title), "New message: %s", subject);
	data = json_pack("{s:O,s:O}", "ticketId", json_object_get(o->obj, "ticketId"), "messageId",
			 json_object_get(o->obj, "id"));
	if (data == NULL || (datatxt = pd_json_dump(data, NULL)) == NULL)
		goto bad;
	{
		const char *who[2] = {o->customer_id, o->assignee_id};
		for (int i = 0; i < 2; i++) {
			if (who[i][0] == '\0' || strcmp(who[i], a->id) == 0 ||
			    (i == 1 && strcmp(who[1], who[0]) == 0))
				continue;
			if (notify(c, o, a->org, who[i], "message", title, content, datatxt, NULL,
				   &e) != 0)
				goto bad;
		}
	}
	if (pd_db_commit(c, &e) != 0)
		goto bad;
	PQclear(r);
	json_decref(ev);
	json_decref(data);
	free(datatxt);
	return PD_OK;
bad:
	PQclear(r);
	json_decref(ev);
	json_decref(data);
	free(datatxt);
	pd_db_rollback(c);
	json_decref(o->obj);
	o->obj = NULL;
	o->nevents = 0;
	return e;
}

enum pd_err pd_store_message_update(PGconn *c, const struct pd_actor *a, const char *message_id,
				    const char *content, struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = NULL;
	json_t *ev = NULL;
	char tr[80], ticket[64];
	const char *rooms[1] = {tr};

	memset(o, 0, sizeof(*o));
	if (pd_db_begin(c, &e) != 0)
		return fail(o, e, NULL);
	{
		const char *p[2] = {message_id, a->org};
		r = pd_db_exec(c, "SELECT m.sender_id, m.ticket_id FROM messages m "
				  "WHERE m.id = $1 AND m.org_id = $2 FOR UPDATE",
			       2, p, &e);
		if (r == NULL)
			goto bad;
		if (PQntuples(r) == 0) {
			e = fail(o, PD_E_NOT_FOUND, "message not found");
			goto bad;
		}
		snprintf(ticket, sizeof(ticket), "%s", PQgetvalue(r, 0, 1));
		if (strcmp(PQgetvalue(r, 0, 0), a->id) != 0) {
			/* Someone who cannot see the ticket must not learn the message exists. */
			PQclear(r);
			r = NULL;
			if ((e = see_ticket(c, a, ticket, o, NULL, 0)) == PD_OK)
				e = fail(o, PD_E_FORBIDDEN, "only its sender may edit a message");
			else if (e == PD_E_NOT_FOUND)
				snprintf(o->msg, sizeof(o->msg), "message not found");
			goto bad;
		}
		PQclear(r);
		r = NULL;
	}
	if ((e = see_ticket(c, a, ticket, o, NULL, 0)) != PD_OK) {
		if (e == PD_E_NOT_FOUND)
			snprintf(o->msg, sizeof(o->msg), "message not found");
		goto bad;
	}
	e = PD_E_UNAVAILABLE;
	{
		const char *p[2] = {message_id, content};
		r = pd_db_exec(c,
			       "WITH m AS (UPDATE messages SET content = $2, updated_at = now() "
			       "WHERE id = $1 RETURNING *) SELECT " PD_STORE_MESSAGE_JSON
			       " FROM m JOIN users u ON u.id = m.sender_id",
			       2, p, &e);
	}
	if (r == NULL || (o->obj = parse_row(r, 0, 0)) == NULL ||
	    (ev = pick(o->obj, MESSAGE_EVENT)) == NULL)
		goto bad;
	room(tr, sizeof(tr), "ticket", ticket);
	if (event(c, o, a->org, "message:updated", rooms, 1, ev, &e) != 0 ||
	    pd_db_commit(c, &e) != 0)
		goto bad;
	PQclear(r);
	json_decref(ev);
	return PD_OK;
bad:
	PQclear(r);
	json_decref(ev);
	pd_db_rollback(c);
	json_decref(o->obj);
	o->obj = NULL;
	o->nevents = 0;
	return e;
}

enum pd_err pd_store_notification_create(PGconn *c, const char *org, const char *user_id,
					 const char *type, const char *title,
					 const char *message, const char *data_json,
					 struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	const char *p[2] = {user_id, org};
	PGresult *r;

	memset(o, 0, sizeof(*o));
	if (pd_db_begin(c, &e) != 0)
		return fail(o, e, NULL);
	if ((r = pd_db_exec(c, "SELECT 1 FROM users WHERE id = $1 AND org_id = $2", 2, p, &e)) ==
	    NULL)
		goto bad;
	if (PQntuples(r) == 0) {
		PQclear(r);
		e = fail(o, PD_E_NOT_FOUND, "userId: no such user in this organization");
		goto bad;
	}
	PQclear(r);
	if (notify(c, o, org, user_id, type, title, message != NULL ? message : "", data_json,
		   &o->obj, &e) != 0 ||
	    pd_db_commit(c, &e) != 0)
		goto bad;
	return PD_OK;
bad:
	pd_db_rollback(c);
	json_decref(o->obj);
	o->obj = NULL;
	o->nevents = 0;
	return e;
}

enum pd_err pd_store_notification_read(PGconn *c, const struct pd_actor *a, const char *id,
				       struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *r = NULL;
	json_t *cnt = NULL;
	char ur[80];
	const char *rooms[1] = {ur};
	long long unread;

	memset(o, 0, sizeof(*o));
	if (pd_db_begin(c, &e) != 0)
		return fail(o, e, NULL);
	if (id != NULL) {
		const char *p[3] = {id, a->id, a->org};
		r = pd_db_exec(c,
			       "WITH n AS (UPDATE notifications SET read_at = COALESCE(read_at, now()) "
			       "WHERE id = $1 AND user_id = $2 AND org_id = $3 RETURNING *) "
			       "SELECT " PD_STORE_NOTIFICATION_JSON " FROM n",
			       3, p, &e);
		if (r == NULL)
			goto bad;
		if (PQntuples(r) == 0) {
			e = fail(o, PD_E_NOT_FOUND, "notification not found");
			goto bad;
		}
		if ((o->obj = parse_row(r, 0, 0)) == NULL)
			goto bad;
	} else {
		const char *p[1] = {a->id};
		r = pd_db_exec(c,
			       "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND "
			       "read_at IS NULL",
			       1, p, &e);
		if (r == NULL ||
		    (o->obj = json_pack("{s:I,s:i}", "updated",
					(json_int_t)strtoll(PQcmdTuples(r), NULL, 10), "unread", 0)) ==
			    NULL)
			goto bad;
	}
	PQclear(r);
	{
		const char *p[1] = {a->id};
		r = pd_db_exec(c, "SELECT count(*) FROM notifications WHERE user_id = $1 AND "
				  "read_at IS NULL",
			       1, p, &e);
	}
	if (r == NULL)
		goto bad;
	unread = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	room(ur, sizeof(ur), "user", a->id);
	if ((cnt = json_pack("{s:I}", "unread", (json_int_t)unread)) == NULL ||
	    event(c, o, a->org, "notification:count", rooms, 1, cnt, &e) != 0 ||
	    pd_db_commit(c, &e) != 0)
		goto bad;
	PQclear(r);
	json_decref(cnt);
	return PD_OK;
bad:
	PQclear(r);
	json_decref(cnt);
	pd_db_rollback(c);
	json_decref(o->obj);
	o->obj = NULL;
	o->nevents = 0;
	return e;
}

enum pd_err pd_store_emit(PGconn *c, const char *org, const char *nsp, const char *ev,
			  const char *const *rooms, size_t nrooms, const char *const *except,
			  size_t nexcept, const char *payload_json, struct pd_store_out *o)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	long long id;

	memset(o, 0, sizeof(*o));
	/* One statement: autocommit is its own transaction. */
	if (pd_store_outbox_add(c, org, nsp, ev, rooms, nrooms, except, nexcept, payload_json, 0,
				&id, &e) != 0)
		return e;
	o->events[o->nevents++] = id;
	o->obj = json_pack("{s:I}", "eventId", (json_int_t)id);
	return o->obj != NULL ? PD_OK : PD_E_UNAVAILABLE;
}

/* Strings of a JSON array text, into a malloc'd vector. */
static const char **str_array(json_t *arr, size_t *n)
{
	const char **v;
	size_t i;
	json_t *x;

	*n = json_array_size(arr);
	if ((v = calloc(*n + 1, sizeof(*v))) == NULL)
		return NULL;
	json_array_foreach(arr, i, x) v[i] = json_is_string(x) ? json_string_value(x) : "";
	return v;
}

static int cmp_row(const void *a, const void *b)
{
	long long x = ((const long long *)a)[0], y = ((const long long *)b)[0];
	return (x > y) - (x < y);
}

long pd_outbox_publish(PGconn *c, const struct pd_emit_target *t, const long long *ids, size_t n,
		       size_t limit)
{
	struct pd_buf idb;
	PGresult *r = NULL;
	long published = 0;
	long long (*order)[2] = NULL;
	int rows;

	pd_buf_init(&idb, 0);
	if (pd_db_begin(c, NULL) != 0)
		return -1;
	if (ids != NULL) {
		/* The writer's own rows: wait (FOR UPDATE, no SKIP LOCKED) for a
		 * relay pass that claimed some of them between the write's COMMIT
		 * and now. Once it commits, the recheck of published_at IS NULL
		 * drops them here, so each row is still published once; skipping
		 * them instead would let the request answer before the relay had
		 * published them (events arriving after the 2xx, split between
		 * the two publishers). The relay never waits (SKIP LOCKED), so
		 * this cannot deadlock; the wait lasts one relay transaction.
		 * Older rows still unpublished (left by a Valkey outage) go first,
		 * in id order, so that clients get events in the order the API
		 * accepted them (contract 8) rather than the new ones before the
		 * relay's backlog. */
		int rc = pd_buf_append_str(&idb, "{");
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = pd_buf_printf(&idb, "%s%lld", i > 0 ? "," : "", ids[i]);
		if (rc != 0 || pd_buf_append_str(&idb, "}") != 0)
			goto fail;
		const char *p[1] = {idb.data};
		r = pd_db_exec(c,
			       "UPDATE outbox o SET published_at = now() FROM (SELECT id FROM outbox "
			       "WHERE published_at IS NULL AND (id = ANY($1::bigint[]) OR "
			       "id < (SELECT min(x) FROM unnest($1::bigint[]) x)) ORDER BY id "
			       "FOR UPDATE) s WHERE o.id = s.id RETURNING o.id, "
			       "o.namespace, o.event, array_to_json(o.rooms)::text, "
			       "array_to_json(o.except_rooms)::text, o.payload::text",
			       1, p, NULL);
	} else {
		char lim[24];
		const char *p[1] = {lim};
		snprintf(lim, sizeof(lim), "%zu", limit);
		r = pd_db_exec(c,
			       "UPDATE outbox o SET published_at = now() FROM (SELECT id FROM outbox "
			       "WHERE published_at IS NULL ORDER BY id LIMIT $1 "
			       "FOR UPDATE SKIP LOCKED) s WHERE o.id = s.id RETURNING o.id, "
			       "o.namespace, o.event, array_to_json(o.rooms)::text, "
			       "array_to_json(o.except_rooms)::text, o.payload::text",
			       1, p, NULL);
	}
	if (r == NULL)
		goto fail;
	rows = PQntuples(r);
	/* RETURNING has no order: publish in id order. */
	if (rows > 0 && (order = calloc((size_t)rows, sizeof(*order))) == NULL)
		goto fail;
	for (int i = 0; i < rows; i++) {
		order[i][0] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		order[i][1] = i;
	}
	if (rows > 1)
		qsort(order, (size_t)rows, sizeof(*order), cmp_row);
	for (int k = 0; k < rows; k++) {
		int i = (int)order[k][1];
		char err[128];
		const char *rs = PQgetvalue(r, i, 3), *es = PQgetvalue(r, i, 4),
			   *ps = PQgetvalue(r, i, 5);
		json_t *rooms = pd_json_parse(rs, strlen(rs), err, sizeof(err));
		json_t *exc = pd_json_parse(es, strlen(es), err, sizeof(err));
		json_t *payload = pd_json_parse(ps, strlen(ps), err, sizeof(err));
		const char **rv = NULL, **ev = NULL;
		struct pd_emit e = {0};
		char eid[40];
		long rc = -1;

		if (rooms == NULL || exc == NULL || payload == NULL) {
			rc = -EINVAL;
		} else if ((rv = str_array(rooms, &e.nrooms)) != NULL &&
			   (ev = str_array(exc, &e.nexcept)) != NULL) {
			e.nsp = PQgetvalue(r, i, 1);
			e.event = PQgetvalue(r, i, 2);
			e.payload = payload;
			e.rooms = rv;
			e.except = ev;
			/* sent again after a lost reply: into the stream once */
			snprintf(eid, sizeof(eid), "outbox:%lld", order[k][0]);
			e.id = eid;
			rc = pd_emitter_send(t, &e);
		}
		if (rc == -EINVAL) {
			/* A row that can never be encoded must not hold up the ones
			 * behind it: log it and let it be marked published. */
			pd_log(LOG_ERR, "outbox id=%lld cannot be encoded: skipped", order[k][0]);
			rc = 0;
		}
		free(rv);
		free(ev);
		json_decref(rooms);
		json_decref(exc);
		json_decref(payload);
		if (rc < 0)
			goto fail;
		published++;
	}
	free(order);
	PQclear(r);
	pd_buf_free(&idb);
	if (pd_db_commit(c, NULL) != 0)
		return -1;
	return published;
fail:
	free(order);
	PQclear(r);
	pd_buf_free(&idb);
	pd_db_rollback(c);
	return -1;
}
