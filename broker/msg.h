/* msg: a refcounted, ready-to-send outgoing Engine.IO message group. One
 * Socket.IO packet = one text part ("4...") and one binary part per
 * attachment. The WebSocket bytes of every part (frame header + payload) lie
 * back to back in ws[], so that the same bytes go to every member of a room
 * with writev; polling reads each part's payload and adds \x1e / base64. */
#ifndef PD_MSG_H
#define PD_MSG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"

struct msg_part {
	uint32_t off; /* payload offset in ws[] (its frame header lies before it) */
	uint32_t len; /* payload length */
	uint8_t binary; /* 0 text, 1 binary, 2 WebSocket control frame */
};

struct msg {
	atomic_uint ref;
	uint16_t nparts;
	/* CLOCK_MONOTONIC ns when a Socket.IO EVENT ("42..." / "45...") was
	 * encoded (one clock read per msg, shared by every recipient); 0 for
	 * every other packet. Delivery latency is measured from it. */
	uint64_t born_ns;
	/* Where a per-member suffix (a connection-state-recovery offset
	 * argument) could be spliced into part 0 without re-encoding: the
	 * offset of the closing ']' of an EVENT's JSON array; 0 = none. */
	uint32_t splice;
	uint32_t ws_len;
	uint8_t *ws;
	struct msg_part parts[];
};

struct msg_src {
	int binary;
	const void *p;
	size_t len;
};

/* One allocation holding every part. NULL on ENOMEM or a part > 4 GB.
 * The result has ref 1. */
struct msg *msg_new(const struct msg_src *src, size_t n);
/* One text part. */
struct msg *msg_text(const char *p, size_t len);
/* One WebSocket control frame (close, ping, pong): not sent over polling. */
struct msg *msg_ws_control(int opcode, const void *p, size_t len);
/* m with the JSON string arg (a connection state recovery offset: no byte
 * that JSON escapes) added as the packet's last argument at m->splice: a
 * new msg (ref 1), or m referenced again when m has no splice point. NULL
 * on ENOMEM. */
struct msg *msg_splice_arg(struct msg *m, const char *arg);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m); /* NULL ok */

/* CLOCK_MONOTONIC in ns. */
uint64_t msg_clock_ns(void);

/* Delivery latency histogram of one loop: written by that loop only
 * (plain load + store, no locked instruction), read by the admin
 * listener. bucket[i] counts deliveries with latency <= msg_lat_le_ns[i]
 * and > the previous bound (not cumulative); the last one is +Inf. */
#define MSG_LAT_BUCKETS 12
extern const uint64_t msg_lat_le_ns[MSG_LAT_BUCKETS - 1];
struct msg_lat {
	atomic_ullong bucket[MSG_LAT_BUCKETS];
	atomic_ullong sum_ns;
};
/* Record one delivery of latency ns (owner loop only). */
void msg_lat_add(struct msg_lat *h, uint64_t ns);

/* Append every part of m to a polling payload. 0, -ENOMEM or -ENOBUFS. */
int msg_append_polling(const struct msg *m, struct pd_buf *out);

/* Queue of messages owed to one connection, with the write position in
 * the head message's ws[] bytes. */
struct outq_node {
	struct outq_node *next;
	struct msg *m;
};

struct outq {
	struct outq_node *head, *tail;
	size_t bytes;    /* ws bytes queued, not yet written */
	uint32_t head_off;
};

int outq_push(struct outq *q, struct msg *m); /* refs m; 0 or -ENOMEM */
void outq_clear(struct outq *q);
/* Move every node of src to the end of dst. */
void outq_splice(struct outq *dst, struct outq *src);
/* Drop n written bytes from the front. */
void outq_consume(struct outq *q, size_t n);
/* The same, and for every message whose last byte was written and that
 * has born_ns, record its delivery latency in lat (the clock is read at
 * most once per call). lat NULL = outq_consume. */
void outq_consume_lat(struct outq *q, size_t n, struct msg_lat *lat);
/* Record in lat the delivery latency of every queued message that has
 * born_ns (a polling response took the whole queue). */
void outq_record_lat(const struct outq *q, struct msg_lat *lat);

#endif
