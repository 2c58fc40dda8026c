/* h_tickets: tickets and their messages. Customers see their own tickets
 * only; staff (agent, admin, service) see the org's. Writes go through
 * pd_store so that each change and its events commit together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pd_db.h"
#include "pd_json.h"
#include "pd_store.h"
#include "valid.h"

static struct pd_actor actor(const struct req *r)
{
	struct pd_actor a = {r->claims.sub, r->claims.org, r->claims.role};
	return a;
}

/* Finish a pd_store call: error reply, or publish later and reply status. */
static void store_done(struct req *r, enum pd_err e, struct pd_store_out *o, int status)
{
	if (e != PD_OK) {
		api_db_error(r, e, o->msg);
		pd_store_out_free(o);
		return;
	}
	api_publish_later(r, o->events, o->nevents);
	api_reply(r, status, o->obj);
	o->obj = NULL;
	pd_store_out_free(o);
}

void h_tickets_create(struct req *r)
{
	struct v_ticket v;
	struct pd_store_out o;
	struct pd_actor a;
	char err[256];
	json_t *body;
	PGconn *db;

	if (api_require(r, "customer agent admin") != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_ticket(body, &v, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
	} else if (v.customer_id != NULL && api_role_in(r, "customer") &&
		   strcasecmp(v.customer_id, r->claims.sub) != 0) {
		api_error(r, PD_E_FORBIDDEN, "customerId: a customer opens tickets for themselves");
	} else if ((db = api_db(r)) != NULL) {
		a = actor(r);
		store_done(r, pd_store_ticket_create(db, &a, v.customer_id, v.subject, v.priority, &o),
			   &o, 201);
	}
	json_decref(body);
}

void h_tickets_list(struct req *r)
{
	char us[32], id[64], lim[24], status[32], assignee[64];
	long limit;
	enum pd_err e = PD_E_UNAVAILABLE;
	PGconn *db;
	PGresult *res;
	int rs, ra;

	if (api_auth(r) != 0 || api_list_cursor(r, us, sizeof(us), id, sizeof(id), &limit) != 0)
		return;
	rs = api_query(r, "status", status, sizeof(status));
	if (rs < 0 || (rs == 1 && strcmp(status, "open") != 0 && strcmp(status, "pending") != 0 &&
		       strcmp(status, "resolved") != 0 && strcmp(status, "closed") != 0)) {
		api_error(r, PD_E_BAD_REQUEST, "status must be one of open, pending, resolved, closed");
		return;
	}
	ra = api_query(r, "assigneeId", assignee, sizeof(assignee));
	if (ra < 0 || (ra == 1 && !pd_uuid_valid(assignee))) {
		api_error(r, PD_E_BAD_REQUEST, "assigneeId must be a UUID");
		return;
	}
	if ((db = api_db(r)) == NULL)
		return;
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	{
		struct pd_actor a = actor(r);
		const char *p[7] = {r->claims.org,
				    pd_store_visible_as(&a),
				    rs == 1 ? status : NULL,
				    ra == 1 ? assignee : NULL,
				    us[0] ? us : NULL,
				    id[0] ? id : NULL,
				    lim};
		res = pd_db_exec(db,
				 "SELECT " PD_STORE_TICKET_JSON ", (extract(epoch FROM t.created_at) * "
				 "1000000)::bigint, t.id FROM tickets t WHERE "
				 PD_STORE_TICKET_VISIBLE("$1", "$2") " "
				 "AND ($3::text IS NULL OR t.status = $3) "
				 "AND ($4::uuid IS NULL OR t.assignee_id = $4) "
				 "AND ($5::bigint IS NULL OR (t.created_at, t.id) < "
				 "(timestamptz 'epoch' + $5::bigint * interval '1 microsecond', $6::uuid)) "
				 "ORDER BY t.created_at DESC, t.id DESC LIMIT $7",
				 7, p, &e);
	}
	if (res == NULL) {
		api_db_error(r, e, NULL);
		return;
	}
	api_list_reply(r, res, limit);
	PQclear(res);
}

/* The ticket as JSON if the caller may see it; NULL after replying. */
static json_t *visible_ticket(struct req *r, PGconn *db)
{
	struct pd_actor a = actor(r);
	const char *p[3] = {r->params[0], r->claims.org, pd_store_visible_as(&a)};
	enum pd_err e = PD_E_UNAVAILABLE;
	PGresult *res = pd_db_exec(db,
				   "SELECT " PD_STORE_TICKET_JSON " FROM tickets t WHERE t.id = $1 "
				   "AND " PD_STORE_TICKET_VISIBLE("$2", "$3"),
				   3, p, &e);
	json_t *t = NULL;
	char err[128];

	if (res == NULL) {
		api_db_error(r, e, NULL);
		return NULL;
	}
	if (PQntuples(res) == 0)
		api_error(r, PD_E_NOT_FOUND, "ticket not found");
	else if ((t = pd_json_parse(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), err,
				    sizeof(err))) == NULL)
		api_error(r, PD_E_UNAVAILABLE, "database unavailable");
	PQclear(res);
	return t;
}

