/* dbpool: db_threads threads with a PGconn each, fed by one bounded queue,
 * answering on the submitting loop through loop_post, so that no event loop
 * ever waits for PostgreSQL. Bad connections are reopened with backoff, and
 * while none can be opened jobs fail at once with PD_E_UNAVAILABLE. */
#include "dbpool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "pd_cfg.h"
#include "pd_db.h"
#include "pd_log.h"

#define DEFAULT_QUEUE_MAX 4096
#define DEFAULT_BACKOFF_MIN 100
#define DEFAULT_BACKOFF_MAX 2000
#define DEFAULT_CONNECT_TIMEOUT 3
#define MAX_THREADS 64

struct job {
	struct job *next;
	struct loop *loop;
	dbpool_job_fn run;
	dbpool_done_fn done;
	void *arg;
	enum pd_err status;
};

struct worker {
	struct dbpool *pool;
	int idx;
	pthread_t thread;
	int started;
	PGconn *conn;       /* this thread's only */
	/* guarded by pool->mu */
	PGcancel *cancel;   /* of conn, for dbpool_shutdown */
	int busy;
	int connected;
	/* this thread's only */
	unsigned long long retry_at; /* ms: no connect attempt before */
	long backoff;                /* ms: wait after the next failure */
	int failing;                 /* the last attempt failed (log once) */
};

struct dbpool {
	char *url;
	long statement_timeout_ms, backoff_min, backoff_max, connect_timeout;
	size_t queue_max;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	size_t nqueued;
	int stop, joined;
	int nworkers;
	struct worker *workers;
	struct dbpool_stats st; /* counters; queued and connected filled on read */
};

static unsigned long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

/* ---- answers, on the submitting loop ---- */

static void reply(struct loop *l, void *arg)
{
	struct job *j = arg;
	j->done(l, j->arg, j->status);
	free(j);
}

static void post(struct job *j)
{
	/* loop_post fails only on ENOMEM: wait a little rather than run done()
	 * on this thread, which must not touch the loop's objects. */
	for (int i = 0; loop_post(j->loop, reply, j) != 0; i++) {
		struct timespec ts = {0, 1000000};
		if (i == 1000) {
			pd_log(LOG_CRIT, "dbpool: cannot post a result (out of memory): job leaked");
			return;
		}
		nanosleep(&ts, NULL);
	}
}

/* ---- connections ---- */

static PGconn *connect_db(struct dbpool *p, int idx, char *why, size_t whylen)
{
	char ct[24], st[24];
	/* Keys before dbname are defaults the connection string may override;
	 * application_name comes after it, so it always names the broker. */
	const char *keys[] = {"connect_timeout",  "keepalives",       "keepalives_idle",
			      "keepalives_interval", "keepalives_count", "tcp_user_timeout",
			      "dbname",           "application_name", NULL};
	const char *vals[] = {ct, "1", "10", "5", "3", "15000", p->url, "pushdesk-broker", NULL};
	PGconn *c;

	snprintf(ct, sizeof(ct), "%ld", p->connect_timeout);
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		const char *m = PQerrorMessage(c);
		size_t n = strlen(m);
		while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
			n--;
		snprintf(why, whylen, "%.*s", (int)n, m);
		PQfinish(c);
		return NULL;
	}
	if (p->statement_timeout_ms > 0) {
		const char *prm[1] = {st};
		PGresult *r;
		snprintf(st, sizeof(st), "%ld", p->statement_timeout_ms);
		r = pd_db_exec(c, "SELECT set_config('statement_timeout', $1, false)", 1, prm, NULL);
		if (r == NULL) {
			snprintf(why, whylen, "cannot set statement_timeout");
			PQfinish(c);
			return NULL;
		}
		PQclear(r);
	}
	(void)idx;
	return c;
}

static void drop_conn(struct worker *w)
{
	struct dbpool *p = w->pool;
	PGcancel *cn;

	pthread_mutex_lock(&p->mu);
	cn = w->cancel;
	w->cancel = NULL;
	w->connected = 0;
	pthread_mutex_unlock(&p->mu);
	PQfreeCancel(cn);
	PQfinish(w->conn);
	w->conn = NULL;
}

/* 0 if an idle connection looks usable. The server sends nothing on an idle
 * connection we did not ask for (no LISTEN) except when it goes away (a FATAL
 * error then EOF, on shutdown or pg_terminate_backend): a readable idle
 * socket means "reconnect", which keeps a restart from failing one job per
 * thread. */
