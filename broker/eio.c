/* eio: Engine.IO v4 sessions as the reference server keeps them: one
 * deadline per session (next ping or pong due, connect timeout, slow-reader
 * grace), polling output queued until a GET takes it, the 2probe/3probe/5
 * upgrade with noop answers to the pending poll. */
#include "eio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "pd_log.h"
#include "ws.h"
#include "wsconn.h"

const struct eio_ops *eio_upper;

static struct msg *m_ping, *m_probe, *m_close;

#define EIO_CLOSING_KEEP_MS 5000

int eio_init(void)
{
	m_ping = msg_text("2", 1);
	m_probe = msg_text("3probe", 6);
	m_close = msg_text("1", 1);
	return m_ping && m_probe && m_close ? 0 : -ENOMEM;
}

void eio_fini(void)
{
	msg_unref(m_ping);
	msg_unref(m_probe);
	msg_unref(m_close);
	m_ping = m_probe = m_close = NULL;
}

const char *eio_session_key(const struct hnode *n)
{
	return container_of(n, struct eio_session, hn)->sid;
}

struct eio_session *eio_find(struct worker *w, const char *sid)
{
	struct hnode *n = hmap_get(&w->sessions, sid, strlen(sid));
	return n ? container_of(n, struct eio_session, hn) : NULL;
}

static void rearm(struct eio_session *s)
{
	struct loop *l = s->w->loop;
	uint64_t when;
	if (s->state == EIO_S_CLOSED)
		return;
	if (s->state == EIO_S_CLOSING) {
		when = s->close_by;
	} else {
		when = s->hb_at;
		if (s->connect_by && s->connect_by < when)
			when = s->connect_by;
		if (s->soft_since) {
			uint64_t t = s->soft_since + (uint64_t)s->w->cfg->out_soft_ms;
			if (t < when)
				when = t;
		}
	}
	loop_timer_set(l, &s->timer, when);
}

static void free_session(void *arg)
{
	struct eio_session *s = arg;
	free(s->hs_token);
	free(s);
}

/* The session is gone: unlink it from everything. */
static void finalize(struct eio_session *s)
{
	struct worker *w = s->w;
	if (s->state == EIO_S_CLOSED)
		return;
	if (s->transport == EIO_T_POLLING)
		METRIC_SUB(w, conn_polling, 1);
	else
		METRIC_SUB(w, conn_ws, 1);
	s->state = EIO_S_CLOSED;
	hmap_del(&w->sessions, &s->hn);
	loop_timer_cancel(w->loop, &s->timer);
	outq_clear(&s->q);
	if (s->ws != NULL) {
		wsconn_close(s->ws, WS_CLOSE_NORMAL);
		s->ws = NULL;
	}
	if (s->poll != NULL) {
		http_poll_answer(s->poll, "6", 1);
		s->poll = NULL;
	}
	atomic_fetch_sub(w->nconn, 1);
	loop_defer_free(w->loop, free_session, s);
}

/* Answer the pending GET with the queued packets (when with_queue) and an
 * optional trailing packet type (EIO_NOOP / EIO_CLOSE). */
static void answer_poll(struct eio_session *s, int with_queue, int trailer)
{
	struct pd_buf b;
	pd_buf_init(&b, 0);
	int rc = 0;
	if (with_queue) {
		for (struct outq_node *n = s->q.head; n != NULL && rc == 0; n = n->next)
			rc = msg_append_polling(n->m, &b);
		if (rc == 0)
			outq_record_lat(&s->q, &s->w->m.delivery);
		outq_clear(&s->q);
	}
	if (rc == 0 && trailer)
		rc = eio_payload_append(&b, trailer, 0, NULL, 0);
	if (rc < 0) {
		/* out of memory: a noop keeps the client polling */
		pd_log(LOG_ERR, "eio poll payload failed sid=%s err=%s", s->sid, strerror(-rc));
		pd_buf_reset(&b);
		eio_payload_append(&b, EIO_NOOP, 0, NULL, 0);
	}
	METRIC_ADD(s->w, bytes_out, b.len);
	http_poll_answer(s->poll, b.data ? b.data : "6", b.data ? b.len : 1);
	s->poll = NULL;
	pd_buf_free(&b);
	s->soft_since = 0;
}

enum close_mode {
	CLOSE_CLIENT, /* the client closed: a pending poll gets a noop */
	CLOSE_DRAIN,  /* server close: queued packets and CLOSE reach the client */
	CLOSE_NOW,    /* error or timeout: the session is dropped at once */
};

