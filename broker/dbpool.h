/* dbpool: the broker's database threads. Event loops never block, so every
 * libpq call runs here: db_threads threads, each with its own PGconn, take
 * jobs from one bounded queue; a job's result goes back to the loop that
 * asked for it through loop_post.
 *
 *   loop thread                      DB thread                 loop thread
 *   dbpool_submit(p, l, run, done, arg)
 *        ---- queue ---->  status = run(conn, arg)
 *                          loop_post(l, ...)   ---->  done(l, arg, status)
 *
 * Rules for callers (the "socket id, not pointer" pattern):
 * - arg carries plain values only (ids copied into the request, never a
 *   pointer to a loop-owned object such as a socket, a session or a room).
 *   run() must touch nothing but arg and the connection it is given.
 * - the socket that will be answered may be gone when done() runs: carry its
 *   Socket.IO id (random per socket, never reused; worker->sockets key) and
 *   the loop, and in done() look it up again in worker_of(l)->sockets; if it
 *   is not there (or is closing), just free arg. Example:
 *
 *     struct join_req { struct dbq_access q; char sid[32]; long ack; };
 *     r = calloc(1, sizeof(*r)); ... copy sid, ack, fill r->q ...
 *     rc = dbpool_submit(pool, l, dbq_access_job, join_done, &r->q);
 *     if (rc < 0) { free(r); answer INTERNAL (-EAGAIN: queue full,
 *                   -ESHUTDOWN: stopping) }
 *     static void join_done(struct loop *l, void *arg, enum pd_err st) {
 *         struct join_req *r = container_of(arg, struct join_req, q);
 *         struct sio_socket *s = hmap_get(&worker_of(l)->sockets, r->sid);
 *         if (s != NULL) answer(s, st, ...);
 *         free(r);
 *     }
 *
 * - done() is called exactly once for every accepted job (status PD_OK or
 *   whatever run returned; PD_E_UNAVAILABLE without calling run when the
 *   database is unreachable or the pool is shutting down), always on
 *   reply_to's thread, and owns arg from then on.
 *
 * Failure handling: a connection found bad (before a job: its idle socket
 * became readable, i.e. the server closed it; after a job: libpq reports it
 * dead) is dropped and reopened, with exponential backoff (backoff_min_ms
 * doubling to backoff_max_ms) between failed attempts. While a thread has no
 * connection and its next attempt is not due, its jobs fail at once with
 * PD_E_UNAVAILABLE: nothing waits for PostgreSQL to come back. A job never
 * runs twice (a write whose COMMIT was in flight is not retried).
 */
#ifndef PD_DBPOOL_H
#define PD_DBPOOL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "pd_err.h"

struct loop;
struct pd_cfg;
struct dbpool;

/* On a DB thread: do the work with c (never NULL, connected; leave it outside
 * a transaction: the pool rolls back and logs otherwise) and return the
 * status handed to done. PD_E_UNAVAILABLE also tells the pool to check the
 * connection. */
typedef enum pd_err (*dbpool_job_fn)(PGconn *c, void *arg);
/* On reply_to's thread: owns arg. */
typedef void (*dbpool_done_fn)(struct loop *l, void *arg, enum pd_err status);

struct dbpool_opts {
	const char *url;            /* libpq connection string or URI (required) */
	int nthreads;               /* >= 1 */
	long statement_timeout_ms;  /* 0 = server default */
	size_t queue_max;           /* jobs waiting; 0 = 4096 */
	long backoff_min_ms;        /* 0 = 100 */
	long backoff_max_ms;        /* 0 = 2000 */
	long connect_timeout_s;     /* 0 = 3 (libpq connect_timeout unless url sets one) */
};

/* Start the threads; each connects in the background (PostgreSQL may be
 * down: jobs then fail with PD_E_UNAVAILABLE until it is up). The url is
 * copied. NULL with *err = -EINVAL (bad opts), -ENOMEM or -errno of
 * pthread_create. */
struct dbpool *dbpool_new(const struct dbpool_opts *o, int *err);

/* The same from configuration: database_url, db_threads (1..64),
 * statement_timeout (ms). NULL with errbuf filled (also when database_url is
 * empty: the broker then runs without a database). */
struct dbpool *dbpool_new_cfg(const struct pd_cfg *cfg, char *errbuf, size_t errlen);

/* Queue a job (any thread; normally reply_to's own). 0, -EAGAIN (queue full:
 * answer INTERNAL/UNAVAILABLE), -ESHUTDOWN (dbpool_shutdown was called),
 * -ENOMEM, -EINVAL. On error nothing is queued and done will not run: the
 * caller still owns arg. */
int dbpool_submit(struct dbpool *p, struct loop *reply_to, dbpool_job_fn run, dbpool_done_fn done,
		  void *arg);

/* Stop taking jobs, cancel the statements running (PQcancel), answer the
 * queued jobs with PD_E_UNAVAILABLE (posted to their loops, not run), and
 * join the threads. Idempotent. Call it while the loops still run (so that
 * the done callbacks find their worker state) or before their loop_fini
 * (which runs what is still posted). */
void dbpool_shutdown(struct dbpool *p);

/* dbpool_shutdown if needed, then free. NULL is a no-op. */
void dbpool_free(struct dbpool *p);

struct dbpool_stats {
	unsigned long long submitted, refused, completed, unavailable, reconnects;
	size_t queued;
	int connected; /* threads holding a working connection now */
};
/* A snapshot (any thread). */
void dbpool_get_stats(struct dbpool *p, struct dbpool_stats *s);

/* 1 if at least one thread holds a working connection: for /healthz. */
int dbpool_up(struct dbpool *p);

#endif
