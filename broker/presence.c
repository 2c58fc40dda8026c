/* presence: per-connection liveness in Valkey (zset scores = expiry),
 * online/offline decided atomically by Lua scripts, a locked periodic
 * sweep for the connections of dead brokers, and the local registry that
 * refreshes this broker's connections and survives Valkey outages. */
#include "presence.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "broker.h"
#include "cluster.h"
#include "dialect.h"
#include "hmap.h"
#include "loop.h"
#include "pd_buf.h"
#include "pd_keys.h"
#include "pd_log.h"
#include "vk.h"

/* KEYS: hash, conns, all conns, org set. ARGV: member, global member, ttl, user, org.
 * 1 when this is the user's first connection anywhere. */
static const char CONNECT_LUA[] = PD_KEYS_LUA_NOW
    "local had = redis.call('ZCARD', KEYS[2])\n"
    "redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])\n"
    "redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[2])\n"
    "if had == 0 then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'online', 'lastSeen', now, 'org', ARGV[5])\n"
    "  redis.call('SADD', KEYS[4], ARGV[4])\n"
    "  return {1, now}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'lastSeen', now)\n"
    "return {0, now}\n";

/* KEYS: hash, conns, all conns, org set. ARGV: member, global member, user,
 * keep ms. 1 when that was the user's last connection. keep > 0 (a socket
 * in its connection state recovery window): the connection stays until
 * then and the sweep decides, so a recovered socket never flaps. */
static const char DISCONNECT_LUA[] = PD_KEYS_LUA_NOW
    "local keep = tonumber(ARGV[4])\n"
    "if keep > 0 then\n"
    "  redis.call('ZADD', KEYS[2], 'XX', now + keep, ARGV[1])\n"
    "  redis.call('ZADD', KEYS[3], 'XX', now + keep, ARGV[2])\n"
    "  return {0, now}\n"
    "end\n"
    "local removed = redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('ZREM', KEYS[3], ARGV[2])\n"
    "if removed == 1 and redis.call('ZCARD', KEYS[2]) == 0 then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'offline', 'lastSeen', now)\n"
    "  redis.call('SREM', KEYS[4], ARGV[3])\n"
    "  return {1, now}\n"
    "end\n"
    "if removed == 1 then redis.call('HSET', KEYS[1], 'lastSeen', now) end\n"
    "return {0, now}\n";

/* KEYS: all conns. ARGV: prefix, ttl, then (user, org, member, global
 * member) per connection. Returns org, user, lastSeen of every user whose
 * conns were empty (gone during an outage, or swept): online again. */
static const char REFRESH_LUA[] = PD_KEYS_LUA_NOW PD_KEYS_LUA_PRESENCE
    "local exp = now + tonumber(ARGV[2])\n"
    "local back = {}\n"
    "local i = 3\n"
    "while i + 3 <= #ARGV do\n"
    "  local user, org = ARGV[i], ARGV[i + 1]\n"
    "  local base, conns = k_user(ARGV[1], user), k_conns(ARGV[1], user)\n"
    "  local had = redis.call('ZCARD', conns)\n"
    "  redis.call('ZADD', conns, exp, ARGV[i + 2])\n"
    "  redis.call('ZADD', KEYS[1], exp, ARGV[i + 3])\n"
    "  if had == 0 then\n"
    "    redis.call('HSET', base, 'status', 'online', 'lastSeen', now, 'org', org)\n"
    "    redis.call('SADD', k_org(ARGV[1], org), user)\n"
    "    back[#back + 1] = org\n"
    "    back[#back + 1] = user\n"
    "    back[#back + 1] = now\n"
    "  else\n"
    "    redis.call('HSET', base, 'lastSeen', now)\n"
    "  end\n"
    "  i = i + 4\n"
    "end\n"
    "return back\n";

/* KEYS: all conns, lock. ARGV: uid, lock ms, prefix, limit, ttl. Only the
 * lock's holder sweeps. Returns org, user, lastSeen of each user whose
 * last connection expired. */
