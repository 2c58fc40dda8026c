/* http: Engine.IO over libmicrohttpd, driven from loop 0's epoll (no MHD
 * thread). Long-poll GETs are suspended until the session answers them;
 * WebSocket upgrades leave libmicrohttpd at once: the socket is dup()ed in
 * the upgrade callback, MHD's side closed, and the dup served by a loop. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "broker.h"
#include "bundle.h"
#include "dialect.h"
#include "eio.h"
#include "hdr.h"
#include "pd_log.h"
#include "ws.h"
#include "wsconn.h"

enum req_kind {
	REQ_NEW = 0,
	REQ_POLL,
	REQ_POST,
	REQ_TOO_BIG, /* a POST over maxPayload: read and dropped, then 413 */
	REQ_UPGRADE_PROBE,
	REQ_UPGRADE_NEW,
	REQ_UPGRADE_REFUSED, /* a WebSocket for a session that has one: closed once open */
	REQ_DONE
};

struct http_req {
	int kind;
	uint8_t suspended, answered, too_big;
	uint8_t in_body;            /* this call carries upload data */
	uint8_t posting;            /* holds its session's one polling POST */
	uint8_t overlap;            /* a POST while another one held the session */
	unsigned status;            /* of resp */
	struct MHD_Response *resp;  /* decided while the body was still coming */
	struct MHD_Connection *conn;
	struct eio_session *s; /* REQ_POLL: the session while it holds us */
	char sid[EIO_SID_LEN + 1];
	struct pd_buf body; /* POST body, or the poll answer */
	char *token;        /* REQ_UPGRADE_NEW: handshake token */
	int dialect;        /* REQ_UPGRADE_NEW: eio_session.hs_dialect */
};

#define MAX_DAEMONS 2

struct daemon_watch {
	struct loop_watch watch;
	struct MHD_Daemon *d;
	int epfd;
};

static struct daemon_watch daemons[MAX_DAEMONS];
static size_t ndaemons;
static struct MHD_Daemon *eio_daemon;
static struct loop *loop0;
/* http_start's: the settings, and the round robin of new WebSockets */
static struct broker *cfg;
static size_t nsuspended;

/* One line per kind of trouble per interval, however often it happens: a
 * flood must not turn into a flood of log lines. */
struct ratelog {
	uint64_t next;   /* ms: log again from then on */
	unsigned long n; /* events since the last line */
};
#define RATELOG_MS 10000

/* Client addresses with connections that have not sent a whole request
 * yet (pending), for max_pending_per_ip. */
struct pend_ip {
	struct hnode hn;
	unsigned n;
	char key[INET6_ADDRSTRLEN];
};

/* One libmicrohttpd connection (its socket context) while it waits for a
 * request head: from accept (WAIT_NEW: header_timeout), and again after
 * each answer that leaves it open (WAIT_KEPT: the idle timeout, longer
 * than a front end's keep-alive, which must close its idle upstream
 * connections first or race the broker's close). Each list is oldest
 * first, so that the deadline looks at its head only. */
enum { WAIT_NONE = 0, WAIT_NEW, WAIT_KEPT };

struct hconn {
	struct hconn *prev, *next;
	uint64_t due; /* ms: closed then without a whole request head */
	int fd;
	uint8_t listed; /* WAIT_* */
	struct pend_ip *ip; /* set until its first request's headers are in */
};

struct hlist {
	struct hconn *head, *tail;
};

/* The Engine.IO listener: accepted here, handed to libmicrohttpd with
 * MHD_add_connection, so that running out of descriptors can pause
 * accepting (libmicrohttpd 0.9.75 busy-loops on EMFILE when it has no
 * connection of its own to wait for: every WebSocket has left it). */
static struct {
	int fd;
	struct loop_watch watch;
	struct loop_timer resume;   /* accepting paused until then */
	struct loop_timer deadline; /* the oldest waiting connection's */
	unsigned pause_ms;
	struct hmap ips; /* pend_ip by address */
	struct hlist wait[3];  /* by WAIT_*; [WAIT_NONE] unused */
	uint64_t kept_ms;      /* WAIT_KEPT's deadline */
	struct ratelog emfile, cap, slow;
} lst = {.fd = -1};

void http_log_fn(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	pd_log(LOG_NOTICE, "libmicrohttpd: %s", buf);
}

/* ---- running daemons from our loop ---- */

static void on_daemon_io(struct loop_watch *w, uint32_t events)
{
	struct daemon_watch *dw = container_of(w, struct daemon_watch, watch);
	(void)events;
	MHD_run(dw->d);
}

static long prepare(struct loop *l, void *arg)
{
	long timeout = -1;
	(void)l;
	(void)arg;
	for (size_t i = 0; i < ndaemons; i++) {
		MHD_UNSIGNED_LONG_LONG t;
		MHD_run(daemons[i].d);
		if (MHD_get_timeout(daemons[i].d, &t) == MHD_YES) {
			long ms = t > 60000 ? 60000 : (long)t;
			if (timeout < 0 || ms < timeout)
				timeout = ms;
		}
	}
	return timeout;
}

