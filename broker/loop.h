/* loop: one event loop per thread. Level-triggered epoll over watched fds,
 * a binary heap of deadlines (the epoll_wait timeout), an eventfd for
 * functions posted from other threads, and a list of frees deferred to the
 * end of the turn so that no object dies while a callback is on the stack. */
#ifndef PD_LOOP_H
#define PD_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

/* Embed in the object that owns an fd; epoll's data.ptr points at it. */
struct loop_watch {
	void (*fn)(struct loop_watch *w, uint32_t events);
};

/* Embed in the object that needs a deadline. idx is SIZE_MAX when unarmed. */
struct loop_timer {
	uint64_t when; /* ms, loop_now clock */
	size_t idx;
	void (*fn)(struct loop_timer *t);
};

typedef void (*loop_post_fn)(struct loop *l, void *arg);
typedef void (*loop_free_fn)(void *arg);
/* Called at the top of every turn; returns the longest wait in ms (-1: none). */
typedef long (*loop_prepare_fn)(struct loop *l, void *arg);

struct loop_post;
struct loop_defer {
	loop_free_fn fn;
	void *arg;
};

struct loop {
	int idx; /* 0 runs libmicrohttpd */
	int epfd, evfd;
	uint64_t now; /* ms, CLOCK_MONOTONIC, updated each turn */
	int stop;
	int kick; /* loop_kick: do not block in the coming epoll_wait */
	struct loop_timer **heap;
	size_t nheap, capheap;
	pthread_mutex_t mu; /* guards posts */
	struct loop_post *posts, *posts_tail;
	struct loop_watch evwatch;
	struct loop_defer *defer;
	size_t ndefer, capdefer;
	loop_prepare_fn prepare;
	void *prepare_arg;
	uint8_t *scratch; /* per-loop read buffer */
	size_t scratch_len;
	void *data; /* the broker's per-loop state */
	pthread_t thread;
};

#define LOOP_SCRATCH (64 * 1024)

int loop_init(struct loop *l, int idx);
void loop_fini(struct loop *l);
/* Run until loop_stop. */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);
uint64_t loop_clock_ms(void);

/* epoll registration. 0 or -errno. */
int loop_watch_add(struct loop *l, int fd, uint32_t events, struct loop_watch *w);
int loop_watch_mod(struct loop *l, int fd, uint32_t events, struct loop_watch *w);
void loop_watch_del(struct loop *l, int fd);

void loop_timer_init(struct loop_timer *t, void (*fn)(struct loop_timer *t));
/* Arm (or re-arm) t to fire at when (ms). 0 or -ENOMEM. */
int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t when);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Thread-safe: run fn(target, arg) on target's thread. 0 or -ENOMEM. */
int loop_post(struct loop *target, loop_post_fn fn, void *arg);
/* Fan-out and collect: run each on every loop of loops[0..n), then done
 * once after the last of them. Embed a struct loop_each in the job; the
 * callbacks get it back (container_of for the job).
 * - self: the calling loop, when it is one of loops: its part runs here,
 *   synchronously, after every other part was posted (NULL: every part
 *   is posted, the caller's loop included).
 * - done_on: the loop done runs on, always by a post (never before
 *   loop_each returns); NULL: the loop whose part ended last, at once
 *   (no extra post: the fan-out of room emits); then self must be set.
 * A loop that cannot be posted to (out of memory) is skipped. Any loop. */
struct loop_each;
typedef void (*loop_each_fn)(struct loop *l, struct loop_each *e);
struct loop_each {
	atomic_int left;
	loop_each_fn each, done;
	struct loop *done_on;
};
void loop_each(struct loop_each *e, struct loop *loops, int n, struct loop *self,
	       loop_each_fn each, loop_each_fn done, struct loop *done_on);

/* Make the coming epoll_wait of l return at once, so that the prepare hook
 * runs again before the loop blocks (a libmicrohttpd connection resumed
 * from outside MHD_run: in external-epoll mode nothing else wakes it).
 * Same thread as l only. */
void loop_kick(struct loop *l);
/* Call fn(arg) at the end of this turn, after what was deferred before
 * (first in, first out). 0 or -ENOMEM. */
int loop_defer(struct loop *l, loop_free_fn fn, void *arg);
/* The same for a free; on ENOMEM the object is leaked (logged). */
void loop_defer_free(struct loop *l, loop_free_fn fn, void *arg);

#endif