static const char SWEEP_LUA[] = PD_KEYS_LUA_PRESENCE
    "local cur = redis.call('GET', KEYS[2])\n"
    "if cur and cur ~= ARGV[1] then return {} end\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))\n" PD_KEYS_LUA_NOW
    "local exp = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, "
    "tonumber(ARGV[4]))\n"
    "local out = {}\n"
    "for _, g in ipairs(exp) do\n"
    "  redis.call('ZREM', KEYS[1], g)\n"
    "  local a = string.find(g, '\\31', 1, true)\n"
    "  local b = a and string.find(g, '\\31', a + 1, true)\n"
    "  if b then\n"
    "    local org, user = string.sub(g, 1, a - 1), string.sub(g, a + 1, b - 1)\n"
    "    local m = string.sub(g, b + 1)\n"
    "    local base, conns = k_user(ARGV[3], user), k_conns(ARGV[3], user)\n"
    "    local sc = redis.call('ZSCORE', conns, m)\n"
    "    if sc and tonumber(sc) <= now then\n"
    "      redis.call('ZREM', conns, m)\n"
    "      if redis.call('ZCARD', conns) == 0 then\n"
    "        local seen = tonumber(sc) - tonumber(ARGV[5])\n"
    "        redis.call('HSET', base, 'status', 'offline', 'lastSeen', seen)\n"
    "        redis.call('SREM', k_org(ARGV[3], org), user)\n"
    "        out[#out + 1] = org\n"
    "        out[#out + 1] = user\n"
    "        out[#out + 1] = seen\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: hash. ARGV: status. Returns lastSeen. */
static const char STATUS_LUA[] = PD_KEYS_LUA_NOW
    "redis.call('HSET', KEYS[1], 'status', ARGV[1], 'lastSeen', now)\n"
    "return now\n";

/* KEYS[1]: the presence conns zset (not read: it routes the script to the
 * presence slot's node in a cluster); KEYS[2], when given: an org set
 * whose members are the users. ARGV: prefix, users... Returns user, status, lastSeen ("" when never seen), role,
 * chattingWith ("" when not set) per user. */
static const char GET_LUA[] = PD_KEYS_LUA_PRESENCE
    "local users = {}\n"
    "if #KEYS > 1 then users = redis.call('SMEMBERS', KEYS[2]) end\n"
    "for i = 2, #ARGV do users[#users + 1] = ARGV[i] end\n"
    "local out = {}\n"
    "for _, u in ipairs(users) do\n"
    "  local h = redis.call('HMGET', k_user(ARGV[1], u), 'status', 'lastSeen', 'role', 'chattingWith')\n"
    "  local st = h[1]\n"
    "  if redis.call('ZCARD', k_conns(ARGV[1], u)) == 0 or not st then st = 'offline' end\n"
    "  out[#out + 1] = u\n"
    "  out[#out + 1] = st\n"
    "  out[#out + 1] = h[2] or ''\n"
    "  out[#out + 1] = h[3] or ''\n"
    "  out[#out + 1] = h[4] or ''\n"
    "end\n"
    "return out\n";

struct pconn {
	struct hnode hn;
	char status[8];
	char sid[PRESENCE_ID_MAX + 1];
	char user[PRESENCE_ID_MAX + 1];
	char org[PRESENCE_ID_MAX + 1];
};

struct presence {
	struct cluster *c;
	struct loop *home;
	size_t nsp_idx;
	long ttl_ms;
	char prefix[160];     /* K */
	char all_key[192];    /* K:presence:conns */
	char lock_key[192];   /* K:presence:sweeper */
	struct hmap conns;    /* sid -> pconn, home loop only */
	struct loop_timer refresh_timer, sweep_timer;
	int sweeping;
	atomic_int inflight;  /* posts and commands holding p; base ref dropped by free */
	int freed;
	atomic_ullong online_emitted, offline_emitted, swept, refreshes;
};

#define P_ADD(p, f, n) atomic_fetch_add_explicit(&(p)->f, (n), memory_order_relaxed)

static void p_hold(struct presence *p)
{
	atomic_fetch_add(&p->inflight, 1);
}

static void p_release(struct presence *p)
{
	if (atomic_fetch_sub(&p->inflight, 1) == 1) {
		hmap_fini(&p->conns);
		free(p);
	}
}

static const char *pconn_key(const struct hnode *n)
{
	return container_of(n, struct pconn, hn)->sid;
}

static struct pconn *pconn_find(struct presence *p, const char *sid)
{
	struct hnode *h = hmap_get(&p->conns, sid, strlen(sid));
	return h ? container_of(h, struct pconn, hn) : NULL;
}

/* ---- emitting ---- */

struct team_tx {
	struct presence *p;
	int online;
	long long last_seen;
	char user[PRESENCE_ID_MAX + 1];
};

static void on_team_reply(struct vk *v, const redisReply *r, void *ud)
{
	struct team_tx *x = ud;
	(void)v;
	if (r != NULL && r->type == REDIS_REPLY_STRING && r->len > 0 && r->len <= PRESENCE_ID_MAX &&
	    !x->p->freed) {
		char room[PRESENCE_ID_MAX + 8];
		snprintf(room, sizeof(room), "team:%.*s", (int)r->len, r->str);
		const char *rooms[1] = {room};
		json_t *u = adapter_team_payload(x->user, x->online ? "online" : "offline",
						 x->last_seen);
		if (u != NULL)
			cluster_emit(x->p->c, x->p->home, x->p->nsp_idx, rooms, 1, NULL, 0,
				     "presence:team", u);
		json_decref(u);
	}
	p_release(x->p);
	free(x);
}