int http_attach(struct loop *l, struct MHD_Daemon *d)
{
	if (ndaemons == MAX_DAEMONS)
		return -ENOSPC;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		return -EINVAL;
	struct daemon_watch *dw = &daemons[ndaemons];
	dw->watch.fn = on_daemon_io;
	dw->d = d;
	dw->epfd = info->epoll_fd;
	int rc = loop_watch_add(l, dw->epfd, EPOLLIN, &dw->watch);
	if (rc < 0)
		return rc;
	ndaemons++;
	l->prepare = prepare;
	return 0;
}

void http_quiesce(void)
{
	if (lst.fd >= 0) {
		loop_watch_del(loop0, lst.fd);
		loop_timer_cancel(loop0, &lst.resume);
		close(lst.fd);
		lst.fd = -1;
	}
	for (size_t i = 0; i < ndaemons; i++) {
		MHD_socket fd = MHD_quiesce_daemon(daemons[i].d);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
	}
}

void http_stop(void)
{
	/* answered polls were resumed: let libmicrohttpd take them up, since
	 * it must not be stopped with a connection still suspended */
	for (int i = 0; i < 4; i++)
		for (size_t k = 0; k < ndaemons; k++)
			MHD_run(daemons[k].d);
	if (nsuspended > 0)
		pd_log(LOG_ERR, "stopping libmicrohttpd with %zu suspended polls", nsuspended);
	for (size_t i = 0; i < ndaemons; i++) {
		loop_watch_del(loop0, daemons[i].epfd);
		MHD_stop_daemon(daemons[i].d);
	}
	ndaemons = 0;
	eio_daemon = NULL;
	if (loop0 != NULL) {
		loop0->prepare = NULL;
		if (lst.fd >= 0) {
			loop_watch_del(loop0, lst.fd);
			close(lst.fd);
			lst.fd = -1;
		}
		loop_timer_cancel(loop0, &lst.resume);
		loop_timer_cancel(loop0, &lst.deadline);
		hmap_fini(&lst.ips);
	}
}

size_t http_suspended(void)
{
	return nsuspended;
}

/* ---- accepting, pending connections, the header deadline ---- */

/* 0: stay quiet; else the number of events the line reports */
static unsigned long ratelog_due(struct ratelog *rl, uint64_t now)
{
	rl->n++;
	if (now < rl->next)
		return 0;
	unsigned long n = rl->n;
	rl->n = 0;
	rl->next = now + RATELOG_MS;
	return n;
}

static const char *pend_ip_key(const struct hnode *n)
{
	return container_of(n, struct pend_ip, hn)->key;
}

static void addr_key(const struct sockaddr *sa, char *key, size_t len)
{
	const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
						 : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    inet_ntop(sa->sa_family, a, key, (socklen_t)len) == NULL)
		snprintf(key, len, "?");
}

static void unlist(struct hconn *h)
{
	struct hlist *l = &lst.wait[h->listed];
	if (h->listed == WAIT_NONE)
		return;
	*(h->prev ? &h->prev->next : &l->head) = h->next;
	*(h->next ? &h->next->prev : &l->tail) = h->prev;
	h->prev = h->next = NULL;
	h->listed = WAIT_NONE;
}

static void arm_deadline(void)
{
	struct hconn *a = lst.wait[WAIT_NEW].head, *b = lst.wait[WAIT_KEPT].head;
	struct hconn *h = a == NULL || (b != NULL && b->due < a->due) ? b : a;
	if (h != NULL)
		loop_timer_set(loop0, &lst.deadline, h->due);
}

static void list_waiting(struct hconn *h, int which)
{
	struct hlist *l = &lst.wait[which];
	unlist(h);
	if (cfg->header_timeout <= 0)
		return;
	h->due = loop0->now + (which == WAIT_NEW ? (uint64_t)cfg->header_timeout : lst.kept_ms);
	h->prev = l->tail;
	*(l->tail ? &l->tail->next : &l->head) = h;
	l->tail = h;
	h->listed = (uint8_t)which;
	if (l->head == h)
		arm_deadline();
}

/* The connection has sent a whole request head: no longer pending. */
static void unpend(struct hconn *h)
{
	unlist(h);
	if (h->ip == NULL)
		return;
	if (--h->ip->n == 0) {
		hmap_del(&lst.ips, &h->ip->hn);
		free(h->ip);
	}
	h->ip = NULL;
}

/* Past the deadline without a whole request head: closed, however slowly
 * its bytes still trickle in (each of them resets libmicrohttpd's idle
 * timeout). shutdown() makes libmicrohttpd see the end and clean up. */
static void on_deadline(struct loop_timer *t)
{
	uint64_t now = loop0->now;
	unsigned long n = 0;
	(void)t;
	for (int k = WAIT_NEW; k <= WAIT_KEPT; k++) {
		struct hconn *h;
		while ((h = lst.wait[k].head) != NULL && h->due <= now) {
			unpend(h);
			shutdown(h->fd, SHUT_RDWR);
			n++;
		}
	}
	if (n > 0) {
		/* MHD_run notices the ends only if it runs: the fds are readable now */
		loop_kick(loop0);
		lst.slow.n += n - 1;
		unsigned long k = ratelog_due(&lst.slow, now);
		if (k > 0)
			pd_log(LOG_WARNING,
			       "closed %lu connection(s) without a whole request head in time "
			       "(header_timeout=%ldms, %llums when kept alive)",
			       k, cfg->header_timeout, (unsigned long long)lst.kept_ms);
	}
	arm_deadline();
}