static int conn_stale(PGconn *c)
{
	struct pollfd pf;
	int n;

	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)
		return 1;
	pf.fd = PQsocket(c);
	pf.events = POLLIN;
	pf.revents = 0;
	if (pf.fd < 0)
		return 1;
	do
		n = poll(&pf, 1, 0);
	while (n < 0 && errno == EINTR);
	return n != 0;
}

/* 1 if another thread holds a working connection: the database is back, so
 * a thread waiting out its backoff should try at once rather than fail a
 * job that a peer could have run. */
static int peer_connected(struct dbpool *p, const struct worker *self)
{
	int up = 0;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->nworkers && !up; i++)
		up = &p->workers[i] != self && p->workers[i].connected;
	pthread_mutex_unlock(&p->mu);
	return up;
}

/* A usable connection in w->conn, or 0 (fail the job fast). */
static int ensure_conn(struct worker *w)
{
	struct dbpool *p = w->pool;
	unsigned long long now;
	char why[512];
	PGconn *c;

	if (w->conn != NULL) {
		if (!conn_stale(w->conn))
			return 1;
		pd_log(LOG_WARNING, "dbpool: connection lost thread=%d, reconnecting", w->idx);
		drop_conn(w);
		w->retry_at = 0; /* try at once: the server may just have restarted */
	}
	now = mono_ms();
	if (now < w->retry_at && !peer_connected(p, w))
		return 0;
	c = connect_db(p, w->idx, why, sizeof(why));
	if (c == NULL) {
		w->retry_at = mono_ms() + (unsigned long long)w->backoff;
		/* One line when the database becomes unreachable, then quiet. */
		pd_log(w->failing ? LOG_DEBUG : LOG_ERR,
		       "dbpool: database unavailable thread=%d retry_ms=%ld err=\"%s\"", w->idx,
		       w->backoff, why);
		w->failing = 1;
		w->backoff = w->backoff * 2 > p->backoff_max ? p->backoff_max : w->backoff * 2;
		return 0;
	}
	w->conn = c;
	w->backoff = p->backoff_min;
	w->retry_at = 0;
	pthread_mutex_lock(&p->mu);
	w->cancel = PQgetCancel(c);
	w->connected = 1;
	p->st.reconnects++;
	pthread_mutex_unlock(&p->mu);
	pd_log(w->failing ? LOG_NOTICE : LOG_INFO, "dbpool: connected thread=%d", w->idx);
	w->failing = 0;
	return 1;
}

static enum pd_err run_job(struct worker *w, struct job *j)
{
	enum pd_err st;

	if (!ensure_conn(w))
		return PD_E_UNAVAILABLE;
	st = j->run(w->conn, j->arg);
	if (PQstatus(w->conn) != CONNECTION_OK) {
		pd_log(LOG_WARNING, "dbpool: connection lost during a job thread=%d", w->idx);
		drop_conn(w);
		w->retry_at = 0;
		return st == PD_OK ? PD_OK : PD_E_UNAVAILABLE;
	}
	if (PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
		pd_log(LOG_ERR, "dbpool: a job left a transaction open thread=%d: rolled back", w->idx);
		pd_db_rollback(w->conn);
		if (PQtransactionStatus(w->conn) != PQTRANS_IDLE)
			drop_conn(w);
	}
	return st;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct dbpool *p = w->pool;

	/* Connect up front so that the first job does not pay for it. */
	(void)ensure_conn(w);
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->head == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->nqueued--;
		w->busy = 1;
		pthread_mutex_unlock(&p->mu);

		j->status = run_job(w, j);

		pthread_mutex_lock(&p->mu);
		w->busy = 0;
		p->st.completed++;
		if (j->status == PD_E_UNAVAILABLE)
			p->st.unavailable++;
		pthread_mutex_unlock(&p->mu);
		post(j);
	}
	if (w->conn != NULL)
		drop_conn(w);
	return NULL;
}

/* ---- public ---- */

struct dbpool *dbpool_new(const struct dbpool_opts *o, int *err)
{
	struct dbpool *p;
	int rc = -ENOMEM;