/* presence:team to the user's team (its id kept in the presence hash by
 * the broker the user connected to). Home loop. */
static void team_emit(struct presence *p, const char *user, int online, long long last_seen)
{
	char key[PD_KEYS_MAX];
	struct team_tx *x;
	if (strlen(user) > PRESENCE_ID_MAX ||
	    pd_keys_presence_user(key, sizeof(key), p->prefix, user) < 0)
		return;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return;
	x->p = p;
	x->online = online;
	x->last_seen = last_seen;
	snprintf(x->user, sizeof(x->user), "%s", user);
	const char *argv[3] = {"HGET", key, "team"};
	p_hold(p);
	if (vk_command(cluster_vk(p->c), on_team_reply, x, 3, argv, NULL) < 0) {
		p_release(p);
		free(x);
	}
}

static void emit_transition(struct presence *p, const char *org, const char *user, int online,
			    long long last_seen)
{
	char org_room[PRESENCE_ID_MAX + 8], sub_room[PRESENCE_ID_MAX + 16];
	snprintf(org_room, sizeof(org_room), "org:%s", org);
	snprintf(sub_room, sizeof(sub_room), "presence:%s", user);
	const char *rooms[1] = {org_room};
	json_t *uid = json_string(user);
	cluster_emit(p->c, p->home, p->nsp_idx, rooms, 1, NULL, 0,
		     online ? "user:online" : "user:offline", uid);
	json_decref(uid);
	/* subscribers (presence:subscribe) in their own room */
	json_t *upd = json_pack("{s:s, s:s, s:I}", "userId", user, "status",
				online ? "online" : "offline", "lastSeen", (json_int_t)last_seen);
	const char *subs[1] = {sub_room};
	cluster_emit(p->c, p->home, p->nsp_idx, subs, 1, NULL, 0, "presence:update", upd);
	json_decref(upd);
	/* seed 003's list of the org's users, seed 001's team update (only
	 * their dialects show them) */
	presence_roster_emit(p, org);
	team_emit(p, user, online, last_seen);
	if (online)
		P_ADD(p, online_emitted, 1);
	else
		P_ADD(p, offline_emitted, 1);
	pd_log(LOG_DEBUG, "presence %s user=%s org=%s", online ? "online" : "offline", user, org);
}

static long long reply_ll(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	if (r->type == REDIS_REPLY_STRING)
		return strtoll(r->str, NULL, 10);
	return 0;
}

/* (org, user, lastSeen) triples */
static void emit_triples(struct presence *p, const redisReply *r, int online)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			pd_log(LOG_ERR, "presence script failed err=\"%s\"", r->str);
		return;
	}
	for (size_t i = 0; i + 2 < r->elements; i += 3) {
		const redisReply *o = r->element[i], *u = r->element[i + 1];
		if (o->type != REDIS_REPLY_STRING || u->type != REDIS_REPLY_STRING)
			continue;
		if (!online)
			P_ADD(p, swept, 1);
		emit_transition(p, o->str, u->str, online, reply_ll(r->element[i + 2]));
	}
}

/* ---- commands ---- */

struct pctx {
	struct presence *p;
	char user[PRESENCE_ID_MAX + 1];
	char org[PRESENCE_ID_MAX + 1];
	char status[8];
};

/* The connection's keys (hash, conns, org set): 0, or -1 if one does not fit. */
static int conn_keys(struct presence *p, const struct pconn *pc, char keys[3][PD_KEYS_MAX],
		     struct pd_buf *member, struct pd_buf *gmember)
{
	if (pd_keys_presence_user(keys[0], PD_KEYS_MAX, p->prefix, pc->user) != 0 ||
	    pd_keys_presence_conns(keys[1], PD_KEYS_MAX, p->prefix, pc->user) != 0 ||
	    pd_keys_presence_org(keys[2], PD_KEYS_MAX, p->prefix, pc->org) != 0)
		return -1;
	pd_buf_printf(member, "%s:%s", cluster_uid(p->c), pc->sid);
	pd_buf_printf(gmember, "%s\x1f%s\x1f%s:%s", pc->org, pc->user, cluster_uid(p->c), pc->sid);
	return 0;
}