static void on_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			   enum MHD_ConnectionNotificationCode code)
{
	struct hconn *h = *socket_context;
	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (h != NULL) {
			unpend(h);
			free(h);
			*socket_context = NULL;
		}
		return;
	}
	const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fi == NULL || ai == NULL || (h = calloc(1, sizeof(*h))) == NULL)
		return; /* served, without the limits */
	h->fd = fi->connect_fd;
	struct pend_ip *ip = calloc(1, sizeof(*ip));
	if (ip != NULL) {
		addr_key(ai->client_addr, ip->key, sizeof(ip->key));
		struct hnode *old = hmap_get(&lst.ips, ip->key, strlen(ip->key));
		if (old != NULL) {
			free(ip);
			ip = container_of(old, struct pend_ip, hn);
		} else if (hmap_put(&lst.ips, &ip->hn, ip->key, strlen(ip->key)) < 0) {
			free(ip);
			ip = NULL;
		}
	}
	if (ip != NULL) {
		ip->n++;
		h->ip = ip;
	}
	*socket_context = h;
	list_waiting(h, WAIT_NEW);
}

static struct hconn *hconn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i != NULL ? i->socket_context : NULL;
}

static void on_resume_accept(struct loop_timer *t)
{
	(void)t;
	if (lst.fd >= 0 && loop_watch_add(loop0, lst.fd, EPOLLIN, &lst.watch) < 0)
		loop_timer_set(loop0, &lst.resume, loop0->now + lst.pause_ms);
}

#define ACCEPT_BATCH 64
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 2000

/* Out of descriptors (or kernel memory): stop watching the listener for a
 * while, longer while it lasts, instead of waking on it in a loop; the
 * connections queue in the kernel's backlog meanwhile. */
static void pause_accept(int err)
{
	loop_watch_del(loop0, lst.fd);
	lst.pause_ms = lst.pause_ms == 0 ? PAUSE_MIN_MS
					 : (lst.pause_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : lst.pause_ms * 2);
	loop_timer_set(loop0, &lst.resume, loop0->now + lst.pause_ms);
	unsigned long n = ratelog_due(&lst.emfile, loop0->now);
	if (n > 0)
		pd_log(LOG_ERR,
		       "accept failed: %s; accepting paused for %ums (%lu time(s) since the last line): "
		       "raise the descriptor limit (LimitNOFILE) or lower broker_max_connections",
		       strerror(err), lst.pause_ms, n);
}

static void on_listen(struct loop_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lst.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accept(errno);
			else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			return; /* EAGAIN, or a listener error epoll reports again */
		}
		lst.pause_ms = 0;
		if (cfg->max_pending_per_ip > 0) {
			char key[INET6_ADDRSTRLEN];
			addr_key((struct sockaddr *)&ss, key, sizeof(key));
			struct hnode *n = hmap_get(&lst.ips, key, strlen(key));
			if (n != NULL && container_of(n, struct pend_ip, hn)->n >=
					     (unsigned long)cfg->max_pending_per_ip) {
				close(fd);
				unsigned long k = ratelog_due(&lst.cap, loop0->now);
				if (k > 0)
					pd_log(LOG_WARNING,
					       "refused %lu connection(s): max_pending_per_ip=%ld "
					       "connections from %s have not sent a request yet",
					       k, cfg->max_pending_per_ip, key);
				continue;
			}
		}
		/* libmicrohttpd closes fd itself when it cannot take it */
		if (MHD_add_connection(eio_daemon, fd, (struct sockaddr *)&ss, sl) != MHD_YES &&
		    ratelog_due(&lst.emfile, loop0->now) > 0)
			pd_log(LOG_ERR, "libmicrohttpd refused a connection: %s", strerror(errno));
	}
}

/* ---- sockets ---- */

int http_listen(const char *addr, char *err, size_t errlen)
{
	char host[256];
	const char *orig = addr;
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr || colon[1] == '\0') {
		snprintf(err, errlen, "listen address must be ADDR:PORT: %s", addr);
		return -1;
	}
	size_t hl = (size_t)(colon - addr);
	if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "listen address too long");
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "bad listen address %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", orig, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int http_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/* ---- replies ---- */

static void add_cors(struct MHD_Connection *c, struct MHD_Response *r)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin == NULL || !broker_origin_allowed(origin))
		return;
	MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
	MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
	MHD_add_response_header(r, "Vary", "Origin");
}

static struct MHD_Response *make_reply(struct MHD_Connection *c, const char *ctype,
				       const void *body, size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return NULL;
	if (ctype != NULL)
		MHD_add_response_header(r, "Content-Type", ctype);
	add_cors(c, r);
	return r;
}

enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			   const void *body, size_t len)
{
	struct MHD_Response *r = make_reply(c, ctype, body, len);
	if (r == NULL)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Queue resp (consumed) for request r. While upload data is still coming
 * (r->in_body) libmicrohttpd refuses a response and the handler's MHD_NO
 * would close the connection with no answer at all: keep the response and
 * queue it once the body has been read off (on_request's last call). */
static enum MHD_Result queue(struct http_req *r, unsigned status, struct MHD_Response *resp)
{
	if (resp == NULL)
		return MHD_NO;
	if (r->in_body) {
		if (r->resp != NULL)
			MHD_destroy_response(r->resp);
		r->resp = resp;
		r->status = status;
		return MHD_YES;
	}
	enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply(struct http_req *r, unsigned status, const char *ctype,
			     const void *body, size_t len)
{
	return queue(r, status, make_reply(r->conn, ctype, body, len));
}

enum eio_err {
	EIO_ERR_TRANSPORT = 0,
	EIO_ERR_SID = 1,
	EIO_ERR_METHOD = 2,
	EIO_ERR_BAD_REQUEST = 3,
	EIO_ERR_FORBIDDEN = 4,
	EIO_ERR_VERSION = 5,
};

static enum MHD_Result reply_error(struct http_req *r, int code)
{
	static const char *const msgs[] = {"Transport unknown",  "Session ID unknown",
					   "Bad handshake method", "Bad request",
					   "Forbidden",          "Unsupported protocol version"};
	char body[128];
	int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", code, msgs[code]);
	return reply(r, code == EIO_ERR_FORBIDDEN ? MHD_HTTP_FORBIDDEN : MHD_HTTP_BAD_REQUEST,
		     "application/json", body, (size_t)n);
}

static enum MHD_Result reply_preflight(struct http_req *r)
{
	struct MHD_Connection *c = r->conn;
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	add_cors(c, resp);
	MHD_add_response_header(resp, "Access-Control-Allow-Methods",
				"GET,HEAD,PUT,PATCH,POST,DELETE");
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Headers");
	if (h != NULL)
		MHD_add_response_header(resp, "Access-Control-Allow-Headers", h);
	return queue(r, MHD_HTTP_NO_CONTENT, resp);
}

static enum MHD_Result reply_text(struct http_req *r, const char *body, size_t len)
{
	return reply(r, MHD_HTTP_OK, "text/plain; charset=UTF-8", body, len);
}

/* ---- polling ---- */

void http_poll_answer(struct http_poll *p, const char *data, size_t len)
{
	struct http_req *r = (struct http_req *)p;
	pd_buf_reset(&r->body);
	if (pd_buf_append(&r->body, data, len) < 0)
		pd_log(LOG_ERR, "poll answer dropped (out of memory) sid=%s", r->sid);
	r->answered = 1;
	r->s = NULL;
	if (r->suspended) {
		r->suspended = 0;
		nsuspended--;
		MHD_resume_connection(r->conn);
		/* libmicrohttpd drops MHD_USE_ITC without an internal thread:
		 * nothing wakes it for a resume, the next MHD_run takes it up.
		 * That must come before loop 0 blocks in epoll_wait. */
		loop_kick(loop0);
	}
}

static enum MHD_Result send_poll_answer(struct http_req *r)
{
	r->kind = REQ_DONE;
	return reply_text(r, r->body.data ? r->body.data : "", r->body.len);
}

static enum MHD_Result poll_get(struct http_req *r, struct eio_session *s)
{
	r->kind = REQ_POLL;
	r->s = s;
	int rc = eio_poll_get(s, (struct http_poll *)r);
	if (rc < 0) {
		r->s = NULL;
		r->kind = REQ_DONE;
		return reply_error(r, EIO_ERR_BAD_REQUEST);
	}
	if (rc > 0)
		return send_poll_answer(r);
	MHD_suspend_connection(r->conn);
	r->suspended = 1;
	nsuspended++;
	return MHD_YES;
}

static enum MHD_Result post_done(struct http_req *r)
{
	static struct pd_buf scratch;
	struct eio_session *s = eio_find(worker_of(loop0), r->sid);
	r->kind = REQ_DONE;
	r->posting = 0;
	if (s == NULL || s->state != EIO_S_OPEN) {
		/* the session ended while this body came (an overlapping POST,
		 * a ping timeout): engine.io still answers the POST it had
		 * accepted with 200 and drops its packets */
		return reply(r, MHD_HTTP_OK, "text/html", "ok", 2);
	}
	s->posting = 0;
	if (r->too_big) {
		pd_log(LOG_INFO, "eio payload too large sid=%s transport=polling", s->sid);
		eio_abort(s, "payload too large");
		return reply(r, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", "", 0);
	}
	METRIC_ADD(s->w, bytes_in, r->body.len);
	const char *p = r->body.data ? r->body.data : "";
	size_t n = r->body.len;
	const char *e;
	size_t el;
	while (eio_payload_next(&p, &n, &e, &el)) {
		struct eio_packet pk;
		if (eio_decode_text(e, el, &scratch, &pk) < 0) {
			METRIC_ADD(s->w, protocol_errors, 1);
			pd_log(LOG_INFO, "eio bad packet sid=%s transport=polling", s->sid);
			eio_abort(s, "parse error");
			return reply_error(r, EIO_ERR_BAD_REQUEST);
		}
		int rc = eio_on_packet(s, NULL, &pk);
		if (scratch.cap > 65536)
			pd_buf_free(&scratch);
		if (rc < 0) {
			if (pk.type == EIO_CLOSE)
				break;
			return reply_error(r, EIO_ERR_BAD_REQUEST);
		}
	}
	return reply(r, MHD_HTTP_OK, "text/html", "ok", 2);
}

/* ---- WebSocket upgrade ---- */

struct handoff {
	int fd;
	int dialect;
	char *token;
	size_t nextra;
	uint8_t extra[];
};

static void ws_session_start(struct loop *l, int fd, char *token, int dialect,
			     const uint8_t *extra, size_t nextra)
{
	struct wsconn *c = wsconn_new(l, fd, NULL);
	if (c == NULL) {
		free(token);
		return;
	}
	int full;
	struct eio_session *s = eio_session_new(worker_of(l), c, token, &full);
	if (s != NULL)
		s->hs_dialect = dialect;
	if (s == NULL) {
		if (full)
			pd_log(LOG_WARNING, "connection refused: broker_max_connections=%ld reached",
			       worker_of(l)->cfg->max_connections);
		wsconn_close(c, full ? 1013 : WS_CLOSE_INTERNAL);
		return;
	}
	c->s = s;
	wsconn_input(c, extra, nextra);
}

static void on_handoff(struct loop *l, void *arg)
{
	struct handoff *h = arg;
	if (worker_of(l)->stopping) {
		close(h->fd);
		free(h->token);
	} else {
		ws_session_start(l, h->fd, h->token, h->dialect, h->extra, h->nextra);
	}
	free(h);
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct http_req *r = con_cls;
	(void)cls;
	(void)conn;
	int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	uint8_t *extra = NULL;
	if (fd >= 0 && extra_in_size > 0) {
		extra = malloc(extra_in_size);
		if (extra != NULL)
			memcpy(extra, extra_in, extra_in_size);
	}
	/* libmicrohttpd's side goes now; the dup is ours (FACTS.md) */
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	if (fd < 0) {
		pd_log(LOG_ERR, "ws dup failed err=%s", strerror(errno));
		goto out;
	}
	if (extra_in_size > 0 && extra == NULL) {
		close(fd);
		goto out;
	}
	int fl = fcntl(fd, F_GETFL);
	int one = 1;
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (r->kind == REQ_UPGRADE_PROBE || r->kind == REQ_UPGRADE_REFUSED) {
		struct eio_session *s = eio_find(worker_of(loop0), r->sid);
		struct wsconn *c;
		if (r->kind == REQ_UPGRADE_REFUSED || s == NULL || s->state != EIO_S_OPEN ||
		    s->ws != NULL || s->transport != EIO_T_POLLING) {
			/* engine.io's onWebSocket: "transport had already been
			 * upgraded" and the like; the session is left alone */
			if ((c = wsconn_new(loop0, fd, NULL)) != NULL)
				wsconn_close(c, WS_CLOSE_NORMAL);
			goto out;
		}
		c = wsconn_new(loop0, fd, s);
		if (c == NULL)
			goto out;
		eio_ws_attached(s, c);
		wsconn_input(c, extra, extra_in_size);
		goto out;
	}
	/* a new session: spread over the loops */
	unsigned k = atomic_fetch_add(&cfg->next_loop, 1) % (unsigned)cfg->nloops;
	char *token = r->token;
	r->token = NULL;
	if (k == 0) {
		ws_session_start(loop0, fd, token, r->dialect, extra, extra_in_size);
		goto out;
	}
	struct handoff *h = malloc(sizeof(*h) + extra_in_size);
	if (h == NULL) {
		close(fd);
		free(token);
		goto out;
	}
	h->fd = fd;
	h->dialect = r->dialect;
	h->token = token;
	h->nextra = extra_in_size;
	if (extra_in_size)
		memcpy(h->extra, extra, extra_in_size);
	if (loop_post(&cfg->loops[k], on_handoff, h) < 0) {
		close(fd);
		free(token);
		free(h);
	}
out:
	free(extra);
	r->kind = REQ_DONE;
}

static int header_has_token(struct MHD_Connection *c, const char *name, const char *tok)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	size_t tl = strlen(tok);
	if (v == NULL)
		return 0;
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		const char *e = v;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - v) == tl && strncasecmp(v, tok, tl) == 0)
			return 1;
		v = e;
	}
	return 0;
}

