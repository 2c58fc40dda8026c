/* adapter_valkey: several brokers on one Valkey. cluster.c carries the
 * emits (fan-out in the Redis adapter's format) and the queries across
 * brokers, presence.c keeps presence in Valkey; what only this broker can
 * answer (a count while Valkey is down) goes to a local adapter. */
#include "adapter.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "broker.h" /* broker.recovery: sio.c and admin.c find it there */
#include "hmap.h"
#include "cluster.h"
#include "cluster_int.h"
#include "vk.h"
#include "vkss.h"
#include "pd_log.h"
#include "presence.h"
#include "recovery.h"

struct valkey {
	struct adapter base;
	struct cluster *c;
	struct presence *p; /* NULL: no presence (the bench profile) */
	size_t nsp_idx;     /* where presence events go */
	struct adapter *local;
	struct broker *b; /* cluster_cfg's: holds the recovery we make */
};

static struct valkey *valkey_of(struct adapter *a)
{
	return container_of(a, struct valkey, base);
}

static const struct valkey *cvalkey_of(const struct adapter *a)
{
	return (const struct valkey *)((const char *)a - offsetof(struct valkey, base));
}

static int v_start(struct adapter *a, char *err, size_t errlen)
{
	struct valkey *v = valkey_of(a);
	if (cluster_start(v->c) < 0) {
		snprintf(err, errlen, "cannot start the Valkey connection");
		return -1;
	}
	if (v->b->recovery != NULL && recovery_start(v->b->recovery) < 0) {
		snprintf(err, errlen, "cannot start connection state recovery");
		return -1;
	}
	if (v->p != NULL && presence_start(v->p) < 0) {
		snprintf(err, errlen, "cannot start presence");
		return -1;
	}
	return 0;
}

static long v_stop(struct adapter *a)
{
	cluster_stop(valkey_of(a)->c);
	return 200; /* let the lease DEL and the last presence writes leave */
}

static void v_free(struct adapter *a)
{
	struct valkey *v = valkey_of(a);
	presence_free(v->p);
	recovery_free(v->b->recovery);
	v->b->recovery = NULL;
	cluster_free(v->c);
	v->local->ops->free(v->local);
	free(v);
}

static const char *v_state(const struct adapter *a)
{
	return cluster_is_up(cvalkey_of(a)->c) ? "up" : "down";
}

static void v_metrics(const struct adapter *a, struct pd_buf *b)
{
	const struct valkey *v = cvalkey_of(a);
	struct cluster_stats c;
	cluster_get_stats(v->c, &c);
	admin_counter(b, "valkey_up", "1 while Valkey is reachable.", "gauge",
		      (unsigned long long)cluster_is_up(v->c));
	struct vk_stats vs;
	vk_get_stats(cluster_vk(v->c), &vs);
	admin_counter(b, "valkey_messages_total",
		      "Pub/sub messages received on the classic subscriptions.", "counter",
		      vs.messages);
	admin_counter(b, "cluster_brokers", "Live brokers at the last lease renewal.", "gauge",
		      (unsigned long long)cluster_server_count(v->c));
	admin_counter(b, "cluster_published_total", "Room emits published to other servers.",
		      "counter", c.published);
	admin_counter(b, "cluster_publish_dropped_total", "Room emits not published (Valkey down).",
		      "counter", c.publish_dropped);
	admin_counter(b, "cluster_received_total", "Broadcasts received from other servers.",
		      "counter", c.received);
	admin_counter(b, "cluster_requests_timed_out_total",
		      "Cross-broker queries that ended without every answer.", "counter",
		      c.requests_timed_out);
	if (cluster_sharded(v->c) != NULL) {
		struct vkss_stats st;
		csh_get_stats(cluster_sharded(v->c), &st);
		admin_counter(b, "sharded_channels",
			      "Shard channels subscribed (namespaces, rooms, own).", "gauge",
			      st.channels);
		admin_counter(b, "sharded_messages_total", "Messages received on shard channels.",
			      "counter", st.messages);
		admin_counter(b, "sharded_bytes_total", "Payload bytes received on shard channels.",
			      "counter", st.bytes);
		admin_counter(b, "sharded_node_losses_total", "Shard subscriber connections lost.",
			      "counter", st.node_losses);
		admin_counter(b, "sharded_slot_moves_total",
			      "Shard subscriptions ended by a slot move, sent to the new owner.",
			      "counter", st.slot_moves);
	}
	if (v->p == NULL)
		return;
	struct presence_stats p;
	presence_get_stats(v->p, &p);
	admin_counter(b, "presence_connections", "Connections this broker keeps in presence.",
		      "gauge", p.local_conns);
	admin_counter(b, "presence_online_total", "user:online events emitted by this broker.",
		      "counter", p.online_emitted);
	admin_counter(b, "presence_offline_total", "user:offline events emitted by this broker.",
		      "counter", p.offline_emitted);
}

