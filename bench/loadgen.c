/* pd-loadgen: thousands of Socket.IO v5 / Engine.IO v4 WebSocket clients
 * from one process (epoll, non-blocking connects spread over several source
 * addresses), for benchmarking pushdesk-broker and a Node Socket.IO server
 * alike. Times deliveries and ack round trips from a CLOCK_REALTIME
 * timestamp carried in the payload, and prints one JSON summary. */
#include "lg_hist.h"
#include "lg_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_CLIENTS 100000
#define LG_MAX_SOURCES 64
#define LG_MAX_WBUF (4u << 20) /* pending output per client before it is failed */
#define LG_RBUF_SIZE (LG_MAX_MESSAGE + 2 * LG_WS_MAX_HEADER + 65536)
#define LG_MAX_TOKEN 2048

enum mode { M_IDLE, M_FANOUT, M_ACK };

enum state {
	S_FREE,
	S_CONNECTING, /* TCP connect in flight */
	S_HTTP,	      /* upgrade request sent, waiting for 101 */
	S_EIO_OPEN,   /* waiting for the Engine.IO open packet */
	S_SIO,	      /* Socket.IO CONNECT sent, waiting for its answer */
	S_JOIN,	      /* join events sent, waiting for their acks */
	S_READY,
	S_DEAD,
};

enum fail {
	F_PORTS,   /* EADDRNOTAVAIL: no ephemeral port left */
	F_FDS,	   /* EMFILE / ENFILE */
	F_REFUSED, /* ECONNREFUSED */
	F_SOCKET,  /* any other socket error */
	F_HTTP,	   /* answer to the upgrade was not 101 */
	F_SIO,	   /* Socket.IO CONNECT_ERROR */
	F_CLOSED,  /* closed by the server before ready */
	F_PROTO,   /* a frame or packet we could not make sense of */
	F_TIMEOUT, /* handshake not done within --handshake-timeout */
	F_JOIN,	   /* join acked with something else than {ok:true} */
	F_N,
};

static const char *const fail_name[F_N] = {
	"no_port",	 "no_fd",  "refused",  "socket_error", "http",
	"connect_error", "closed", "protocol", "timeout",      "join",
};

struct conn {
	int fd;
	uint8_t state;
	uint8_t src;
	uint16_t joins_pending;
	uint32_t idx;
	uint32_t ack_id;      /* next ack id to use */
	uint32_t outstanding; /* echo acks not yet answered */
	uint64_t deadline_us; /* handshake deadline, monotonic */
	uint8_t *rbuf;	      /* bytes of an incomplete frame */
	uint32_t rlen;
	uint8_t *wbuf; /* output not yet taken by the kernel */
	uint32_t wlen, woff, wcap;
	uint8_t *msg; /* fragments of an incomplete message */
	uint32_t mlen;
	int mop;
};

static struct {
	enum mode mode;
	char host[64];
	int port;
	char path[128];
	int clients;
	double rate;
	double duration;
	double drain;
	int rooms_per_client;
	int room_size;
	char room_prefix[64], room_suffix[64]; /* around the %d of --room-pattern */
	int sources;
	int concurrency;
	double handshake_timeout;
	double connect_timeout;
	int window;
	const char *token;
	char **tokens; /* --token-file: client i uses tokens[i % ntokens] */
	int ntokens;
	char join_event[64]; /* --join-event (join) */
	const char *join_arg; /* --join-arg: raw JSON argument of every join */
	const char *jwt_secret;
	int org_size;
	const char *ready_file;
	int linger0;
} opt;

static struct conn *conns;
static int epfd;
static struct sockaddr_in dst;
static struct sockaddr_in srcs[LG_MAX_SOURCES];
static uint8_t *rbig;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static volatile sig_atomic_t stop_flag;

static struct {
	int started, inflight, connected, failed, ready_dropped;
	int fail[F_N];
	uint64_t events, events_window, events_untimed;
	uint64_t acks_sent, acks, acks_window, acks_sent_window;
	uint64_t pings;
	uint64_t bytes_in;
	int in_window; /* 1 while the measurement window runs */
} st;

static struct lg_hist h_event, h_ack;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "pd-loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void conn_kill(struct conn *c, int why)
{
	if (c->state == S_FREE || c->state == S_DEAD)
		return;
	if (c->state == S_READY) {
		st.ready_dropped++;
		st.connected--;
	} else {
		if (why >= 0 && why < F_N)
			st.fail[why]++;
		st.failed++;
		st.inflight--;
	}
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	free(c->rbuf);
	free(c->wbuf);
	free(c->msg);
	c->rbuf = c->wbuf = c->msg = NULL;
	c->rlen = c->wlen = c->woff = c->wcap = c->mlen = 0;
	c->state = S_DEAD;
}

