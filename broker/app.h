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
#include "eio.h"
#include "ratelimit.h"
#include "sio.h"

struct pd_cfg;
struct cluster;
struct presence;
struct typing_slot;

extern const struct sio_nsp_def app_nsps[];
extern const size_t app_nnsps;

extern const struct sio_nsp_def conformance_nsps[];
extern const size_t conformance_nnsps;

extern const struct sio_nsp_def bench_nsps[];
extern const size_t bench_nnsps;

/* engineio-echo: Engine.IO only, every message echoed as it came. */
extern const struct eio_ops echo_eio_ops;

/* Client events of "/" with their own rate counter; everything else
 * shares APP_EV_OTHER. */
enum app_ev {
	APP_EV_TICKET_JOIN,
	APP_EV_TICKET_LEAVE,
	APP_EV_MESSAGE_SEND,
	APP_EV_TYPING_START,
	APP_EV_TYPING_STOP,
	APP_EV_PRESENCE_PING,
	APP_EV_PRESENCE_STATUS,
	APP_EV_PRESENCE_SUBSCRIBE,
	APP_EV_PRESENCE_UNSUBSCRIBE,
	APP_EV_CHAT_FOCUS,
	APP_EV_CHAT_BLUR,
	APP_EV_NOTIF_READ,
	APP_EV_NOTIF_READ_ALL,
	APP_EV_OTHER,
	APP_EV__N
};

struct app {
	struct dbpool *db;         /* NULL without database_url */
	struct dbq_grants *grants; /* with db */
	struct cluster *cluster;   /* NULL without valkey_url */
	struct presence *presence; /* with cluster, main profile */
	struct rl_rule rate_typing, rate_send, rate_status, rate_default;
	long typing_timeout_ms, dashboard_interval_ms;
	size_t dash_idx; /* index of "/dashboard" in g_broker.nsps */
};

extern struct app g_app;

/* Per-socket state of the main profile ("/" and "/dashboard"). */
struct app_sock {
	struct sio_socket *s;
	struct dbq_who who;
	int who_ok;                 /* who holds UUIDs and a known role */
	char focus[DBQ_ID];         /* chat:focus ticket, "" when none */
	char status[8];             /* presence:status without Valkey; "" = online */
	struct typing_slot *typing; /* NULL until the first typing:start */
	int dash;                   /* counted in the dashboard registry */
	int pres;                   /* counted in presence (h_presence_connect) */
	struct rl_counter rl[APP_EV__N];
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
/* {ok:true, ...fields} as the ack when asked; fields (stolen) may be NULL. */
void app_ok(struct sio_socket *s, long long ack_id, json_t *fields);
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

#endif
