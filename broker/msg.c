/* msg: encoded-once outgoing packets with an atomic refcount (a room emit
 * is posted to every loop), and the per-connection queue of them. */
#include "msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eio_packet.h"
#include "ws.h"

uint64_t msg_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 0.5 ms, 1 ms, 2.5 ms, 5 ms, 10 ms, 25 ms, 50 ms, 100 ms, 250 ms, 500 ms, 1 s */
const uint64_t msg_lat_le_ns[MSG_LAT_BUCKETS - 1] = {
    500000u,   1000000u,   2500000u,   5000000u,   10000000u,  25000000u,
    50000000u, 100000000u, 250000000u, 500000000u, 1000000000u,
};

/* Only the owner loop writes: a relaxed load and store, no lock prefix. */
static inline void own_add(atomic_ullong *v, unsigned long long n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void msg_lat_add(struct msg_lat *h, uint64_t ns)
{
	size_t i = 0;
	while (i < MSG_LAT_BUCKETS - 1 && ns > msg_lat_le_ns[i])
		i++;
	own_add(&h->bucket[i], 1);
	own_add(&h->sum_ns, ns);
}

/* A Socket.IO EVENT or BINARY_EVENT inside an Engine.IO message. */
static int is_event(const struct msg_src *src, size_t n)
{
	const char *p = src[0].p;
	return n > 0 && src[0].binary == 0 && src[0].len >= 2 && p[0] == '4' &&
	       (p[1] == '2' || p[1] == '5');
}

struct msg *msg_splice_arg(struct msg *m, const char *arg)
{
	struct msg_src stack_src[8], *src = stack_src;
	size_t al = strlen(arg);
	if (m->splice == 0 || m->nparts == 0 || m->splice >= m->parts[0].len || al > 64)
		return msg_ref(m);
	if (m->nparts > sizeof(stack_src) / sizeof(stack_src[0]) &&
	    (src = malloc(m->nparts * sizeof(*src))) == NULL)
		return NULL;
	const char *p0 = (const char *)m->ws + m->parts[0].off;
	size_t l0 = m->parts[0].len, nl = l0 + al + 3;
	char *t = malloc(nl);
	struct msg *out = NULL;
	if (t != NULL) {
		memcpy(t, p0, m->splice);
		t[m->splice] = ',';
		t[m->splice + 1] = '"';
		memcpy(t + m->splice + 2, arg, al);
		t[m->splice + 2 + al] = '"';
		memcpy(t + m->splice + 3 + al, p0 + m->splice, l0 - m->splice);
		src[0] = (struct msg_src){0, t, nl};
		for (size_t i = 1; i < m->nparts; i++)
			src[i] = (struct msg_src){m->parts[i].binary, m->ws + m->parts[i].off,
						  m->parts[i].len};
		out = msg_new(src, m->nparts);
		if (out != NULL) {
			out->splice = (uint32_t)(nl - 1);
			if (m->born_ns != 0)
				out->born_ns = m->born_ns;
		}
	}
	free(t);
	if (src != stack_src)
		free(src);
	return out;
}

struct msg *msg_new(const struct msg_src *src, size_t n)
{
	size_t total = 0;
	if (n == 0 || n > UINT16_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (src[i].len > UINT32_MAX / 2)
			return NULL;
		total += WS_MAX_HEADER + src[i].len;
		if (total > UINT32_MAX / 2)
			return NULL;
	}
	size_t head = sizeof(struct msg) + n * sizeof(struct msg_part);
	struct msg *m = malloc(head + total);
	if (m == NULL)
		return NULL;
	atomic_init(&m->ref, 1);
	m->nparts = (uint16_t)n;
	m->splice = 0;
	m->born_ns = is_event(src, n) ? msg_clock_ns() : 0;
	m->ws = (uint8_t *)m + head;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t hdr[WS_MAX_HEADER];
		int op = src[i].binary == 0 ? WS_OP_TEXT
			 : src[i].binary == 1 ? WS_OP_BINARY
					      : src[i].binary;
		size_t hl = ws_frame_header_encode(hdr, 1, op, src[i].len, NULL);
		memcpy(m->ws + off, hdr, hl);
		off += hl;
		m->parts[i].off = (uint32_t)off;
		m->parts[i].len = (uint32_t)src[i].len;
		m->parts[i].binary = src[i].binary == 0 ? 0 : src[i].binary == 1 ? 1 : 2;
		if (src[i].len > 0)
			memcpy(m->ws + off, src[i].p, src[i].len);
		off += src[i].len;
	}
	m->ws_len = (uint32_t)off;
	return m;
}