static enum MHD_Result reply_upgrade(struct http_req *r)
{
	const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *ver =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	char acc[29];
	if (key == NULL || ver == NULL || strcmp(ver, "13") != 0 || ws_accept_key(key, acc) < 0 ||
	    !header_has_token(r->conn, "Connection", "upgrade")) {
		r->kind = REQ_DONE;
		return reply_error(r, EIO_ERR_BAD_REQUEST);
	}
	struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, NULL);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Upgrade", "websocket");
	MHD_add_response_header(resp, "Connection", "Upgrade");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", acc);
	return queue(r, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

/* ---- the handshake token (for the JWT middleware) ---- */

static char *handshake_token(struct MHD_Connection *c)
{
	if (cfg->jwt == NULL)
		return NULL;
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
		a += 7;
		while (*a == ' ')
			a++;
		if (*a && strlen(a) < 8192)
			return strdup(a);
	}
	const char *ck = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, cfg->token_cookie);
	if (ck != NULL && *ck && strlen(ck) < 8192)
		return strdup(ck);
	return NULL;
}

/* ?dialect=NAME of the handshake (contract 7): eio_session.hs_dialect */
static int handshake_dialect(struct MHD_Connection *c)
{
	const char *d = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dialect");
	return d == NULL ? 0 : dia_find(d) >= 0 ? dia_find(d) + 1 : -1;
}

