/* presence: who is connected, across brokers, kept in Valkey.
 *
 * Keys (K = adapter_key):
 *   K:presence:<user>          hash {status, lastSeen (ms, Valkey clock), org,
 *                              role, chattingWith (seed 003's roster)}
 *                              (GET /presence reads status and lastSeen;
 *                              status "offline" once the last connection went)
 *   K:presence:<user>:conns    zset of "<broker uid>:<socket id>", score =
 *                              expiry in ms (refreshed by the owning broker)
 *   K:presence:org:<org>       set of the org's users online now
 *   K:presence:conns           zset of "<org>\x1f<user>\x1f<uid>:<sid>",
 *                              same scores, for the sweep
 *   K:presence:sweeper         the sweep lock (SET NX PX, owner uid)
 *
 * Every decision is one Lua script, so it is atomic: user:online when a
 * user's conns set goes from empty to not, user:offline when it goes
 * empty — by a disconnect, or by the sweep (every PRESENCE_SWEEP_MS, by
 * whoever holds the lock) removing connections whose broker stopped
 * refreshing them. Each transition is emitted once, by the broker whose
 * script made it, to org:<org> on every broker (cluster_emit).
 * While Valkey is down, connections are kept locally and written back
 * when it returns (users found gone get user:online again).
 *
 * Runs on the cluster's home loop; the functions below may be called from
 * any loop. */
#ifndef PD_PRESENCE_H
#define PD_PRESENCE_H

#include <jansson.h>
#include <stddef.h>

struct cluster;
struct loop;
struct presence;

#define PRESENCE_SWEEP_MS 1000
#define PRESENCE_BATCH 200 /* connections per refresh script */
#define PRESENCE_ID_MAX 128

/* ttl_ms: presence_ttl * 1000 (>= 3000). nsp_idx: the namespace whose
 * rooms get user:online / user:offline / presence:update (the main one,
 * "/" = 0). Call before the loops run. NULL on ENOMEM. */
struct presence *presence_new(struct cluster *c, long ttl_ms, size_t nsp_idx);
/* Start the refresh and sweep timers (home loop or before it runs). */
int presence_start(struct presence *p);
/* Home loop, after the other loops stopped; NULL ok. Connections are not
 * removed from Valkey here: call presence_disconnect for each socket
 * first when shutting down cleanly. */
void presence_free(struct presence *p);

/* Any loop. A socket (sid) of user in org connected / disconnected.
 * 0, -EINVAL (an id empty or over PRESENCE_ID_MAX) or -ENOMEM. */
int presence_connect(struct presence *p, const char *sid, const char *user, const char *org);
int presence_disconnect(struct presence *p, const char *sid);
/* The same for a socket kept keep_ms for connection state recovery: its
 * connection stays in Valkey until then (no user:offline unless it is not
 * back in time; a restored socket takes it over). 0 = presence_disconnect. */
int presence_disconnect_keep(struct presence *p, const char *sid, long keep_ms);
/* presence:ping: refresh this connection now. */
int presence_ping(struct presence *p, const char *sid);
/* presence:status: online | away | busy (else -EINVAL); stored, then
 * presence:update {userId, status, lastSeen} to org:<org> and
 * presence:<user> (the room a presence:subscribe should join). */
int presence_set_status(struct presence *p, const char *sid, const char *status);

/* list: [{userId, status, lastSeen}] (lastSeen null when never seen),
 * borrowed for the call; NULL when Valkey is down or failed. Runs on
 * reply_on. */
typedef void (*presence_list_fn)(const json_t *list, void *ud);
/* Users of org online now (for presence:sync, pushdeskctl online). */
int presence_online(struct presence *p, const char *org, struct loop *reply_on,
		    presence_list_fn fn, void *ud);
/* Status of the given users (presence:subscribe's presence:list):
 * "offline" for a user with no connection. */
int presence_get(struct presence *p, const char *const *users, size_t n, struct loop *reply_on,
		 presence_list_fn fn, void *ud);

/* Seed 003's roster (contract 7.3): [{userId, role, lastActive (ISO
 * 8601), chattingWith}] of the org's users online now. */
int presence_roster(struct presence *p, const char *org, struct loop *reply_on,
		    presence_list_fn fn, void *ud);
/* The roster as presence:roster to org:<org> on every broker (the
 * presence dialect's presence:update list; the others drop it). */
int presence_roster_emit(struct presence *p, const char *org);
/* Set (value "" or NULL: clear) a field of the user's presence hash kept
 * for the roster: "role", "chattingWith". Fire and forget. */
int presence_set_info(struct presence *p, const char *user, const char *field, const char *value);
struct presence_stats {
	unsigned long long online_emitted, offline_emitted, swept, refreshes, local_conns;
};
void presence_get_stats(const struct presence *p, struct presence_stats *out);

#endif
