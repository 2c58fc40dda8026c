/* h_notif: a user's notifications (list, read, read-all) and POST
 * /notifications for admins and services. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pd_db.h"
#include "pd_json.h"
#include "pd_store.h"
#include "valid.h"

void h_notifications_list(struct req *r)
{
	char us[32], id[64], lim[24], unread[8];
	long limit;
	int ru;
	enum pd_err e = PD_E_UNAVAILABLE;
	PGconn *db;
	PGresult *res;

	if (api_auth(r) != 0 || api_list_cursor(r, us, sizeof(us), id, sizeof(id), &limit) != 0)
		return;
	ru = api_query(r, "unread", unread, sizeof(unread));
	if (ru < 0 || (ru == 1 && strcmp(unread, "1") != 0 && strcmp(unread, "0") != 0 &&
		       strcmp(unread, "true") != 0 && strcmp(unread, "false") != 0)) {
		api_error(r, PD_E_BAD_REQUEST, "unread must be 1 or 0");
		return;
	}
	if ((db = api_db(r)) == NULL)
		return;
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	{
		int only = ru == 1 && (strcmp(unread, "1") == 0 || strcmp(unread, "true") == 0);
		const char *p[5] = {r->claims.sub, only ? "t" : "f", us[0] ? us : NULL,
				    id[0] ? id : NULL, lim};
		res = pd_db_exec(db,
				 "SELECT " PD_STORE_NOTIFICATION_JSON ", (extract(epoch FROM "
				 "n.created_at) * 1000000)::bigint, n.id FROM notifications n "
				 "WHERE n.user_id = $1 AND (NOT $2::boolean OR n.read_at IS NULL) "
				 "AND ($3::bigint IS NULL OR (n.created_at, n.id) < "
				 "(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
				 "ORDER BY n.created_at DESC, n.id DESC LIMIT $5",
				 5, p, &e);
	}
	if (res == NULL) {
		api_db_error(r, e, NULL);
		return;
	}
	api_list_reply(r, res, limit);
	PQclear(res);
}

static void done(struct req *r, enum pd_err e, struct pd_store_out *o, int status)
{
	if (e != PD_OK) {
		api_db_error(r, e, o->msg);
		pd_store_out_free(o);
		return;
	}
	api_publish_later(r, o->events, o->nevents);
	api_reply(r, status, o->obj);
	o->obj = NULL;
}

void h_notifications_create(struct req *r)
{
	struct v_notification v;
	struct pd_store_out o;
	char err[256], *data = NULL;
	json_t *body;
	PGconn *db;

	if (api_require(r, "admin service") != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_notification(body, &v, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
	} else if (v.data != NULL && (data = pd_json_dump(v.data, NULL)) == NULL) {
		api_error(r, PD_E_UNAVAILABLE, "out of memory");
	} else if ((db = api_db(r)) != NULL) {
		done(r,
		     pd_store_notification_create(db, r->claims.org, v.user_id, v.type, v.title,
						  v.message, data, &o),
		     &o, 201);
	}
	free(data);
	json_decref(body);
}

static void mark_read(struct req *r, const char *id)
{
	struct pd_actor a = {r->claims.sub, r->claims.org, r->claims.role};
	struct pd_store_out o;
	PGconn *db;
	if ((db = api_db(r)) != NULL)
		done(r, pd_store_notification_read(db, &a, id, &o), &o, 200);
}

void h_notification_read(struct req *r)
{
	if (api_auth(r) == 0)
		mark_read(r, r->params[0]);
}

void h_notifications_read_all(struct req *r)
{
	if (api_auth(r) == 0)
		mark_read(r, NULL);
}