static void set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.u32 = c->idx};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write raw bytes: straight to the socket when nothing is queued, the rest
 * queued with EPOLLOUT armed. 0, or -1 when the client was failed. */
static int conn_write(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->wlen == c->woff) {
		c->wlen = c->woff = 0;
		ssize_t w = write(c->fd, p, n);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				conn_kill(c, F_SOCKET);
				return -1;
			}
			w = 0;
		}
		if ((size_t)w == n)
			return 0;
		p += w;
		n -= (size_t)w;
		set_events(c, EPOLLIN | EPOLLOUT);
	}
	if (c->wlen + n > LG_MAX_WBUF) {
		conn_kill(c, F_SOCKET);
		return -1;
	}
	if (c->wlen + n > c->wcap) {
		uint32_t cap = c->wcap ? c->wcap : 256;
		while (cap < c->wlen + n)
			cap *= 2;
		uint8_t *nb = realloc(c->wbuf, cap);
		if (nb == NULL) {
			conn_kill(c, F_SOCKET);
			return -1;
		}
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += (uint32_t)n;
	return 0;
}

static int conn_flush(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			conn_kill(c, F_SOCKET);
			return -1;
		}
		c->woff += (uint32_t)w;
	}
	c->wlen = c->woff = 0;
	set_events(c, EPOLLIN);
	return 0;
}

/* Send one masked WebSocket frame, as a client must. */
static int conn_send(struct conn *c, int opcode, const void *p, size_t n)
{
	uint8_t stackbuf[4096];
	uint8_t *out = stackbuf;
	if (n + LG_WS_MAX_HEADER > sizeof(stackbuf)) {
		out = malloc(n + LG_WS_MAX_HEADER);
		if (out == NULL) {
			conn_kill(c, F_SOCKET);
			return -1;
		}
	}
	uint64_t r = rnd();
	uint8_t mask[4];
	memcpy(mask, &r, 4);
	size_t len = lg_frame_encode(out, opcode, p, n, mask);
	int rc = conn_write(c, out, len);
	if (out != stackbuf)
		free(out);
	return rc;
}

static int conn_send_text(struct conn *c, const char *s, size_t n)
{
	return conn_send(c, 1, s, n);
}

static int send_echo(struct conn *c)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "42%" PRIu32 "[\"echo\",{\"t\":%" PRIu64 "}]",
			 c->ack_id++, lg_now_real_us());
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	st.acks_sent++;
	if (st.in_window)
		st.acks_sent_window++;
	c->outstanding++;
	return conn_send_text(c, buf, (size_t)n);
}

static void conn_ready(struct conn *c)
{
	c->state = S_READY;
	st.inflight--;
	st.connected++;
	/* a client that joins late in closed-loop ack mode starts its window */
	if (st.in_window && opt.mode == M_ACK && opt.rate <= 0)
		for (int i = 0; i < opt.window && c->state == S_READY; i++)
			send_echo(c);
}

static void send_connect(struct conn *c)
{
	char tok[LG_MAX_TOKEN];
	const char *t = opt.token;
	if (opt.ntokens > 0)
		t = opt.tokens[c->idx % (uint32_t)opt.ntokens];
	if (t == NULL && opt.jwt_secret != NULL) {
		char claims[512];
		long long now = (long long)time(NULL);
		int n = snprintf(claims, sizeof(claims),
				 "{\"sub\":\"bench-%" PRIu32 "\",\"org\":\"bench-org-%" PRIu32
				 "\",\"role\":\"customer\",\"name\":\"bench %" PRIu32
				 "\",\"email\":\"bench%" PRIu32
				 "@example.invalid\",\"iat\":%lld,\"exp\":%lld}",
				 c->idx, c->idx / (uint32_t)opt.org_size, c->idx, c->idx, now,
				 now + 86400);
		if (n < 0 || (size_t)n >= sizeof(claims) ||
		    lg_jwt_hs256(tok, sizeof(tok), opt.jwt_secret, claims) < 0) {
			conn_kill(c, F_PROTO);
			return;
		}
		t = tok;
	}
	char pkt[LG_MAX_TOKEN + 32];
	int n;
	if (t != NULL)
		n = snprintf(pkt, sizeof(pkt), "40{\"token\":\"%s\"}", t);
	else
		n = snprintf(pkt, sizeof(pkt), "40");
	if (n < 0 || (size_t)n >= sizeof(pkt)) {
		conn_kill(c, F_PROTO);
		return;
	}
	c->state = S_SIO;
	conn_send_text(c, pkt, (size_t)n);
}

