/* cluster_int: what cluster.c and cluster_sharded.c (adapter_mode
 * sharded) share inside the cluster; not for the rest of the broker. */
#ifndef PD_CLUSTER_INT_H
#define PD_CLUSTER_INT_H

#include <jansson.h>
#include <stddef.h>

#include "adapter.h"
#include "cluster.h"
#include "pd_buf.h"

struct adapter_emit;
struct csh;
struct pd_buf;

/* ---- cluster.c, for cluster_sharded.c ---- */

typedef void (*gather_fn)(struct cluster *c, json_t *merged, void *ud);
/* Home loop: run kind (arg, stolen: the query's wire form) on every loop
 * of this broker, then done(merged) on home. 0 or -ENOMEM. */
int cluster_gather(struct cluster *c, enum adapter_kind kind, json_t *arg, gather_fn done,
		   void *ud);
/* Any loop: publish bytes on ch from home (counted). 0 or -errno. */
int cluster_publish_bytes(struct cluster *c, const char *ch, size_t chlen, const char *data,
			  size_t len);
/* Home loop: PUBLISH (classic) or SPUBLISH (sharded) now. */
int cluster_publish_raw(struct cluster *c, const char *ch, size_t chlen, const char *data,
			size_t len);
/* Home loop: another broker's answer {uid, result} to our query
 * request_id (borrowed). */
void cluster_answer_in(struct cluster *c, const char *request_id, json_t *answer);
/* Any loop: keep c (not its parts) alive for work posted to home. */
void cluster_hold(struct cluster *c);
void cluster_release(struct cluster *c);
enum { CLUSTER_COUNT_RECEIVED, CLUSTER_COUNT_DELIVERED, CLUSTER_COUNT_DECODE_ERROR };
void cluster_count(struct cluster *c, int what);

/* The sharded half, or NULL in classic mode. */
struct csh *cluster_sharded(const struct cluster *c);
/* The recovery hooks (NULL: recovery off) and their ud. */
const struct cluster_rec_hooks *cluster_rec(const struct cluster *c, void **ud);

/* ---- cluster_sharded.c, hooked into cluster.c ---- */

/* Before the loops run (sets cfg->broker's room watch). NULL on ENOMEM. */
struct csh *csh_new(struct cluster *c, const struct cluster_cfg *cfg);
void csh_free(struct csh *s);
/* The namespace and response channels of every namespace. 0 or -errno. */
int csh_start(struct csh *s);
void csh_state(struct csh *s, int up);
/* cluster_publish's emit e in the sharded format: on the room's own
 * channel for one room, else on the namespace's; through the recovery
 * hook when recovery is on. */
int csh_publish(struct csh *s, size_t nsp_idx, const struct adapter_emit *e);
/* Home: one more (up 1) or one less (0) holder of a room's channel. */
void csh_watch(struct csh *s, size_t nsp_idx, const char *room, int up);
/* Home: the cluster refused commands (CLUSTERDOWN): vkss_doubt. */
void csh_doubt(struct csh *s);
/* vkss_gap_pending of its shard subscriptions. */
uint64_t csh_gap_pending(const struct csh *s);
/* Home: vkss_sync. */
int csh_sync(struct csh *s, void (*fn)(void *ud), void *ud);
/* Our query as SERVER_SIDE_EMIT ["pushdesk:request", kind, arg] with
 * request_id, and the channel it goes to ("/"'s). 0 or -errno. */
int csh_query_encode(struct csh *s, struct pd_buf *out, struct pd_buf *ch, const char *request_id,
		     const char *kind, const json_t *arg);
/* SPUBLISH on v (routed to the channel's node). 0 or -errno. */
int csh_spublish(struct vk *v, const char *ch, size_t chlen, const char *data, size_t len);
struct vkss_stats;
void csh_get_stats(const struct csh *s, struct vkss_stats *out);

#endif
