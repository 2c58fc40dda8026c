/* wsconn: the WebSocket transport on a socket taken out of libmicrohttpd.
 * No per-connection read buffer (the loop's scratch is used and unmasked
 * in place; the parser holds only incomplete frames), no timer unless
 * closing. */
#include "wsconn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "broker.h"
#include "eio.h"
#include "pd_log.h"
#include "ws.h"

#define WS_CLOSE_GRACE_MS 2000
#define WS_READS_PER_TURN 8

static void die(struct wsconn *c);

static void free_conn(void *arg)
{
	struct wsconn *c = arg;
	/* the parser may have been on the stack when the connection died */
	ws_parser_free(c->parser);
	free(c);
}

static void on_timer(struct loop_timer *t)
{
	struct wsconn *c = container_of(t, struct wsconn, timer);
	die(c);
}

static void die(struct wsconn *c)
{
	if (c->state == WSC_DEAD)
		return;
	c->state = WSC_DEAD;
	worker_of(c->l)->live_ws--;
	loop_watch_del(c->l, c->fd);
	close(c->fd);
	c->fd = -1;
	loop_timer_cancel(c->l, &c->timer);
	outq_clear(&c->q);
	struct eio_session *s = c->s;
	c->s = NULL;
	if (s != NULL)
		eio_ws_gone(s, c);
	loop_defer_free(c->l, free_conn, c);
}

static void set_pollout(struct wsconn *c, int on)
{
	if (c->pollout == on)
		return;
	c->pollout = (uint8_t)on;
	loop_watch_mod(c->l, c->fd, EPOLLIN | (on ? EPOLLOUT : 0), &c->watch);
}

void wsconn_flush(struct wsconn *c)
{
	struct worker *w = worker_of(c->l);
	while (c->q.head != NULL && c->state != WSC_DEAD && c->state != WSC_DRAINING) {
		struct iovec iov[64];
		int n = 0;
		uint32_t off = c->q.head_off;
		for (struct outq_node *x = c->q.head; x != NULL && n < 64; x = x->next) {
			iov[n].iov_base = x->m->ws + off;
			iov[n].iov_len = x->m->ws_len - off;
			off = 0;
			n++;
		}
		/* sendmsg, not writev: a socket call skips the file layer's
		 * position lock and checks (about 5 % of a delivery here) */
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_pollout(c, 1);
				return;
			}
			if (errno == EINTR)
				continue;
			pd_log(LOG_INFO, "ws write failed fd=%d err=%s", c->fd, strerror(errno));
			die(c);
			return;
		}
		METRIC_ADD(w, bytes_out, (unsigned long long)k);
		METRIC_ADD(w, ws_writes, 1);
		outq_consume_lat(&c->q, (size_t)k, &w->m.delivery);
	}
	if (c->state == WSC_DEAD)
		return;
	set_pollout(c, 0);
	if (c->s != NULL)
		eio_check_output(c->s, c->q.bytes);
	if (c->state == WSC_CLOSING && c->q.head == NULL) {
		/* half-close, then read until the peer closes so that unread input
		 * does not turn our last frames into a reset */
		shutdown(c->fd, SHUT_WR);
		c->state = WSC_DRAINING;
	}
}

static void flush_deferred(void *arg)
{
	struct wsconn *c = arg;
	c->flush_pending = 0;
	if (c->state != WSC_DEAD && !c->pollout)
		wsconn_flush(c);
}

/* Writes wait for the end of the loop's turn: everything queued to this
 * socket in one turn (a Valkey read carries many events, a room emit
 * reaches many sockets) leaves in one writev. On loopback each write costs
 * the sender about 10 us of kernel time whatever its size, so under load
 * coalescing is what keeps the per-event cost down. free_conn is deferred
 * after this callback (FIFO), so c is still allocated when it runs. */
int wsconn_send(struct wsconn *c, struct msg *m)
{
	if (c->state != WSC_OPEN)
		return -EPIPE;
	if (outq_push(&c->q, m) < 0)
		return -ENOMEM;
	if (!c->flush_pending && !c->pollout) {
		if (loop_defer(c->l, flush_deferred, c) == 0)
			c->flush_pending = 1;
		else
			wsconn_flush(c); /* no memory to defer: write now */
	}
	if (c->s != NULL)
		eio_check_output(c->s, c->q.bytes);
	return 0;
}

static void send_close(struct wsconn *c, int code)
{
	uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	struct msg *m = msg_ws_control(WS_OP_CLOSE, b, code ? 2 : 0);
	if (m != NULL) {
		outq_push(&c->q, m);
		msg_unref(m);
	}
}

void wsconn_close(struct wsconn *c, int code)
{
	if (c->state != WSC_OPEN)
		return;
	c->s = NULL;
	if (code > 0)
		send_close(c, code);
	c->state = WSC_CLOSING;
	loop_timer_set(c->l, &c->timer, c->l->now + WS_CLOSE_GRACE_MS);
	wsconn_flush(c);
}