/* ---- the request handler ---- */

/* The handshake's Origin check (cross-site WebSocket hijacking): with a
 * cors_origins list, a browser page of another origin is refused (403,
 * code 4); same-origin pages, non-browser clients (no Origin) and an
 * empty list (no CORS configured: the reference server's behaviour) pass. */
static int origin_admitted(struct MHD_Connection *c)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin == NULL || cfg->cors_any || cfg->ncors == 0 ||
	    broker_origin_allowed(origin))
		return 1;
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *p = strstr(origin, "://");
	return host != NULL && p != NULL && strcasecmp(p + 3, host) == 0;
}

static int path_ok(const char *url)
{
	size_t n = strlen(cfg->path);
	/* "/socket.io/" and "/socket.io" */
	return strcmp(url, cfg->path) == 0 ||
	       (strncmp(url, cfg->path, n - 1) == 0 && url[n - 1] == '\0');
}

/* The socket.io-client file url names under broker_path, or NULL. */
static const struct bundle_file *bundle_of(const char *url)
{
	size_t n = strlen(cfg->path);
	if (strncmp(url, cfg->path, n) != 0)
		return NULL;
	for (size_t i = 0; i < bundle_nfiles; i++)
		if (strcmp(url + n, bundle_files[i].name) == 0)
			return &bundle_files[i];
	return NULL;
}

/* As a Node Socket.IO server's serveClient: an ETag revalidated with
 * max-age=0 (a new broker build with a new bundle is seen at once), gzip
 * when the client takes it, CORS as for Engine.IO. The bytes are static:
 * libmicrohttpd sends them without a copy. */
static enum MHD_Result serve_bundle(struct http_req *r, const struct bundle_file *f,
				    const char *method)
{
	struct MHD_Connection *c = r->conn;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct MHD_Response *resp = make_reply(c, "text/plain", "Method not allowed", 18);
		if (resp != NULL)
			MHD_add_response_header(resp, "Allow", "GET, HEAD");
		return queue(r, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	}
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	int not_modified = hdr_etag_match(inm, f->etag);
	int gz = !not_modified &&
		 hdr_accepts_gzip(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding"));
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    not_modified ? 0 : gz ? f->gzlen : f->len,
	    (void *)(not_modified ? (const unsigned char *)"" : gz ? f->gz : f->data),
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (!not_modified)
		MHD_add_response_header(resp, "Content-Type", "application/javascript; charset=utf-8");
	if (gz)
		MHD_add_response_header(resp, "Content-Encoding", "gzip");
	MHD_add_response_header(resp, "Vary", "Accept-Encoding");
	MHD_add_response_header(resp, "Cache-Control", "public, max-age=0");
	MHD_add_response_header(resp, "ETag", f->etag);
	add_cors(c, resp);
	return queue(r, not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}

static enum MHD_Result start(struct http_req *r, const char *url, const char *method)
{
	struct MHD_Connection *c = r->conn;
	struct worker *w0 = worker_of(loop0);
	r->kind = REQ_DONE;
	const struct bundle_file *bf = bundle_of(url);
	if (bf != NULL)
		return serve_bundle(r, bf, method);
	if (!path_ok(url))
		return reply(r, MHD_HTTP_NOT_FOUND, "text/plain", "Not found", 9);
	if (strcmp(method, "OPTIONS") == 0)
		return reply_preflight(r);
	if (w0->stopping)
		return reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "", 0);
	const char *transport = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "transport");
	int is_ws;
	if (transport != NULL && strcmp(transport, "polling") == 0)
		is_ws = 0;
	else if (transport != NULL && strcmp(transport, "websocket") == 0)
		is_ws = 1;
	else
		return reply_error(r, EIO_ERR_TRANSPORT);
	int upgrade = is_ws && strcmp(method, "GET") == 0 && header_has_token(c, "Upgrade", "websocket");
	const char *sid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sid");
	if (sid != NULL) {
		struct eio_session *s = strlen(sid) == EIO_SID_LEN ? eio_find(w0, sid) : NULL;
		if (r->posting && (s == NULL || s->state != EIO_S_OPEN)) {
			/* the session ended after this POST took it: read the
			 * body off and answer 200 (post_done) */
			r->kind = REQ_POST;
			return MHD_YES;
		}
		if (s == NULL || s->state == EIO_S_CLOSED)
			return reply_error(r, EIO_ERR_SID);
		memcpy(r->sid, s->sid, sizeof(r->sid));
		int cur_ws = s->transport == EIO_T_WEBSOCKET;
		if (upgrade) {
			/* A second WebSocket for a session that is upgraded, being
			 * upgraded or closing: the reference server (engine.io's
			 * onWebSocket) completes the handshake and closes it, and
			 * the engine.io-protocol suite waits for that close. */
			r->kind = cur_ws || s->ws != NULL || s->state != EIO_S_OPEN
				      ? REQ_UPGRADE_REFUSED
				      : REQ_UPGRADE_PROBE;
			if (r->kind == REQ_UPGRADE_REFUSED)
				pd_log(LOG_INFO, "eio second websocket for sid=%s closed", s->sid);
			return reply_upgrade(r);
		}
		if (is_ws != cur_ws || is_ws)
			return reply_error(r, EIO_ERR_BAD_REQUEST);
		if (strcmp(method, "GET") == 0)
			return poll_get(r, s);
		if (strcmp(method, "POST") != 0)
			return reply_error(r, EIO_ERR_BAD_REQUEST);
		if (s->state != EIO_S_OPEN)
			return reply_error(r, EIO_ERR_BAD_REQUEST);
		if (r->overlap || !r->posting) {
			/* as engine.io: the second POST gets 400 and the session
			 * ends; the first one still gets its 200 (post_done) */
			pd_log(LOG_INFO, "eio overlapping post sid=%s", s->sid);
			eio_abort(s, "transport error");
			return reply_error(r, EIO_ERR_BAD_REQUEST);
		}
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl != NULL && strtoll(cl, NULL, 10) > cfg->max_payload) {
			pd_log(LOG_INFO, "eio payload too large sid=%s transport=polling", s->sid);
			eio_abort(s, "payload too large");
			r->kind = REQ_TOO_BIG;
			return MHD_YES;
		}
		r->kind = REQ_POST;
		pd_buf_init(&r->body, 0);
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0)
		return reply_error(r, EIO_ERR_METHOD);
	if (is_ws && !upgrade)
		return reply_error(r, EIO_ERR_BAD_REQUEST);
	if (!origin_admitted(c))
		return reply_error(r, EIO_ERR_FORBIDDEN);
	const char *eio = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "EIO");
	if (eio == NULL || strcmp(eio, "4") != 0)
		return reply_error(r, EIO_ERR_VERSION);
	if (upgrade) {
		if (atomic_load(&cfg->nconn) >= cfg->max_connections) {
			pd_log(LOG_WARNING, "connection refused: broker_max_connections=%ld reached",
			       cfg->max_connections);
			return reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
					  "{\"code\":3,\"message\":\"Bad request\"}", 34);
		}
		r->token = handshake_token(c);
		r->dialect = handshake_dialect(c);
		r->kind = REQ_UPGRADE_NEW;
		return reply_upgrade(r);
	}
	int full;
	struct eio_session *s = eio_session_new(w0, NULL, handshake_token(c), &full);
	if (s == NULL) {
		if (full)
			pd_log(LOG_WARNING, "connection refused: broker_max_connections=%ld reached",
			       cfg->max_connections);
		return reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
				  "{\"code\":3,\"message\":\"Bad request\"}", 34);
	}
	s->hs_dialect = handshake_dialect(c);
	memcpy(r->sid, s->sid, sizeof(r->sid));
	return poll_get(r, s);
}