static int v_emit(struct adapter *a, struct loop *from, size_t nsp_idx, const char *const *rooms,
		  size_t nrooms, const char *const *except, size_t nexcept, const char *event,
		  const json_t *payload)
{
	return cluster_emit(valkey_of(a)->c, from, nsp_idx, rooms, nrooms, except, nexcept, event,
			    payload);
}

/* ---- queries across brokers ---- */

struct vquery {
	struct loop *reply_on;
	enum adapter_kind kind;
	adapter_result_fn fn;
	adapter_count_fn count_fn; /* a count: the sizes of "sockets" summed */
	void *ud;
};

static void vquery_back(json_t *results, int missing, void *ud)
{
	struct vquery *r = ud;
	size_t n = json_array_size(results), found = 0;
	json_t **parts = calloc(n ? n : 1, sizeof(*parts));
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_object_get(json_array_get(results, i), "result");
		found += json_array_size(x);
		if (parts != NULL)
			parts[i] = x;
	}
	if (r->count_fn != NULL) {
		r->count_fn(r->reply_on, found, r->ud);
	} else {
		json_t *m = parts != NULL ? adapter_merge(r->kind, parts, n) : json_null();
		r->fn(r->reply_on, m, missing, r->ud);
	}
	free(parts);
	json_decref(results);
	free(r);
}

/* q to every broker; r is freed by the reply (or here on failure). */
static int vquery_start(struct valkey *v, const struct adapter_query *q, struct vquery *r)
{
	int rc = cluster_request(v->c, r->reply_on, q, vquery_back, r);
	if (rc < 0)
		free(r);
	return rc;
}

static int v_count(struct adapter *a, struct loop *origin, size_t nsp_idx,
		   const char *const *rooms, size_t nrooms, const char *const *except,
		   size_t nexcept, adapter_count_fn fn, void *ud)
{
	struct valkey *v = valkey_of(a);
	struct adapter_query q = {.kind = AK_SOCKETS,
				  .nsp_idx = nsp_idx,
				  .rooms = (const char **)rooms,
				  .nrooms = nrooms,
				  .except = (const char **)except,
				  .nexcept = nexcept};
	struct vquery *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		*r = (struct vquery){.reply_on = origin, .kind = AK_SOCKETS, .count_fn = fn, .ud = ud};
		if (vquery_start(v, &q, r) == 0)
			return 0;
	}
	/* fall back to this broker's own sockets */
	return v->local->ops->count(v->local, origin, nsp_idx, rooms, nrooms, except, nexcept, fn,
				    ud);
}

static int v_query(struct adapter *a, struct loop *reply_on, const struct adapter_query *q,
		   adapter_result_fn fn, void *ud)
{
	/* pushdesk's request carries the wire kinds only; the adapter's
	 * REMOTE_* requests are answered (cluster.c) but not sent */
	if (q->kind > AK_STATS)
		return -ENOTSUP;
	struct vquery *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	*r = (struct vquery){.reply_on = reply_on, .kind = q->kind, .fn = fn, .ud = ud};
	return vquery_start(valkey_of(a), q, r);
}

/* ---- presence ---- */

static int v_pres_connect(struct adapter *a, struct loop *from, const struct adapter_conn *c)
{
	struct valkey *v = valkey_of(a);
	(void)from;
	if (v->p == NULL)
		return -ENOTSUP;
	/* the role for seed 003's roster, written before the connection so
	 * that the roster its user:online sends has it */
	presence_set_info(v->p, c->user, "role", c->role);
	presence_set_info(v->p, c->user, "team", c->team);
	return presence_connect(v->p, c->sid, c->user, c->org);
}

static int v_pres_disconnect(struct adapter *a, struct loop *from, const char *sid, long keep_ms)
{
	struct valkey *v = valkey_of(a);
	(void)from;
	return v->p != NULL ? presence_disconnect_keep(v->p, sid, keep_ms) : -ENOTSUP;
}

static int v_pres_ping(struct adapter *a, const char *sid)
{
	struct valkey *v = valkey_of(a);
	return v->p != NULL ? presence_ping(v->p, sid) : -ENOTSUP;
}

static int v_pres_status(struct adapter *a, struct loop *from, const struct adapter_conn *c,
			 const char *status)
{
	struct valkey *v = valkey_of(a);
	if (v->p == NULL)
		return -ENOTSUP;
	int rc = presence_set_status(v->p, c->sid, status);
	if (rc == 0)
		adapter_team_emit(a, from, v->nsp_idx, c->team, c->user, status);
	return rc;
}

/* presence:sync's ids: from Valkey, else (Valkey down) from the brokers
 * this one can still reach, itself at least. */
struct vonline {
	struct valkey *v;
	struct loop *reply_on;
	adapter_list_fn fn;
	void *ud;
	char org[PRESENCE_ID_MAX + 1];
};