void h_ticket_get(struct req *r)
{
	PGconn *db;
	json_t *t;
	if (api_auth(r) != 0 || (db = api_db(r)) == NULL)
		return;
	if ((t = visible_ticket(r, db)) != NULL)
		api_reply(r, 200, t);
}

void h_ticket_patch(struct req *r)
{
	struct pd_ticket_patch p;
	struct pd_store_out o;
	struct pd_actor a;
	char err[256];
	json_t *body;
	PGconn *db;

	if (api_require(r, "agent admin") != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_ticket_patch(body, &p, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
	} else if ((db = api_db(r)) != NULL) {
		a = actor(r);
		store_done(r, pd_store_ticket_update(db, &a, r->params[0], &p, &o), &o, 200);
	}
	json_decref(body);
}

/* A message id query parameter into out ("" when absent). 0, or -1 after
 * replying 400. */
static int after_param(struct req *r, const char *name, char *out, size_t outlen)
{
	int rc = api_query(r, name, out, outlen);

	if (rc < 0 || (rc == 1 && !pd_uuid_valid(out))) {
		api_errorf(r, PD_E_BAD_REQUEST, "%s must be a message id", name);
		return -1;
	}
	if (rc != 1)
		out[0] = '\0';
	return 0;
}

/* Reply {data, nextCursor} from rows (message json, id) of which up to
 * limit+1 were fetched (res NULL: the error e). Clears res. */
static void messages_reply(struct req *r, PGresult *res, enum pd_err e, long limit)
{
	json_t *data;

	if (res == NULL) {
		api_db_error(r, e, NULL);
		return;
	}
	data = json_array();
	for (int i = 0; i < PQntuples(res) && i < limit; i++) {
		char err[128];
		json_array_append_new(data, pd_json_parse(PQgetvalue(res, i, 0),
							  (size_t)PQgetlength(res, i, 0), err,
							  sizeof(err)));
	}
	api_reply(r, 200,
		  json_pack("{s:o,s:o}", "data", data, "nextCursor",
			    PQntuples(res) > limit ? json_string(PQgetvalue(res, (int)limit - 1, 1))
						   : json_null()));
	PQclear(res);
}

void h_messages_list(struct req *r)
{
	char after[64], lim[24];
	long limit;
	int rc;
	enum pd_err e = PD_E_UNAVAILABLE;
	PGconn *db;
	PGresult *res;
	json_t *t;

	if (api_auth(r) != 0 || api_list_limit(r, &limit) != 0 ||
	    after_param(r, "after", after, sizeof(after)) != 0)
		return;
	if ((db = api_db(r)) == NULL || (t = visible_ticket(r, db)) == NULL)
		return;
	json_decref(t);
	if (after[0] != '\0') {
		const char *p[2] = {after, r->params[0]};
		res = pd_db_exec(db, "SELECT 1 FROM messages WHERE id = $1 AND ticket_id = $2", 2, p,
				 &e);
		if (res == NULL) {
			api_db_error(r, e, NULL);
			return;
		}
		rc = PQntuples(res);
		PQclear(res);
		if (rc == 0) {
			api_error(r, PD_E_BAD_REQUEST, "after must be a message of this ticket");
			return;
		}
	}
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	{
		const char *p[3] = {r->params[0], after[0] ? after : NULL, lim};
		res = pd_db_exec(db,
				 "SELECT " PD_STORE_MESSAGE_JSON ", m.id FROM messages m "
				 "JOIN users u ON u.id = m.sender_id WHERE m.ticket_id = $1 "
				 "AND ($2::uuid IS NULL OR m.seq > (SELECT seq FROM messages "
				 "WHERE id = $2)) ORDER BY m.seq LIMIT $3",
				 3, p, &e);
	}
	messages_reply(r, res, e, limit);
}

/* GET /messages?unread=1: messages of the tickets the caller may see, sent
 * by others, that the caller has not read (message_reads), oldest first;
 * the cursor (`cursor` or `after`) is the last message id of the page. */
void h_messages_unread(struct req *r)
{
	char q[8], after[64], lim[24];
	long limit;
	int rc;
	enum pd_err e = PD_E_UNAVAILABLE;
	struct pd_actor a;
	PGconn *db;
	PGresult *res;

	if (api_auth(r) != 0)
		return;
	rc = api_query(r, "unread", q, sizeof(q));
	if (rc != 1 || (strcmp(q, "1") != 0 && strcmp(q, "true") != 0)) {
		api_error(r, PD_E_BAD_REQUEST, "unread must be 1 (only unread messages are listed)");
		return;
	}
	if (api_list_limit(r, &limit) != 0 || after_param(r, "cursor", after, sizeof(after)) != 0 ||
	    (after[0] == '\0' && after_param(r, "after", after, sizeof(after)) != 0) ||
	    (db = api_db(r)) == NULL)
		return;
	a = actor(r);
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	{
		const char *p[5] = {r->claims.org, pd_store_visible_as(&a), r->claims.sub,
				    after[0] ? after : NULL, lim};
		res = pd_db_exec(db,
				 "SELECT " PD_STORE_MESSAGE_JSON ", m.id FROM messages m "
				 "JOIN tickets t ON t.id = m.ticket_id "
				 "JOIN users u ON u.id = m.sender_id "
				 "WHERE m.org_id = $1::uuid AND " PD_STORE_TICKET_VISIBLE("$1", "$2") " "
				 "AND m.sender_id <> $3::uuid AND NOT EXISTS (SELECT 1 FROM "
				 "message_reads mr WHERE mr.message_id = m.id AND mr.user_id = $3::uuid) "
				 "AND ($4::uuid IS NULL OR m.seq > (SELECT seq FROM messages "
				 "WHERE id = $4::uuid AND org_id = $1::uuid)) ORDER BY m.seq LIMIT $5",
				 5, p, &e);
	}
	messages_reply(r, res, e, limit);
}

void h_messages_create(struct req *r)
{
	struct pd_store_out o;
	struct pd_actor a;
	const char *content;
	char err[256];
	json_t *body;
	PGconn *db;

	if (api_auth(r) != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_message(body, &content, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
	} else if ((db = api_db(r)) != NULL) {
		a = actor(r);
		store_done(r, pd_store_message_create(db, &a, r->params[0], content, &o), &o, 201);
	}
	json_decref(body);
}

void h_message_patch(struct req *r)
{
	struct pd_store_out o;
	struct pd_actor a;
	const char *content;
	char err[256];
	json_t *body;
	PGconn *db;

	if (api_auth(r) != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_message(body, &content, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
	} else if ((db = api_db(r)) != NULL) {
		a = actor(r);
		store_done(r, pd_store_message_update(db, &a, r->params[0], content, &o), &o, 200);
	}
	json_decref(body);
}