static struct pctx *pctx_new(struct presence *p, const struct pconn *pc)
{
	struct pctx *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->p = p;
	memcpy(x->user, pc->user, sizeof(x->user));
	memcpy(x->org, pc->org, sizeof(x->org));
	memcpy(x->status, pc->status, sizeof(x->status));
	p_hold(p);
	return x;
}

static void pctx_free(struct pctx *x)
{
	struct presence *p = x->p;
	free(x);
	p_release(p);
}

static void on_transition_reply(struct vk *v, const redisReply *r, void *ud, int online)
{
	struct pctx *x = ud;
	(void)v;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    reply_ll(r->element[0]) == 1 && !x->p->freed)
		emit_transition(x->p, x->org, x->user, online, reply_ll(r->element[1]));
	else if (r != NULL && r->type == REDIS_REPLY_ERROR)
		pd_log(LOG_ERR, "presence script failed err=\"%s\"", r->str);
	pctx_free(x);
}

static void on_connect_reply(struct vk *v, const redisReply *r, void *ud)
{
	on_transition_reply(v, r, ud, 1);
}

static void on_disconnect_reply(struct vk *v, const redisReply *r, void *ud)
{
	on_transition_reply(v, r, ud, 0);
}

static int run_script(struct presence *p, const char *lua, vk_reply_fn fn, struct pctx *x,
		      int nkeys, const char **keys, int nargs, const char **args)
{
	const char *argv[16];
	char nk[8];
	int argc = 0;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[argc++] = "EVAL";
	argv[argc++] = lua;
	argv[argc++] = nk;
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	int rc = vk_command(cluster_vk(p->c), fn, x, argc, argv, NULL);
	if (rc < 0 && x != NULL)
		pctx_free(x);
	return rc;
}

static long eff_ttl(const struct presence *p)
{
	/* expire a sweep early so that users of a dead broker are offline
	 * within presence_ttl, sweep delay included */
	return p->ttl_ms - PRESENCE_SWEEP_MS;
}

static void write_conn(struct presence *p, const struct pconn *pc, int connect, long keep_ms)
{
	if (!cluster_is_up(p->c))
		return; /* written back by the refresh when Valkey returns */
	struct pd_buf k[5];
	char kk[3][PD_KEYS_MAX];
	for (int i = 0; i < 5; i++)
		pd_buf_init(&k[i], 0);
	int bad = conn_keys(p, pc, kk, &k[3], &k[4]);
	char ttl[24];
	snprintf(ttl, sizeof(ttl), "%ld", eff_ttl(p));
	const char *keys[4] = {kk[0], kk[1], p->all_key, kk[2]};
	struct pctx *x = pctx_new(p, pc);
	if (x != NULL && !bad && k[4].data != NULL) {
		if (connect) {
			const char *args[5] = {k[3].data, k[4].data, ttl, pc->user, pc->org};
			run_script(p, CONNECT_LUA, on_connect_reply, x, 4, keys, 5, args);
		} else {
			char keep[24];
			snprintf(keep, sizeof(keep), "%ld", keep_ms);
			const char *args[4] = {k[3].data, k[4].data, pc->user, keep};
			run_script(p, DISCONNECT_LUA, on_disconnect_reply, x, 4, keys, 4, args);
		}
	} else if (x != NULL) {
		pctx_free(x);
	}
	for (int i = 0; i < 5; i++)
		pd_buf_free(&k[i]);
}

/* ---- refresh and sweep ---- */

static void on_refresh_reply(struct vk *v, const redisReply *r, void *ud)
{
	struct presence *p = ud;
	(void)v;
	if (!p->freed)
		emit_triples(p, r, 1);
	p_release(p);
}