static void close_session(struct eio_session *s, const char *reason, int ws_code, int mode)
{
	if (s->state != EIO_S_OPEN)
		return;
	s->state = EIO_S_CLOSING; /* refuse sends from the upper layer's close */
	pd_log(LOG_INFO, "eio close sid=%s transport=%s reason=\"%s\"", s->sid,
	       s->transport == EIO_T_WEBSOCKET ? "websocket" : "polling", reason);
	if (eio_upper->on_close != NULL)
		eio_upper->on_close(s, reason);
	s->upper = NULL;
	if (s->transport == EIO_T_WEBSOCKET) {
		if (s->ws != NULL) {
			if (ws_code < 0)
				wsconn_abort(s->ws);
			else
				wsconn_close(s->ws, ws_code);
			s->ws = NULL;
		}
		finalize(s);
		return;
	}
	if (s->ws != NULL) { /* an unfinished upgrade probe */
		wsconn_close(s->ws, ws_code > 0 ? ws_code : WS_CLOSE_NORMAL);
		s->ws = NULL;
	}
	if (s->poll != NULL) {
		if (mode == CLOSE_CLIENT)
			answer_poll(s, 0, EIO_NOOP);
		else
			answer_poll(s, mode == CLOSE_DRAIN, EIO_CLOSE);
		finalize(s);
		return;
	}
	if (mode != CLOSE_DRAIN || s->q.head == NULL) {
		/* as the reference server: the sid is gone, the next poll gets 400 */
		finalize(s);
		return;
	}
	/* keep the session until the next poll takes the queue and a CLOSE */
	s->close_by = s->w->loop->now + EIO_CLOSING_KEEP_MS;
	rearm(s);
}

void eio_close(struct eio_session *s, const char *reason, int ws_code)
{
	close_session(s, reason, ws_code, ws_code < 0 ? CLOSE_NOW : CLOSE_DRAIN);
}

void eio_abort(struct eio_session *s, const char *reason)
{
	close_session(s, reason, WS_CLOSE_NORMAL, CLOSE_NOW);
}

static void on_timer(struct loop_timer *t)
{
	struct eio_session *s = container_of(t, struct eio_session, timer);
	uint64_t now = s->w->loop->now;
	if (s->state == EIO_S_CLOSING) {
		if (now >= s->close_by)
			finalize(s);
		else
			rearm(s);
		return;
	}
	if (s->state != EIO_S_OPEN)
		return;
	if (s->connect_by && now >= s->connect_by) {
		close_session(s, "connect timeout", WS_CLOSE_NORMAL, CLOSE_DRAIN);
		return;
	}
	if (s->soft_since && now >= s->soft_since + (uint64_t)s->w->cfg->out_soft_ms) {
		METRIC_ADD(s->w, slow_disconnects, 1);
		pd_log(LOG_WARNING, "eio slow reader disconnect sid=%s limit=soft", s->sid);
		close_session(s, "slow reader", -1, CLOSE_NOW);
		return;
	}
	if (now >= s->hb_at) {
		if (s->wait_pong) {
			METRIC_ADD(s->w, ping_timeouts, 1);
			close_session(s, "ping timeout", WS_CLOSE_NORMAL, CLOSE_NOW);
			return;
		}
		s->wait_pong = 1;
		s->hb_at = now + (uint64_t)s->w->cfg->ping_timeout;
		eio_send(s, m_ping);
		if (s->state != EIO_S_OPEN)
			return;
	}
	rearm(s);
}

void eio_check_output(struct eio_session *s, size_t queued)
{
	if (s->state != EIO_S_OPEN)
		return;
	if (queued > s->w->cfg->out_hard) {
		METRIC_ADD(s->w, slow_disconnects, 1);
		pd_log(LOG_WARNING, "eio slow reader disconnect sid=%s limit=hard queued=%zu", s->sid,
		       queued);
		close_session(s, "slow reader", -1, CLOSE_NOW);
		return;
	}
	if (queued > s->w->cfg->out_soft) {
		if (s->soft_since == 0) {
			pd_log(LOG_DEBUG, "eio output over soft limit sid=%s queued=%zu", s->sid, queued);
			s->soft_since = s->w->loop->now;
			rearm(s);
		}
	} else {
		s->soft_since = 0;
	}
}

static void poll_flush(void *arg)
{
	struct eio_session *s = arg;
	s->flush_pending = 0;
	if (s->state == EIO_S_OPEN && s->poll != NULL && s->q.head != NULL && !s->upgrading)
		answer_poll(s, 1, 0);
}