static void send_joins(struct conn *c)
{
	int nrooms = (opt.clients + opt.room_size - 1) / opt.room_size;
	c->state = S_JOIN;
	c->joins_pending = (uint16_t)opt.rooms_per_client;
	for (int j = 0; j < opt.rooms_per_client && c->state == S_JOIN; j++) {
		/* layer j uses its own room names; within a layer, rooms hold
		 * room_size consecutive clients */
		int room = j * nrooms + (int)c->idx / opt.room_size;
		char name[96], pkt[1280];
		int k;
		if (opt.join_arg != NULL) /* raw JSON, the same for every client */
			k = snprintf(name, sizeof(name), "x");
		else
			k = snprintf(name, sizeof(name), "\"%s%d%s\"", opt.room_prefix, room,
				     opt.room_suffix);
		if (k < 0 || (size_t)k >= sizeof(name)) {
			conn_kill(c, F_PROTO);
			return;
		}
		int n = snprintf(pkt, sizeof(pkt), "42%" PRIu32 "[\"%s\",%s]", c->ack_id++,
				 opt.join_event, opt.join_arg != NULL ? opt.join_arg : name);
		if (n < 0 || (size_t)n >= sizeof(pkt)) {
			conn_kill(c, F_PROTO);
			return;
		}
		conn_send_text(c, pkt, (size_t)n);
	}
}

/* The "t" member of a payload, in microseconds; 0 when absent. Also found
 * inside a JSON string (\"t\":N), e.g. the content of a chat message. */
static uint64_t find_t(const uint8_t *p, size_t n)
{
	const uint8_t *q = memmem(p, n, "\"t\":", 4);
	if (q != NULL) {
		q += 4;
	} else {
		q = memmem(p, n, "\\\"t\\\":", 6);
		if (q == NULL)
			return 0;
		q += 6;
	}
	const uint8_t *end = p + n;
	uint64_t v = 0;
	int digits = 0;
	while (q < end && *q >= '0' && *q <= '9' && digits < 19) {
		v = v * 10 + (uint64_t)(*q++ - '0');
		digits++;
	}
	return digits ? v : 0;
}

static void record(struct lg_hist *h, uint64_t t)
{
	uint64_t now = lg_now_real_us();
	lg_hist_add(h, now > t ? now - t : 0);
}

/* One Engine.IO packet (a whole text message). */
static void on_eio(struct conn *c, uint8_t *p, size_t n)
{
	if (n == 0) {
		conn_kill(c, F_PROTO);
		return;
	}
	switch (p[0]) {
	case '0': /* open */
		if (c->state == S_EIO_OPEN)
			send_connect(c);
		return;
	case '1': /* close */
		conn_kill(c, F_CLOSED);
		return;
	case '2': /* ping: answer with pong and the same data */
		p[0] = '3';
		st.pings++;
		conn_send_text(c, (const char *)p, n);
		return;
	case '6': /* noop */
		return;
	case '4':
		break;
	default:
		return;
	}
	if (n < 2) {
		conn_kill(c, F_PROTO);
		return;
	}
	switch (p[1]) {
	case '0': /* CONNECT answered */
		if (c->state != S_SIO)
			return;
		if (opt.rooms_per_client > 0)
			send_joins(c);
		else
			conn_ready(c);
		return;
	case '4': /* CONNECT_ERROR */
		conn_kill(c, F_SIO);
		return;
	case '1': /* DISCONNECT */
		conn_kill(c, F_CLOSED);
		return;
	case '2': { /* EVENT */
		st.events++;
		if (st.in_window)
			st.events_window++;
		uint64_t t = find_t(p, n);
		if (t)
			record(&h_event, t);
		else
			st.events_untimed++;
		return;
	}
	case '3': { /* ACK */
		if (c->state == S_JOIN) {
			if (memmem(p, n, "\"ok\":true", 9) == NULL) {
				conn_kill(c, F_JOIN);
				return;
			}
			if (--c->joins_pending == 0)
				conn_ready(c);
			return;
		}
		st.acks++;
		if (st.in_window)
			st.acks_window++;
		if (c->outstanding)
			c->outstanding--;
		uint64_t t = find_t(p, n);
		if (t)
			record(&h_ack, t);
		if (st.in_window && opt.mode == M_ACK && opt.rate <= 0)
			send_echo(c);
		return;
	}
	default:
		return;
	}
}