/* Refresh conns (all when only is NULL) in batches. */
static void refresh(struct presence *p, const struct pconn *only)
{
	if (!cluster_is_up(p->c))
		return;
	size_t it = 0, total = only ? 1 : p->conns.n;
	struct hnode *cur = NULL;
	char ttl[24];
	snprintf(ttl, sizeof(ttl), "%ld", eff_ttl(p));
	while (total > 0) {
		size_t n = total < PRESENCE_BATCH ? total : PRESENCE_BATCH;
		size_t argc = 6 + 4 * n;
		const char **argv = calloc(argc, sizeof(*argv));
		struct pd_buf *bufs = calloc(2 * n, sizeof(*bufs));
		if (argv == NULL || bufs == NULL) {
			free(argv);
			free(bufs);
			return;
		}
		argv[0] = "EVAL";
		argv[1] = REFRESH_LUA;
		argv[2] = "1";
		argv[3] = p->all_key;
		argv[4] = p->prefix;
		argv[5] = ttl;
		size_t k = 6, used = 0;
		for (size_t i = 0; i < n; i++) {
			const struct pconn *pc = only;
			if (pc == NULL) {
				struct hnode *h = hmap_next(&p->conns, &it, &cur);
				if (h == NULL)
					break;
				pc = container_of(h, struct pconn, hn);
			}
			pd_buf_init(&bufs[2 * i], 0);
			pd_buf_init(&bufs[2 * i + 1], 0);
			pd_buf_printf(&bufs[2 * i], "%s:%s", cluster_uid(p->c), pc->sid);
			pd_buf_printf(&bufs[2 * i + 1], "%s\x1f%s\x1f%s:%s", pc->org, pc->user,
				      cluster_uid(p->c), pc->sid);
			argv[k++] = pc->user;
			argv[k++] = pc->org;
			argv[k++] = bufs[2 * i].data ? bufs[2 * i].data : "";
			argv[k++] = bufs[2 * i + 1].data ? bufs[2 * i + 1].data : "";
			used++;
		}
		if (used > 0) {
			p_hold(p);
			if (vk_command(cluster_vk(p->c), on_refresh_reply, p, (int)k, argv, NULL) < 0)
				p_release(p);
			else
				P_ADD(p, refreshes, 1);
		}
		for (size_t i = 0; i < used; i++) {
			pd_buf_free(&bufs[2 * i]);
			pd_buf_free(&bufs[2 * i + 1]);
		}
		free(bufs);
		free(argv);
		total -= n;
		if (used < n)
			break;
	}
}

static void on_refresh_timer(struct loop_timer *t)
{
	struct presence *p = container_of(t, struct presence, refresh_timer);
	refresh(p, NULL);
	loop_timer_set(p->home, t, p->home->now + (uint64_t)(p->ttl_ms / 3));
}

static void on_sweep_reply(struct vk *v, const redisReply *r, void *ud)
{
	struct presence *p = ud;
	(void)v;
	p->sweeping = 0;
	if (!p->freed)
		emit_triples(p, r, 0);
	p_release(p);
}

static void on_sweep_timer(struct loop_timer *t)
{
	struct presence *p = container_of(t, struct presence, sweep_timer);
	loop_timer_set(p->home, t, p->home->now + PRESENCE_SWEEP_MS);
	if (p->sweeping || !cluster_is_up(p->c))
		return;
	char lock_ms[24], ttl[24];
	/* the lock outlives a few sweeps so that one broker keeps it; a dead
	 * holder's lock passes on after that */
	snprintf(lock_ms, sizeof(lock_ms), "%d", 3 * PRESENCE_SWEEP_MS);
	snprintf(ttl, sizeof(ttl), "%ld", eff_ttl(p));
	const char *argv[10] = {"EVAL",           SWEEP_LUA, "2",   p->all_key, p->lock_key,
				cluster_uid(p->c), lock_ms,  p->prefix, "500",      ttl};
	p_hold(p);
	if (vk_command(cluster_vk(p->c), on_sweep_reply, p, 10, argv, NULL) < 0)
		p_release(p);
	else
		p->sweeping = 1;
}

static void on_cluster_state(struct cluster *c, int up, void *ud)
{
	struct presence *p = ud;
	(void)c;
	if (up) /* write back what happened while Valkey was away */
		refresh(p, NULL);
}

/* ---- operations posted from any loop ---- */

enum pop_kind { POP_CONNECT, POP_DISCONNECT, POP_PING, POP_STATUS };

struct pop {
	struct presence *p;
	enum pop_kind kind;
	char sid[PRESENCE_ID_MAX + 1];
	char user[PRESENCE_ID_MAX + 1];
	char org[PRESENCE_ID_MAX + 1];
	char status[8];
	long keep_ms; /* POP_DISCONNECT */
};

static void on_status_reply(struct vk *v, const redisReply *r, void *ud)
{
	struct pctx *x = ud;
	struct presence *p = x->p;
	(void)v;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && !p->freed) {
		char org_room[PRESENCE_ID_MAX + 8], sub_room[PRESENCE_ID_MAX + 16];
		snprintf(org_room, sizeof(org_room), "org:%s", x->org);
		snprintf(sub_room, sizeof(sub_room), "presence:%s", x->user);
		const char *rooms[2] = {org_room, sub_room};
		json_t *upd = json_pack("{s:s, s:s, s:I}", "userId", x->user, "status", x->status,
					"lastSeen", (json_int_t)r->integer);
		cluster_emit(p->c, p->home, p->nsp_idx, rooms, 2, NULL, 0, "presence:update", upd);
		json_decref(upd);
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		pd_log(LOG_ERR, "presence status failed err=\"%s\"", r->str);
	}
	pctx_free(x);
}

