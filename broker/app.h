/* app: the namespaces each profile serves. The main profile's table is in
 * app.c (its handlers in h_*.c, typing.c, dashboard.c); the protocol-testing
 * profiles (contract 6) are in profiles.c.
 *
 * The main profile's process-wide services live in g_app: the database pool
 * (database_url; when absent, a handler that needs it answers INTERNAL),
 * the adapter (adapter.h: rooms and presence, Valkey's with valkey_url,
 * else this process's), the rate rules. */
#ifndef PD_APP_H
#define PD_APP_H

#include <jansson.h>
#include <stddef.h>

#include "dbpool.h"
#include "dbq.h"
#include "dialect.h"
#include "eio.h"
#include "ratelimit.h"
#include "sio.h"

struct pd_cfg;
struct adapter;
struct typing_slot;
struct room_typing;

extern const struct sio_nsp_def app_nsps[];
extern const size_t app_nnsps;

extern const struct sio_nsp_def conformance_nsps[];
extern const size_t conformance_nnsps;

extern const struct sio_nsp_def bench_nsps[];
extern const size_t bench_nnsps;

/* engineio-echo: Engine.IO only, every message echoed as it came. */
extern const struct eio_ops echo_eio_ops;

struct app {
	struct broker *broker;     /* the process's settings (app_setup's) */
	struct dbpool *db;         /* NULL without database_url */
	struct dbq_grants *grants; /* with db */
	struct adapter *adapter;   /* every profile, once app_setup ran */
	struct rl_rule rate_typing, rate_send, rate_status, rate_default;
	long typing_timeout_ms, dashboard_interval_ms;
	size_t dash_idx; /* index of "/dashboard" in broker->nsps */
	size_t main_idx; /* index of "/": where every handler emits (views see it) */
	int dialect;     /* the `dialect` key: dia_table index for "/" */
};

extern struct app g_app;

/* Per-socket state of the main profile ("/" and "/dashboard"). */
struct app_sock {
	struct sio_socket *s;
	struct dbq_who who;
	int who_ok;                 /* who holds UUIDs and a known role */
	char focus[DBQ_ID];         /* chat:focus ticket, "" when none */
	char chatting[DBQ_ID];      /* chat:focus {partnerId} (7.3), "" when none */
	struct typing_slot *typing; /* NULL until the first typing:start */
	struct room_typing *room_typing; /* typing in a free room (h_room.c) */
	int dash;                   /* counted in the dashboard registry */
	int pres;                   /* counted in presence (h_presence_connect) */
	struct rl_counter rl[DOP__N]; /* per internal operation */
};

/* ---- life cycle (main.c) ---- */

/* Read the rate and timing keys, make the adapter (Valkey's for the main
 * and bench profiles with valkey_url, presence in it for the main one),
 * and the pool (main profile, database_url). Loops initialised, not yet
 * running. b: the process's settings, kept for the life of the app.
 * 0, or -1 with err. */
int app_setup(const struct pd_cfg *cfg, struct loop *home, struct broker *b, char *err,
	      size_t errlen);
/* Start the adapter and the dashboard timer (home loop, before
 * it runs). 0 or -1 with err. */
int app_start(char *err, size_t errlen);
/* Home loop, once every socket is closed: stop the adapter, stop taking
 * database jobs. Returns ms to wait before stopping the loop. */
long app_stop(void);
/* After every loop stopped: free what app_setup made. */
void app_fini(void);

/* ---- helpers for the handlers ---- */

/* Emit event(payload) to rooms of namespace nsp_idx through the adapter:
 * every loop and, with Valkey, every broker. payload borrowed (NULL: no
 * argument). */
int app_emit(struct loop *from, size_t nsp_idx, const char *const *rooms, size_t nrooms,
	     const char *const *except, size_t nexcept, const char *event, const json_t *payload);
/* Deliver committed outbox rows (dbq_event) and mark them published. */
void app_publish(struct loop *from, const struct dbq_event *ev, size_t nev);
/* Queue a database job. 0, or -1 after answering the client (INTERNAL):
 * then the caller still owns arg. */
int app_submit(struct sio_socket *s, long long ack_id, dbpool_job_fn run, dbpool_done_fn done,
	       void *arg);
/* Error per contract 3 from a pd_err (UNAVAILABLE and the like: INTERNAL). */
void app_fail(struct sio_socket *s, long long ack_id, enum pd_err e, const char *msg);
/* {ok:true, ...fields} as the ack when asked; fields (stolen) may be NULL.
 * ack_id may also be a reply mark (app_reply_ack): then the dialect's
 * reply event is emitted instead, built from the fields. */
void app_ok(struct sio_socket *s, long long ack_id, json_t *fields);
/* Ack ids below -1 stand for "no client ack; reply with inbound entry k
 * of the socket's dialect": handlers pass them through like any ack id
 * (errors then go as event `error`, as without an ack). */
#define APP_REPLY_ACK(k) (-2 - (long long)(k))
/* The namespace index s's handlers emit on: "/" for a view's socket. */
size_t app_emit_nsp(const struct sio_socket *s);
/* The error code name of s's dialect for a bad presence status. */
const char *app_status_error(const struct sio_socket *s);
/* The id in a payload given either bare ("id") or as {key: "id"}; NULL if
 * neither. Borrowed from payload. */
const char *app_id_arg(const json_t *payload, const char *key);
static inline struct app_sock *app_of(const struct sio_socket *s)
{
	return s->app;
}

/* ---- handlers (h_*.c) ---- */

void h_ticket_join(struct sio_socket *s, const json_t *arg, long long ack);
void h_ticket_leave(struct sio_socket *s, const json_t *arg, long long ack);
void h_message_send(struct sio_socket *s, const json_t *arg, long long ack);
void h_chat_focus(struct sio_socket *s, const json_t *arg, long long ack);
void h_chat_blur(struct sio_socket *s, const json_t *arg, long long ack);
/* on_delivered of "/": a message:new to a focused socket. */
void h_chat_delivered(struct sio_socket *s, const struct msg *m);
void h_notif_count(struct sio_socket *s);
void h_notif_read(struct sio_socket *s, const json_t *arg, long long ack);
void h_notif_read_all(struct sio_socket *s, const json_t *arg, long long ack);
void h_presence_connect(struct sio_socket *s);
void h_presence_disconnect(struct sio_socket *s);
void h_presence_ping(struct sio_socket *s, const json_t *arg, long long ack);
void h_presence_status(struct sio_socket *s, const json_t *arg, long long ack);
void h_presence_subscribe(struct sio_socket *s, const json_t *arg, long long ack);
void h_presence_unsubscribe(struct sio_socket *s, const json_t *arg, long long ack);
/* contract 7 (h_room.c) */
void h_room_join(struct sio_socket *s, const json_t *arg, long long ack);
void h_room_leave(struct sio_socket *s, const json_t *arg, long long ack);
void h_room_message(struct sio_socket *s, const json_t *arg, long long ack);
/* typing:start (start 1) / typing:stop ROOM: a free room the socket is in,
 * or ticket:<id> / conv:<id> as section 3's typing */
void h_room_typing(struct sio_socket *s, const json_t *arg, long long ack, int start);
void h_auth(struct sio_socket *s, const json_t *arg, long long ack);
/* The socket goes: user:left to its free rooms, its room typing stops. */
void h_room_disconnect(struct sio_socket *s);
void h_room_typing_fini(struct sio_socket *s);

#endif
