/* loop: epoll + deadline heap + eventfd posts + deferred frees; one per
 * thread. The heap's earliest deadline is the epoll_wait timeout, so a
 * connection costs one heap slot only while it has a deadline armed. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pd_log.h"

struct loop_post {
	struct loop_post *next;
	loop_post_fn fn;
	void *arg;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void run_posts(struct loop *l)
{
	pthread_mutex_lock(&l->mu);
	struct loop_post *p = l->posts;
	l->posts = l->posts_tail = NULL;
	pthread_mutex_unlock(&l->mu);
	while (p != NULL) {
		struct loop_post *next = p->next;
		p->fn(l, p->arg);
		free(p);
		p = next;
	}
}

static void on_eventfd(struct loop_watch *w, uint32_t events)
{
	struct loop *l = (struct loop *)((char *)w - offsetof(struct loop, evwatch));
	uint64_t v;
	(void)events;
	if (read(l->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pd_log(LOG_ERR, "loop eventfd read failed loop=%d err=%s", l->idx, strerror(errno));
	run_posts(l);
}

int loop_init(struct loop *l, int idx)
{
	memset(l, 0, sizeof(*l));
	l->idx = idx;
	l->evfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->evfd < 0)
		goto fail;
	pthread_mutex_init(&l->mu, NULL);
	l->evwatch.fn = on_eventfd;
	l->scratch_len = LOOP_SCRATCH;
	l->scratch = malloc(l->scratch_len);
	if (l->scratch == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	if (loop_watch_add(l, l->evfd, EPOLLIN, &l->evwatch) < 0)
		goto fail;
	l->now = loop_clock_ms();
	return 0;
fail: {
	int rc = -errno;
	free(l->scratch);
	if (l->evfd >= 0)
		close(l->evfd);
	close(l->epfd);
	return rc;
}
}

static void run_defer(struct loop *l)
{
	/* frees may defer more frees: loop until the list is empty */
	while (l->ndefer > 0) {
		size_t n = l->ndefer, cap = l->capdefer;
		struct loop_defer *d = l->defer;
		l->defer = NULL;
		l->ndefer = l->capdefer = 0;
		for (size_t i = 0; i < n; i++)
			d[i].fn(d[i].arg);
		if (l->defer == NULL) {
			/* keep the array: a busy loop defers thousands of flushes a turn */
			l->defer = d;
			l->capdefer = cap;
		} else {
			free(d);
		}
	}
}

void loop_fini(struct loop *l)
{
	run_posts(l);
	run_defer(l);
	free(l->defer);
	free(l->heap);
	free(l->scratch);
	close(l->evfd);
	close(l->epfd);
	pthread_mutex_destroy(&l->mu);
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

int loop_watch_add(struct loop *l, int fd, uint32_t events, struct loop_watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_watch_mod(struct loop *l, int fd, uint32_t events, struct loop_watch *w)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_watch_del(struct loop *l, int fd)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- deadline heap ---- */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a;
	l->heap[b]->idx = b;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->when <= l->heap[i]->when)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->nheap && l->heap[a]->when < l->heap[m]->when)
			m = a;
		if (b < l->nheap && l->heap[b]->when < l->heap[m]->when)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop_timer_init(struct loop_timer *t, void (*fn)(struct loop_timer *t))
{
	t->when = 0;
	t->idx = SIZE_MAX;
	t->fn = fn;
}

int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t when)
{
	if (t->idx != SIZE_MAX) {
		uint64_t old = t->when;
		t->when = when;
		if (when < old)
			heap_up(l, t->idx);
		else
			heap_down(l, t->idx);
		return 0;
	}
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 64;
		struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		l->heap = h;
		l->capheap = cap;
	}
	t->when = when;
	t->idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->idx);
	return 0;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;
	if (i == SIZE_MAX)
		return;
	t->idx = SIZE_MAX;
	l->nheap--;
	if (i == l->nheap)
		return;
	l->heap[i] = l->heap[l->nheap];
	l->heap[i]->idx = i;
	heap_down(l, i);
	heap_up(l, i);
}

static void run_timers(struct loop *l)
{
	while (l->nheap > 0 && l->heap[0]->when <= l->now) {
		struct loop_timer *t = l->heap[0];
		loop_timer_cancel(l, t);
		t->fn(t);
	}
}