static void run_pop(struct loop *l, void *arg)
{
	struct pop *o = arg;
	struct presence *p = o->p;
	struct pconn *pc = pconn_find(p, o->sid);
	(void)l;
	if (p->freed)
		goto out;
	switch (o->kind) {
	case POP_CONNECT:
		if (pc != NULL)
			break;
		pc = calloc(1, sizeof(*pc));
		if (pc == NULL)
			break;
		memcpy(pc->sid, o->sid, sizeof(pc->sid));
		memcpy(pc->user, o->user, sizeof(pc->user));
		memcpy(pc->org, o->org, sizeof(pc->org));
		snprintf(pc->status, sizeof(pc->status), "online");
		if (hmap_put(&p->conns, &pc->hn, pc->sid, strlen(pc->sid)) < 0) {
			free(pc);
			break;
		}
		write_conn(p, pc, 1, 0);
		break;
	case POP_DISCONNECT:
		if (pc == NULL)
			break;
		hmap_del(&p->conns, &pc->hn);
		write_conn(p, pc, 0, o->keep_ms);
		free(pc);
		break;
	case POP_PING:
		if (pc != NULL)
			refresh(p, pc);
		break;
	case POP_STATUS: {
		if (pc == NULL || !cluster_is_up(p->c))
			break;
		memcpy(pc->status, o->status, sizeof(pc->status));
		char hash[PD_KEYS_MAX];
		const char *keys[1] = {hash};
		const char *args[1] = {pc->status};
		struct pctx *x = NULL;
		if (pd_keys_presence_user(hash, sizeof(hash), p->prefix, pc->user) == 0)
			x = pctx_new(p, pc);
		if (x != NULL)
			run_script(p, STATUS_LUA, on_status_reply, x, 1, keys, 1, args);
		break;
	}
	}
out:
	free(o);
	p_release(p);
}

static int id_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= PRESENCE_ID_MAX && strchr(s, '\x1f') == NULL;
}

static int post_pop_keep(struct presence *p, enum pop_kind kind, const char *sid,
			 const char *user, const char *org, const char *status, long keep_ms)
{
	if (!id_ok(sid) || (user && !id_ok(user)) || (org && !id_ok(org)))
		return -EINVAL;
	struct pop *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	o->p = p;
	o->kind = kind;
	snprintf(o->sid, sizeof(o->sid), "%s", sid);
	if (user)
		snprintf(o->user, sizeof(o->user), "%s", user);
	if (org)
		snprintf(o->org, sizeof(o->org), "%s", org);
	if (status)
		snprintf(o->status, sizeof(o->status), "%s", status);
	o->keep_ms = keep_ms;
	p_hold(p);
	if (loop_post(p->home, run_pop, o) < 0) {
		p_release(p);
		free(o);
		return -ENOMEM;
	}
	return 0;
}

static int post_pop(struct presence *p, enum pop_kind kind, const char *sid, const char *user,
		    const char *org, const char *status)
{
	return post_pop_keep(p, kind, sid, user, org, status, 0);
}

int presence_connect(struct presence *p, const char *sid, const char *user, const char *org)
{
	if (!id_ok(user) || !id_ok(org))
		return -EINVAL;
	return post_pop(p, POP_CONNECT, sid, user, org, NULL);
}

int presence_disconnect(struct presence *p, const char *sid)
{
	return post_pop(p, POP_DISCONNECT, sid, NULL, NULL, NULL);
}

int presence_disconnect_keep(struct presence *p, const char *sid, long keep_ms)
{
	return post_pop_keep(p, POP_DISCONNECT, sid, NULL, NULL, NULL, keep_ms > 0 ? keep_ms : 0);
}

int presence_ping(struct presence *p, const char *sid)
{
	return post_pop(p, POP_PING, sid, NULL, NULL, NULL);
}

int presence_set_status(struct presence *p, const char *sid, const char *status)
{
	if (status == NULL ||
	    (strcmp(status, "online") != 0 && strcmp(status, "away") != 0 &&
	     strcmp(status, "busy") != 0))
		return -EINVAL;
	return post_pop(p, POP_STATUS, sid, NULL, NULL, status);
}

/* ---- queries ---- */

struct pq {
	struct presence *p;
	struct loop *reply_on;
	presence_list_fn fn;
	void *ud;
	char *org;
	char **users;
	size_t n;
	int roster; /* presence_roster's list */
	json_t *list;
};

static void pq_free(struct pq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->users[i]);
	free(q->users);
	free(q->org);
	json_decref(q->list);
	free(q);
}

static void pq_reply(struct loop *l, void *arg)
{
	struct pq *q = arg;
	(void)l;
	q->fn(q->list, q->ud);
	pq_free(q);
}