/* One whole WebSocket message or control frame. */
static void on_message(struct conn *c, int op, uint8_t *p, size_t n)
{
	switch (op) {
	case 1:
		on_eio(c, p, n);
		return;
	case 2:
		return; /* binary attachments: not used by the benchmark */
	case 8:
		conn_kill(c, F_CLOSED);
		return;
	case 9:
		conn_send(c, 10, p, n);
		return;
	default:
		return;
	}
}

/* Consume frames from p[0..n); returns bytes consumed, or -1 when the
 * client was failed. */
static ssize_t feed_frames(struct conn *c, uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n && c->state != S_DEAD) {
		struct lg_frame f;
		ssize_t h = lg_frame_parse(p + off, n - off, &f);
		if (h < 0 || f.len > LG_MAX_MESSAGE) {
			conn_kill(c, F_PROTO);
			return -1;
		}
		if (h == 0 || (size_t)h + f.len > n - off)
			break;
		uint8_t *pl = p + off + h;
		if (f.masked)
			for (uint64_t i = 0; i < f.len; i++)
				pl[i] ^= f.mask[i & 3];
		off += (size_t)h + f.len;
		if (f.opcode >= 8) {
			on_message(c, f.opcode, pl, f.len);
			continue;
		}
		if (f.fin && f.opcode != 0 && c->mlen == 0 && c->msg == NULL) {
			on_message(c, f.opcode, pl, f.len);
			continue;
		}
		/* a fragment: gather it */
		if (f.opcode != 0)
			c->mop = f.opcode;
		if (c->mlen + f.len > LG_MAX_MESSAGE) {
			conn_kill(c, F_PROTO);
			return -1;
		}
		uint8_t *nm = realloc(c->msg, c->mlen + f.len + 1);
		if (nm == NULL) {
			conn_kill(c, F_PROTO);
			return -1;
		}
		c->msg = nm;
		memcpy(c->msg + c->mlen, pl, f.len);
		c->mlen += (uint32_t)f.len;
		if (f.fin) {
			uint8_t *m = c->msg;
			uint32_t ml = c->mlen;
			c->msg = NULL;
			c->mlen = 0;
			on_message(c, c->mop, m, ml);
			free(m);
		}
	}
	return c->state == S_DEAD ? -1 : (ssize_t)off;
}

/* Bytes after the upgrade request: wait for the whole response head. */
static ssize_t feed_http(struct conn *c, uint8_t *p, size_t n)
{
	uint8_t *e = memmem(p, n, "\r\n\r\n", 4);
	if (e == NULL) {
		if (n > 8192) {
			conn_kill(c, F_HTTP);
			return -1;
		}
		return 0;
	}
	if (n < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
		conn_kill(c, F_HTTP);
		return -1;
	}
	c->state = S_EIO_OPEN;
	return (ssize_t)(e + 4 - p);
}

static void on_readable(struct conn *c)
{
	size_t have = c->rlen;
	if (have)
		memcpy(rbig, c->rbuf, have);
	ssize_t r = read(c->fd, rbig + have, LG_RBUF_SIZE - have);
	if (r == 0) {
		conn_kill(c, F_CLOSED);
		return;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_kill(c, F_SOCKET);
		return;
	}
	st.bytes_in += (uint64_t)r;
	size_t n = have + (size_t)r, off = 0;
	if (c->state == S_HTTP) {
		ssize_t k = feed_http(c, rbig, n);
		if (k < 0)
			return;
		off = (size_t)k;
		if (k == 0)
			goto keep;
	}
	ssize_t k = feed_frames(c, rbig + off, n - off);
	if (k < 0)
		return;
	off += (size_t)k;
keep:
	if (off == n) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rlen = 0;
		return;
	}
	uint8_t *nb = realloc(c->rbuf, n - off);
	if (nb == NULL) {
		conn_kill(c, F_PROTO);
		return;
	}
	memmove(nb, rbig + off, n - off);
	c->rbuf = nb;
	c->rlen = (uint32_t)(n - off);
}

static void on_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		conn_kill(c, err == ECONNREFUSED ? F_REFUSED : F_SOCKET);
		return;
	}
	uint8_t key[16];
	uint64_t a = rnd(), b = rnd();
	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
	char k64[32];
	lg_base64(k64, key, sizeof(key), 0);
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET %s?EIO=4&transport=websocket HTTP/1.1\r\n"
			 "Host: %s:%d\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "\r\n",
			 opt.path, opt.host, opt.port, k64);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		conn_kill(c, F_PROTO);
		return;
	}
	c->state = S_HTTP;
	set_events(c, EPOLLIN);
	conn_write(c, (const uint8_t *)req, (size_t)n);
}

