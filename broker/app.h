/* app: the namespaces each profile serves. The main profile's table is in
 * app.c (its handlers in h_*.c, typing.c, dashboard.c); the protocol-testing
 * profiles (contract 6) are in profiles.c.
 *
 * The main profile's process-wide services live in g_app: the database pool
 * (database_url), the cluster and presence (valkey_url), the rate rules.
 * Each may be absent: a handler that needs a missing one answers INTERNAL. */
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
struct cluster;
struct presence;
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
	struct dbpool *db;         /* NULL without database_url */
	struct dbq_grants *grants; /* with db */
	struct cluster *cluster;   /* NULL without valkey_url */
	struct presence *presence; /* with cluster, main profile */
	struct rl_rule rate_typing, rate_send, rate_status, rate_default;
	long typing_timeout_ms, dashboard_interval_ms;
	size_t dash_idx; /* index of "/dashboard" in g_broker.nsps */
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
	char status[8];             /* presence:status without Valkey; "" = online */
	struct typing_slot *typing; /* NULL until the first typing:start */
	struct room_typing *room_typing; /* typing in a free room (h_room.c) */
	int dash;                   /* counted in the dashboard registry */
	int pres;                   /* counted in presence (h_presence_connect) */
	struct rl_counter rl[DOP__N]; /* per internal operation */
};

/* ---- life cycle (main.c) ---- */

/* Read the rate and timing keys, and for the main and bench profiles
 * create what is configured: the pool (main profile only), the cluster
 * and presence (presence: main profile only). Loops initialised, not yet
 * running. 0, or -1 with err. */
int app_setup(const struct pd_cfg *cfg, struct loop *home, char *err, size_t errlen);
/* Start the cluster, presence and the dashboard timer (home loop, before
 * it runs). 0 or -1 with err. */
int app_start(char *err, size_t errlen);
/* Home loop, once every socket is closed: leave the cluster, stop taking
 * database jobs. Returns ms to wait before stopping the loop. */
long app_stop(void);
/* After every loop stopped: free what app_setup made. */
void app_fini(void);

/* ---- helpers for the handlers ---- */

/* Emit event(payload) to rooms of namespace nsp_idx on every loop and, with
 * a cluster, every broker. payload borrowed (NULL: no argument). */
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
/* Count, on every loop of this broker, the sockets of namespace nsp_idx in
 * any of rooms (names are socket ids too) and in none of except; fn runs on
 * origin with the total. Names are copied. 0, or -ENOMEM (fn not called). */
typedef void (*app_count_fn)(struct loop *l, size_t found, void *ud);
int app_count(struct loop *origin, size_t nsp_idx, const char *const *rooms, size_t nrooms,
	      const char *const *except, size_t nexcept, app_count_fn fn, void *ud);
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
void h_presence_fini(void); /* after the loops stopped */
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
