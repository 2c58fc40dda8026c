/* cluster: several brokers (and Node Socket.IO servers with
 * @socket.io/redis-adapter) on one Valkey acting as one server.
 *
 * - Fan-out: PSUBSCRIBE <key>#<nsp>#* per namespace; each broadcast is
 *   decoded with adapter_codec, our own uid ignored, and delivered to the
 *   local members of its rooms (minus except) on every loop; the broker's
 *   own room emits are published in the same format (cluster_publish).
 * - Membership: a uid per process, a lease key <key>:broker:<uid> (PX
 *   lease_ttl, value: this broker's stats as JSON) renewed every
 *   lease_ttl/3, and the sorted set <key>:brokers (member uid, score the
 *   lease's expiry in Valkey server ms).
 * - Requests: the adapter's request channel <key>-request#<nsp>#. We
 *   answer the adapter's SOCKETS, ALL_ROOMS, REMOTE_JOIN/LEAVE/DISCONNECT,
 *   REMOTE_FETCH and BROADCAST (delivered, clientCount 0: no acks yet), and
 *   our own queries go as SERVER_SIDE_EMIT ["pushdesk:request", kind, arg]
 *   answered on <key>-response#<nsp>#<uid># with {uid, result}. A query
 *   waits for the brokers whose lease is live (rechecked every second while
 *   it waits), never more than broker_request_timeout.
 *
 * The cluster lives on one loop (its home, normally loop 0); every
 * function marked "any loop" may be called from any broker loop. */
#ifndef PD_CLUSTER_H
#define PD_CLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct vk;
struct cluster;
struct sio_bin;
struct sio_nsp_def;
struct worker;
struct broker;

#define CLUSTER_UID_LEN 16
#define CLUSTER_REQUEST_EVENT "pushdesk:request"
#define CLUSTER_RECHECK_MS 1000

struct cluster_cfg {
	const char *valkey_url;  /* required */
	const char *key;         /* adapter_key; NULL/"" = "socket.io" */
	long lease_ttl_ms;       /* lease_ttl * 1000 */
	long request_timeout_ms; /* broker_request_timeout */
	long command_timeout_ms; /* Valkey command/connect timeout; 0 = request_timeout_ms */
	/* the broker it serves (read, never changed): its namespaces (a
	 * channel set each, views excepted) and its loops (a query's parts,
	 * the lease's figures) */
	const struct sio_nsp_def *nsps;
	size_t nnsps;
	struct loop *loops;
	struct worker *workers;
	int nloops;
	/* its settings, where this layer hooks in before the loops run:
	 * the sharded room watch, the recovery (adapter_valkey_new) */
	struct broker *broker;
	/* adapter_mode sharded: SSUBSCRIBE/SPUBLISH in createShardedAdapter's
	 * format, dynamic mode (cluster_sharded.c); 0: classic */
	int sharded;
};

/* Build the cluster for the namespaces of cfg->nsps on loop home.
 * Resolves the Valkey host: call before the loops run. NULL with err. */
struct cluster *cluster_new(struct loop *home, const struct cluster_cfg *cfg, char *err,
			    size_t errlen);
/* Connect and subscribe (non-blocking), start the lease. Home loop (or
 * before its loop runs). 0 or -errno. */
int cluster_start(struct cluster *c);
/* Graceful leave: DEL the lease, ZREM from <key>:brokers (best effort,
 * fire and forget), stop timers. Home loop. Call a turn or more before
 * cluster_free so the commands leave. */
void cluster_stop(struct cluster *c);
/* Free (pending queries get their callback with what they have). Home
 * loop, after the other loops stopped. NULL ok. */
void cluster_free(struct cluster *c);

const char *cluster_uid(const struct cluster *c);
const char *cluster_key(const struct cluster *c);
struct vk *cluster_vk(struct cluster *c);
struct loop *cluster_home(const struct cluster *c);
/* Any loop: 1 while Valkey is up. */
int cluster_is_up(const struct cluster *c);
/* Any loop: live brokers at the last lease renewal (1 = just us; 0
 * before the first renewal or while Valkey is down). */
int cluster_server_count(const struct cluster *c);

/* Counters (any loop, relaxed). */
struct cluster_stats {
	uint64_t published, publish_dropped;   /* our broadcasts */
	uint64_t received, delivered_remote;   /* others' broadcasts decoded / delivered */
	uint64_t decode_errors;
	uint64_t requests_sent, requests_answered, requests_timed_out;
	uint64_t lease_renewals, lease_failures;
};
void cluster_get_stats(const struct cluster *c, struct cluster_stats *out);

/* ---- fan-out ---- */

/* Any loop: publish one of the broker's own room emits so that the other
 * brokers and Node servers deliver it to their members. data is the
 * EVENT array [event, args...] as given to sio_msg (placeholders refer to
 * bins). rooms none = the whole namespace. vol: the volatile flag.
 * Encoded on the calling thread, published from home. 0, -ENOTCONN
 * (Valkey down: dropped and counted), -EINVAL or -ENOMEM. */