static void start_one(int i, uint64_t now)
{
	struct conn *c = &conns[i];
	memset(c, 0, sizeof(*c));
	c->idx = (uint32_t)i;
	c->ack_id = 1;
	c->src = (uint8_t)(i % opt.sources);
	c->deadline_us = now + (uint64_t)(opt.handshake_timeout * 1e6);
	c->state = S_CONNECTING;
	st.started++;
	st.inflight++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_kill(c, (errno == EMFILE || errno == ENFILE) ? F_FDS : F_SOCKET);
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef IP_BIND_ADDRESS_NO_PORT
	/* the port is picked at connect(), per destination: more of them */
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
	if (opt.sources > 0 &&
	    bind(c->fd, (struct sockaddr *)&srcs[c->src], sizeof(srcs[c->src])) < 0) {
		conn_kill(c, errno == EADDRNOTAVAIL ? F_PORTS : F_SOCKET);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		conn_kill(c, errno == EADDRNOTAVAIL  ? F_PORTS
			     : errno == ECONNREFUSED ? F_REFUSED
						     : F_SOCKET);
		return;
	}
	struct epoll_event e = {.events = EPOLLOUT, .data.u32 = c->idx};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0)
		conn_kill(c, F_SOCKET);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pd-loadgen --url HOST:PORT [options]\n"
		"  --mode idle|fanout|ack   what to do once connected (fanout)\n"
		"  --clients N              clients to connect (100)\n"
		"  --duration S             measurement window after all are connected (10)\n"
		"  --drain S                keep receiving after the window (1)\n"
		"  --rate R                 ack mode: echo acks/s over all clients; 0: closed loop "
		"(0)\n"
		"  --window W               closed-loop ack mode: echoes in flight per client (1)\n"
		"  --rooms-per-client K     rooms each client joins with the join event (0)\n"
		"  --room-size S            clients per room (100)\n"
		"  --room-pattern FMT       room name, printf with one %%d (room-%%d)\n"
		"  --sources K              source addresses 127.0.0.2 .. 127.0.0.K+1 (4)\n"
		"  --concurrency C          handshakes in flight at once (256)\n"
		"  --handshake-timeout S    per client (20); --connect-timeout S all clients "
		"(120)\n"
		"  --token JWT | --jwt-secret SECRET [--org-size N]   auth.token for CONNECT\n"
		"  --token-file F           tokens, one a line: client i uses line i mod lines\n"
		"  --join-event NAME        event name of the joins (join)\n"
		"  --join-arg JSON          one join per client with this raw JSON argument\n"
		"                           (e.g. '\"<ticket id>\"') instead of room names\n"
		"  --path P                 (/socket.io/)   --ready-file F  written when "
		"connected\n");
	exit(2);
}