	if (o == NULL || o->url == NULL || o->url[0] == '\0' || o->nthreads < 1 ||
	    o->nthreads > MAX_THREADS || o->statement_timeout_ms < 0 || o->backoff_min_ms < 0 ||
	    o->backoff_max_ms < 0 || o->connect_timeout_s < 0) {
		*err = -EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto fail_early;
	p->url = strdup(o->url);
	p->workers = calloc((size_t)o->nthreads, sizeof(*p->workers));
	if (p->url == NULL || p->workers == NULL) {
		free(p->url);
		free(p->workers);
		free(p);
		goto fail_early;
	}
	p->statement_timeout_ms = o->statement_timeout_ms;
	p->queue_max = o->queue_max ? o->queue_max : DEFAULT_QUEUE_MAX;
	p->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : DEFAULT_BACKOFF_MIN;
	p->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX;
	if (p->backoff_max < p->backoff_min)
		p->backoff_max = p->backoff_min;
	p->connect_timeout = o->connect_timeout_s ? o->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (int i = 0; i < o->nthreads; i++) {
		struct worker *w = &p->workers[i];
		w->pool = p;
		w->idx = i;
		w->backoff = p->backoff_min;
		if ((rc = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
			pd_log(LOG_ERR, "dbpool: cannot start a thread: %s", strerror(rc));
			rc = -rc;
			dbpool_free(p);
			*err = rc;
			return NULL;
		}
		w->started = 1;
		p->nworkers = i + 1;
	}
	pd_log(LOG_INFO, "dbpool: started threads=%d queue_max=%zu statement_timeout_ms=%ld",
	       p->nworkers, p->queue_max, p->statement_timeout_ms);
	return p;
fail_early:
	*err = rc;
	return NULL;
}

struct dbpool *dbpool_new_cfg(const struct pd_cfg *cfg, char *errbuf, size_t errlen)
{
	struct dbpool_opts o = {0};
	long threads, stmt;
	int err;
	struct dbpool *p;

	o.url = pd_cfg_get(cfg, "database_url");
	if (o.url == NULL || o.url[0] == '\0') {
		snprintf(errbuf, errlen, "database_url is empty");
		return NULL;
	}
	if (pd_cfg_get_long(cfg, "db_threads", 1, MAX_THREADS, &threads, errbuf, errlen) != 0 ||
	    pd_cfg_get_long(cfg, "statement_timeout", 0, 86400000, &stmt, errbuf, errlen) != 0)
		return NULL;
	o.nthreads = (int)threads;
	o.statement_timeout_ms = stmt;
	if ((p = dbpool_new(&o, &err)) == NULL)
		snprintf(errbuf, errlen, "database threads: %s", strerror(-err));
	return p;
}

int dbpool_submit(struct dbpool *p, struct loop *reply_to, dbpool_job_fn run, dbpool_done_fn done,
		  void *arg)
{
	struct job *j;

	if (p == NULL || reply_to == NULL || run == NULL || done == NULL)
		return -EINVAL;
	if ((j = malloc(sizeof(*j))) == NULL)
		return -ENOMEM;
	j->next = NULL;
	j->loop = reply_to;
	j->run = run;
	j->done = done;
	j->arg = arg;
	j->status = PD_E_UNAVAILABLE;
	pthread_mutex_lock(&p->mu);
	if (p->stop || p->nqueued >= p->queue_max) {
		int rc = p->stop ? -ESHUTDOWN : -EAGAIN;
		p->st.refused++;
		pthread_mutex_unlock(&p->mu);
		free(j);
		return rc;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->nqueued++;
	p->st.submitted++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void dbpool_shutdown(struct dbpool *p)
{
	struct job *q;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->joined) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	p->stop = 1;
	q = p->head;
	p->head = p->tail = NULL;
	p->nqueued = 0;
	for (int i = 0; i < p->nworkers; i++) {
		struct worker *w = &p->workers[i];
		char buf[256];
		/* Do not hold shutdown for a long statement: it rolls back. */
		if (w->busy && w->cancel != NULL && !PQcancel(w->cancel, buf, sizeof(buf)))
			pd_log(LOG_WARNING, "dbpool: cancel failed thread=%d: %s", i, buf);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	while (q != NULL) {
		struct job *next = q->next;
		q->status = PD_E_UNAVAILABLE;
		pthread_mutex_lock(&p->mu);
		p->st.unavailable++;
		pthread_mutex_unlock(&p->mu);
		post(q);
		q = next;
	}
	for (int i = 0; i < p->nworkers; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	pthread_mutex_lock(&p->mu);
	p->joined = 1;
	pthread_mutex_unlock(&p->mu);
	pd_log(LOG_INFO, "dbpool: stopped");
}

void dbpool_free(struct dbpool *p)
{
	if (p == NULL)
		return;
	dbpool_shutdown(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->workers);
	free(p->url);
	free(p);
}

void dbpool_get_stats(struct dbpool *p, struct dbpool_stats *s)
{
	pthread_mutex_lock(&p->mu);
	*s = p->st;
	s->queued = p->nqueued;
	s->connected = 0;
	for (int i = 0; i < p->nworkers; i++)
		s->connected += p->workers[i].connected;
	pthread_mutex_unlock(&p->mu);
}

int dbpool_up(struct dbpool *p)
{
	struct dbpool_stats s;
	dbpool_get_stats(p, &s);
	return s.connected > 0;
}
