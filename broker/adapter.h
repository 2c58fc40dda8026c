/* adapter: the one seam between the handlers and where rooms and presence
 * live. A handler emits, counts, queries sockets and keeps presence
 * through these operations and never asks whether there is a Valkey:
 *
 * - adapter_local.c: one process. Rooms are room.c's on every loop (a
 *   query fans out with loop_each and merges); presence is a table of
 *   this process's connections.
 * - adapter_valkey.c: several brokers (and Node servers with
 *   @socket.io/redis-adapter) on one Valkey: cluster.c (fan-out, leases,
 *   queries across brokers) and presence.c behind the same operations.
 *
 * The per-loop part of every query (adapter_local_part) is the local
 * adapter's, and cluster.c answers other brokers' requests with it: a
 * typed query (struct adapter_query), decoded once from the wire's JSON.
 *
 * Every operation may be called from any broker loop unless marked. */
#ifndef PD_ADAPTER_H
#define PD_ADAPTER_H

#include <jansson.h>
#include <stddef.h>

struct loop;
struct worker;
struct adapter;
struct pd_buf;
struct sio_nsp_def;

/* ---- typed queries (one loop, one broker, every broker) ---- */

enum adapter_kind {
	/* on pushdesk's wire (SERVER_SIDE_EMIT "pushdesk:request"): */
	AK_ROOMS,        /* {room: members, ...} */
	AK_SOCKETS,      /* [socket ids in any of rooms (all when none), in none of except] */
	AK_USER_SOCKETS, /* [socket ids in room user:<id>] */
	AK_ONLINE,       /* [user ids (JWT sub) of sockets in org:<id>], deduplicated */
	AK_STATS,        /* {connections, sockets, rooms, events_in, events_out} */
	/* the adapter's own requests (answered for other servers): */
	AK_ALL_ROOMS,  /* [room names], deduplicated */
	AK_FETCH,      /* [RemoteSocket] */
	AK_JOIN,       /* the selected sockets join targets; null */
	AK_LEAVE,      /* ... leave targets; null */
	AK_DISCONNECT, /* ... are disconnected (close: their connection too); null */
	AK_COUNT,      /* the number of selected sockets */
	AK__N
};

/* "rooms", "sockets", ...: the kinds' names on the wire, AK__N entries. */
extern const char *const adapter_kind_names[AK__N];
/* The kind of a wire name; -1 when unknown. wire_only: only the kinds
 * pushdesk's request carries (AK_ROOMS..AK_STATS). */
int adapter_kind_find(const char *name, int wire_only);

/* Strings are borrowed (from the JSON the query came in, or the caller)
 * and read by every loop at once: nothing may change them meanwhile. */
#define ADAPTER_NO_NSP ((size_t)-1) /* a namespace this broker does not serve */
struct adapter_query {
	enum adapter_kind kind;
	size_t nsp_idx; /* or ADAPTER_NO_NSP: only AK_STATS has a part */
	const char **rooms, **except, **targets;
	size_t nrooms, nexcept, ntargets;
	const char *id; /* AK_USER_SOCKETS: the user; AK_ONLINE: the org */
	int close;      /* AK_DISCONNECT */
};

/* Decode a query from its wire form: arg {nsp, rooms, except, targets,
 * user | org, close} (strings borrowed from arg), nsp looked up in the
 * broker's namespaces nsps. 0 or -ENOMEM; adapter_query_clear in every
 * case. */
int adapter_query_from_json(struct adapter_query *q, enum adapter_kind kind, const json_t *arg,
			    const struct sio_nsp_def *nsps, size_t nnsps);
/* The wire form of q (for pushdesk's request), nsp_idx an index of nsps.
 * NULL on ENOMEM or an index out of nsps. */
json_t *adapter_query_to_json(const struct adapter_query *q, const struct sio_nsp_def *nsps,
			      size_t nnsps);
void adapter_query_clear(struct adapter_query *q);

/* The part of q on loop w (its thread): owned JSON, NULL for none. */
json_t *adapter_local_part(struct worker *w, const struct adapter_query *q);
/* Merge parts (of loops or brokers) of a kind: owned, never NULL
 * (json null when every part was NULL). The first part that is not NULL
 * becomes the merge (it is changed): parts are the caller's to drop. */
json_t *adapter_merge(enum adapter_kind kind, json_t *const *parts, size_t n);

/* ---- the seam ---- */

typedef void (*adapter_count_fn)(struct loop *l, size_t found, void *ud);
/* merged: owned by the callback. missing: servers that did not answer (0
 * = complete; -1: only this broker could be asked). */
typedef void (*adapter_result_fn)(struct loop *l, json_t *merged, int missing, void *ud);
/* list borrowed for the call; NULL when presence is unavailable. */
typedef void (*adapter_list_fn)(const json_t *list, void *ud);

/* One connection in presence. */
struct adapter_conn {
	const char *sid, *user, *org, *role, *team;
	int main; /* a socket of "/" (its views count for transitions only) */
};

struct adapter_ops {
	const char *name;
	/* life (home loop): start before the loops run, stop once every
	 * socket is closed (returns ms to wait), free after they stopped */
	int (*start)(struct adapter *a, char *err, size_t errlen);
	long (*stop)(struct adapter *a);
	void (*free)(struct adapter *a);
	/* "none" (no shared state), "up" or "down" */
	const char *(*state)(const struct adapter *a);
	/* its lines of /metrics (none for the local adapter) */
	void (*metrics)(const struct adapter *a, struct pd_buf *b);