/* ---- posts and deferred frees ---- */

int loop_post(struct loop *target, loop_post_fn fn, void *arg)
{
	struct loop_post *p = malloc(sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&target->mu);
	int wake = target->posts == NULL;
	if (target->posts_tail != NULL)
		target->posts_tail->next = p;
	else
		target->posts = p;
	target->posts_tail = p;
	pthread_mutex_unlock(&target->mu);
	if (wake) {
		uint64_t one = 1;
		if (write(target->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			pd_log(LOG_ERR, "loop eventfd write failed loop=%d err=%s", target->idx,
			       strerror(errno));
	}
	return 0;
}

static void each_done_post(struct loop *l, void *arg)
{
	struct loop_each *e = arg;
	e->done(l, e);
}

/* One part (or the caller's hold) ended on l. */
static void each_part_done(struct loop *l, struct loop_each *e)
{
	if (atomic_fetch_sub(&e->left, 1) != 1)
		return;
	if (e->done_on == NULL)
		e->done(l, e);
	else if (loop_post(e->done_on, each_done_post, e) < 0)
		/* a leak beats running done on a foreign thread */
		pd_log(LOG_ERR, "loop fan-out lost its end (out of memory) loop=%d", e->done_on->idx);
}

static void each_post(struct loop *l, void *arg)
{
	struct loop_each *e = arg;
	e->each(l, e);
	each_part_done(l, e);
}

void loop_each(struct loop_each *e, struct loop *loops, int n, struct loop *self,
	       loop_each_fn each, loop_each_fn done, struct loop *done_on)
{
	e->each = each;
	e->done = done;
	e->done_on = done_on;
	atomic_init(&e->left, 1); /* the caller's hold, dropped last */
	for (int i = 0; i < n; i++) {
		if (&loops[i] == self)
			continue;
		atomic_fetch_add(&e->left, 1);
		if (loop_post(&loops[i], each_post, e) < 0) {
			pd_log(LOG_ERR, "loop fan-out skips a loop (out of memory) loop=%d", i);
			atomic_fetch_sub(&e->left, 1);
		}
	}
	if (self != NULL)
		each(self, e);
	each_part_done(self, e);
}

void loop_kick(struct loop *l)
{
	l->kick = 1;
}

int loop_defer(struct loop *l, loop_free_fn fn, void *arg)
{
	if (l->ndefer == l->capdefer) {
		size_t cap = l->capdefer ? l->capdefer * 2 : 32;
		struct loop_defer *d = realloc(l->defer, cap * sizeof(*d));
		if (d == NULL)
			return -ENOMEM;
		l->defer = d;
		l->capdefer = cap;
	}
	l->defer[l->ndefer].fn = fn;
	l->defer[l->ndefer].arg = arg;
	l->ndefer++;
	return 0;
}

void loop_defer_free(struct loop *l, loop_free_fn fn, void *arg)
{
	/* leaking beats freeing an object a caller still holds */
	if (loop_defer(l, fn, arg) < 0)
		pd_log(LOG_ERR, "loop deferred free dropped (out of memory) loop=%d", l->idx);
}

void loop_run(struct loop *l)
{
	struct epoll_event evs[256];
	while (!l->stop) {
		l->now = loop_clock_ms();
		run_timers(l);
		run_defer(l);
		long timeout = -1;
		l->kick = 0; /* a kick from before this point is served by prepare */
		if (l->prepare != NULL)
			timeout = l->prepare(l, l->prepare_arg);
		run_defer(l);
		if (l->stop)
			break;
		if (l->nheap > 0) {
			uint64_t now = loop_clock_ms();
			long t = l->heap[0]->when <= now ? 0 : (long)(l->heap[0]->when - now);
			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		if (l->ndefer > 0 || l->kick)
			timeout = 0;
		int n = epoll_wait(l->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])),
				   timeout > 1000000 ? 1000000 : (int)timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pd_log(LOG_CRIT, "epoll_wait failed loop=%d err=%s", l->idx, strerror(errno));
			break;
		}
		l->now = loop_clock_ms();
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;
			w->fn(w, evs[i].events);
		}
		run_defer(l);
	}
	run_defer(l);
}
