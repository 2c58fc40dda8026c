/* vkss: sharded pub/sub subscriptions (Redis 7 SSUBSCRIBE) on a Valkey
 * Cluster, or on one Valkey. A shard channel can only be subscribed on
 * the node that owns its slot, so this keeps one subscriber connection
 * per node it needs, learns the slot owners with CLUSTER SLOTS (through
 * vk's command connection), follows MOVED, subscribes a channel again at
 * its new owner when the server ends it because its slot moved, and every
 * channel again after a node's connection is lost (a restart) or vk comes
 * back.
 *
 * hiredis 0.14's async layer knows SUBSCRIBE and PSUBSCRIBE only (an
 * "smessage" would hit an assert), so these connections use the sync
 * context in non-blocking mode on our loop: hiredis formats and parses,
 * we drive the socket. Everything runs on the loop of the vk given. */
#ifndef PD_VKSS_H
#define PD_VKSS_H

#include <stddef.h>
#include <stdint.h>

struct vk;
struct vkss;

#define VKSS_RETRY_MS 500 /* a lost node's channels are sent again after this */

/* A message of a shard channel; slices borrowed until return. */
typedef void (*vkss_msg_fn)(const char *channel, size_t chlen, const char *data, size_t len,
			    void *ud);

/* Subscriptions over v (its seeds, password and command connection).
 * NULL on ENOMEM. Call vkss_up from v's state hook (when v is up). */
struct vkss *vkss_new(struct vk *v, vkss_msg_fn fn, void *ud);
/* Close every connection; free at the end of the loop turn. NULL ok. */
void vkss_free(struct vkss *s);

/* v came up (1) or went down (0): up learns the slots again and sends
 * every channel; down closes the node connections. */
void vkss_state(struct vkss *s, int up);

/* Subscribe channel (kept until vkss_unsubscribe, sent again as needed).
 * 0, -EEXIST or -ENOMEM. */
int vkss_subscribe(struct vkss *s, const char *channel);
/* 0, or -ENOENT when not subscribed. */
int vkss_unsubscribe(struct vkss *s, const char *channel);

/* fn(ud) on v's loop once every channel subscribed before this call is
 * confirmed by its node (a PING after the SSUBSCRIBEs on each node
 * connection): e.g. before reading a stream whose later events must
 * arrive as messages. Waits while a node is lost. 0 or -ENOMEM. */
typedef void (*vkss_sync_fn)(void *ud);
int vkss_sync(struct vkss *s, vkss_sync_fn fn, void *ud);

/* Channels whose subscription was lost (their node lost or restarted, v
 * down, their slot moved) are subscribed again: fn gets their names
 * (borrowed) and the wall-clock ms of the first loss, once every one is
 * confirmed. Connection state recovery reads what they missed from its
 * stream. */
typedef void (*vkss_gap_fn)(const char *const *channels, size_t n, uint64_t since_ms, void *ud);
void vkss_set_gap_fn(struct vkss *s, vkss_gap_fn fn, void *ud);
/* Wall ms of the first subscription loss not yet reported to gap_fn, 0
 * when none: messages that arrive meanwhile on a channel subscribed again
 * may be newer than ones the gap read will find. */
uint64_t vkss_gap_pending(const struct vkss *s);

/* The cluster refused commands (CLUSTERDOWN) while the subscriptions
 * stood: a publisher's SPUBLISH may have been refused after its XADD, so
 * every channel is reported to gap_fn at the next sync. */
void vkss_doubt(struct vkss *s);

struct vkss_stats {
	uint64_t channels;         /* subscribed now */
	uint64_t messages, bytes;  /* received (payload bytes) */
	uint64_t subscribes, unsubscribes, moved, node_losses;
	uint64_t slot_moves; /* subscriptions the server ended as their slot moved */
	uint64_t asks;       /* ASK answers to an SSUBSCRIBE (sent again later) */
};
void vkss_get_stats(const struct vkss *s, struct vkss_stats *out);

#endif