	/* event(payload) to rooms (none: the namespace) minus except,
	 * everywhere; payload borrowed. 0 or -errno. */
	int (*emit)(struct adapter *a, struct loop *from, size_t nsp_idx, const char *const *rooms,
		    size_t nrooms, const char *const *except, size_t nexcept, const char *event,
		    const json_t *payload);
	/* How many sockets are in any of rooms and none of except, everywhere
	 * (a view's socket counts for "/"); fn on origin. Names copied. */
	int (*count)(struct adapter *a, struct loop *origin, size_t nsp_idx,
		     const char *const *rooms, size_t nrooms, const char *const *except,
		     size_t nexcept, adapter_count_fn fn, void *ud);
	/* Run q everywhere (q and its strings copied before the call
	 * returns); fn on reply_on with the merge. -ENOTSUP for a kind the
	 * adapter cannot ask of other servers. */
	int (*query)(struct adapter *a, struct loop *reply_on, const struct adapter_query *q,
		     adapter_result_fn fn, void *ud);

	/* presence: from is the caller's loop (transitions are emitted from it) */
	int (*pres_connect)(struct adapter *a, struct loop *from, const struct adapter_conn *c);
	/* keep_ms > 0: the socket may come back by connection state recovery
	 * within keep_ms; its presence is kept that long (no offline, no
	 * flap), a restored socket takes it over. */
	int (*pres_disconnect)(struct adapter *a, struct loop *from, const char *sid, long keep_ms);
	int (*pres_ping)(struct adapter *a, const char *sid);
	/* status online | away | busy: stored, presence:update to org:<org>
	 * and presence:<user>, presence:team to the user's team */
	int (*pres_status)(struct adapter *a, struct loop *from, const struct adapter_conn *c,
			   const char *status);
	/* [user ids] of org online now; fn on reply_on (list NULL: unknown) */
	int (*pres_online)(struct adapter *a, const char *org, struct loop *reply_on,
			   adapter_list_fn fn, void *ud);
	/* [{userId, status, lastSeen}] of users ("offline" when not connected) */
	int (*pres_get)(struct adapter *a, const char *const *users, size_t n,
			struct loop *reply_on, adapter_list_fn fn, void *ud);
	/* seed 003's roster (contract 7.3); -ENOTSUP without Valkey */
	int (*pres_roster)(struct adapter *a, const char *org, struct loop *reply_on,
			   adapter_list_fn fn, void *ud);
	int (*pres_roster_emit)(struct adapter *a, const char *org);
	/* a roster field of the user ("role", "team", "chattingWith"; value
	 * "" clears); kept only where a roster exists */
	int (*pres_set_info)(struct adapter *a, const char *user, const char *field,
			     const char *value);

	/* Connection state recovery (contract 8) is not an operation here:
	 * recovery.c keeps sessions and the event stream in Valkey, set up
	 * by adapter_valkey with its cluster, called by sio.c at CONNECT and
	 * when a socket closes. One process (adapter_local) has none. */
};

/* Every adapter starts with this. */
struct adapter {
	const struct adapter_ops *ops;
};

/* The handlers' calls (a must be set: app.c makes one in every profile). */
static inline int adapter_emit(struct adapter *a, struct loop *from, size_t nsp_idx,
			       const char *const *rooms, size_t nrooms, const char *const *except,
			       size_t nexcept, const char *event, const json_t *payload)
{
	return a->ops->emit(a, from, nsp_idx, rooms, nrooms, except, nexcept, event, payload);
}
static inline int adapter_count(struct adapter *a, struct loop *origin, size_t nsp_idx,
				const char *const *rooms, size_t nrooms, const char *const *except,
				size_t nexcept, adapter_count_fn fn, void *ud)
{
	return a->ops->count(a, origin, nsp_idx, rooms, nrooms, except, nexcept, fn, ud);
}
static inline const char *adapter_state(const struct adapter *a)
{
	return a->ops->state(a);
}

/* nsp_idx: where presence events go (the main namespace "/"). */
struct adapter *adapter_local_new(size_t nsp_idx);

struct cluster_cfg;
/* Build the Valkey adapter: the cluster, and presence (with_presence,
 * presence_ttl_ms) on nsp_idx. NULL with err. Before the loops run. */
struct pd_cfg;
/* pcfg: recovery_window and recovery_max_events, read when with_presence
 * (the main profile: connection state recovery, recovery.h). */
struct adapter *adapter_valkey_new(struct loop *home, const struct cluster_cfg *cfg,
				   const struct pd_cfg *pcfg, int with_presence,
				   long presence_ttl_ms, size_t nsp_idx, char *err, size_t errlen);

/* presence:team's payload {userId, status[, lastSeen (ISO 8601) when
 * offline]}: NULL on ENOMEM. */
json_t *adapter_team_payload(const char *user, const char *status, long long last_seen_ms);
/* presence:team to team:<team> (seed 001's /presence), through a's emit.
 * Nothing for an empty team. */
void adapter_team_emit(struct adapter *a, struct loop *from, size_t nsp_idx, const char *team,
		       const char *user, const char *status);

#endif