static void online_cluster(json_t *results, int missing, void *ud)
{
	struct vonline *r = ud;
	size_t n = json_array_size(results);
	json_t **parts = calloc(n ? n : 1, sizeof(*parts));
	json_t *ids = NULL;
	(void)missing;
	for (size_t i = 0; parts != NULL && i < n; i++)
		parts[i] = json_object_get(json_array_get(results, i), "result");
	if (parts != NULL)
		ids = adapter_merge(AK_ONLINE, parts, n);
	if (ids != NULL && !json_is_array(ids)) {
		json_decref(ids);
		ids = json_array();
	}
	r->fn(ids, r->ud);
	json_decref(ids);
	free(parts);
	json_decref(results);
	free(r);
}

static void online_list(const json_t *list, void *ud)
{
	struct vonline *r = ud;
	if (list == NULL) {
		struct adapter_query q = {.kind = AK_ONLINE, .nsp_idx = r->v->nsp_idx, .id = r->org};
		if (cluster_request(r->v->c, r->reply_on, &q, online_cluster, r) == 0)
			return;
		r->fn(NULL, r->ud);
		free(r);
		return;
	}
	json_t *ids = json_array(), *x;
	size_t i;
	json_array_foreach(list, i, x)
	{
		json_t *u = json_object_get(x, "userId");
		if (json_is_string(u))
			json_array_append(ids, u);
	}
	r->fn(ids, r->ud);
	json_decref(ids);
	free(r);
}

static int v_pres_online(struct adapter *a, const char *org, struct loop *reply_on,
			 adapter_list_fn fn, void *ud)
{
	struct valkey *v = valkey_of(a);
	if (v->p == NULL)
		return -ENOTSUP;
	if (org == NULL || strlen(org) > PRESENCE_ID_MAX)
		return -EINVAL;
	struct vonline *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	*r = (struct vonline){.v = v, .reply_on = reply_on, .fn = fn, .ud = ud};
	memcpy(r->org, org, strlen(org) + 1);
	int rc = presence_online(v->p, org, reply_on, online_list, r);
	if (rc < 0)
		free(r);
	return rc;
}

static int v_pres_get(struct adapter *a, const char *const *users, size_t n,
		      struct loop *reply_on, adapter_list_fn fn, void *ud)
{
	struct valkey *v = valkey_of(a);
	return v->p != NULL ? presence_get(v->p, users, n, reply_on, fn, ud) : -ENOTSUP;
}

static int v_pres_roster(struct adapter *a, const char *org, struct loop *reply_on,
			 adapter_list_fn fn, void *ud)
{
	struct valkey *v = valkey_of(a);
	return v->p != NULL ? presence_roster(v->p, org, reply_on, fn, ud) : -ENOTSUP;
}

static int v_pres_roster_emit(struct adapter *a, const char *org)
{
	struct valkey *v = valkey_of(a);
	return v->p != NULL ? presence_roster_emit(v->p, org) : 0;
}

static int v_pres_set_info(struct adapter *a, const char *user, const char *field,
			   const char *value)
{
	struct valkey *v = valkey_of(a);
	return v->p != NULL ? presence_set_info(v->p, user, field, value) : 0;
}

static const struct adapter_ops valkey_ops = {
    .name = "valkey",
    .start = v_start,
    .stop = v_stop,
    .free = v_free,
    .state = v_state,
    .metrics = v_metrics,
    .emit = v_emit,
    .count = v_count,
    .query = v_query,
    .pres_connect = v_pres_connect,
    .pres_disconnect = v_pres_disconnect,
    .pres_ping = v_pres_ping,
    .pres_status = v_pres_status,
    .pres_online = v_pres_online,
    .pres_get = v_pres_get,
    .pres_roster = v_pres_roster,
    .pres_roster_emit = v_pres_roster_emit,
    .pres_set_info = v_pres_set_info,
};

struct adapter *adapter_valkey_new(struct loop *home, const struct cluster_cfg *cfg,
				   const struct pd_cfg *pcfg, int with_presence,
				   long presence_ttl_ms, size_t nsp_idx, char *err, size_t errlen)
{
	struct valkey *v = calloc(1, sizeof(*v));
	if (v == NULL || (v->local = adapter_local_new(nsp_idx)) == NULL) {
		free(v);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->base.ops = &valkey_ops;
	v->nsp_idx = nsp_idx;
	v->b = cfg->broker;
	char e[512];
	if ((v->c = cluster_new(home, cfg, e, sizeof(e))) == NULL) {
		snprintf(err, errlen, "valkey: %s", e);
		goto fail;
	}
	/* connection state recovery (contract 8) on the main profile, which
	 * is the one with presence; in both modes (recovery.h) */
	if (with_presence && recovery_setup(v->c, v->b, pcfg, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s", e);
		goto fail;
	}
	if (with_presence && (v->p = presence_new(v->c, presence_ttl_ms, nsp_idx)) == NULL) {
		snprintf(err, errlen, "presence: out of memory");
		goto fail;
	}
	return &v->base;
fail:
	recovery_free(v->b->recovery);
	v->b->recovery = NULL;
	cluster_free(v->c);
	v->local->ops->free(v->local);
	free(v);
	return NULL;
}
