/* sio: Socket.IO v5 on top of eio sessions. Decodes packets, holds a
 * binary packet until its attachments arrived, runs a namespace's
 * middleware and handlers, and encodes replies once into msgs. */
#include "sio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"
#include "pd_json.h"
#include "pd_log.h"
#include "recovery.h"
#include "room.h"

const char *sio_socket_key(const struct hnode *n)
{
	return container_of(n, struct sio_socket, hn)->id;
}

int sio_nsp_index(const struct broker *b, const char *name)
{
	for (size_t i = 0; i < b->nnsps; i++)
		if (strcmp(b->nsps[i].name, name) == 0)
			return (int)i;
	return -1;
}

int sio_worker_init(struct worker *w)
{
	hmap_init(&w->sockets, sio_socket_key);
	if (w->cfg->nnsps == 0)
		return 0;
	w->nsps = calloc(w->cfg->nnsps, sizeof(*w->nsps));
	if (w->nsps == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < w->cfg->nnsps; i++) {
		w->nsps[i].def = &w->cfg->nsps[i];
		w->nsps[i].idx = i;
		w->nsps[i].w = w;
		hmap_init(&w->nsps[i].rooms, room_key);
	}
	return 0;
}

void sio_worker_fini(struct worker *w)
{
	for (size_t i = 0; w->nsps != NULL && i < w->cfg->nnsps; i++)
		hmap_fini(&w->nsps[i].rooms);
	free(w->nsps);
	w->nsps = NULL;
	hmap_fini(&w->sockets);
}

/* ---- encoding ---- */

struct msg *sio_msg(int type, const char *nsp, long long id, const json_t *data,
		    const struct sio_bin *bins, size_t nbins)
{
	struct pd_buf b;
	struct msg_src stack_src[8];
	struct msg_src *src = stack_src;
	struct msg *m = NULL;
	pd_buf_init(&b, 0);
	if (nbins > SIO_MAX_ATTACHMENTS)
		return NULL;
	if (nbins > 0) {
		if (type == SIO_EVENT)
			type = SIO_BINARY_EVENT;
		else if (type == SIO_ACK)
			type = SIO_BINARY_ACK;
	}
	if (pd_buf_append(&b, "4", 1) < 0 ||
	    sio_encode(&b, type, nsp, id, (int)nbins, data) < 0)
		goto out;
	if (nbins + 1 > sizeof(stack_src) / sizeof(stack_src[0])) {
		src = malloc((nbins + 1) * sizeof(*src));
		if (src == NULL)
			goto out;
	}
	src[0] = (struct msg_src){0, b.data, b.len};
	for (size_t i = 0; i < nbins; i++)
		src[i + 1] = (struct msg_src){1, bins[i].p, bins[i].len};
	m = msg_new(src, nbins + 1);
	if (m != NULL && (type == SIO_EVENT || type == SIO_BINARY_EVENT) && b.len > 0 &&
	    b.data[b.len - 1] == ']')
		m->splice = (uint32_t)(b.len - 1);
out:
	if (src != stack_src)
		free(src);
	pd_buf_free(&b);
	return m;
}

int sio_send(struct sio_socket *s, struct msg *m)
{
	if (!s->connected || s->c == NULL)
		return -EPIPE;
	int rc = eio_send(s->c->es, m);
	if (rc == 0)
		METRIC_ADD(s->nsp->w, events_out, 1);
	return rc;
}

static int send_packet(struct sio_socket *s, int type, long long id, const json_t *data,
		       const struct sio_bin *bins, size_t nbins)
{
	struct msg *m = sio_msg(type, s->nsp->def->name, id, data, bins, nbins);
	if (m == NULL)
		return -ENOMEM;
	int rc = sio_send(s, m);
	msg_unref(m);
	return rc;
}