/* ---- message framing (RFC 9112 section 6.3) ---- */

struct framing {
	int ncl, nte, bad;
	uint64_t cl;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct framing *f = cls;
	uint64_t n;
	(void)kind;
	if (strcasecmp(key, "Content-Length") == 0) {
		if (hdr_content_length(value, &n) < 0 || (f->ncl > 0 && n != f->cl))
			f->bad = 1;
		f->cl = n;
		f->ncl++;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		f->nte++;
	}
	return MHD_YES;
}

/* A request whose body length two readers could take differently: several
 * differing Content-Length values, Content-Length with Transfer-Encoding,
 * or a transfer coding other than a lone "chunked" (the only one
 * libmicrohttpd decodes). A proxy in front that reads it the other way
 * would let the rest of the body pass as a second request (smuggling). */
static int framing_ok(struct MHD_Connection *c)
{
	struct framing f = {0, 0, 0, 0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, framing_header, &f);
	if (f.bad || f.nte > 1 || (f.nte == 1 && f.ncl > 0))
		return 0;
	if (f.nte == 1) {
		const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
		while (te != NULL && (*te == ' ' || *te == '\t'))
			te++;
		size_t n = te ? strlen(te) : 0;
		while (n > 0 && (te[n - 1] == ' ' || te[n - 1] == '\t'))
			n--;
		if (n != 7 || strncasecmp(te, "chunked", 7) != 0)
			return 0;
	}
	return 1;
}

/* A polling POST holds its session from the moment its headers are read,
 * not when its body starts: a second POST arriving meanwhile is the
 * overlap engine.io refuses ("data request overlap from client"). */