static void read_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	char line[LG_MAX_TOKEN + 2];
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (n == 0)
			continue;
		if (n >= LG_MAX_TOKEN - 1 || strpbrk(line, "\"\\") != NULL)
			die("%s: token too long or with a quote", path);
		char **nt = realloc(opt.tokens, sizeof(*nt) * (size_t)(opt.ntokens + 1));
		if (nt == NULL || (nt[opt.ntokens] = strdup(line)) == NULL)
			die("out of memory");
		opt.tokens = nt;
		opt.ntokens++;
	}
	fclose(f);
	if (opt.ntokens == 0)
		die("%s: no token", path);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"url", 1, 0, 'u'},
		{"mode", 1, 0, 'm'},
		{"clients", 1, 0, 'c'},
		{"duration", 1, 0, 'd'},
		{"drain", 1, 0, 'D'},
		{"rate", 1, 0, 'r'},
		{"window", 1, 0, 'w'},
		{"rooms-per-client", 1, 0, 'k'},
		{"room-size", 1, 0, 's'},
		{"room-pattern", 1, 0, 'p'},
		{"sources", 1, 0, 'S'},
		{"concurrency", 1, 0, 'C'},
		{"handshake-timeout", 1, 0, 'H'},
		{"connect-timeout", 1, 0, 'T'},
		{"token", 1, 0, 't'},
		{"token-file", 1, 0, 'F'},
		{"join-event", 1, 0, 'J'},
		{"join-arg", 1, 0, 'A'},
		{"jwt-secret", 1, 0, 'j'},
		{"org-size", 1, 0, 'o'},
		{"path", 1, 0, 'P'},
		{"ready-file", 1, 0, 'R'},
		{"help", 0, 0, 'h'},
		{0, 0, 0, 0},
	};
	opt.mode = M_FANOUT;
	opt.clients = 100;
	opt.duration = 10;
	opt.drain = 1;
	opt.window = 1;
	opt.room_size = 100;
	snprintf(opt.room_prefix, sizeof(opt.room_prefix), "room-");
	snprintf(opt.join_event, sizeof(opt.join_event), "join");
	snprintf(opt.path, sizeof(opt.path), "/socket.io/");
	opt.sources = 4;
	opt.concurrency = 256;
	opt.handshake_timeout = 20;
	opt.connect_timeout = 120;
	opt.org_size = 100;
	opt.linger0 = 1;
	const char *url = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "idle"))
				opt.mode = M_IDLE;
			else if (!strcmp(optarg, "fanout"))
				opt.mode = M_FANOUT;
			else if (!strcmp(optarg, "ack"))
				opt.mode = M_ACK;
			else
				die("unknown mode %s", optarg);
			break;
		case 'c':
			opt.clients = atoi(optarg);
			break;
		case 'd':
			opt.duration = atof(optarg);
			break;
		case 'D':
			opt.drain = atof(optarg);
			break;
		case 'r':
			opt.rate = atof(optarg);
			break;
		case 'w':
			opt.window = atoi(optarg);
			break;
		case 'k':
			opt.rooms_per_client = atoi(optarg);
			break;
		case 's':
			opt.room_size = atoi(optarg);
			break;
		case 'p': {
			const char *d = strstr(optarg, "%d");
			if (d == NULL || strchr(d + 2, '%') != NULL ||
			    (size_t)(d - optarg) >= sizeof(opt.room_prefix) ||
			    strlen(d + 2) >= sizeof(opt.room_suffix))
				die("--room-pattern wants one %%d, e.g. room-%%d");
			memcpy(opt.room_prefix, optarg, (size_t)(d - optarg));
			opt.room_prefix[d - optarg] = '\0';
			snprintf(opt.room_suffix, sizeof(opt.room_suffix), "%s", d + 2);
			break;
		}
		case 'S':
			opt.sources = atoi(optarg);
			break;
		case 'C':
			opt.concurrency = atoi(optarg);
			break;
		case 'H':
			opt.handshake_timeout = atof(optarg);
			break;
		case 'T':
			opt.connect_timeout = atof(optarg);
			break;
		case 't':
			opt.token = optarg;
			break;
		case 'F':
			read_tokens(optarg);
			break;
		case 'J':
			if (optarg[0] == '\0' || strpbrk(optarg, "\"\\") != NULL ||
			    snprintf(opt.join_event, sizeof(opt.join_event), "%s", optarg) >=
				    (int)sizeof(opt.join_event))
				die("bad --join-event");
			break;
		case 'A':
			if (optarg[0] == '\0' || strlen(optarg) > 1024)
				die("--join-arg: 1..1024 bytes of JSON");
			opt.join_arg = optarg;
			break;
		case 'j':
			opt.jwt_secret = optarg;
			break;
		case 'o':
			opt.org_size = atoi(optarg);
			break;
		case 'P':
			if (snprintf(opt.path, sizeof(opt.path), "%s", optarg) >=
			    (int)sizeof(opt.path))
				die("path too long");
			break;
		case 'R':
			opt.ready_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (url == NULL)
		usage();
	if (!strncmp(url, "http://", 7))
		url += 7;
	else if (!strncmp(url, "ws://", 5))
		url += 5;
	const char *colon = strrchr(url, ':');
	if (colon == NULL || (size_t)(colon - url) >= sizeof(opt.host))
		die("--url wants HOST:PORT");
	memcpy(opt.host, url, (size_t)(colon - url));
	opt.host[colon - url] = '\0';
	opt.port = atoi(colon + 1);
	if (opt.port <= 0 || opt.port > 65535)
		die("bad port in --url");
	if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1)
		die("--url host must be an IPv4 address");
	if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127)
		die("load goes to 127.0.0.0/8 only");
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)opt.port);
	if (opt.clients <= 0 || opt.clients > LG_MAX_CLIENTS)
		die("--clients must be 1..%d", LG_MAX_CLIENTS);
	if (opt.duration < 0 || opt.duration > 3600 || opt.drain < 0 || opt.drain > 600)
		die("--duration 0..3600, --drain 0..600");
	if (opt.sources < 0 || opt.sources > LG_MAX_SOURCES)
		die("--sources 0..%d", LG_MAX_SOURCES);
	if (opt.room_size <= 0 || opt.rooms_per_client < 0 || opt.rooms_per_client > 64)
		die("--room-size > 0, --rooms-per-client 0..64");
	if (opt.concurrency <= 0 || opt.window <= 0 || opt.window > 1000 || opt.org_size <= 0)
		die("--concurrency, --window, --org-size must be positive");
	if (opt.rate < 0 || opt.rate > 1e7)
		die("--rate 0..1e7");
	if (opt.connect_timeout <= 0 || opt.connect_timeout > 3600 || opt.handshake_timeout <= 0)
		die("bad timeout");
	if ((opt.token != NULL) + (opt.jwt_secret != NULL) + (opt.ntokens > 0) > 1)
		die("one of --token, --token-file, --jwt-secret");
	if (opt.join_arg != NULL && opt.rooms_per_client == 0)
		opt.rooms_per_client = 1;
	for (int i = 0; i < opt.sources; i++) {
		srcs[i].sin_family = AF_INET;
		srcs[i].sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)i);
		srcs[i].sin_port = 0;
	}
}