static json_t *event_array(const char *event, const json_t *args)
{
	json_t *a = json_array();
	if (a == NULL || json_array_append_new(a, json_string(event)) < 0) {
		json_decref(a);
		return NULL;
	}
	if (args != NULL && json_array_extend(a, (json_t *)args) < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int sio_emit(struct sio_socket *s, const char *event, const json_t *args,
	     const struct sio_bin *bins, size_t nbins)
{
	json_t *a = event_array(event, args);
	if (a == NULL)
		return -ENOMEM;
	int rc = send_packet(s, SIO_EVENT, -1, a, bins, nbins);
	json_decref(a);
	return rc;
}

int sio_emit_ack(struct sio_socket *s, const char *event, const json_t *args, sio_ack_fn fn,
		 void *ud)
{
	struct sio_ack_wait *aw = malloc(sizeof(*aw));
	json_t *a = event_array(event, args);
	if (aw == NULL || a == NULL) {
		free(aw);
		json_decref(a);
		return -ENOMEM;
	}
	aw->id = s->next_ack++;
	aw->fn = fn;
	aw->ud = ud;
	int rc = send_packet(s, SIO_EVENT, aw->id, a, NULL, 0);
	json_decref(a);
	if (rc < 0) {
		free(aw);
		return rc;
	}
	aw->next = s->acks;
	s->acks = aw;
	return 0;
}

int sio_ack(struct sio_socket *s, long long id, const json_t *args, const struct sio_bin *bins,
	    size_t nbins)
{
	json_t *empty = NULL;
	if (args == NULL)
		args = empty = json_array();
	int rc = send_packet(s, SIO_ACK, id, args, bins, nbins);
	json_decref(empty);
	return rc;
}

int sio_error(struct sio_socket *s, long long ack_id, const char *code, const char *message)
{
	return sio_error_retry(s, ack_id, code, message, -1);
}

int sio_error_retry(struct sio_socket *s, long long ack_id, const char *code, const char *message,
		    long retry_after)
{
	/* the socket's vocabulary names the code (contract 7) */
	code = dia_error_code(&dia_table[s->dialect], code);
	json_t *e = json_pack("{s:s,s:s}", "code", code, "message", message);
	if (e != NULL && retry_after >= 0 &&
	    json_object_set_new(e, "retryAfter", json_integer(retry_after)) < 0) {
		json_decref(e);
		return -ENOMEM;
	}
	json_t *args = NULL;
	int rc = -ENOMEM;
	if (e == NULL)
		return rc;
	if (ack_id >= 0)
		args = json_pack("[{s:o}]", "error", e);
	else
		args = json_pack("[o]", e);
	if (args == NULL)
		return rc;
	if (ack_id >= 0)
		rc = sio_ack(s, ack_id, args, NULL, 0);
	else
		rc = sio_emit(s, "error", args, NULL, 0);
	json_decref(args);
	return rc;
}

/* ---- sockets ---- */

struct sio_socket *sio_socket_find(struct loop *l, const char *id)
{
	struct hnode *h = hmap_get(&worker_of(l)->sockets, id, strlen(id));
	if (h == NULL)
		return NULL;
	struct sio_socket *s = container_of(h, struct sio_socket, hn);
	return s->connected ? s : NULL;
}

static void free_socket(void *arg)
{
	struct sio_socket *s = arg;
	free(s->ident);
	free(s);
}

static void socket_close(struct sio_socket *s, const char *reason)
{
	struct sio_client *c = s->c;
	struct nsp_rt *n = s->nsp;
	if (!s->connected)
		return;
	if (s->pid[0] != '\0') /* recovery hook: keep or forget the session */
		recovery_socket_closed(n->w->cfg->recovery, s, reason);
	if (n->def->on_disconnect != NULL)
		n->def->on_disconnect(s, reason);
	s->connected = 0;
	room_leave_all(s);
	for (struct sio_socket **pp = &c->sockets; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (s->nprev != NULL)
		s->nprev->nnext = s->nnext;
	else
		n->head = s->nnext;
	if (s->nnext != NULL)
		s->nnext->nprev = s->nprev;
	n->nsockets--;
	hmap_del(&n->w->sockets, &s->hn);
	METRIC_SUB(n->w, sockets, 1);
	while (s->acks != NULL) {
		struct sio_ack_wait *a = s->acks;
		s->acks = a->next;
		free(a);
	}
	s->c = NULL;
	pd_log(LOG_DEBUG, "sio disconnect id=%s nsp=%s reason=\"%s\"", s->id, n->def->name, reason);
	loop_defer_free(n->w->loop, free_socket, s);
}

static struct sio_socket *find_socket(struct sio_client *c, const char *nsp)
{
	for (struct sio_socket *s = c->sockets; s != NULL; s = s->next)
		if (strcmp(s->nsp->def->name, nsp) == 0)
			return s;
	return NULL;
}

void sio_disconnect(struct sio_socket *s, int close_conn)
{
	struct sio_client *c = s->c;
	if (!s->connected)
		return;
	send_packet(s, SIO_DISCONNECT, -1, NULL, NULL, 0);
	socket_close(s, "server namespace disconnect");
	if (close_conn && c != NULL)
		eio_close(c->es, "forced server close", 1000);
}

static void connect_error(struct sio_client *c, const char *nsp, const char *message,
			  json_t *data)
{
	json_t *e = json_pack("{s:s}", "message", message);
	if (e != NULL && data != NULL)
		json_object_set(e, "data", data);
	struct msg *m = NULL;
	if (e != NULL) {
		struct pd_buf b;
		pd_buf_init(&b, 0);
		if (pd_buf_append(&b, "4", 1) == 0 &&
		    sio_encode(&b, SIO_CONNECT_ERROR, nsp, -1, 0, e) == 0)
			m = msg_text(b.data, b.len);
		pd_buf_free(&b);
	}
	if (m != NULL)
		eio_send(c->es, m);
	msg_unref(m);
	json_decref(e);
	json_decref(data);
}

static void on_connect_packet(struct sio_client *c, const struct sio_packet *pk)
{
	const struct broker *b = c->es->w->cfg;
	int idx = sio_nsp_index(b, pk->nsp);
	if (idx < 0) {
		connect_error(c, pk->nsp, "Invalid namespace", NULL);
		return;
	}
	if (find_socket(c, pk->nsp) != NULL)
		return; /* already connected: the reference server ignores it too */
	const struct sio_nsp_def *def = &b->nsps[idx];
	json_t *empty = NULL;
	const json_t *auth = pk->data;
	if (auth == NULL)
		auth = empty = json_object();
	struct sio_ident *ident = NULL;
	const char *err = NULL;
	json_t *err_data = NULL;
	if (def->authorize != NULL && def->authorize(c, auth, &ident, &err, &err_data) < 0) {
		pd_log(LOG_INFO, "sio connect refused sid=%s nsp=%s reason=%s", c->es->sid,
		       pk->nsp, err);
		connect_error(c, pk->nsp, err ? err : "FORBIDDEN", err_data);
		json_decref(empty);
		return;
	}
	/* recovery hook: {pid, offset} in auth, answered when Valkey replied */
	if (b->recovery != NULL && !def->view &&
	    recovery_connect(b->recovery, c, (size_t)idx, auth, ident) == 1) {
		json_decref(empty);
		return;
	}
	sio_connect_finish(c, (size_t)idx, auth, ident, NULL, NULL);
	json_decref(empty);
}

struct sio_socket *sio_connect_finish(struct sio_client *c, size_t nsp_idx, const json_t *auth,
				      struct sio_ident *ident, const char *sid, const char *pid)
{
	struct worker *w = c->es->w;
	const struct sio_nsp_def *def = &w->cfg->nsps[nsp_idx];
	struct nsp_rt *n = &w->nsps[nsp_idx];
	struct hnode *old = sid != NULL && strlen(sid) == EIO_SID_LEN
				    ? hmap_get(&w->sockets, sid, EIO_SID_LEN)
				    : NULL;
	if (old != NULL && pid != NULL &&
	    strcmp(container_of(old, struct sio_socket, hn)->pid, pid) == 0)
		/* its own recovery, before the dead connection timed out here */
		socket_close(container_of(old, struct sio_socket, hn), "transport close");
	else if (old != NULL || (sid != NULL && strlen(sid) != EIO_SID_LEN))
		sid = pid = NULL; /* in use by another: a new session */
	struct sio_socket *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		free(ident);
		connect_error(c, def->name, "INTERNAL", NULL);
		return NULL;
	}
	s->c = c;
	s->nsp = n;
	s->ident = ident;
	if (sid != NULL)
		memcpy(s->id, sid, EIO_SID_LEN + 1);
	else
		do {
			broker_random_id(s->id, EIO_SID_LEN);
		} while (hmap_get(&w->sockets, s->id, EIO_SID_LEN) != NULL);
	if (w->cfg->recovery != NULL && !def->view) {
		if (pid != NULL && strlen(pid) == EIO_SID_LEN)
			memcpy(s->pid, pid, EIO_SID_LEN + 1);
		else
			broker_random_id(s->pid, EIO_SID_LEN);
	}
	if (hmap_put(&w->sockets, &s->hn, s->id, EIO_SID_LEN) < 0) {
		free(ident);
		free(s);
		connect_error(c, def->name, "INTERNAL", NULL);
		return NULL;
	}
	s->connected = 1;
	s->next = c->sockets;
	c->sockets = s;
	s->nnext = n->head;
	if (n->head != NULL)
		n->head->nprev = s;
	n->head = s;
	n->nsockets++;
	METRIC_ADD(w, sockets, 1);
	eio_connected(c->es);
	json_t *hello = json_pack("{s:s}", "sid", s->id);
	if (hello != NULL && s->pid[0] != '\0')
		json_object_set_new(hello, "pid", json_string(s->pid));
	struct pd_buf b;
	pd_buf_init(&b, 0);
	struct msg *m = NULL;
	if (hello != NULL && pd_buf_append(&b, "4", 1) == 0 &&
	    sio_encode(&b, SIO_CONNECT, def->name, -1, 0, hello) == 0)
		m = msg_text(b.data, b.len);
	pd_buf_free(&b);
	json_decref(hello);
	if (m == NULL || sio_send(s, m) < 0) {
		msg_unref(m);
		socket_close(s, "server error");
		return NULL;
	}
	msg_unref(m);
	pd_log(LOG_DEBUG, "sio connect id=%s nsp=%s sid=%s", s->id, def->name, c->es->sid);
	if (def->on_connect != NULL)
		def->on_connect(s, auth);
	if (s->connected && s->pid[0] != '\0') /* recovery hook: persist the session */
		recovery_socket_opened(w->cfg->recovery, s);
	return s->connected ? s : NULL;
}

/* 0, or -1 for a packet that must close the connection. */
static int dispatch(struct sio_client *c, struct sio_packet *pk, const struct sio_bin *bins,
		    size_t nbins)
{
	struct sio_socket *s;
	switch (pk->type) {
	case SIO_CONNECT:
		on_connect_packet(c, pk);
		return 0;
	case SIO_DISCONNECT:
		s = find_socket(c, pk->nsp);
		if (s != NULL)
			socket_close(s, "client namespace disconnect");
		return 0;
	case SIO_EVENT:
	case SIO_BINARY_EVENT: {
		s = find_socket(c, pk->nsp);
		if (s == NULL)
			return -1; /* as the reference server: invalid state */
		const char *ev = sio_event_name(pk);
		if (ev == NULL)
			return -1;
		if (s->nsp->def->on_event != NULL)
			s->nsp->def->on_event(s, ev, pk->data, bins, nbins, pk->id);
		return 0;
	}
	case SIO_ACK:
	case SIO_BINARY_ACK: {
		s = find_socket(c, pk->nsp);
		if (s == NULL)
			return -1;
		for (struct sio_ack_wait **pp = &s->acks; *pp != NULL; pp = &(*pp)->next) {
			struct sio_ack_wait *a = *pp;
			if (a->id == pk->id) {
				*pp = a->next;
				a->fn(s, pk->data, bins, nbins, a->ud);
				free(a);
				break;
			}
		}
		return 0;
	}
	default:
		return -1;
	}
}

static void pending_clear(struct sio_client *c)
{
	if (c->pend != NULL) {
		sio_packet_clear(c->pend);
		free(c->pend);
		c->pend = NULL;
	}
	for (size_t i = 0; i < c->nbins; i++)
		free((void *)c->bins[i].p);
	free(c->bins);
	c->bins = NULL;
	c->nbins = 0;
	c->pend_bytes = 0;
}

static int on_open(struct eio_session *es)
{
	struct sio_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->es = es;
	es->upper = c;
	return 0;
}

static int on_message(struct eio_session *es, int binary, const uint8_t *p, size_t n)
{
	struct sio_client *c = es->upper;
	if (c == NULL)
		return -1;
	if (binary) {
		if (c->pend == NULL)
			return -1;
		c->pend_bytes += n;
		if (c->pend_bytes > (size_t)es->w->cfg->max_payload)
			return -1;
		uint8_t *copy = malloc(n ? n : 1);
		if (copy == NULL)
			return -1;
		memcpy(copy, p, n);
		c->bins[c->nbins].p = copy;
		c->bins[c->nbins].len = n;
		c->nbins++;
		if (c->nbins < (size_t)c->pend->attachments)
			return 0;
		/* detach first: the handler may close the session under us */
		struct sio_packet *pk = c->pend;
		struct sio_bin *bins = c->bins;
		size_t nb = c->nbins;
		c->pend = NULL;
		c->bins = NULL;
		c->nbins = 0;
		c->pend_bytes = 0;
		int rc = dispatch(c, pk, bins, nb);
		sio_packet_clear(pk);
		free(pk);
		for (size_t i = 0; i < nb; i++)
			free((void *)bins[i].p);
		free(bins);
		return rc;
	}
	if (c->pend != NULL)
		return -1; /* text while attachments are due */
	struct sio_packet pk;
	char err[128];
	if (sio_decode((const char *)p, n, &pk, err, sizeof(err)) < 0) {
		pd_log(LOG_INFO, "sio bad packet sid=%s err=\"%s\"", es->sid, err);
		return -1;
	}
	if (pk.type == SIO_BINARY_EVENT || pk.type == SIO_BINARY_ACK) {
		int k = sio_placeholders_check(pk.data);
		if (k != pk.attachments) {
			sio_packet_clear(&pk);
			pd_log(LOG_INFO, "sio bad placeholders sid=%s", es->sid);
			return -1;
		}
		if (k > 0) {
			c->pend = malloc(sizeof(*c->pend));
			c->bins = calloc((size_t)k, sizeof(*c->bins));
			if (c->pend == NULL || c->bins == NULL) {
				free(c->pend);
				c->pend = NULL;
				sio_packet_clear(&pk);
				return -1;
			}
			*c->pend = pk;
			return 0;
		}
	}
	int rc = dispatch(c, &pk, NULL, 0);
	sio_packet_clear(&pk);
	return rc;
}

static void free_client(void *arg)
{
	free(arg);
}

static void on_close(struct eio_session *es, const char *reason)
{
	struct sio_client *c = es->upper;
	if (c == NULL)
		return;
	while (c->sockets != NULL)
		socket_close(c->sockets, reason);
	pending_clear(c);
	es->upper = NULL;
	loop_defer_free(es->w->loop, free_client, c);
}

const struct eio_ops sio_eio_ops = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
    .connect_timeout = 1,
};