static void claim_post(struct http_req *r)
{
	const char *sid = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "sid");
	struct eio_session *s;
	if (sid == NULL || strlen(sid) != EIO_SID_LEN ||
	    (s = eio_find(worker_of(loop0), sid)) == NULL || s->state != EIO_S_OPEN)
		return; /* start() answers it */
	if (s->posting) {
		r->overlap = 1;
		return;
	}
	s->posting = 1;
	r->posting = 1;
	memcpy(r->sid, s->sid, sizeof(r->sid));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	(void)cls;
	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->conn = c;
		pd_buf_init(&r->body, 0);
		*con_cls = r;
		struct hconn *h = hconn_of(c);
		if (h != NULL)
			unpend(h);
		if (!framing_ok(c)) {
			/* queued before any of the body is read: libmicrohttpd
			 * closes the connection after it, as RFC 9112 asks */
			pd_log(LOG_INFO, "http request refused: ambiguous message framing");
			r->kind = REQ_DONE;
			struct MHD_Response *resp = make_reply(c, "application/json",
							       "{\"code\":3,\"message\":\"Bad request\"}", 34);
			if (resp != NULL)
				MHD_add_response_header(resp, "Connection", "close");
			return queue(r, MHD_HTTP_BAD_REQUEST, resp);
		}
		if (strcmp(method, "POST") == 0)
			claim_post(r);
		/* libmicrohttpd 0.9.75 drops keep-alive for a response queued in
		 * the first call: decide in the second one */
		return MHD_YES;
	}
	r->in_body = *upload_data_size > 0;
	if (r->kind == REQ_NEW) {
		if (r->in_body && strcmp(method, "POST") != 0) {
			/* a body no one reads (PUT, a GET with a body): read it
			 * off, decide when the request is complete */
			*upload_data_size = 0;
			return MHD_YES;
		}
		enum MHD_Result rc = start(r, url, method);
		if (r->kind != REQ_POST && r->kind != REQ_TOO_BIG) {
			*upload_data_size = 0;
			return rc;
		}
	}
	switch (r->kind) {
	case REQ_POST:
		if (*upload_data_size > 0) {
			if (!r->too_big &&
			    r->body.len + *upload_data_size > (size_t)cfg->max_payload)
				r->too_big = 1;
			if (!r->too_big && pd_buf_append(&r->body, upload_data, *upload_data_size) < 0)
				r->too_big = 1;
			*upload_data_size = 0;
			return MHD_YES;
		}
		return post_done(r);
	case REQ_TOO_BIG:
		if (*upload_data_size > 0) {
			*upload_data_size = 0;
			return MHD_YES;
		}
		r->kind = REQ_DONE;
		return reply(r, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", "", 0);
	case REQ_POLL:
		if (r->answered)
			return send_poll_answer(r);
		if (!r->suspended) {
			MHD_suspend_connection(c);
			r->suspended = 1;
			nsuspended++;
		}
		return MHD_YES;
	default:
		/* a request that already has its response: discard any body,
		 * then queue the response decided while it was coming */
		if (*upload_data_size > 0) {
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (r->resp != NULL) {
			struct MHD_Response *resp = r->resp;
			r->resp = NULL;
			return queue(r, r->status, resp);
		}
		return MHD_YES;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;
	(void)cls;
	/* a connection kept open waits for its next request head (and is
	 * unlisted again if it closes instead) */
	struct hconn *h = hconn_of(c);
	if (h != NULL && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		list_waiting(h, WAIT_KEPT);
	if (r == NULL)
		return;
	if (r->s != NULL && !r->answered)
		eio_poll_gone(r->s, (struct http_poll *)r);
	if (r->suspended)
		nsuspended--;
	if (r->posting) {
		struct eio_session *s = eio_find(worker_of(loop0), r->sid);
		if (s != NULL)
			s->posting = 0;
	}
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	pd_buf_free(&r->body);
	free(r->token);
	free(r);
	*con_cls = NULL;
}

int http_start(struct loop *l, struct broker *b, int listen_fd, char *err, size_t errlen)
{
	loop0 = l;
	cfg = b;
	unsigned limit = (unsigned)(cfg->max_connections + 256);
	unsigned idle = (unsigned)((cfg->ping_interval + cfg->ping_timeout) / 1000 + 30);
	eio_daemon = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET,
	    0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, http_log_fn, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)32 * 1024, MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_conn_notify, NULL, MHD_OPTION_END);
	if (eio_daemon == NULL) {
		snprintf(err, errlen, "libmicrohttpd failed to start");
		return -1;
	}
	int rc = http_attach(l, eio_daemon);
	if (rc < 0) {
		snprintf(err, errlen, "cannot watch libmicrohttpd's epoll fd: %s", strerror(-rc));
		goto fail;
	}
	hmap_init(&lst.ips, pend_ip_key);
	/* as libmicrohttpd's idle timeout, but for the whole wait */
	lst.kept_ms = (uint64_t)idle * 1000;
	if (lst.kept_ms < (uint64_t)cfg->header_timeout)
		lst.kept_ms = (uint64_t)cfg->header_timeout;
	loop_timer_init(&lst.resume, on_resume_accept);
	loop_timer_init(&lst.deadline, on_deadline);
	lst.watch.fn = on_listen;
	lst.fd = listen_fd;
	if ((rc = loop_watch_add(l, listen_fd, EPOLLIN, &lst.watch)) < 0) {
		snprintf(err, errlen, "cannot watch the listening socket: %s", strerror(-rc));
		lst.fd = -1;
		goto fail;
	}
	return 0;
fail:
	MHD_stop_daemon(eio_daemon);
	eio_daemon = NULL;
	return -1;
}
