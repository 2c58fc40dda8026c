/* room: membership arrays with back-indexes (leave is a swap-remove), an
 * epoch mark per socket to deliver once per emit whatever the overlap of
 * rooms, and the cross-loop post of one shared msg. */
#include "room.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "pd_log.h"
#include "sio.h"

const char *room_key(const struct hnode *n)
{
	return container_of(n, struct room, hn)->name;
}

static struct room *room_find(struct nsp_rt *n, const char *name)
{
	struct hnode *h = hmap_get(&n->rooms, name, strlen(name));
	return h ? container_of(h, struct room, hn) : NULL;
}

int room_has(const struct sio_socket *s, const char *name)
{
	for (size_t i = 0; i < s->nrooms; i++)
		if (strcmp(s->rooms[i].r->name, name) == 0)
			return 1;
	return 0;
}

int room_join(struct sio_socket *s, const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > ROOM_NAME_MAX)
		return -EINVAL;
	if (room_has(s, name))
		return 0;
	if (s->nrooms >= ROOM_MAX_PER_SOCKET)
		return -E2BIG;
	if (s->nrooms == s->caprooms) {
		size_t cap = s->caprooms ? s->caprooms * 2u : 4u;
		struct sio_membership *m = realloc(s->rooms, cap * sizeof(*m));
		if (m == NULL)
			return -ENOMEM;
		s->rooms = m;
		s->caprooms = (uint16_t)cap;
	}
	struct nsp_rt *n = s->nsp;
	struct room *r = room_find(n, name);
	if (r == NULL) {
		r = calloc(1, sizeof(*r) + len + 1);
		if (r == NULL)
			return -ENOMEM;
		memcpy(r->name, name, len + 1);
		r->nsp = n;
		if (hmap_put(&n->rooms, &r->hn, r->name, len) < 0) {
			free(r);
			return -ENOMEM;
		}
		METRIC_ADD(n->w, rooms, 1);
		atomic_fetch_add_explicit(&n->nrooms, 1, memory_order_relaxed);
	}
	if (r->n == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 2;
		struct sio_socket **m = realloc(r->m, cap * sizeof(*m));
		if (m == NULL) {
			if (r->n == 0) {
				hmap_del(&n->rooms, &r->hn);
				METRIC_SUB(n->w, rooms, 1);
				atomic_fetch_sub_explicit(&n->nrooms, 1, memory_order_relaxed);
				free(r);
			}
			return -ENOMEM;
		}
		r->m = m;
		r->cap = cap;
	}
	r->m[r->n] = s;
	s->rooms[s->nrooms].r = r;
	s->rooms[s->nrooms].idx = r->n;
	s->nrooms++;
	r->n++;
	return 0;
}

static void leave_at(struct sio_socket *s, size_t i)
{
	struct room *r = s->rooms[i].r;
	uint32_t idx = s->rooms[i].idx;
	/* swap-remove from the room, fixing the moved member's back-index */
	r->n--;
	if (idx != r->n) {
		struct sio_socket *moved = r->m[r->n];
		r->m[idx] = moved;
		for (size_t k = 0; k < moved->nrooms; k++) {
			if (moved->rooms[k].r == r) {
				moved->rooms[k].idx = idx;
				break;
			}
		}
	}
	s->rooms[i] = s->rooms[--s->nrooms];
	if (r->n == 0) {
		hmap_del(&r->nsp->rooms, &r->hn);
		METRIC_SUB(r->nsp->w, rooms, 1);
		atomic_fetch_sub_explicit(&r->nsp->nrooms, 1, memory_order_relaxed);
		free(r->m);
		free(r);
	} else if (r->cap > 16 && r->n < r->cap / 4) {
		struct sio_socket **m = realloc(r->m, (r->cap / 2) * sizeof(*m));
		if (m != NULL) {
			r->m = m;
			r->cap /= 2;
		}
	}
}

void room_leave(struct sio_socket *s, const char *name)
{
	for (size_t i = 0; i < s->nrooms; i++) {
		if (strcmp(s->rooms[i].r->name, name) == 0) {
			leave_at(s, i);
			return;
		}
	}
}

void room_leave_all(struct sio_socket *s)
{
	while (s->nrooms > 0)
		leave_at(s, s->nrooms - 1);
	free(s->rooms);
	s->rooms = NULL;
	s->caprooms = 0;
}

static struct sio_socket *socket_by_id(struct nsp_rt *n, const char *id)
{
	struct hnode *h = hmap_get(&n->w->sockets, id, strlen(id));
	if (h == NULL)
		return NULL;
	struct sio_socket *s = container_of(h, struct sio_socket, hn);
	return s->nsp == n ? s : NULL;
}

/* sio_send, then the namespace's delivery hook for a watched socket. */
static int send_one(struct nsp_rt *n, struct sio_socket *s, struct msg *m)
{
	int rc = sio_send(s, m);
	if (rc == 0 && s->watch && n->def->on_delivered != NULL)
		n->def->on_delivered(s, m);
	return rc;
}

/* A new fan-out epoch of w (marks of an older epoch mean "not seen"). */
static uint32_t next_epoch(struct nsp_rt *n)
{
	struct worker *w = n->w;
	uint32_t ep = ++w->epoch;
	if (ep == 0) { /* wrapped: clear every mark once */
		for (int k = 0; k < (int)g_broker.nnsps; k++)
			for (struct sio_socket *s = w->nsps[k].head; s != NULL; s = s->nnext)
				s->mark = 0;
		ep = ++w->epoch;
	}
	return ep;
}