int cluster_publish(struct cluster *c, size_t nsp_idx, const json_t *data, const struct sio_bin *bins,
		    size_t nbins, const char *const *rooms, size_t nrooms, const char *const *except,
		    size_t nexcept, int vol);

/* Any loop: emit event(payload) to rooms everywhere: delivered on every
 * loop of this broker (room_emit from the caller's loop `from`) and
 * published for the others. payload borrowed, NULL = no argument. 0 or
 * -errno (local delivery done even if publishing failed). */
int cluster_emit(struct cluster *c, struct loop *from, size_t nsp_idx, const char *const *rooms,
		 size_t nrooms, const char *const *except, size_t nexcept, const char *event,
		 const json_t *payload);

/* ---- queries across brokers ---- */

/* results: an array of {"uid": ..., "result": ...}, this broker's first;
 * owned by the callback (json_decref it). missing: brokers with a live
 * lease that did not answer in time (0 = complete), -1 when Valkey is
 * down (local answer only). Runs on the loop given as reply_on. */
typedef void (*cluster_reply_fn)(json_t *results, int missing, void *ud);

/* Any loop: run q (a kind of pushdesk's request, AK_ROOMS..AK_STATS;
 * copied) on every broker. It goes as ["pushdesk:request", kind's wire
 * name, arg] (adapter_query_to_json; {} for stats). Result per broker:
 *   AK_ROOMS        {room: members, ...}
 *   AK_SOCKETS      [socket ids in any of rooms; all when none]
 *   AK_USER_SOCKETS [socket ids in room user:<id>, namespace "/"]
 *   AK_ONLINE       [user ids (JWT sub) of sockets in org:<id>]
 *   AK_STATS        {connections, sockets, rooms, events_in, events_out}
 * 0, -EINVAL (another kind) or -ENOMEM (fn not called). */
struct adapter_query;
int cluster_request(struct cluster *c, struct loop *reply_on, const struct adapter_query *q,
		    cluster_reply_fn fn, void *ud);

/* For presence: called on home when Valkey comes up (after the lease was
 * renewed) and goes down. One hook. */
typedef void (*cluster_state_fn)(struct cluster *c, int up, void *ud);
void cluster_set_state_hook(struct cluster *c, cluster_state_fn fn, void *ud);

/* Connection state recovery (recovery.c) plugs in here; every hook runs
 * on home except publish (any loop). Unset = recovery off. */
struct adapter_broadcast;
struct cluster_rec_hooks {
	/* A decoded broadcast carrying a stream offset (ours included): 1 =
	 * taken (recovery delivers it in stream order and may move b's
	 * contents out), 0 = delivered as any other. */
	int (*broadcast)(void *ud, size_t nsp_idx, struct adapter_broadcast *b);
	/* Valkey up (1) or down (0), after the cluster's own handling. */
	void (*state)(void *ud, int up);
	/* Publish one encoded adapter message of the broker's own through the
	 * stream; delivered locally with its offset. Classic (smsg NULL): msg
	 * goes through pd_keys_lua_xpub and comes back on the channel.
	 * Sharded: msg (classic form) is XADDed, smsg (the sharded form)
	 * SPUBLISHed on ch with the id. 0 or -errno (then cluster_emit
	 * delivers locally, without offset). */
	int (*publish)(void *ud, size_t nsp_idx, const char *ch, size_t chlen, const char *msg,
		       size_t len, const char *smsg, size_t slen);
	/* Sharded: shard channels of this broker that were down are
	 * subscribed again (names borrowed); since_ms: wall clock of the loss. */
	void (*gap)(void *ud, const char *const *channels, size_t n, uint64_t since_ms);
};
void cluster_set_rec_hooks(struct cluster *c, const struct cluster_rec_hooks *h, void *ud);
/* 1 in adapter_mode sharded. */
int cluster_is_sharded(const struct cluster *c);
/* Home, sharded: keep (up 1) or stop keeping (0) the shard channels of
 * rooms of namespace nsp_idx subscribed as if a local member were in
 * them (a restore reads a session's events before its socket joins).
 * Classic: nothing. */
void cluster_hold_rooms(struct cluster *c, size_t nsp_idx, const char *const *rooms, size_t n,
			int up);
/* Home: fn(ud) on home once every channel held or joined so far is
 * subscribed (sharded), at once in classic mode. 0 or -ENOMEM. */
int cluster_sync(struct cluster *c, void (*fn)(void *ud), void *ud);
/* The shard channel a broadcast to rooms of namespace nsp goes on (the
 * room's own for one room, else the namespace's), appended to out.
 * 0 or -errno. */
/* Home, sharded: wall ms of a loss of shard subscriptions not yet
 * reported to the recovery's gap read (vkss_gap_pending); 0 when none,
 * and always 0 in classic mode. */
uint64_t cluster_sh_gap_pending(const struct cluster *c);
struct pd_buf;
int cluster_sh_channel(const struct cluster *c, struct pd_buf *out, const char *nsp,
		       const char *const *rooms, size_t nrooms);

#endif