static void pq_finish(struct pq *q)
{
	struct presence *p = q->p;
	if (loop_post(q->reply_on, pq_reply, q) < 0)
		pq_free(q);
	p_release(p);
}

static void on_get_reply(struct vk *v, const redisReply *r, void *ud)
{
	struct pq *q = ud;
	(void)v;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		q->list = json_array();
		for (size_t i = 0; q->list && i + 4 < r->elements; i += 5) {
			const redisReply *u = r->element[i], *s = r->element[i + 1],
					 *t = r->element[i + 2], *ro = r->element[i + 3],
					 *cw = r->element[i + 4];
			if (u->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
				continue;
			long long ms = t->type == REDIS_REPLY_STRING && t->len > 0
					   ? strtoll(t->str, NULL, 10) : -1;
			if (!q->roster) {
				json_array_append_new(q->list,
						      json_pack("{s:s, s:s, s:o}", "userId", u->str, "status",
								s->str, "lastSeen",
								ms >= 0 ? json_integer(ms) : json_null()));
				continue;
			}
			/* seed 003's entries, of the users online now */
			char iso[DIA_ISO_LEN];
			if (strcmp(s->str, "offline") == 0)
				continue;
			dia_iso_time(ms >= 0 ? ms : 0, iso, sizeof(iso));
			json_array_append_new(
			    q->list,
			    json_pack("{s:s, s:s?, s:s, s:s?}", "userId", u->str, "role",
				      ro->type == REDIS_REPLY_STRING && ro->len > 0 ? ro->str : NULL,
				      "lastActive", iso, "chattingWith",
				      cw->type == REDIS_REPLY_STRING && cw->len > 0 ? cw->str : NULL));
		}
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		pd_log(LOG_ERR, "presence query failed err=\"%s\"", r->str);
	}
	pq_finish(q);
}

static void run_pq(struct loop *l, void *arg)
{
	struct pq *q = arg;
	struct presence *p = q->p;
	(void)l;
	if (p->freed || !cluster_is_up(p->c)) {
		pq_finish(q);
		return;
	}
	size_t argc = 6 + q->n; /* EVAL, script, numkeys, 2 keys, prefix */
	const char **argv = calloc(argc, sizeof(*argv));
	char orgkey[PD_KEYS_MAX];
	if (argv == NULL) {
		pq_finish(q);
		return;
	}
	size_t k = 0;
	argv[k++] = "EVAL";
	argv[k++] = GET_LUA;
	argv[k++] = q->org != NULL ? "2" : "1";
	argv[k++] = p->all_key;
	if (q->org != NULL) {
		pd_keys_presence_org(orgkey, sizeof(orgkey), p->prefix, q->org); /* ids checked */
		argv[k++] = orgkey;
	}
	argv[k++] = p->prefix;
	for (size_t i = 0; i < q->n; i++)
		argv[k++] = q->users[i];
	if (vk_command(cluster_vk(p->c), on_get_reply, q, (int)k, argv, NULL) < 0)
		pq_finish(q);
	free(argv);
}

static int post_pq(struct presence *p, const char *org, const char *const *users, size_t n,
		   int roster, struct loop *reply_on, presence_list_fn fn, void *ud)
{
	struct pq *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->p = p;
	q->roster = roster;
	q->reply_on = reply_on;
	q->fn = fn;
	q->ud = ud;
	if (org != NULL && (q->org = strdup(org)) == NULL)
		goto fail;
	if (n > 0 && (q->users = calloc(n, sizeof(char *))) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!id_ok(users[i]))
			continue;
		if ((q->users[q->n] = strdup(users[i])) == NULL)
			goto fail;
		q->n++;
	}
	p_hold(p);
	if (loop_post(p->home, run_pq, q) < 0) {
		p_release(p);
		goto fail;
	}
	return 0;
fail:
	pq_free(q);
	return -ENOMEM;
}

int presence_online(struct presence *p, const char *org, struct loop *reply_on,
		    presence_list_fn fn, void *ud)
{
	if (!id_ok(org))
		return -EINVAL;
	return post_pq(p, org, NULL, 0, 0, reply_on, fn, ud);
}

int presence_roster(struct presence *p, const char *org, struct loop *reply_on,
		    presence_list_fn fn, void *ud)
{
	if (!id_ok(org))
		return -EINVAL;
	return post_pq(p, org, NULL, 0, 1, reply_on, fn, ud);
}

/* ---- seed 003's roster: presence:roster to org:<org> ---- */