static void print_lat(FILE *f, const char *name, const struct lg_hist *h)
{
	fprintf(f,
		"\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
		"\"p99.9\":%.3f,\"max\":%.3f,\"mean\":%.3f}",
		name, h->count, lg_hist_quantile(h, 0.5) / 1e3, lg_hist_quantile(h, 0.9) / 1e3,
		lg_hist_quantile(h, 0.99) / 1e3, lg_hist_quantile(h, 0.999) / 1e3, h->max / 1e3,
		h->count ? (double)h->sum / (double)h->count / 1e3 : 0.0);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if ((rlim_t)opt.clients + 16 > rl.rlim_cur)
			fprintf(stderr, "pd-loadgen: warning: %d clients but only %llu fds\n",
				opt.clients, (unsigned long long)rl.rlim_cur);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rng ^= lg_now_real_us() ^ ((uint64_t)getpid() << 32);

	conns = calloc((size_t)opt.clients, sizeof(*conns));
	rbig = malloc(LG_RBUF_SIZE);
	if (conns == NULL || rbig == NULL)
		die("out of memory");
	for (int i = 0; i < opt.clients; i++)
		conns[i].fd = -1;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));

	enum { P_CONNECT, P_WINDOW, P_DRAIN, P_DONE } phase = P_CONNECT;
	uint64_t t0 = lg_now_mono_us();
	double cpu0 = cpu_seconds();
	uint64_t t_ready = 0, t_win_end = 0, t_end = 0, next_sweep = t0;
	double cpu_ready = 0;
	uint64_t connect_deadline = t0 + (uint64_t)(opt.connect_timeout * 1e6);
	int next = 0, rr = 0;
	struct epoll_event evs[1024];

	while (phase != P_DONE) {
		uint64_t now = lg_now_mono_us();
		if (stop_flag) {
			if (phase == P_CONNECT) {
				t_ready = now;
				cpu_ready = cpu_seconds();
			}
			if (phase <= P_WINDOW)
				t_win_end = now;
			t_end = now;
			break;
		}
		if (phase == P_CONNECT) {
			while (next < opt.clients && st.inflight < opt.concurrency)
				start_one(next++, now);
			if (now >= next_sweep) {
				for (int i = 0; i < next; i++)
					if (conns[i].state > S_FREE && conns[i].state < S_READY &&
					    now > conns[i].deadline_us)
						conn_kill(&conns[i], F_TIMEOUT);
				next_sweep = now + 250000;
			}
			if (now > connect_deadline) {
				for (int i = 0; i < opt.clients; i++) {
					if (conns[i].state == S_FREE) {
						conns[i].state = S_DEAD;
						st.failed++;
						st.fail[F_TIMEOUT]++;
					} else if (conns[i].state < S_READY) {
						conn_kill(&conns[i], F_TIMEOUT);
					}
				}
				next = opt.clients;
			}
			if (next == opt.clients && st.inflight == 0) {
				phase = P_WINDOW;
				t_ready = now;
				cpu_ready = cpu_seconds();
				t_win_end = now + (uint64_t)(opt.duration * 1e6);
				st.in_window = 1;
				fprintf(stderr,
					"pd-loadgen: ready connected=%d failed=%d in %.2fs\n",
					st.connected, st.failed, (now - t0) / 1e6);
				if (opt.ready_file) {
					FILE *f = fopen(opt.ready_file, "w");
					if (f) {
						fprintf(f, "%d %d\n", st.connected, st.failed);
						fclose(f);
					}
				}
				if (opt.mode == M_ACK && opt.rate <= 0)
					for (int i = 0; i < opt.clients; i++)
						for (int w = 0;
						     w < opt.window && conns[i].state == S_READY;
						     w++)
							send_echo(&conns[i]);
			}
		}
		if (phase == P_WINDOW && now >= t_win_end) {
			phase = P_DRAIN;
			st.in_window = 0;
			t_end = t_win_end + (uint64_t)(opt.drain * 1e6);
		}
		if (phase == P_DRAIN &&
		    (now >= t_end || (opt.mode == M_ACK && st.acks >= st.acks_sent))) {
			t_end = now;
			phase = P_DONE;
			break;
		}
		int timeout = 100;
		if (phase == P_WINDOW && opt.mode == M_ACK && opt.rate > 0 && st.connected > 0) {
			/* open loop: keep the total sent on the line rate * elapsed */
			uint64_t due = (uint64_t)(opt.rate * (double)(now - t_ready) / 1e6);
			int burst = 0;
			while (st.acks_sent_window < due && burst < 20000) {
				struct conn *c = &conns[rr];
				rr = (rr + 1) % opt.clients;
				burst++;
				if (c->state == S_READY)
					send_echo(c);
			}
			timeout = 1;
		}
		if (phase == P_CONNECT)
			timeout = 10;
		int n = epoll_wait(epfd, evs, 1024, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = &conns[evs[i].data.u32];
			if (c->state == S_DEAD || c->state == S_FREE)
				continue;
			if (c->state == S_CONNECTING) {
				on_connected(c);
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (conn_flush(c) < 0)
					continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
		}
	}

	double cpu_end = cpu_seconds();
	int ready_at_end = 0;
	for (int i = 0; i < opt.clients; i++) {
		if (conns[i].state == S_READY)
			ready_at_end++;
		if (conns[i].fd >= 0) {
			if (opt.linger0) {
				/* reset instead of TIME_WAIT: successive runs reuse the ports */
				struct linger lg = {1, 0};
				setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			}
			close(conns[i].fd);
		}
	}

	double connect_s = (t_ready - t0) / 1e6;
	double window_s = (t_win_end > t_ready ? t_win_end - t_ready : 0) / 1e6;
	double run_s = (t_end > t_ready ? t_end - t_ready : 0) / 1e6;
	int connected_at_ready = st.connected + st.ready_dropped; /* ever ready */
	static const char *const mode_name[] = {"idle", "fanout", "ack"};
	FILE *f = stdout;
	fprintf(f,
		"{\"mode\":\"%s\",\"url\":\"%s:%d\",\"clients\":%d,\"connected\":%d,\"failed\":%d,",
		mode_name[opt.mode], opt.host, opt.port, opt.clients, connected_at_ready,
		st.failed);
	fprintf(f, "\"connected_at_end\":%d,\"dropped\":%d,\"fail_reasons\":{", ready_at_end,
		st.ready_dropped);
	int first = 1;
	for (int i = 0; i < F_N; i++)
		if (st.fail[i]) {
			fprintf(f, "%s\"%s\":%d", first ? "" : ",", fail_name[i], st.fail[i]);
			first = 0;
		}
	fprintf(f, "},\"connect_seconds\":%.3f,\"connects_per_s\":%.1f,", connect_s,
		connect_s > 0 ? connected_at_ready / connect_s : 0.0);
	fprintf(f, "\"duration\":%.3f,\"run_seconds\":%.3f,", window_s, run_s);
	fprintf(f,
		"\"events\":%" PRIu64 ",\"events_in_window\":%" PRIu64
		",\"events_untimed\":%" PRIu64 ",\"events_per_s\":%.1f,",
		st.events, st.events_window, st.events_untimed,
		window_s > 0 ? st.events_window / window_s : 0.0);
	print_lat(f, "latency_ms", &h_event);
	fprintf(f,
		",\"acks_sent\":%" PRIu64 ",\"acks\":%" PRIu64 ",\"acks_in_window\":%" PRIu64
		",\"acks_per_s\":%.1f,",
		st.acks_sent, st.acks, st.acks_window,
		window_s > 0 ? st.acks_window / window_s : 0.0);
	print_lat(f, "ack_latency_ms", &h_ack);
	double cpu_run = cpu_end - cpu_ready;
	fprintf(f,
		",\"pings\":%" PRIu64 ",\"bytes_in\":%" PRIu64
		",\"cpu_seconds\":%.3f,\"cpu_connect_seconds\":%.3f,"
		"\"cpu_run_seconds\":%.3f,\"cpu_percent\":%.1f}\n",
		st.pings, st.bytes_in, cpu_end - cpu0, cpu_ready - cpu0, cpu_run,
		run_s > 0 ? 100.0 * cpu_run / run_s : 0.0);
	fflush(f);
	return 0;
}
