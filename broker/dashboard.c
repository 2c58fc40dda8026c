/* dashboard: per-org refresh state on the home loop; sockets on other
 * loops reach it by loop_post. Results are emitted on this broker only:
 * every broker refreshes the orgs of its own dashboard sockets. */
#include "dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "app.h"
#include "hmap.h"
#include "pd_log.h"
#include "room.h"
#include "pd_rooms.h"

struct dorg {
	struct hnode hn;
	long refs;   /* dashboard sockets of the org on this broker */
	int running; /* a refresh (job, then presence) is under way */
	int again;   /* refresh once more when it ends (a socket came meanwhile) */
	char org[DBQ_ID];
};

static struct hmap orgs;
static struct loop *home;
static struct loop_timer tick;
static int started, stopped;

static const char *dorg_key(const struct hnode *n)
{
	return container_of(n, struct dorg, hn)->org;
}

static struct dorg *dorg_find(const char *org)
{
	struct hnode *h = hmap_get(&orgs, org, strlen(org));
	return h ? container_of(h, struct dorg, hn) : NULL;
}

static void dorg_maybe_free(struct dorg *d)
{
	if (d->refs <= 0 && !d->running) {
		hmap_del(&orgs, &d->hn);
		free(d);
	}
}

/* local fan-out to the org's dashboards on every loop of this broker */
static void emit(const char *org, const char *event, json_t *payload /* stolen */)
{
	char room[DBQ_ID + 8];
	pd_room_org(room, sizeof(room), org);
	const char *rooms[1] = {room};
	json_t *data = json_pack("[s, o]", event, payload);
	if (data == NULL)
		return;
	struct msg *m = sio_msg(SIO_EVENT, "/dashboard", -1, data, NULL, 0);
	json_decref(data);
	if (m != NULL)
		room_emit(worker_of(home), g_app.dash_idx, rooms, 1, NULL, 0, m, NULL, NULL);
	msg_unref(m);
}

static void refresh(struct dorg *d);

static void refresh_end(struct dorg *d)
{
	d->running = 0;
	if (d->again && d->refs > 0 && !stopped) {
		d->again = 0;
		refresh(d);
		return;
	}
	dorg_maybe_free(d);
}

struct dreq {
	struct dbq_dashboard q;
	struct dorg *d;
};

static void agents_done(const json_t *list, void *ud)
{
	struct dreq *r = ud;
	if (stopped) { /* r->d may be gone (dashboard_fini) */
		dbq_dashboard_clear(&r->q);
		free(r);
		return;
	}
	if (list != NULL) {
		long long online = 0, away = 0, busy = 0;
		size_t i;
		json_t *x;
		json_array_foreach(list, i, x)
		{
			const char *st = json_string_value(json_object_get(x, "status"));
			if (st == NULL)
				continue;
			if (strcmp(st, "online") == 0)
				online++;
			else if (strcmp(st, "away") == 0)
				away++;
			else if (strcmp(st, "busy") == 0)
				busy++;
		}
		emit(r->d->org, "metrics:agents",
		     json_pack("{s:I, s:I, s:I}", "online", (json_int_t)online, "away",
			       (json_int_t)away, "busy", (json_int_t)busy));
	}
	refresh_end(r->d);
	dbq_dashboard_clear(&r->q);
	free(r);
}