static void mark_except(struct nsp_rt *n, const char *const *except, size_t nexcept, uint32_t ep)
{
	for (size_t i = 0; i < nexcept; i++) {
		struct room *r = room_find(n, except[i]);
		if (r != NULL) {
			for (uint32_t k = 0; k < r->n; k++)
				r->m[k]->mark = ep;
		} else {
			struct sio_socket *s = socket_by_id(n, except[i]);
			if (s != NULL)
				s->mark = ep;
		}
	}
}

size_t room_count(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		  const char *const *except, size_t nexcept, size_t max)
{
	uint32_t ep = next_epoch(n);
	size_t count = 0;
	mark_except(n, except, nexcept, ep);
	if (nrooms == 0) {
		for (struct sio_socket *s = n->head; s != NULL && count < max; s = s->nnext)
			if (s->mark != ep) {
				s->mark = ep;
				count++;
			}
		return count;
	}
	for (size_t i = 0; i < nrooms && count < max; i++) {
		struct room *r = room_find(n, rooms[i]);
		if (r == NULL) {
			struct sio_socket *s = socket_by_id(n, rooms[i]);
			if (s != NULL && s->mark != ep) {
				s->mark = ep;
				count++;
			}
			continue;
		}
		for (uint32_t k = 0; k < r->n && count < max; k++) {
			if (r->m[k]->mark != ep) {
				r->m[k]->mark = ep;
				count++;
			}
		}
	}
	return count;
}

size_t room_deliver(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		    const char *const *except, size_t nexcept, struct msg *m)
{
	uint32_t ep = next_epoch(n);
	size_t count = 0;
	mark_except(n, except, nexcept, ep);
	if (nrooms == 0) {
		for (struct sio_socket *s = n->head, *next; s != NULL; s = next) {
			next = s->nnext; /* a slow reader may be dropped by the send */
			if (s->mark != ep) {
				s->mark = ep;
				if (send_one(n, s, m) == 0)
					count++;
			}
		}
		return count;
	}
	for (size_t i = 0; i < nrooms; i++) {
		struct room *r = room_find(n, rooms[i]);
		if (r == NULL) {
			struct sio_socket *s = socket_by_id(n, rooms[i]);
			if (s != NULL && s->mark != ep) {
				s->mark = ep;
				if (send_one(n, s, m) == 0)
					count++;
			}
			continue;
		}
		/* a send can close a slow socket and shrink r: walk from the end */
		for (uint32_t k = r->n; k > 0; k--) {
			if (k > r->n)
				continue;
			struct sio_socket *s = r->m[k - 1];
			if (s->mark == ep)
				continue;
			s->mark = ep;
			if (send_one(n, s, m) == 0)
				count++;
			if (room_find(n, rooms[i]) != r)
				break; /* the room died with its last member */
		}
	}
	return count;
}

/* One emit shared by every loop. */
struct room_post {
	atomic_int ref;
	size_t nsp_idx;
	struct msg *m;
	size_t nrooms, nexcept;
	char **names; /* rooms then except */
};

static void post_unref(struct room_post *p)
{
	if (atomic_fetch_sub(&p->ref, 1) != 1)
		return;
	msg_unref(p->m);
	free(p);
}

static void on_post(struct loop *l, void *arg)
{
	struct room_post *p = arg;
	struct worker *w = worker_of(l);
	room_deliver(&w->nsps[p->nsp_idx], (const char *const *)p->names, p->nrooms,
		     (const char *const *)p->names + p->nrooms, p->nexcept, p->m);
	post_unref(p);
}

int room_emit(struct worker *self, size_t nsp_idx, const char *const *rooms, size_t nrooms,
	      const char *const *except, size_t nexcept, struct msg *m, const char *offset)
{
	(void)offset; /* connection state recovery is not implemented yet */
	int others = g_broker.nloops - 1;
	if (others > 0) {
		size_t names = nrooms + nexcept, bytes = 0;
		for (size_t i = 0; i < nrooms; i++)
			bytes += strlen(rooms[i]) + 1;
		for (size_t i = 0; i < nexcept; i++)
			bytes += strlen(except[i]) + 1;
		struct room_post *p = malloc(sizeof(*p) + names * sizeof(char *) + bytes);
		if (p == NULL)
			return -ENOMEM;
		atomic_init(&p->ref, others);
		p->nsp_idx = nsp_idx;
		p->m = msg_ref(m);
		p->nrooms = nrooms;
		p->nexcept = nexcept;
		p->names = (char **)(p + 1);
		char *q = (char *)(p->names + names);
		for (size_t i = 0; i < names; i++) {
			const char *src = i < nrooms ? rooms[i] : except[i - nrooms];
			size_t l = strlen(src) + 1;
			memcpy(q, src, l);
			p->names[i] = q;
			q += l;
		}
		for (int i = 0; i < g_broker.nloops; i++) {
			if (&g_broker.loops[i] == self->loop)
				continue;
			if (loop_post(&g_broker.loops[i], on_post, p) < 0) {
				pd_log(LOG_ERR, "room emit post failed (out of memory) loop=%d", i);
				post_unref(p);
			}
		}
	}
	room_deliver(&self->nsps[nsp_idx], rooms, nrooms, except, nexcept, m);
	return 0;
}
