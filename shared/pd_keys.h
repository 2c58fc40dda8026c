/* pd_keys: the one home of the names pushdesk keeps in Valkey below the
 * adapter_key prefix K, and of the Lua scripts that more than one program
 * runs over them (the broker writes, pushdeskctl and the API read).
 *
 *   K:{brokers}               zset   broker uid -> its lease's expiry (Valkey ms)
 *   K:{brokers}:UID           string a broker's lease: its stats as JSON, PX lease_ttl
 *   K:{presence}:USER         hash   status, lastSeen, org
 *   K:{presence}:USER:conns   zset   BROKERUID:SID -> expiry
 *   K:{presence}:org:ORG      set    the users of ORG online
 *   K:{presence}:conns        zset   ORG\x1fUSER\x1fBROKERUID:SID -> expiry (for the sweep)
 *   K:{presence}:sweeper      string the sweep's lock
 *
 * The {braces} are a Valkey Cluster hash tag: a cluster hashes only the
 * part between them, so every key one Lua script touches (the lease pair;
 * all presence keys, which the sweep and the roster reach by id at run
 * time) is in one slot and the script is accepted. On one Valkey they are
 * just characters. Keys stay below "K:" so ACL key patterns keep working;
 * deployments with different K on one cluster share the two slots.
 *
 * Ids are UUIDs or broker uids: none is "conns", "sweeper" or starts with
 * "org:", so the names cannot meet. Every expiry is Valkey's clock in ms
 * (PD_KEYS_LUA_NOW), so that brokers with skewed clocks agree. */
#ifndef PD_KEYS_H
#define PD_KEYS_H

#include <stddef.h>

#define PD_KEYS_DEFAULT_PREFIX "socket.io" /* adapter_key's default */
#define PD_KEYS_MAX_PREFIX 128             /* bytes of adapter_key */
#define PD_KEYS_MAX_ID 128                 /* bytes of a user, org or broker id */
/* A buffer this size holds every key of a prefix and ids within the limits. */
#define PD_KEYS_MAX (PD_KEYS_MAX_PREFIX + PD_KEYS_MAX_ID + 32)

/* The prefix for adapter_key: PD_KEYS_DEFAULT_PREFIX when NULL or "". */
const char *pd_keys_prefix(const char *adapter_key);

/* Each writes one key for prefix K (NULL or "" = the default) into buf,
 * NUL-terminated: 0, or -1 when it does not fit in n bytes (buf then "").
 * pd_keys_presence_org(..., "*") is the SCAN pattern of every org set. */
int pd_keys_brokers(char *buf, size_t n, const char *prefix);
int pd_keys_broker(char *buf, size_t n, const char *prefix, const char *uid);
int pd_keys_presence_user(char *buf, size_t n, const char *prefix, const char *user);
int pd_keys_presence_conns(char *buf, size_t n, const char *prefix, const char *user);
int pd_keys_presence_org(char *buf, size_t n, const char *prefix, const char *org);
int pd_keys_presence_all(char *buf, size_t n, const char *prefix);
int pd_keys_presence_lock(char *buf, size_t n, const char *prefix);
/* Connection state recovery: the recent events of a namespace (a stream)
 * and one dropped socket's session (by its private id, pid). */
int pd_keys_recovery_stream(char *buf, size_t n, const char *prefix, const char *nsp);
int pd_keys_recovery_session(char *buf, size_t n, const char *prefix, const char *pid);
/* A publish already appended to the stream, by the publisher's own id of
 * the event (the API's outbox row): its value is the stream id. */
int pd_keys_recovery_seen(char *buf, size_t n, const char *prefix, const char *event_id);

/* ---- Lua ---- */

/* The lease keys' hash-tagged segment. */
#define PD_KEYS_SEG_BROKERS ":{brokers}"

/* The segments of the presence names, spelled once: pd_keys.c builds
 * the keys from them and PD_KEYS_LUA_PRESENCE below names them in Lua. */
#define PD_KEYS_SEG_PRESENCE ":{presence}:"
#define PD_KEYS_SEG_ORG "org:"
#define PD_KEYS_SEG_CONNS ":conns"

/* Sets `now` to Valkey's clock in ms (the clock of every expiry score). */
#define PD_KEYS_LUA_NOW                                                                            \
	"local t = redis.call('TIME')\n"                                                           \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* Lua functions naming a user's presence keys under prefix p, for the
 * scripts that find ids in Valkey (the sweep) or take many at once. */
#define PD_KEYS_LUA_PRESENCE                                                                       \
	"local function k_user(p, u) return p .. '" PD_KEYS_SEG_PRESENCE "' .. u end\n"            \
	"local function k_conns(p, u) return p .. '" PD_KEYS_SEG_PRESENCE                          \
	"' .. u .. '" PD_KEYS_SEG_CONNS "' end\n"                                                  \
	"local function k_org(p, o) return p .. '" PD_KEYS_SEG_PRESENCE PD_KEYS_SEG_ORG            \
	"' .. o end\n"

/* The broker's lease: SET it, ZADD its expiry, drop the dead members and
 * return the live uids. KEYS: K:broker:UID, K:brokers; ARGV: uid, ttl ms,
 * value (the broker's stats JSON). */
extern const char pd_keys_lua_lease[];

/* The uids whose lease is live now, an array. KEYS: K:brokers. Run by the
 * broker before a query across brokers and by pushdeskctl stats/rooms. */
extern const char pd_keys_lua_live[];

/* Connection state recovery's publish: XADD the adapter message (a
 * msgpack [uid, packet, opts]) to the namespace's stream, then PUBLISH it
 * with the stream id as a fourth item ([uid, packet, opts, id]: adapters
 * read three), so that the offset every broker delivers is the stream's
 * and channel order is stream order. KEYS: the stream; ARGV: message,
 * channel, max events. Returns PUBLISH's receiver count. */
extern const char pd_keys_lua_xpub[];
/* The same once per event: KEYS: the stream, the event's seen key
 * (pd_keys_recovery_seen); ARGV: message, channel, max events, the seen
 * key's time to live (ms). A second run (a publisher that lost the first
 * one's reply) publishes nothing and returns 0. */
extern const char pd_keys_lua_xpub_once[];
/* Sharded mode's append (the SPUBLISH follows from the publisher): XADD
 * once per event. KEYS: the stream, the seen key; ARGV: message, max
 * events, time to live (ms). Returns the stream id, the first run's on a
 * second run. */
extern const char pd_keys_lua_xadd_once[];

#endif
