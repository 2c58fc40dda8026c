/* app: the main profile. "/" authenticates, joins the automatic rooms and
 * serves the helpdesk's client events (contract 3.1) under per-socket rate
 * limits (3.3); "/dashboard" admits admins and pushes metrics (3.2). This
 * file holds the namespace table, the event dispatch, the process-wide
 * services (database pool, adapter) and the helpers the h_*.c
 * handlers share. */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "auth.h"
#include "cluster.h"
#include "dashboard.h"
#include "pd_cfg.h"
#include "pd_emitter.h"
#include "pd_log.h"
#include "room.h"
#include "typing.h"
#include "pd_rooms.h"

struct app g_app;

/* ---- life cycle ---- */

int app_setup(const struct pd_cfg *cfg, struct loop *home, struct broker *b, char *err,
	      size_t errlen)
{
	long lease, ptl, reqto, grant_s;
	char e[512];
	if (ratelimit_rule_cfg(cfg, "rate_typing_start", &g_app.rate_typing, e, sizeof(e)) < 0 ||
	    ratelimit_rule_cfg(cfg, "rate_message_send", &g_app.rate_send, e, sizeof(e)) < 0 ||
	    ratelimit_rule_cfg(cfg, "rate_presence_status", &g_app.rate_status, e, sizeof(e)) < 0 ||
	    ratelimit_rule_cfg(cfg, "rate_default", &g_app.rate_default, e, sizeof(e)) < 0 ||
	    pd_cfg_get_long(cfg, "typing_timeout", 100, 3600000, &g_app.typing_timeout_ms, e,
			    sizeof(e)) < 0 ||
	    pd_cfg_get_long(cfg, "dashboard_interval", 100, 3600000, &g_app.dashboard_interval_ms,
			    e, sizeof(e)) < 0 ||
	    pd_cfg_get_long(cfg, "lease_ttl", 1, 3600, &lease, e, sizeof(e)) < 0 ||
	    pd_cfg_get_long(cfg, "presence_ttl", 3, 86400, &ptl, e, sizeof(e)) < 0 ||
	    pd_cfg_get_long(cfg, "broker_request_timeout", 10, 600000, &reqto, e, sizeof(e)) < 0 ||
	    pd_cfg_get_long(cfg, "grant_cache_seconds", 0, 86400, &grant_s, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	g_app.broker = b;
	int normal = b->profile == PROFILE_NORMAL;
	int dash = sio_nsp_index(b, "/dashboard"), main = sio_nsp_index(b, "/");
	g_app.dash_idx = dash >= 0 ? (size_t)dash : (size_t)-1;
	g_app.main_idx = main >= 0 ? (size_t)main : 0;
	if (!normal && b->profile != PROFILE_BENCH) {
		/* the protocol profiles: this process's rooms only */
		if ((g_app.adapter = adapter_local_new(g_app.main_idx)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	if ((g_app.dialect = dia_find(pd_cfg_get(cfg, "dialect"))) < 0) {
		snprintf(err, errlen, "dialect: unknown vocabulary \"%.64s\"", pd_cfg_get(cfg, "dialect"));
		return -1;
	}
	if (normal && pd_cfg_get(cfg, "database_url")[0] != '\0') {
		g_app.db = dbpool_new_cfg(cfg, e, sizeof(e));
		g_app.grants = dbq_grants_new(grant_s * 1000, 0);
		if (g_app.db == NULL || g_app.grants == NULL) {
			snprintf(err, errlen, "database pool: %s", g_app.db ? "out of memory" : e);
			return -1;
		}
	} else if (normal) {
		pd_log(LOG_WARNING, "database_url is empty: ticket, message, notification and "
				    "dashboard events answer INTERNAL");
	}
	if (pd_cfg_get(cfg, "valkey_url")[0] != '\0') {
		struct cluster_cfg cc = {
		    .valkey_url = pd_cfg_get(cfg, "valkey_url"),
		    .key = pd_cfg_get(cfg, "adapter_key"),
		    .lease_ttl_ms = lease * 1000,
		    .request_timeout_ms = reqto,
		    .nsps = b->nsps,
		    .nnsps = b->nnsps,
		    .loops = b->loops,
		    .workers = b->workers,
		    .nloops = b->nloops,
		    .broker = b,
		    .sharded = pd_emitter_mode(pd_cfg_get(cfg, "adapter_mode")) == PD_EMIT_SHARDED,
		};
		g_app.adapter = adapter_valkey_new(home, &cc, cfg, normal, ptl * 1000, g_app.main_idx, err,
						   errlen);
		return g_app.adapter != NULL ? 0 : -1;
	}
	if (normal)
		pd_log(LOG_WARNING, "valkey_url is empty: one broker, rooms and presence in memory "
				    "(other brokers see none of them)");
	if ((g_app.adapter = adapter_local_new(g_app.main_idx)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int app_start(char *err, size_t errlen)
{
	if (g_app.adapter != NULL && g_app.adapter->ops->start(g_app.adapter, err, errlen) < 0)
		return -1;
	if (g_app.broker->profile == PROFILE_NORMAL && g_app.dash_idx != (size_t)-1 &&
	    dashboard_start(&g_app.broker->loops[0]) < 0) {
		snprintf(err, errlen, "cannot start the dashboard timer");
		return -1;
	}
	return 0;
}

long app_stop(void)
{
	dashboard_stop();
	if (g_app.db != NULL)
		dbpool_shutdown(g_app.db);
	return g_app.adapter != NULL ? g_app.adapter->ops->stop(g_app.adapter) : 0;
}

void app_fini(void)
{
	dashboard_fini();
	if (g_app.adapter != NULL)
		g_app.adapter->ops->free(g_app.adapter);
	dbpool_free(g_app.db);
	dbq_grants_free(g_app.grants);
	g_app.adapter = NULL;
	g_app.db = NULL;
	g_app.grants = NULL;
}

/* ---- helpers ---- */

int app_emit(struct loop *from, size_t nsp_idx, const char *const *rooms, size_t nrooms,
	     const char *const *except, size_t nexcept, const char *event, const json_t *payload)
{
	return adapter_emit(g_app.adapter, from, nsp_idx, rooms, nrooms, except, nexcept, event,
			    payload);
}

static void mark_done(struct loop *l, void *arg, enum pd_err st)
{
	struct dbq_outbox_mark *q = arg;
	(void)l;
	if (st != PD_OK)
		pd_log(LOG_INFO, "outbox mark failed rows=%zu err=%s (the relay publishes them again)",
		       q->n, pd_err_code(st));
	free(q);
}

void app_publish(struct loop *from, const struct dbq_event *ev, size_t nev)
{
	struct dbq_outbox_mark *q = NULL;
	/* Valkey down: delivered here, left unpublished for the API's relay
	 * (clients drop the duplicate by eventId) */
	int mark = g_app.db != NULL && strcmp(adapter_state(g_app.adapter), "down") != 0;
	if (mark && nev > 0)
		q = calloc(1, sizeof(*q));
	for (size_t i = 0; i < nev; i++) {
		int idx = sio_nsp_index(g_app.broker, ev[i].nsp ? ev[i].nsp : "/");
		if (idx < 0) {
			pd_log(LOG_WARNING, "outbox event for an unknown namespace id=%lld nsp=%s",
			       ev[i].id, ev[i].nsp);
			continue;
		}
		int rc = app_emit(from, (size_t)idx, ev[i].rooms, ev[i].nrooms, ev[i].except,
				  ev[i].nexcept, ev[i].event, ev[i].payload);
		if (rc < 0)
			pd_log(LOG_WARNING, "event emit failed id=%lld event=%s err=%s", ev[i].id,
			       ev[i].event, strerror(-rc));
		else if (q != NULL && q->n < sizeof(q->ids) / sizeof(q->ids[0]))
			q->ids[q->n++] = ev[i].id;
	}
	if (q == NULL)
		return;
	if (q->n == 0 || dbpool_submit(g_app.db, from, dbq_outbox_mark_job, mark_done, q) < 0)
		free(q);
}

void app_fail(struct sio_socket *s, long long ack_id, enum pd_err e, const char *msg)
{
	const char *code;
	switch (e) {
	case PD_E_BAD_REQUEST:
	case PD_E_FORBIDDEN:
	case PD_E_NOT_FOUND:
	case PD_E_RATE_LIMITED:
		code = pd_err_code(e);
		break;
	case PD_E_TOO_LARGE:
		code = "BAD_REQUEST";
		break;
	case PD_E_UNAUTHORIZED:
		code = "FORBIDDEN";
		break;
	default:
		code = "INTERNAL";
		if (msg == NULL || msg[0] == '\0')
			msg = e == PD_E_UNAVAILABLE ? "service unavailable, try again"
						    : "internal error";
		break;
	}
	sio_error(s, ack_id, code, msg != NULL && msg[0] != '\0' ? msg : pd_err_message(e));
}

/* A reply mark: the dialect's reply event with the ack's fields. */
static void reply_ok(struct sio_socket *s, long long ack_id, json_t *fields)
{
	const struct dialect *d = &dia_table[s->dialect];
	size_t k = (size_t)(-2 - ack_id);
	const struct dia_in *e = k < d->nin ? &d->in[k] : NULL;
	json_t *p = NULL, *args = NULL;
	if (e == NULL || e->reply == NULL || fields == NULL)
		goto out;
	if (e->reply_build != NULL)
		p = e->reply_build(fields);
	else if ((p = json_copy(fields)) != NULL)
		json_object_del(p, "ok");
	if (p != NULL && (args = json_pack("[O]", p)) != NULL)
		sio_emit(s, e->reply, args, NULL, 0);
out:
	json_decref(args);
	json_decref(p);
	json_decref(fields);
}

void app_ok(struct sio_socket *s, long long ack_id, json_t *fields)
{
	if (ack_id < -1) {
		reply_ok(s, ack_id, fields);
		return;
	}
	if (ack_id < 0) {
		json_decref(fields);
		return;
	}
	json_t *o = fields != NULL ? fields : json_object();
	json_t *args = NULL;
	if (o != NULL && json_object_set_new(o, "ok", json_true()) == 0)
		args = json_pack("[O]", o);
	if (args != NULL)
		sio_ack(s, ack_id, args, NULL, 0);
	json_decref(args);
	json_decref(o);
}

int app_submit(struct sio_socket *s, long long ack_id, dbpool_job_fn run, dbpool_done_fn done,
	       void *arg)
{
	if (g_app.db == NULL) {
		sio_error(s, ack_id, "INTERNAL", "this broker has no database");
		return -1;
	}
	int rc = dbpool_submit(g_app.db, s->nsp->w->loop, run, done, arg);
	if (rc < 0) {
		pd_log(LOG_WARNING, "database job refused err=%s", strerror(-rc));
		sio_error(s, ack_id, "INTERNAL",
			  rc == -EAGAIN ? "server busy, try again" : "service unavailable");
		return -1;
	}
	return 0;
}

const char *app_id_arg(const json_t *payload, const char *key)
{
	if (json_is_string(payload))
		return json_string_value(payload);
	if (json_is_object(payload))
		return json_string_value(json_object_get(payload, key));
	return NULL;
}

size_t app_emit_nsp(const struct sio_socket *s)
{
	return s->nsp->def->view ? g_app.main_idx : s->nsp->idx;
}

const char *app_status_error(const struct sio_socket *s)
{
	return dia_table[s->dialect].err_status;
}

/* ---- "/" and its views ---- */

/* The dialect a new socket of "/" speaks: the handshake's ?dialect=, else
 * the `dialect` key; -1 for an unknown ?dialect=. */
static int main_dialect(const struct sio_client *c)
{
	if (c->es->hs_dialect < 0)
		return -1;
	return c->es->hs_dialect > 0 ? c->es->hs_dialect - 1 : g_app.dialect;
}

/* auth_authorize with the dialect's names for the refusals. */
static int main_authorize(struct sio_client *c, const json_t *auth, struct sio_ident **ident,
			  const char **err, json_t **err_data)
{
	int d = main_dialect(c);
	if (d < 0) {
		*err = "Invalid dialect";
		return -1;
	}
	if (auth_authorize(c, auth, ident, err, err_data) < 0) {
		*err = dia_handshake_error(&dia_table[d], *err);
		return -1;
	}
	return 0;
}

static struct app_sock *sock_new(struct sio_socket *s)
{
	struct app_sock *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->s = s;
	if (s->ident != NULL)
		a->who_ok = dbq_who_set(&a->who, s->ident->sub, s->ident->org, s->ident->role) == 0;
	s->app = a;
	return a;
}

/* The state and automatic rooms of a socket of "/" or a view; -1 after
 * disconnecting it. */
static int sock_start(struct sio_socket *s)
{
	if (sock_new(s) == NULL || auth_join_rooms(s) < 0) {
		pd_log(LOG_ERR, "sio automatic rooms failed id=%s", s->id);
		sio_disconnect(s, 0);
		return -1;
	}
	return 0;
}

static void main_connect(struct sio_socket *s, const json_t *auth)
{
	(void)auth;
	int d = main_dialect(s->c);
	s->dialect = (uint8_t)(d > 0 ? d : DIA_HELPDESK);
	if (sock_start(s) < 0)
		return;
	h_presence_connect(s);
	if (g_app.db != NULL && app_of(s)->who_ok)
		h_notif_count(s);
}

static void main_disconnect(struct sio_socket *s, const char *reason)
{
	struct app_sock *a = app_of(s);
	(void)reason;
	if (a == NULL)
		return;
	typing_stop_all(s);
	if (a->chatting[0] != '\0')
		g_app.adapter->ops->pres_set_info(g_app.adapter, a->who.id, "chattingWith", "");
	h_room_typing_fini(s);
	h_room_disconnect(s);
	h_presence_disconnect(s);
	free(a->typing);
	free(a);
	s->app = NULL;
	s->watch = 0;
}

/* A view of seed 001 (contract 7.1): the same rooms and handlers as "/",
 * the view's dialect; /presence counts in presence like a socket of "/",
 * /notifications gets notification:count on connect. */
static void view_connect(struct sio_socket *s, const json_t *auth)
{
	(void)auth;
	int d = dia_of_view(s->nsp->def->name);
	char room[ROOM_NAME_MAX + 1];
	s->dialect = (uint8_t)(d > 0 ? d : DIA_HELPDESK);
	if (sock_start(s) < 0)
		return;
	/* seed 001's views hear their tickets, their user, their team and
	 * their subscriptions, not the org-wide rooms */
	if (s->ident != NULL) {
		pd_room_org(room, sizeof(room), s->ident->org);
		room_leave(s, room);
		pd_room_agents(room, sizeof(room), s->ident->org);
		room_leave(s, room);
	}
	if (strcmp(s->nsp->def->name, "/presence") == 0)
		h_presence_connect(s);
	if (strcmp(s->nsp->def->name, "/notifications") == 0 && g_app.db != NULL &&
	    app_of(s)->who_ok)
		h_notif_count(s);
}

typedef void (*handler_fn)(struct sio_socket *s, const json_t *arg, long long ack);

static void h_typing_start(struct sio_socket *s, const json_t *arg, long long ack)
{
	typing_event(s, arg, ack, 1);
}

static void h_typing_stop(struct sio_socket *s, const json_t *arg, long long ack)
{
	typing_event(s, arg, ack, 0);
}

static void h_room_typing_start(struct sio_socket *s, const json_t *arg, long long ack)
{
	h_room_typing(s, arg, ack, 1);
}

static void h_room_typing_stop(struct sio_socket *s, const json_t *arg, long long ack)
{
	h_room_typing(s, arg, ack, 0);
}

/* The single implementation of each internal operation. */
static const handler_fn op_handler[DOP__N] = {
    [DOP_TICKET_JOIN] = h_ticket_join,
    [DOP_TICKET_LEAVE] = h_ticket_leave,
    [DOP_MESSAGE_SEND] = h_message_send,
    [DOP_TYPING_START] = h_typing_start,
    [DOP_TYPING_STOP] = h_typing_stop,
    [DOP_PRESENCE_PING] = h_presence_ping,
    [DOP_PRESENCE_STATUS] = h_presence_status,
    [DOP_PRESENCE_SUBSCRIBE] = h_presence_subscribe,
    [DOP_PRESENCE_UNSUBSCRIBE] = h_presence_unsubscribe,
    [DOP_CHAT_FOCUS] = h_chat_focus,
    [DOP_CHAT_BLUR] = h_chat_blur,
    [DOP_NOTIF_READ] = h_notif_read,
    [DOP_NOTIF_READ_ALL] = h_notif_read_all,
    [DOP_ROOM_JOIN] = h_room_join,
    [DOP_ROOM_LEAVE] = h_room_leave,
    [DOP_ROOM_MESSAGE] = h_room_message,
    [DOP_ROOM_TYPING_START] = h_room_typing_start,
    [DOP_ROOM_TYPING_STOP] = h_room_typing_stop,
    [DOP_AUTH] = h_auth,
};

static const struct rl_rule *rule_of(enum dia_op op)
{
	switch (op) {
	case DOP_TYPING_START:
	case DOP_ROOM_TYPING_START: return &g_app.rate_typing;
	case DOP_MESSAGE_SEND: return &g_app.rate_send;
	case DOP_PRESENCE_STATUS: return &g_app.rate_status;
	default: return &g_app.rate_default;
	}
}

/* Count the event on its internal operation (an alias shares the
 * budget); 0 to go on, -1 when it was refused (answered). */
static int rate_check(struct sio_socket *s, enum dia_op op, const char *name, long long ack)
{
	struct app_sock *a = app_of(s);
	long retry;
	if (ratelimit_hit(&a->rl[op], rule_of(op), s->nsp->w->loop->now, &retry) == 0)
		return 0;
	char msg[96];
	METRIC_ADD(s->nsp->w, rate_limited, 1);
	snprintf(msg, sizeof(msg), "too many %.40s events, retry in %ld s", name, retry);
	pd_log(LOG_DEBUG, "rate limited id=%s event=%.40s retry_after=%ld", s->id, name, retry);
	sio_error_retry(s, ack, "RATE_LIMITED", msg, retry);
	return -1;
}

/* Every namespace of the main profile: the socket's dialect turns the
 * client's event into an internal operation and argument. */
static void main_event(struct sio_socket *s, const char *event, const json_t *data,
		       const struct sio_bin *bins, size_t nbins, long long ack_id)
{
	(void)bins;
	(void)nbins;
	if (app_of(s) == NULL)
		return;
	const struct dialect *d = &dia_table[s->dialect];
	const struct dia_in *e = dia_in_find(d, event);
	enum dia_op op = e != NULL ? e->op : DOP_OTHER;
	if (rate_check(s, op, event, ack_id) < 0)
		return;
	if (e == NULL || op_handler[op] == NULL) {
		sio_error(s, ack_id, "BAD_REQUEST", "unknown event");
		return;
	}
	if (!app_of(s)->who_ok) {
		sio_error(s, ack_id, "FORBIDDEN", "the token's user cannot use this event");
		return;
	}
	json_t *arg = dia_in_arg(e, json_array_get(data, 1));
	if (arg == NULL && json_array_get(data, 1) != NULL) {
		sio_error(s, ack_id, "INTERNAL", "out of memory");
		return;
	}
	if (ack_id < 0 && e->reply != NULL)
		ack_id = APP_REPLY_ACK(e - d->in);
	op_handler[op](s, arg, ack_id);
	json_decref(arg);
}

static void main_delivered(struct sio_socket *s, const struct msg *m)
{
	h_chat_delivered(s, m);
}

/* ---- "/dashboard" ---- */

static void dash_connect(struct sio_socket *s, const json_t *auth)
{
	(void)auth;
	if (sock_start(s) < 0)
		return;
	dashboard_add(s);
}

static void dash_disconnect(struct sio_socket *s, const char *reason)
{
	struct app_sock *a = app_of(s);
	(void)reason;
	if (a == NULL)
		return;
	dashboard_remove(s);
	free(a);
	s->app = NULL;
}

static void dash_event(struct sio_socket *s, const char *event, const json_t *data,
		       const struct sio_bin *bins, size_t nbins, long long ack_id)
{
	(void)data;
	(void)bins;
	(void)nbins;
	if (app_of(s) != NULL && rate_check(s, DOP_OTHER, event, ack_id) == 0)
		sio_error(s, ack_id, "BAD_REQUEST", "unknown event");
}

#define APP_VIEW(nsp)                                                                     \
	{.name = (nsp), .view = 1, .authorize = auth_authorize, .on_connect = view_connect,     \
	 .on_event = main_event, .on_disconnect = main_disconnect}

const struct sio_nsp_def app_nsps[] = {
    {.name = "/", .authorize = main_authorize, .on_connect = main_connect,
     .on_event = main_event, .on_disconnect = main_disconnect, .on_delivered = main_delivered},
    APP_VIEW("/tickets"),
    APP_VIEW("/presence"),
    APP_VIEW("/notifications"),
    APP_VIEW("/chat"),
    {.name = "/dashboard", .authorize = auth_authorize_admin, .on_connect = dash_connect,
     .on_event = dash_event, .on_disconnect = dash_disconnect},
};
const size_t app_nnsps = sizeof(app_nsps) / sizeof(app_nsps[0]);