static void job_done(struct loop *l, void *arg, enum pd_err st)
{
	struct dreq *r = container_of(arg, struct dreq, q);
	(void)l;
	if (stopped) { /* r->d may be gone (dashboard_fini) */
		dbq_dashboard_clear(&r->q);
		free(r);
		return;
	}
	if (st != PD_OK) {
		pd_log(LOG_WARNING, "dashboard metrics failed org=%s err=%s", r->d->org,
		       pd_err_code(st));
		refresh_end(r->d);
		dbq_dashboard_clear(&r->q);
		free(r);
		return;
	}
	emit(r->d->org, "metrics:tickets", dbq_dashboard_tickets_json(&r->q));
	emit(r->d->org, "metrics:queue", dbq_dashboard_queue_json(&r->q));
	const char **ids = calloc(r->q.nstaff ? r->q.nstaff : 1, sizeof(*ids));
	for (size_t i = 0; ids != NULL && i < r->q.nstaff; i++)
		ids[i] = r->q.staff[i];
	int rc = ids != NULL ? g_app.adapter->ops->pres_get(g_app.adapter, ids, r->q.nstaff, home,
							     agents_done, r)
			     : -1;
	free(ids);
	if (rc == 0)
		return;
	/* no presence (out of memory, the bench profile): nobody can be seen online */
	emit(r->d->org, "metrics:agents",
	     json_pack("{s:i, s:i, s:i}", "online", 0, "away", 0, "busy", 0));
	refresh_end(r->d);
	dbq_dashboard_clear(&r->q);
	free(r);
}

static void refresh(struct dorg *d)
{
	if (d->running) {
		d->again = 1;
		return;
	}
	if (g_app.db == NULL)
		return;
	struct dreq *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return;
	r->d = d;
	if (dbq_dashboard_prepare(&r->q, d->org) != 0 ||
	    dbpool_submit(g_app.db, home, dbq_dashboard_job, job_done, &r->q) < 0) {
		dbq_dashboard_clear(&r->q);
		free(r);
		return;
	}
	d->running = 1;
}

static void on_tick(struct loop_timer *t)
{
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	if (stopped)
		return;
	while ((h = hmap_next(&orgs, &it, &cur)) != NULL) {
		struct dorg *d = container_of(h, struct dorg, hn);
		if (d->refs > 0 && !d->running)
			refresh(d);
	}
	loop_timer_set(home, t, home->now + (uint64_t)g_app.dashboard_interval_ms);
}

struct dpost {
	long delta;
	char org[DBQ_ID];
};

static void on_post(struct loop *l, void *arg)
{
	struct dpost *p = arg;
	struct dorg *d = dorg_find(p->org);
	(void)l;
	if (stopped) {
		free(p);
		return;
	}
	if (d == NULL && p->delta > 0) {
		d = calloc(1, sizeof(*d));
		if (d != NULL)
			memcpy(d->org, p->org, sizeof(d->org));
		if (d == NULL || hmap_put(&orgs, &d->hn, d->org, strlen(d->org)) < 0) {
			free(d);
			free(p);
			return;
		}
	}
	if (d != NULL) {
		d->refs += p->delta;
		if (p->delta > 0)
			refresh(d);
		else
			dorg_maybe_free(d);
	}
	free(p);
}

static void post(struct sio_socket *s, long delta)
{
	struct app_sock *a = app_of(s);
	if (!started || a == NULL || !a->who_ok)
		return;
	if (delta < 0 && !a->dash)
		return;
	struct dpost *p = malloc(sizeof(*p));
	if (p == NULL)
		return;
	p->delta = delta;
	memcpy(p->org, a->who.org, sizeof(p->org));
	if (loop_post(home, on_post, p) < 0) {
		free(p);
		return;
	}
	a->dash = delta > 0;
}

void dashboard_add(struct sio_socket *s)
{
	post(s, 1);
}

void dashboard_remove(struct sio_socket *s)
{
	post(s, -1);
}

int dashboard_start(struct loop *l)
{
	home = l;
	hmap_init(&orgs, dorg_key);
	loop_timer_init(&tick, on_tick);
	int rc = loop_timer_set(home, &tick, home->now + (uint64_t)g_app.dashboard_interval_ms);
	if (rc == 0)
		started = 1;
	return rc;
}

void dashboard_stop(void)
{
	if (!started || stopped)
		return;
	stopped = 1;
	loop_timer_cancel(home, &tick);
}

void dashboard_fini(void)
{
	if (!started)
		return;
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&orgs, &it, &cur)) != NULL) {
		hmap_del(&orgs, h);
		free(container_of(h, struct dorg, hn));
	}
	hmap_fini(&orgs);
	started = 0;
}