int eio_send(struct eio_session *s, struct msg *m)
{
	if (s->state != EIO_S_OPEN)
		return -EPIPE;
	if (s->transport == EIO_T_WEBSOCKET)
		return s->ws ? wsconn_send(s->ws, m) : -EPIPE;
	if (outq_push(&s->q, m) < 0)
		return -ENOMEM;
	eio_check_output(s, s->q.bytes);
	if (s->state == EIO_S_OPEN && s->poll != NULL && !s->flush_pending) {
		/* answer at the end of the turn so that packets sent together
		 * leave in one response */
		s->flush_pending = 1;
		loop_defer_free(s->w->loop, poll_flush, s);
	}
	return 0;
}

void eio_connected(struct eio_session *s)
{
	s->connect_by = 0;
}

struct eio_session *eio_session_new(struct worker *w, struct wsconn *ws, char *hs_token, int *full)
{
	struct eio_session *s = NULL;
	struct pd_buf b;
	pd_buf_init(&b, 0);
	*full = 0;
	if (atomic_fetch_add(w->nconn, 1) >= w->cfg->max_connections) {
		atomic_fetch_sub(w->nconn, 1);
		*full = 1;
		free(hs_token);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail;
	s->w = w;
	s->hs_token = hs_token;
	hs_token = NULL;
	loop_timer_init(&s->timer, on_timer);
	do {
		broker_session_id(s->sid, EIO_SID_LEN);
	} while (eio_find(w, s->sid) != NULL);
	s->transport = ws ? EIO_T_WEBSOCKET : EIO_T_POLLING;
	s->ws = ws;
	if (hmap_put(&w->sessions, &s->hn, s->sid, EIO_SID_LEN) < 0)
		goto fail;
	uint64_t now = w->loop->now;
	s->hb_at = now + (uint64_t)w->cfg->ping_interval;
	if (eio_upper->connect_timeout)
		s->connect_by = now + (uint64_t)w->cfg->connect_timeout;
	if (ws)
		METRIC_ADD(w, conn_ws, 1);
	else
		METRIC_ADD(w, conn_polling, 1);
	METRIC_ADD(w, sessions_total, 1);
	if (pd_buf_append(&b, "0", 1) < 0 ||
	    eio_open_json(&b, s->sid, ws == NULL, w->cfg->ping_interval, w->cfg->ping_timeout,
			  w->cfg->max_payload) < 0) {
		close_session(s, "out of memory", -1, CLOSE_NOW);
		pd_buf_free(&b);
		return NULL;
	}
	struct msg *m = msg_text(b.data, b.len);
	pd_buf_free(&b);
	if (m == NULL || eio_send(s, m) < 0) {
		msg_unref(m);
		close_session(s, "out of memory", -1, CLOSE_NOW);
		return NULL;
	}
	msg_unref(m);
	if (eio_upper->on_open != NULL && eio_upper->on_open(s) < 0) {
		close_session(s, "refused", -1, CLOSE_NOW);
		return NULL;
	}
	pd_log(LOG_DEBUG, "eio open sid=%s transport=%s loop=%d", s->sid,
	       ws ? "websocket" : "polling", w->loop->idx);
	rearm(s);
	return s;
fail:
	free(hs_token);
	free(s);
	pd_buf_free(&b);
	atomic_fetch_sub(w->nconn, 1);
	return NULL;
}

/* A packet on the upgrade probe. 0, or -1 when the probe was dropped. */
static int on_probe_packet(struct eio_session *s, struct wsconn *c, const struct eio_packet *pk)
{
	if (pk->type == EIO_PING && pk->len == 5 && memcmp(pk->data, "probe", 5) == 0) {
		wsconn_send(c, m_probe);
		s->upgrading = 1;
		/* the client pauses polling before it sends 5: end the pending poll */
		if (s->poll != NULL)
			answer_poll(s, 0, EIO_NOOP);
		return 0;
	}
	if (pk->type == EIO_UPGRADE && s->upgrading) {
		s->transport = EIO_T_WEBSOCKET;
		s->upgrading = 0;
		c->probe = 0;
		METRIC_SUB(s->w, conn_polling, 1);
		METRIC_ADD(s->w, conn_ws, 1);
		if (s->poll != NULL)
			answer_poll(s, 0, EIO_NOOP);
		outq_splice(&c->q, &s->q);
		wsconn_flush(c);
		pd_log(LOG_DEBUG, "eio upgrade sid=%s", s->sid);
		return 0;
	}
	if (pk->type == EIO_NOOP)
		return 0;
	pd_log(LOG_INFO, "eio invalid upgrade packet sid=%s type=%c", s->sid, pk->type);
	s->ws = NULL;
	s->upgrading = 0;
	wsconn_close(c, WS_CLOSE_PROTOCOL);
	return -1;
}

int eio_on_packet(struct eio_session *s, struct wsconn *from_ws, const struct eio_packet *pk)
{
	if (s->state != EIO_S_OPEN)
		return -1;
	if (from_ws != NULL) {
		if (s->ws != from_ws)
			return -1;
		if (s->transport == EIO_T_POLLING)
			return on_probe_packet(s, from_ws, pk);
	}
	switch (pk->type) {
	case EIO_PONG:
		if (s->wait_pong) {
			s->wait_pong = 0;
			s->hb_at = s->w->loop->now + (uint64_t)s->w->cfg->ping_interval;
			rearm(s);
		}
		return 0;
	case EIO_MESSAGE:
		METRIC_ADD(s->w, events_in, 1);
		if (eio_upper->on_message(s, pk->binary, pk->data, pk->len) < 0) {
			METRIC_ADD(s->w, protocol_errors, 1);
			close_session(s, "parse error", WS_CLOSE_NORMAL, CLOSE_NOW);
			return -1;
		}
		return s->state == EIO_S_OPEN ? 0 : -1;
	case EIO_CLOSE:
		close_session(s, "transport close", WS_CLOSE_NORMAL, CLOSE_CLIENT);
		return -1;
	case EIO_NOOP:
	case EIO_PING: /* v3 clients ping; v4 ones only probe */
	case EIO_UPGRADE:
		return 0;
	default:
		METRIC_ADD(s->w, protocol_errors, 1);
		close_session(s, "parse error", WS_CLOSE_NORMAL, CLOSE_NOW);
		return -1;
	}
}

int eio_poll_get(struct eio_session *s, struct http_poll *p)
{
	if (s->state == EIO_S_CLOSING) {
		s->poll = p;
		answer_poll(s, 1, EIO_CLOSE);
		finalize(s);
		return 1;
	}
	if (s->state != EIO_S_OPEN)
		return -1;
	if (s->poll != NULL) {
		pd_log(LOG_INFO, "eio overlapping poll sid=%s", s->sid);
		close_session(s, "transport error", WS_CLOSE_NORMAL, CLOSE_NOW);
		return -1;
	}
	s->poll = p;
	if (s->upgrading) {
		answer_poll(s, 0, EIO_NOOP);
		return 1;
	}
	if (s->q.head != NULL) {
		answer_poll(s, 1, 0);
		return 1;
	}
	return 0;
}

void eio_poll_gone(struct eio_session *s, struct http_poll *p)
{
	if (s->poll == p)
		s->poll = NULL;
}

void eio_ws_attached(struct eio_session *s, struct wsconn *c)
{
	s->ws = c;
	c->probe = s->transport == EIO_T_POLLING;
}

void eio_ws_gone(struct eio_session *s, struct wsconn *c)
{
	if (s->ws != c)
		return;
	s->ws = NULL;
	if (s->transport == EIO_T_WEBSOCKET) {
		close_session(s, "transport close", 0, CLOSE_CLIENT);
	} else {
		s->upgrading = 0;
	}
}

void eio_drop_all(struct worker *w)
{
	size_t i = 0;
	struct hnode *cur = NULL, *n;
	while ((n = hmap_next(&w->sessions, &i, &cur)) != NULL) {
		struct eio_session *s = container_of(n, struct eio_session, hn);
		if (s->state == EIO_S_OPEN)
			close_session(s, "server shutting down", -1, CLOSE_NOW);
		else
			finalize(s);
	}
}

void eio_close_all(struct worker *w, const char *reason)
{
	size_t i = 0;
	struct hnode *cur = NULL, *n;
	/* collect first: closing unlinks sessions from the table */
	size_t cnt = w->sessions.n, k = 0;
	struct eio_session **all = cnt ? malloc(cnt * sizeof(*all)) : NULL;
	if (cnt && all == NULL)
		return;
	while ((n = hmap_next(&w->sessions, &i, &cur)) != NULL && k < cnt)
		all[k++] = container_of(n, struct eio_session, hn);
	for (size_t j = 0; j < k; j++)
		close_session(all[j], reason, WS_CLOSE_GOING_AWAY, CLOSE_DRAIN);
	free(all);
}