static void roster_sent(const json_t *list, void *ud)
{
	struct presence *p = ((void **)ud)[0];
	char *org = ((void **)ud)[1];
	char room[PRESENCE_ID_MAX + 8];
	snprintf(room, sizeof(room), "org:%s", org);
	const char *rooms[1] = {room};
	if (list != NULL && !p->freed)
		cluster_emit(p->c, p->home, p->nsp_idx, rooms, 1, NULL, 0, "presence:roster", list);
	free(org);
	free(ud);
}

int presence_roster_emit(struct presence *p, const char *org)
{
	void **ud = calloc(2, sizeof(void *));
	if (ud == NULL || (ud[1] = strdup(org)) == NULL) {
		free(ud);
		return -ENOMEM;
	}
	ud[0] = p;
	int rc = presence_roster(p, org, p->home, roster_sent, ud);
	if (rc < 0) {
		free(ud[1]);
		free(ud);
	}
	return rc;
}

struct pinfo {
	struct presence *p;
	char *argv[4];
};

static void run_info(struct loop *l, void *arg)
{
	struct pinfo *x = arg;
	(void)l;
	if (!x->p->freed && cluster_is_up(x->p->c))
		vk_command(cluster_vk(x->p->c), NULL, NULL, x->argv[3] ? 4 : 3,
			   (const char **)x->argv, NULL);
	for (int i = 0; i < 4; i++)
		free(x->argv[i]);
	p_release(x->p);
	free(x);
}

int presence_set_info(struct presence *p, const char *user, const char *field, const char *value)
{
	char key[PD_KEYS_MAX];
	if (!id_ok(user) || pd_keys_presence_user(key, sizeof(key), p->prefix, user) < 0)
		return -EINVAL;
	struct pinfo *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->p = p;
	int del = value == NULL || value[0] == '\0';
	x->argv[0] = strdup(del ? "HDEL" : "HSET");
	x->argv[1] = strdup(key);
	x->argv[2] = strdup(field);
	x->argv[3] = del ? NULL : strdup(value);
	if (x->argv[0] == NULL || x->argv[1] == NULL || x->argv[2] == NULL ||
	    (!del && x->argv[3] == NULL))
		goto fail;
	p_hold(p);
	if (loop_post(p->home, run_info, x) < 0) {
		p_release(p);
		goto fail;
	}
	return 0;
fail:
	for (int i = 0; i < 4; i++)
		free(x->argv[i]);
	free(x);
	return -ENOMEM;
}

int presence_get(struct presence *p, const char *const *users, size_t n, struct loop *reply_on,
		 presence_list_fn fn, void *ud)
{
	return post_pq(p, NULL, users, n, 0, reply_on, fn, ud);
}

/* ---- life ---- */

struct presence *presence_new(struct cluster *c, long ttl_ms, size_t nsp_idx)
{
	struct presence *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->c = c;
	p->home = cluster_home(c);
	p->nsp_idx = nsp_idx;
	p->ttl_ms = ttl_ms < 3000 ? 3000 : ttl_ms;
	atomic_init(&p->inflight, 1);
	snprintf(p->prefix, sizeof(p->prefix), "%s", cluster_key(c));
	pd_keys_presence_all(p->all_key, sizeof(p->all_key), p->prefix);
	pd_keys_presence_lock(p->lock_key, sizeof(p->lock_key), p->prefix);
	hmap_init(&p->conns, pconn_key);
	loop_timer_init(&p->refresh_timer, on_refresh_timer);
	loop_timer_init(&p->sweep_timer, on_sweep_timer);
	cluster_set_state_hook(c, on_cluster_state, p);
	return p;
}

int presence_start(struct presence *p)
{
	uint64_t now = loop_clock_ms();
	if (loop_timer_set(p->home, &p->refresh_timer, now + (uint64_t)(p->ttl_ms / 3)) < 0 ||
	    loop_timer_set(p->home, &p->sweep_timer, now + PRESENCE_SWEEP_MS) < 0)
		return -ENOMEM;
	return 0;
}

void presence_free(struct presence *p)
{
	if (p == NULL)
		return;
	p->freed = 1;
	loop_timer_cancel(p->home, &p->refresh_timer);
	loop_timer_cancel(p->home, &p->sweep_timer);
	cluster_set_state_hook(p->c, NULL, NULL);
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&p->conns, &it, &cur)) != NULL) {
		hmap_del(&p->conns, h);
		free(container_of(h, struct pconn, hn));
	}
	p_release(p);
}

void presence_get_stats(const struct presence *p, struct presence_stats *o)
{
	o->online_emitted = atomic_load(&p->online_emitted);
	o->offline_emitted = atomic_load(&p->offline_emitted);
	o->swept = atomic_load(&p->swept);
	o->refreshes = atomic_load(&p->refreshes);
	o->local_conns = p->conns.n;
}