struct msg *msg_text(const char *p, size_t len)
{
	struct msg_src s = {0, p, len};
	return msg_new(&s, 1);
}

struct msg *msg_ws_control(int opcode, const void *p, size_t len)
{
	/* binary values >= 8 carry the control opcode through msg_new */
	struct msg_src s = {opcode, p, len};
	if (opcode < WS_OP_CLOSE || len > 125)
		return NULL;
	return msg_new(&s, 1);
}

struct msg *msg_ref(struct msg *m)
{
	atomic_fetch_add_explicit(&m->ref, 1, memory_order_relaxed);
	return m;
}

void msg_unref(struct msg *m)
{
	if (m != NULL && atomic_fetch_sub_explicit(&m->ref, 1, memory_order_acq_rel) == 1)
		free(m);
}

int msg_append_polling(const struct msg *m, struct pd_buf *out)
{
	for (size_t i = 0; i < m->nparts; i++) {
		const struct msg_part *p = &m->parts[i];
		const uint8_t *d = m->ws + p->off;
		int rc;
		if (p->binary == 2)
			continue;
		if (p->binary)
			rc = eio_payload_append(out, EIO_MESSAGE, 1, d, p->len);
		else if (p->len == 0)
			continue;
		else
			rc = eio_payload_append(out, d[0], 0, d + 1, p->len - 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int outq_push(struct outq *q, struct msg *m)
{
	struct outq_node *n = malloc(sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->next = NULL;
	n->m = msg_ref(m);
	if (q->tail != NULL)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->bytes += m->ws_len;
	return 0;
}

void outq_clear(struct outq *q)
{
	struct outq_node *n = q->head;
	while (n != NULL) {
		struct outq_node *next = n->next;
		msg_unref(n->m);
		free(n);
		n = next;
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
	q->head_off = 0;
}

void outq_splice(struct outq *dst, struct outq *src)
{
	if (src->head == NULL)
		return;
	if (dst->tail != NULL)
		dst->tail->next = src->head;
	else {
		dst->head = src->head;
		dst->head_off = src->head_off;
	}
	dst->tail = src->tail;
	dst->bytes += src->bytes;
	src->head = src->tail = NULL;
	src->bytes = 0;
	src->head_off = 0;
}

void outq_record_lat(const struct outq *q, struct msg_lat *lat)
{
	uint64_t now = 0;
	for (const struct outq_node *n = q->head; n != NULL; n = n->next) {
		if (n->m->born_ns == 0)
			continue;
		if (now == 0)
			now = msg_clock_ns();
		msg_lat_add(lat, now > n->m->born_ns ? now - n->m->born_ns : 0);
	}
}

void outq_consume(struct outq *q, size_t n)
{
	outq_consume_lat(q, n, NULL);
}

void outq_consume_lat(struct outq *q, size_t n, struct msg_lat *lat)
{
	uint64_t now = 0;
	q->bytes -= n;
	while (n > 0 && q->head != NULL) {
		struct outq_node *h = q->head;
		size_t left = h->m->ws_len - q->head_off;
		if (n < left) {
			q->head_off += (uint32_t)n;
			return;
		}
		n -= left;
		q->head = h->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->head_off = 0;
		if (h->m->born_ns != 0 && lat != NULL) {
			if (now == 0)
				now = msg_clock_ns();
			msg_lat_add(lat, now > h->m->born_ns ? now - h->m->born_ns : 0);
		}
		msg_unref(h->m);
		free(h);
	}
}
