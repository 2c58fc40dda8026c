/* broker: process-wide settings (immutable once the loops run) and the
 * per-loop state every module reaches through its loop. */
#ifndef PD_BROKER_H
#define PD_BROKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"
#include "loop.h"
#include "msg.h"

struct pd_jwt;
struct broker;
struct sio_nsp_def;
struct nsp_rt;

enum broker_profile {
	PROFILE_NORMAL = 0,
	PROFILE_CONFORMANCE,
	PROFILE_ECHO,
	PROFILE_BENCH,
};

/* Counters of one loop: written by that loop only (relaxed atomics so the
 * admin listener on loop 0 may read them). */
struct metrics {
	atomic_ullong conn_ws, conn_polling; /* gauges */
	atomic_ullong sockets, rooms;        /* gauges */
	atomic_ullong sessions_total, events_in, events_out, bytes_in, bytes_out;
	atomic_ullong ws_writes; /* sendmsg calls to WebSockets (events_out / ws_writes: coalescing) */
	atomic_ullong slow_disconnects, ping_timeouts, protocol_errors;
	atomic_ullong rate_limited; /* client events refused by a rate limit */
	/* Socket.IO EVENTs fully written to a WebSocket or handed to a
	 * polling response: time since the msg was encoded (msg.born_ns). */
	struct msg_lat delivery;
};

#define METRIC_ADD(w, field, n) atomic_fetch_add_explicit(&(w)->m.field, (n), memory_order_relaxed)
#define METRIC_SUB(w, field, n) atomic_fetch_sub_explicit(&(w)->m.field, (n), memory_order_relaxed)
#define METRIC_GET(w, field) atomic_load_explicit(&(w)->m.field, memory_order_relaxed)

struct worker {
	struct loop *loop;
	/* the process's loops, for a fan-out from this one (room_emit) */
	struct loop *loops;
	int nloops;
	size_t nnsps; /* entries of nsps (cfg->nnsps) */
	/* the process's settings (main.c's), passed to the modules that read
	 * them through their loop (eio.c, sio.c, room.c ...), and its
	 * connection count */
	const struct broker *cfg;
	atomic_long *nconn;
	struct hmap sessions; /* sid -> eio_session (this loop's sessions) */
	struct hmap sockets;  /* Socket.IO socket id -> sio_socket */
	struct nsp_rt *nsps;  /* one per namespace definition */
	uint32_t epoch;       /* for deduplicating room fan-out */
	int stopping;
	size_t live_ws; /* wsconns not yet dead (shutdown waits for them) */
	struct metrics m;
};

struct broker {
	int profile;
	char path[128]; /* broker_path with its trailing slash, e.g. "/socket.io/" */
	long ping_interval, ping_timeout, connect_timeout; /* ms */
	long max_payload;
	long max_connections;
	long header_timeout;     /* ms a connection has for a request head; 0 = none */
	long max_pending_per_ip; /* connections without a request yet, per address; 0 = any */
	size_t out_soft, out_hard;
	long out_soft_ms;
	int cors_any;
	char **cors; /* allowed origins */
	size_t ncors;
	char token_cookie[128];
	char route[9]; /* broker_route: ".route" ends every sid; "" = none */
	struct pd_jwt *jwt; /* NULL in the conformance and echo profiles */
	const struct sio_nsp_def *nsps;
	size_t nnsps;
	int nloops;
	struct loop *loops;
	struct worker *workers;
	atomic_long nconn;       /* Engine.IO sessions, all loops */
	atomic_uint next_loop;   /* round robin for new WebSocket sessions */
	struct recovery *recovery; /* connection state recovery (recovery_setup); NULL = off */
	/* adapter_mode sharded (cluster_sharded.c): told on a loop when a room
	 * gets its first member there (up 1) or loses its last (0); NULL
	 * otherwise. Set before the loops run. */
	void (*room_watch)(struct nsp_rt *n, const char *room, int up, void *ud);
	void *room_watch_ud;
};

static inline struct worker *worker_of(struct loop *l)
{
	return (struct worker *)l->data;
}

/* 1 if origin may use the broker (CORS and WebSocket origin check). */
int broker_origin_allowed(const char *origin);
/* A random URL-safe id of len chars (len <= 32) plus NUL. */
void broker_random_id(char *out, size_t len);
/* A new Engine.IO session id of len chars plus NUL: random, ending in
 * ".<broker_route>" when a route is set (what a sticky front end reads). */
void broker_session_id(char *out, size_t len);

#endif