void wsconn_abort(struct wsconn *c)
{
	c->s = NULL;
	die(c);
}

/* Protocol failure detected while reading: fail the connection. */
static void fail(struct wsconn *c, int code)
{
	struct eio_session *s = c->s;
	c->s = NULL;
	if (s != NULL)
		eio_ws_gone(s, c);
	wsconn_close(c, code);
}

static int on_message(void *ud, int opcode, uint8_t *data, size_t len)
{
	struct wsconn *c = ud;
	static _Thread_local struct pd_buf b64;
	struct eio_packet pk;

	if (c->state != WSC_OPEN)
		return 1;
	switch (opcode) {
	case WS_OP_TEXT:
		if (c->s == NULL)
			return 0;
		if (eio_decode_text((const char *)data, len, &b64, &pk) < 0) {
			METRIC_ADD(worker_of(c->l), protocol_errors, 1);
			pd_log(LOG_INFO, "eio bad packet sid=%s transport=websocket", c->s->sid);
			eio_close(c->s, "parse error", WS_CLOSE_NORMAL);
			return 1;
		}
		if (b64.cap > 4096)
			pd_buf_free(&b64);
		break;
	case WS_OP_BINARY:
		if (c->s == NULL)
			return 0;
		pk.type = EIO_MESSAGE;
		pk.binary = 1;
		pk.data = data;
		pk.len = len;
		break;
	case WS_OP_PING: {
		struct msg *m = msg_ws_control(WS_OP_PONG, data, len);
		if (m != NULL) {
			wsconn_send(c, m);
			msg_unref(m);
		}
		return 0;
	}
	case WS_OP_CLOSE: {
		/* echo the code, as RFC 6455 5.5.1 asks */
		int code = len >= 2 ? (data[0] << 8 | data[1]) : 0;
		struct eio_session *s = c->s;
		c->s = NULL;
		if (s != NULL)
			eio_ws_gone(s, c);
		wsconn_close(c, code ? code : WS_CLOSE_NORMAL);
		return 1;
	}
	default:
		return 0;
	}
	if (eio_on_packet(c->s, c, &pk) < 0 || c->state != WSC_OPEN)
		return 1;
	return 0;
}

/* mut: p is ours to modify (the loop's scratch buffer): whole frames are
 * unmasked in place and handed over with no copy. */
static void feed(struct wsconn *c, uint8_t *mut, const uint8_t *p, size_t n)
{
	int rc = mut != NULL ? ws_parser_feed_mut(c->parser, mut, n, on_message, c)
			     : ws_parser_feed(c->parser, p, n, on_message, c);
	if (rc < 0 && c->state == WSC_OPEN) {
		METRIC_ADD(worker_of(c->l), protocol_errors, 1);
		pd_log(LOG_INFO, "ws protocol error fd=%d code=%d", c->fd, -rc);
		fail(c, -rc);
	}
}

static void on_read(struct wsconn *c)
{
	struct loop *l = c->l;
	for (int i = 0; i < WS_READS_PER_TURN; i++) {
		ssize_t n = recv(c->fd, l->scratch, l->scratch_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			die(c);
			return;
		}
		if (n == 0) {
			die(c);
			return;
		}
		METRIC_ADD(worker_of(l), bytes_in, (unsigned long long)n);
		if (c->state == WSC_DRAINING || c->state == WSC_CLOSING)
			continue;
		feed(c, l->scratch, NULL, (size_t)n);
		if (c->state == WSC_DEAD)
			return;
		if ((size_t)n < l->scratch_len)
			return;
	}
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct wsconn *c = container_of(w, struct wsconn, watch);
	if (c->state == WSC_DEAD)
		return;
	if (events & EPOLLOUT)
		wsconn_flush(c);
	if (c->state != WSC_DEAD && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		on_read(c);
}

void wsconn_input(struct wsconn *c, const uint8_t *p, size_t n)
{
	if (c->state == WSC_OPEN && n > 0)
		feed(c, NULL, p, n);
}

struct wsconn *wsconn_new(struct loop *l, int fd, struct eio_session *s)
{
	struct wsconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->watch.fn = on_io;
	c->l = l;
	c->fd = fd;
	c->s = s;
	loop_timer_init(&c->timer, on_timer);
	c->parser = ws_parser_new((size_t)worker_of(l)->cfg->max_payload, 1);
	if (c->parser == NULL)
		goto fail;
	int rc = loop_watch_add(l, fd, EPOLLIN, &c->watch);
	if (rc < 0) {
		pd_log(LOG_ERR, "ws epoll add failed fd=%d err=%s", fd, strerror(-rc));
		goto fail;
	}
	worker_of(l)->live_ws++;
	return c;
fail:
	if (c != NULL)
		ws_parser_free(c->parser);
	free(c);
	close(fd);
	return NULL;
}
