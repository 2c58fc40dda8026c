/* room: membership arrays with back-indexes (leave is a swap-remove), an
 * epoch mark per socket to deliver once per emit whatever the overlap of
 * rooms, and the cross-loop post of one shared msg. */
#include "room.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "dialect.h"
#include "pd_log.h"
#include "pd_rooms.h"
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

/* Stream ids are wall-clock ms; a membership's join time is kept in the
 * 4 bytes its struct pads anyway, as 4 ms ticks modulo 2^32 (198 days). */
#define ROOM_TICK_MS 4
#define ROOM_JOIN_HORIZON (2u * 86400000u / ROOM_TICK_MS) /* past any recovery_window */

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t wall_tick(uint64_t ms)
{
	return (uint32_t)(ms / ROOM_TICK_MS);
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
	const struct broker *b = n->w->cfg; /* its room watch */
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
		if (b->room_watch != NULL) /* sharded: the room's channel */
			b->room_watch(n, r->name, 1, b->room_watch_ud);
	}
	if (r->n == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 2;
		struct sio_socket **m = realloc(r->m, cap * sizeof(*m));
		if (m == NULL) {
			if (r->n == 0) {
				if (b->room_watch != NULL)
					b->room_watch(n, r->name, 0, b->room_watch_ud);
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
	s->rooms[s->nrooms].joined = wall_tick(wall_ms());
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
		const struct broker *b = r->nsp->w->cfg;
		if (b->room_watch != NULL)
			b->room_watch(r->nsp, r->name, 0, b->room_watch_ud);
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

/* A new fan-out epoch of w (marks of an older epoch mean "not seen"). */
static uint32_t next_epoch(struct nsp_rt *n)
{
	struct worker *w = n->w;
	uint32_t ep = ++w->epoch;
	if (ep == 0) { /* wrapped: clear every mark once */
		for (size_t k = 0; k < w->nnsps; k++)
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

size_t room_select(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		   const char *const *except, size_t nexcept, room_visit_fn fn, void *ud)
{
	uint32_t ep = next_epoch(n);
	size_t count = 0;
	mark_except(n, except, nexcept, ep);
	if (nrooms == 0) {
		for (struct sio_socket *s = n->head, *next; s != NULL; s = next) {
			next = s->nnext; /* a visit may drop s (a slow reader's send) */
			if (s->mark == ep)
				continue;
			s->mark = ep;
			int rc = fn(s, ud);
			if (rc >= 0)
				count++;
			if (rc > 0)
				return count;
		}
		return count;
	}
	for (size_t i = 0; i < nrooms; i++) {
		struct room *r = room_find(n, rooms[i]);
		if (r == NULL) {
			struct sio_socket *s = socket_by_id(n, rooms[i]);
			if (s != NULL && s->mark != ep) {
				s->mark = ep;
				int rc = fn(s, ud);
				if (rc >= 0)
					count++;
				if (rc > 0)
					return count;
			}
			continue;
		}
		/* a visit can take a socket out of r (a slow reader closed, a
		 * leave): walk from the end, where the swap-remove takes from */
		for (uint32_t k = r->n; k > 0; k--) {
			if (k > r->n)
				continue;
			struct sio_socket *s = r->m[k - 1];
			if (s->mark == ep)
				continue;
			s->mark = ep;
			int rc = fn(s, ud);
			if (rc >= 0)
				count++;
			if (rc > 0)
				return count;
			if (room_find(n, rooms[i]) != r)
				break; /* the room died with its last member */
		}
	}
	return count;
}

struct count_visit {
	size_t n, max;
};

static int count_one(struct sio_socket *s, void *ud)
{
	struct count_visit *c = ud;
	(void)s;
	return ++c->n >= c->max ? 1 : 0;
}

size_t room_count(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		  const char *const *except, size_t nexcept, size_t max)
{
	struct count_visit c = {0, max};
	if (max == 0)
		return 0;
	return room_select(n, rooms, nrooms, except, nexcept, count_one, &c);
}

/* ---- one emit, encoded at most once per dialect ---- */

/* An emit as every loop sees it: the internal EVENT (data) that the
 * dialects translate, the namespace's own encoding (m), and the
 * encodings made so far per dialect. The first loop that needs a
 * dialect's msg encodes it and publishes it with a compare-and-swap;
 * a loop that loses the race drops its copy and uses the winner's, so
 * the bytes of one dialect are the same everywhere. */
struct room_ev {
	struct loop_each each; /* room_emit's fan-out to every loop */
	atomic_int ref;
	size_t nsp_idx;
	const char *nsp; /* its name */
	json_t *data;  /* NULL: no translation (m to the namespace only) */
	int xlate;     /* data on "/": translated per dialect, views fed */
	struct msg *m; /* the namespace's own encoding */
	_Atomic(struct msg *) enc[DIA_MAX];
	size_t nrooms, nexcept;
	char **names; /* rooms then except, aliases resolved */
	char off[48]; /* connection state recovery offset, "" = none */
	uint64_t off_ms, off_seq; /* off as numbers */
	int gap; /* read back from the stream: not for sockets that joined later */
};

/* enc[] value of a dialect that drops the event */
static struct msg room_dropped;
#define DROPPED (&room_dropped)

static void ev_unref(struct room_ev *e)
{
	if (atomic_fetch_sub(&e->ref, 1) != 1)
		return;
	for (size_t i = 0; i < DIA_MAX; i++) {
		struct msg *m = atomic_load(&e->enc[i]);
		if (m != NULL && m != DROPPED)
			msg_unref(m);
	}
	msg_unref(e->m);
	json_decref(e->data);
	free(e);
}

/* m with the recovery offset for a socket of namespace nsp, m's reference
 * passed on: the views of "/" (contract 7.1) offer no recovery, their
 * clients get the packet as before. DROPPED on ENOMEM. */
static struct msg *room_offset_msg(const struct broker *b, struct msg *m, const char *off,
				   const char *nsp)
{
	for (size_t i = 0; i < b->nnsps; i++)
		if (b->nsps[i].view && strcmp(b->nsps[i].name, nsp) == 0)
			return m;
	struct msg *om = msg_splice_arg(m, off);
	msg_unref(m);
	return om != NULL ? om : DROPPED;
}

/* The msg of dialect d for e, or NULL when d drops it. */
static struct msg *ev_msg(const struct broker *b, struct room_ev *e, int d)
{
	struct msg *m = atomic_load_explicit(&e->enc[d], memory_order_acquire);
	if (m != NULL)
		return m == DROPPED ? NULL : m;
	const struct dialect *dl = &dia_table[d];
	json_t *out = NULL;
	int r = dia_out(dl, e->data, &out);
	if (r < 0)
		m = DROPPED;
	else if (r == 1 && strcmp(dl->nsp, e->nsp) == 0)
		m = msg_ref(e->m);
	else if ((m = sio_msg(SIO_EVENT, dl->nsp, -1, r == 1 ? e->data : out, NULL, 0)) == NULL) {
		json_decref(out);
		return NULL; /* out of memory: not cached, the next socket retries */
	}
	json_decref(out);
	if (m != DROPPED && m != e->m && e->off[0] != '\0') /* recovery hook: offset */
		m = room_offset_msg(b, m, e->off, dl->nsp);
	struct msg *prev = NULL;
	if (!atomic_compare_exchange_strong_explicit(&e->enc[d], &prev, m, memory_order_acq_rel,
						     memory_order_acquire)) {
		if (m != DROPPED)
			msg_unref(m);
		m = prev;
	}
	return m == DROPPED ? NULL : m;
}

/* 1 when every membership of s that e selects it by (any, for a
 * broadcast to the namespace) began after e was published: e was not
 * addressed to s. Memberships older than the horizon began before. */
static int joined_after(const struct sio_socket *s, const struct room_ev *e)
{
	uint32_t now = wall_tick(wall_ms()), at = wall_tick(e->off_ms);
	int matched = 0;
	for (uint16_t i = 0; i < s->nrooms; i++) {
		const struct sio_membership *mb = &s->rooms[i];
		int sel = e->nrooms == 0;
		for (size_t k = 0; !sel && k < e->nrooms; k++)
			sel = strcmp(e->names[k], mb->r->name) == 0;
		if (!sel)
			continue;
		matched = 1;
		if ((uint32_t)(now - mb->joined) >= ROOM_JOIN_HORIZON ||
		    (int32_t)(mb->joined - at) <= 0)
			return 0;
	}
	return matched;
}

/* sio_send of s's dialect's msg, then the namespace's delivery hook for a
 * watched socket (it sees the internal encoding). */
static int send_ev(struct nsp_rt *n, struct sio_socket *s, struct room_ev *e)
{
	struct msg *m = e->m;
	/* recovery hook: a gap read's event for a socket that joined later */
	if (e->gap && joined_after(s, e))
		return -1;
	/* recovery hook: replayed to this restored socket already */
	if (e->off[0] != '\0' && (e->off_ms < s->rec_until_ms ||
				 (e->off_ms == s->rec_until_ms && e->off_seq <= s->rec_until_seq)))
		return -1;
	/* every dialect, helpdesk included, may drop an internal event */
	if (e->xlate && (m = ev_msg(n->w->cfg, e, s->dialect)) == NULL)
		return -1;
	int rc = sio_send(s, m);
	if (rc == 0 && s->watch && n->def->on_delivered != NULL)
		n->def->on_delivered(s, e->m);
	return rc;
}

struct deliver_visit {
	struct nsp_rt *n;
	struct room_ev *e;
};

static int deliver_one(struct sio_socket *s, void *ud)
{
	struct deliver_visit *d = ud;
	return send_ev(d->n, s, d->e) == 0 ? 0 : -1;
}

static size_t deliver_nsp(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
			  const char *const *except, size_t nexcept, struct room_ev *e)
{
	struct deliver_visit d = {n, e};
	return room_select(n, rooms, nrooms, except, nexcept, deliver_one, &d);
}

/* e on this loop: its namespace, and for an emit on "/" the view
 * namespaces (contract 7.1) with the same room names. */
static size_t deliver_ev(struct worker *w, struct room_ev *e)
{
	const char *const *rooms = (const char *const *)e->names;
	const char *const *except = rooms + e->nrooms;
	size_t count = deliver_nsp(&w->nsps[e->nsp_idx], rooms, e->nrooms, except, e->nexcept, e);
	if (!e->xlate)
		return count;
	for (size_t i = 0; i < w->nnsps; i++)
		if (w->nsps[i].def->view && w->nsps[i].head != NULL)
			count += deliver_nsp(&w->nsps[i], rooms, e->nrooms, except, e->nexcept, e);
	return count;
}

/* The room a backend's name stands for (contract 7's alias rooms ws:<org>,
 * conv:<id>): buf (PD_ROOM_MAX) or name itself. */
static const char *unalias(const char *name, char *buf)
{
	return pd_room_unalias(name, buf, PD_ROOM_MAX) == 0 ? buf : name;
}

static struct room_ev *ev_new(const struct worker *w, size_t nsp_idx, const char *const *rooms, size_t nrooms,
			      const char *const *except, size_t nexcept, struct msg *m,
			      const json_t *data)
{
	size_t names = nrooms + nexcept, bytes = 0;
	char alias[PD_ROOM_MAX];
	for (size_t i = 0; i < names; i++)
		bytes += strlen(unalias(i < nrooms ? rooms[i] : except[i - nrooms], alias)) + 1;
	struct room_ev *e = calloc(1, sizeof(*e) + names * sizeof(char *) + bytes);
	if (e == NULL)
		return NULL;
	atomic_init(&e->ref, 1);
	e->nsp_idx = nsp_idx;
	e->nsp = w->nsps[nsp_idx].def->name;
	e->m = msg_ref(m);
	e->data = data != NULL ? json_incref((json_t *)data) : NULL;
	e->xlate = data != NULL && strcmp(e->nsp, "/") == 0;
	e->nrooms = nrooms;
	e->nexcept = nexcept;
	e->names = (char **)(e + 1);
	char *q = (char *)(e->names + names);
	for (size_t i = 0; i < names; i++) {
		const char *src = unalias(i < nrooms ? rooms[i] : except[i - nrooms], alias);
		size_t l = strlen(src) + 1;
		memcpy(q, src, l);
		e->names[i] = q;
		q += l;
	}
	return e;
}

size_t room_deliver(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		    const char *const *except, size_t nexcept, struct msg *m)
{
	struct room_ev *e = ev_new(n->w, n->idx, NULL, 0, NULL, 0, m, NULL);
	if (e == NULL)
		return 0;
	size_t count = deliver_nsp(n, rooms, nrooms, except, nexcept, e);
	ev_unref(e);
	return count;
}

static void emit_each(struct loop *l, struct loop_each *each)
{
	deliver_ev(worker_of(l), container_of(each, struct room_ev, each));
}

static void emit_done(struct loop *l, struct loop_each *each)
{
	(void)l;
	ev_unref(container_of(each, struct room_ev, each));
}

static int emit(struct worker *self, size_t nsp_idx, const char *const *rooms, size_t nrooms,
		const char *const *except, size_t nexcept, struct msg *m, const json_t *data,
		const char *offset, int gap)
{
	struct msg *om = NULL; /* recovery hook: the offset as last argument */
	char *end;
	if (offset != NULL && offset[0] != '\0' && strlen(offset) < sizeof(((struct room_ev *)0)->off) &&
	    (om = msg_splice_arg(m, offset)) != NULL)
		m = om;
	struct room_ev *e = ev_new(self, nsp_idx, rooms, nrooms, except, nexcept, m, data);
	msg_unref(om);
	if (e == NULL)
		return -ENOMEM;
	if (om != NULL) {
		strcpy(e->off, offset);
		e->off_ms = strtoull(offset, &end, 10);
		e->off_seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
		e->gap = gap;
	}
	/* delivered here at once; the last loop to deliver frees e */
	loop_each(&e->each, self->loops, self->nloops, self->loop, emit_each, emit_done, NULL);
	return 0;
}

int room_emit(struct worker *self, size_t nsp_idx, const char *const *rooms, size_t nrooms,
	      const char *const *except, size_t nexcept, struct msg *m, const json_t *data,
	      const char *offset)
{
	return emit(self, nsp_idx, rooms, nrooms, except, nexcept, m, data, offset, 0);
}

int room_emit_gap(struct worker *self, size_t nsp_idx, const char *const *rooms, size_t nrooms,
		  const char *const *except, size_t nexcept, struct msg *m, const json_t *data,
		  const char *offset)
{
	return emit(self, nsp_idx, rooms, nrooms, except, nexcept, m, data, offset, 1);
}
