/* fake_broker: see fake_broker.h. */
#include "fake_broker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "msg.h"
#include "room.h"

static struct broker fb; /* what every fake loop's worker carries */

static const struct sio_nsp_def defs[] = {
    {.name = "/"}, {.name = "/tickets", .view = 1}, {.name = "/dashboard"}};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static struct loop_timer limit_t;
static int done_flag;

struct msg *sio_msg(int type, const char *nsp, long long id, const json_t *data,
		    const struct sio_bin *bins, size_t nbins)
{
	(void)type;
	(void)nsp;
	(void)id;
	(void)bins;
	char *s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
	char buf[4096];
	snprintf(buf, sizeof(buf), "EVENT%s bins=%zu\n", s ? s : "?", nbins);
	free(s);
	return msg_text(buf, strlen(buf));
}

int sio_send(struct sio_socket *s, struct msg *m)
{
	struct fsock *f = (struct fsock *)s;
	size_t n = m->parts[0].len;
	if (f->loglen + n < sizeof(f->log)) {
		memcpy(f->log + f->loglen, m->ws + m->parts[0].off, n);
		f->loglen += n;
		f->log[f->loglen] = '\0';
	}
	return 0;
}

void sio_disconnect(struct sio_socket *s, int close_conn)
{
	(void)close_conn;
	((struct fsock *)s)->disconnects++;
}

static const char *sock_key(const struct hnode *n)
{
	return container_of(n, struct sio_socket, hn)->id;
}

void fb_init(int nloops)
{
	fb.nsps = defs;
	fb.nnsps = NDEFS;
	fb.nloops = nloops;
	fb.loops = calloc((size_t)nloops, sizeof(struct loop));
	fb.workers = calloc((size_t)nloops, sizeof(struct worker));
	for (int i = 0; i < nloops; i++) {
		struct loop *l = &fb.loops[i];
		struct worker *w = &fb.workers[i];
		loop_init(l, i);
		w->loop = l;
		w->loops = fb.loops;
		w->nloops = nloops;
		w->nnsps = NDEFS;
		w->cfg = &fb;
		w->nconn = &fb.nconn;
		l->data = w;
		hmap_init(&w->sessions, sock_key);
		hmap_init(&w->sockets, sock_key);
		w->nsps = calloc(NDEFS, sizeof(struct nsp_rt));
		for (size_t k = 0; k < NDEFS; k++) {
			w->nsps[k].def = &defs[k];
			w->nsps[k].idx = k;
			w->nsps[k].w = w;
			hmap_init(&w->nsps[k].rooms, room_key);
		}
	}
}

static void *loop_thread(void *arg)
{
	loop_run(arg);
	return NULL;
}

void fb_start(void)
{
	for (int i = 1; i < fb.nloops; i++)
		pthread_create(&fb.loops[i].thread, NULL, loop_thread, &fb.loops[i]);
}

static void on_limit(struct loop_timer *t)
{
	(void)t;
	loop_stop(&fb.loops[0]);
}

int fb_run(long ms)
{
	struct loop *l = &fb.loops[0];
	done_flag = 0;
	l->stop = 0;
	loop_timer_init(&limit_t, on_limit);
	loop_timer_set(l, &limit_t, loop_clock_ms() + (uint64_t)ms);
	loop_run(l);
	loop_timer_cancel(l, &limit_t);
	return done_flag ? 0 : -1;
}

void fb_done(void)
{
	done_flag = 1;
	loop_stop(&fb.loops[0]);
}

struct broker *fb_broker(void)
{
	return &fb;
}

struct worker *fb_worker(int i)
{
	return &fb.workers[i];
}

struct fsock *fb_sock(int loop, size_t nsp, const char *id, const char *user, const char *org,
		      const char *room1)
{
	struct worker *w = &fb.workers[loop];
	struct nsp_rt *n = &w->nsps[nsp];
	struct fsock *f = calloc(1, sizeof(*f));
	snprintf(f->s.id, sizeof(f->s.id), "%s", id);
	f->s.nsp = n;
	hmap_put(&w->sockets, &f->s.hn, f->s.id, strlen(f->s.id));
	f->s.nnext = n->head;
	if (n->head != NULL)
		n->head->nprev = &f->s;
	n->head = &f->s;
	struct sio_ident *ident = calloc(1, sizeof(*ident) + 512);
	ident->sub = strcpy(ident->buf, user);
	ident->org = strcpy(ident->buf + 128, org);
	ident->role = strcpy(ident->buf + 256, "agent");
	ident->team = strcpy(ident->buf + 384, "");
	f->s.ident = ident;
	char r[300];
	snprintf(r, sizeof(r), "user:%s", user);
	room_join(&f->s, r);
	snprintf(r, sizeof(r), "org:%s", org);
	room_join(&f->s, r);
	if (room1 != NULL)
		room_join(&f->s, room1);
	return f;
}

size_t fb_count(const struct fsock *f, const char *needle)
{
	size_t n = 0;
	for (const char *p = f->log; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}
