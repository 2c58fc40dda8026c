/* recovery: Socket.IO connection state recovery across brokers (contract
 * 8), on Valkey.
 *
 * - Events: every room emit of pushdesk (the broker's own, the API's
 *   outbox relay, pushdeskctl emit) goes through pd_keys_lua_xpub: XADD to
 *   the namespace's stream <key>:{recovery}:events:<nsp> (MAXLEN ~
 *   recovery_max_events), then PUBLISH with the stream id as a fourth item
 *   of the adapter message. Every broker, the publisher included, delivers
 *   it when it comes back on the channel, with the id as the packet's last
 *   argument (the offset socket.io-client keeps), so channel order is
 *   stream order everywhere.
 * - Sessions: a socket of a namespace that is not a view gets a pid in its
 *   CONNECT reply; its session {sid, sub, rooms} lives in
 *   <key>:{recovery}:session:<pid> (PX recovery_window), written at connect,
 *   within a second of a change of its rooms, every window/3 while it
 *   lives, and at a transport disconnect (deleted at a client's or the
 *   server's namespace disconnect).
 * - Restore: a CONNECT with {pid, offset} reads the session and the stream
 *   from the offset in one script; the socket gets its sid and rooms back
 *   and every event after the offset that its rooms select, then the live
 *   ones (home collects what arrives while the script runs: exactly once,
 *   in order).
 * - Catch-up: when Valkey comes back, each namespace queues live events,
 *   reads the stream after the last id it delivered, delivers the gap, then
 *   the queue (a Valkey restart loses nothing that reached the stream).
 *
 * - adapter_mode sharded: a room's shard channel and the stream are in
 *   different slots, so a publisher XADDs, then SPUBLISHes the sharded
 *   message with the id as "offset" (pd_wire_sh_offset). Brokers deliver
 *   as messages arrive, once per id (a ring of recent ids); a restore
 *   first holds the session rooms' channels subscribed (cluster_hold_rooms,
 *   cluster_sync), then reads the stream, and replays in stream order; when
 *   shard subscriptions were lost (a node restarted, CLUSTERDOWN, Valkey
 *   down) the channels' entries since two seconds before the loss are read
 *   from the stream and those not delivered yet are (vkss_gap_fn), retried
 *   until Valkey answers.
 *
 * Everything on Valkey runs on the cluster's home loop; sessions are read
 * and restored on the socket's loop. */
#ifndef PD_RECOVERY_H
#define PD_RECOVERY_H

#include <jansson.h>
#include <stdint.h>

struct broker;
struct cluster;
struct sio_client;
struct sio_socket;
struct sio_ident;

struct recovery;

struct recovery_stats {
	uint64_t recovered, missed, replayed, caught_up;
};

/* On the cluster's home loop before the loops run, for broker b (its
 * namespaces and loops; kept). window_ms > 0; grace_ms: how long a dropped
 * socket still counts in presence (capped at window_ms). NULL on ENOMEM.
 * Registers the cluster's recovery hooks. */
struct recovery *recovery_new(struct cluster *c, const struct broker *b, long window_ms,
			      long max_events, long grace_ms);
/* Arm the per-loop session timers (posts to every loop). 0 or -ENOMEM. */
int recovery_start(struct recovery *r);
/* From the configuration (pd_emitter_recovery_cfg): b->recovery set, or
 * left NULL when recovery_window is 0. 0, or -1 with err. */
struct pd_cfg;
int recovery_setup(struct cluster *c, struct broker *b, const struct pd_cfg *cfg, char *err,
		   size_t errlen);
/* After the loops stopped. NULL ok. */
void recovery_free(struct recovery *r);
void recovery_get_stats(const struct recovery *r, struct recovery_stats *out);

/* sio hook, CONNECT of namespace nsp_idx after its middleware accepted:
 * 1 when auth asks for a recovery ({pid, offset}): the connect finishes
 * later (sio_connect_finish, restored or not) and ident is taken; 0: go
 * on as usual. */
int recovery_connect(struct recovery *r, struct sio_client *c, size_t nsp_idx,
		     const json_t *auth, struct sio_ident *ident);
/* sio hooks: a socket with a pid connected (persist it), or is closing for
 * reason (persist for the window, or forget it). Socket's loop. */
void recovery_socket_opened(struct recovery *r, struct sio_socket *s);
void recovery_socket_closed(struct recovery *r, struct sio_socket *s, const char *reason);
/* 1 when reason keeps the session for recovery_window (Socket.IO's
 * recoverable reasons: transport close/error, ping timeout, shutdown). */
int recovery_reason_keeps(const char *reason);

#endif
