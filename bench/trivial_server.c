/* pd-trivial-server: the least a server can do and still be a Socket.IO
 * peer over WebSocket (epoll, one thread): accept, answer the Engine.IO and
 * Socket.IO handshakes, ack join and echo, and on SIGUSR1 write an event
 * frame to its clients at a fixed rate. It gives the harness's ceiling: a
 * figure near it measures pd-loadgen, not the server under test.
 * With --redis ADDR:PORT it takes its events from the same publisher as the
 * servers under test instead (PSUBSCRIBE to the emitter's channels, room
 * from the channel name, "t" and "seq" picked out of the msgpack payload),
 * so that its ceiling is measured under the same load, bursts included. */
#include "lg_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define TS_MAX_CONNS 65536
#define TS_MAX_WBUF (4u << 20)
#define TS_MAX_IN 65536 /* request head or pending client frames */
#define TS_MAX_ROOMS 65536
#define TS_MAX_RBUF (8u << 20) /* unparsed bytes from redis-server */

enum { C_FREE, C_HTTP, C_WS };

struct tconn {
	int fd;
	int state;
	int sio; /* Socket.IO CONNECT answered */
	uint8_t *rbuf;
	uint32_t rlen;
	uint8_t *wbuf;
	uint32_t wlen, woff, wcap;
	uint32_t gen; /* which connection holds this fd now (room lists keep it) */
};

struct member {
	int fd;
	uint32_t gen;
};
struct room {
	struct member *m;
	int n, cap;
};

static struct tconn *cs;
static int epfd, lfd;
static int *order; /* fds in the order their Socket.IO CONNECT came */
static int norder;
static volatile sig_atomic_t go_flag, stop_flag;
static struct room *rooms; /* joined with "join", by the number in "room-<n>" */
static uint32_t next_gen;
static int rfd = -1; /* redis-server, --redis mode */
static uint8_t *rbuf;
static size_t rlen;
static struct {
	uint64_t accepted, closed, dropped, events, deliveries, queued;
} st;

static void tc_close(int fd, int dropped)
{
	struct tconn *c = &cs[fd];
	if (c->state == C_FREE)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(c->rbuf);
	free(c->wbuf);
	memset(c, 0, sizeof(*c));
	c->state = C_FREE;
	st.closed++;
	if (dropped)
		st.dropped++;
	for (int i = 0; i < norder; i++)
		if (order[i] == fd) {
			memmove(order + i, order + i + 1, (size_t)(norder - i - 1) * sizeof(int));
			norder--;
			break;
		}
}

static void arm(int fd, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.fd = fd};
	epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e);
}

/* 0, or -1 when the client was closed (output over its limit, or an error) */
static int tc_write(int fd, const uint8_t *p, size_t n)
{
	struct tconn *c = &cs[fd];
	if (c->wlen == c->woff) {
		c->wlen = c->woff = 0;
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				tc_close(fd, 0);
				return -1;
			}
			w = 0;
		}
		if ((size_t)w == n)
			return 0;
		p += w;
		n -= (size_t)w;
		arm(fd, EPOLLIN | EPOLLOUT);
	}
	st.queued++;
	if (c->wlen + n > TS_MAX_WBUF) {
		tc_close(fd, 1);
		return -1;
	}
	if (c->wlen + n > c->wcap) {
		uint32_t cap = c->wcap ? c->wcap : 1024;
		while (cap < c->wlen + n)
			cap *= 2;
		uint8_t *nb = realloc(c->wbuf, cap);
		if (nb == NULL) {
			tc_close(fd, 1);
			return -1;
		}
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += (uint32_t)n;
	return 0;
}

static void tc_flush(int fd)
{
	struct tconn *c = &cs[fd];
	while (c->woff < c->wlen) {
		ssize_t w = write(fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (w < 0) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR)
				continue;
			tc_close(fd, 0);
			return;
		}
		c->woff += (uint32_t)w;
	}
	c->wlen = c->woff = 0;
	arm(fd, EPOLLIN);
}

static int send_text(int fd, const char *s, size_t n)
{
	uint8_t buf[4096];
	if (n + LG_WS_MAX_HEADER > sizeof(buf))
		return -1;
	size_t len = lg_frame_encode(buf, 1, s, n, NULL);
	return tc_write(fd, buf, len);
}

/* `,"room-<n>"]` after the event name: remember the member */
static void room_join(int fd, const uint8_t *p, size_t n)
{
	const char *pre = ",\"room-";
	size_t k = strlen(pre), i = k;
	long r = 0;
	if (n <= k || memcmp(p, pre, k) != 0)
		return;
	while (i < n && p[i] >= '0' && p[i] <= '9' && r < TS_MAX_ROOMS)
		r = r * 10 + (p[i++] - '0');
	if (i == k || i >= n || p[i] != '"' || r >= TS_MAX_ROOMS)
		return;
	struct room *rm = &rooms[r];
	if (rm->n == rm->cap) {
		int cap = rm->cap ? rm->cap * 2 : 16;
		struct member *nm = realloc(rm->m, (size_t)cap * sizeof(*nm));
		if (nm == NULL)
			return;
		rm->m = nm;
		rm->cap = cap;
	}
	rm->m[rm->n++] = (struct member){fd, cs[fd].gen};
}

static void on_text(int fd, uint8_t *p, size_t n)
{
	struct tconn *c = &cs[fd];
	if (n >= 2 && p[0] == '4' && p[1] == '0') {
		char out[64];
		int k = snprintf(out, sizeof(out), "40{\"sid\":\"t%d\"}", fd);
		if (send_text(fd, out, (size_t)k) == 0 && !c->sio) {
			c->sio = 1;
			order[norder++] = fd;
		}
		return;
	}
	if (n >= 3 && p[0] == '4' && p[1] == '2') {
		/* 42<id>["name",args...]: ack join with {ok:true}, echo with its args */
		size_t i = 2;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == 2 || i >= n || p[i] != '[')
			return;
		size_t idlen = i - 2;
		char out[2048];
		if (n - i > 1900)
			return;
		int k;
		if (n - i >= 8 && memcmp(p + i, "[\"join\"", 7) == 0) {
			room_join(fd, p + i + 7, n - i - 7);
			k = snprintf(out, sizeof(out), "43%.*s[{\"ok\":true}]", (int)idlen,
				     (const char *)p + 2);
		} else if (n - i >= 8 && memcmp(p + i, "[\"echo\",", 8) == 0) {
			k = snprintf(out, sizeof(out), "43%.*s[%.*s", (int)idlen,
				     (const char *)p + 2, (int)(n - i - 8),
				     (const char *)p + i + 8);
		} else {
			return;
		}
		if (k > 0 && (size_t)k < sizeof(out))
			send_text(fd, out, (size_t)k);
	}
}

static void feed_ws(int fd, uint8_t *p, size_t n, size_t *used)
{
	size_t off = 0;
	while (off < n && cs[fd].state == C_WS) {
		struct lg_frame f;
		ssize_t h = lg_frame_parse(p + off, n - off, &f);
		if (h < 0 || f.len > TS_MAX_IN || !f.masked) {
			tc_close(fd, 0);
			return;
		}
		if (h == 0 || (size_t)h + f.len > n - off)
			break;
		uint8_t *pl = p + off + h;
		for (uint64_t i = 0; i < f.len; i++)
			pl[i] ^= f.mask[i & 3];
		off += (size_t)h + f.len;
		if (f.opcode == 8) {
			tc_close(fd, 0);
			return;
		}
		if (f.opcode == 9) {
			uint8_t out[140];
			size_t len = lg_frame_encode(out, 10, pl, f.len, NULL);
			tc_write(fd, out, len);
		} else if (f.opcode == 1 && f.fin) {
			on_text(fd, pl, f.len);
		}
	}
	*used = off;
}

static void on_http(int fd, uint8_t *p, size_t n, size_t *used)
{
	*used = 0;
	uint8_t *e = memmem(p, n, "\r\n\r\n", 4);
	if (e == NULL) {
		if (n >= TS_MAX_IN)
			tc_close(fd, 0);
		return;
	}
	*e = '\0';
	const char *key = NULL;
	size_t keylen = 0;
	for (char *line = strstr((char *)p, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "Sec-WebSocket-Key:", 18) == 0) {
			key = line + 18;
			while (*key == ' ')
				key++;
			const char *end = strstr(key, "\r\n");
			keylen = end ? (size_t)(end - key) : strlen(key);
			break;
		}
	}
	if (key == NULL) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: "
					  "0\r\nConnection: close\r\n\r\n";
		tc_write(fd, (const uint8_t *)bad, sizeof(bad) - 1);
		tc_close(fd, 0);
		return;
	}
	char acc[29];
	lg_ws_accept(key, keylen, acc);
	char out[512];
	int k = snprintf(out, sizeof(out),
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			 acc);
	*used = (size_t)(e + 4 - p);
	cs[fd].state = C_WS;
	if (tc_write(fd, (const uint8_t *)out, (size_t)k) < 0)
		return;
	char open[160];
	k = snprintf(open, sizeof(open),
		     "0{\"sid\":\"t%d\",\"upgrades\":[],\"pingInterval\":25000,"
		     "\"pingTimeout\":20000,\"maxPayload\":1000000}",
		     fd);
	send_text(fd, open, (size_t)k);
}

static void on_readable(int fd)
{
	static uint8_t buf[TS_MAX_IN + 65536];
	struct tconn *c = &cs[fd];
	size_t have = c->rlen;
	if (have)
		memcpy(buf, c->rbuf, have);
	ssize_t r = read(fd, buf + have, sizeof(buf) - have - 1);
	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			tc_close(fd, 0);
		return;
	}
	size_t n = have + (size_t)r, used = 0, u2 = 0;
	buf[n] = '\0';
	if (c->state == C_HTTP) {
		on_http(fd, buf, n, &used);
		if (c->state != C_WS)
			goto keep;
	}
	feed_ws(fd, buf + used, n - used, &u2);
	used += u2;
keep:
	if (c->state == C_FREE)
		return;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rlen = 0;
	if (used < n) {
		c->rbuf = malloc(n - used);
		if (c->rbuf == NULL) {
			tc_close(fd, 0);
			return;
		}
		memcpy(c->rbuf, buf + used, n - used);
		c->rlen = (uint32_t)(n - used);
	}
}

static void broadcast(uint64_t seq, int room_size)
{
	char msg[128];
	int k = snprintf(msg, sizeof(msg), "42[\"bench\",{\"t\":%" PRIu64 ",\"seq\":%" PRIu64 "}]",
			 lg_now_real_us(), seq);
	uint8_t frame[160];
	size_t len = lg_frame_encode(frame, 1, msg, (size_t)k, NULL);
	int lo = 0, hi = norder;
	if (room_size > 0 && norder > 0) {
		int groups = (norder + room_size - 1) / room_size;
		lo = (int)(seq % (uint64_t)groups) * room_size;
		hi = lo + room_size < norder ? lo + room_size : norder;
	}
	st.events++;
	/* walk a copy: a client closed for its queue leaves order[] */
	for (int i = hi - 1; i >= lo; i--) {
		if (i >= norder)
			continue;
		if (tc_write(order[i], frame, len) == 0)
			st.deliveries++;
	}
}

/* ---- --redis: the same events as the servers under test get ---- */

/* One RESP value at p: *end set past it. 1 done, 0 more bytes needed, -1 bad.
 * Bulk strings give (s, len); integers and simple strings are skipped. */
static int resp_elem(const uint8_t *p, const uint8_t *e, const uint8_t **end,
		     const uint8_t **s, size_t *len)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
	if (nl == NULL)
		return 0;
	*s = NULL;
	*len = 0;
	if (*p == ':' || *p == '+') {
		*end = nl + 1;
		return 1;
	}
	if (*p != '$')
		return -1;
	long n = strtol((const char *)p + 1, NULL, 10);
	if (n < 0 || n > (long)TS_MAX_RBUF)
		return -1;
	if ((size_t)(e - (nl + 1)) < (size_t)n + 2)
		return 0;
	*s = nl + 1;
	*len = (size_t)n;
	*end = nl + 1 + n + 2;
	return 1;
}

/* The unsigned integer after msgpack key `key` (a fixstr) in p[0..n). */
static int mp_uint_after(const uint8_t *p, size_t n, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + 1 + kl < n; i++) {
		if (p[i] != (0xa0 | kl) || memcmp(p + i + 1, key, kl) != 0)
			continue;
		const uint8_t *q = p + i + 1 + kl, *e = p + n;
		int w = 0;
		if (*q < 0x80) {
			*v = *q;
			return 0;
		}
		if (*q == 0xcc)
			w = 1;
		else if (*q == 0xcd)
			w = 2;
		else if (*q == 0xce)
			w = 4;
		else if (*q == 0xcf || *q == 0xd3)
			w = 8;
		else if (*q == 0xcb && e - q >= 9) {
			uint64_t b = 0;
			double d;
			for (int k = 1; k <= 8; k++)
				b = b << 8 | q[k];
			memcpy(&d, &b, sizeof(d));
			*v = d > 0 ? (uint64_t)d : 0;
			return 0;
		}
		if (w == 0 || e - q < w + 1)
			return -1;
		*v = 0;
		for (int k = 1; k <= w; k++)
			*v = *v << 8 | q[k];
		return 0;
	}
	return -1;
}

static void deliver(const uint8_t *chan, size_t clen, const uint8_t *pay, size_t plen)
{
	static const char pre[] = "socket.io#/#";
	size_t k = sizeof(pre) - 1;
	uint64_t t = 0, seq = 0;
	if (clen < k || memcmp(chan, pre, k) != 0 || mp_uint_after(pay, plen, "t", &t) < 0)
		return;
	mp_uint_after(pay, plen, "seq", &seq);
	char msg[128];
	int m = snprintf(msg, sizeof(msg), "42[\"bench\",{\"t\":%" PRIu64 ",\"seq\":%" PRIu64 "}]",
			 t, seq);
	uint8_t frame[160];
	size_t len = lg_frame_encode(frame, 1, msg, (size_t)m, NULL);
	st.events++;
	if (clen == k) { /* to everyone */
		for (int i = norder - 1; i >= 0; i--)
			if (i < norder && tc_write(order[i], frame, len) == 0)
				st.deliveries++;
		return;
	}
	/* room-<n># */
	long r = 0;
	size_t i = k + 5;
	if (clen < k + 7 || memcmp(chan + k, "room-", 5) != 0)
		return;
	while (i < clen && chan[i] >= '0' && chan[i] <= '9' && r < TS_MAX_ROOMS)
		r = r * 10 + (chan[i++] - '0');
	if (i >= clen || chan[i] != '#' || r >= TS_MAX_ROOMS)
		return;
	struct room *rm = &rooms[r];
	for (int j = 0; j < rm->n; j++) {
		struct member mb = rm->m[j];
		if (cs[mb.fd].state == C_WS && cs[mb.fd].gen == mb.gen &&
		    tc_write(mb.fd, frame, len) == 0)
			st.deliveries++;
	}
}

static int on_redis(void)
{
	if (rlen == TS_MAX_RBUF)
		return -1;
	ssize_t r = read(rfd, rbuf + rlen, TS_MAX_RBUF - rlen);
	if (r == 0)
		return -1;
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	rlen += (size_t)r;
	const uint8_t *p = rbuf, *e = rbuf + rlen;
	while (p < e) {
		/* *<n>\r\n then n values; pmessage has 4 */
		const uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
		if (nl == NULL)
			break;
		if (*p != '*')
			return -1;
		long n = strtol((const char *)p + 1, NULL, 10);
		if (n < 1 || n > 8)
			return -1;
		const uint8_t *q = nl + 1, *sv[8];
		size_t lv[8];
		int rc = 1;
		for (long i = 0; i < n && rc == 1; i++)
			rc = resp_elem(q, e, &q, &sv[i], &lv[i]);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (n == 4 && lv[0] == 8 && memcmp(sv[0], "pmessage", 8) == 0)
			deliver(sv[2], lv[2], sv[3], lv[3]);
		p = q;
	}
	rlen = (size_t)(e - p);
	memmove(rbuf, p, rlen);
	return 0;
}

static int redis_connect(const char *at)
{
	struct sockaddr_in ra = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(at, ':');
	if (colon == NULL || (size_t)(colon - at) >= sizeof(host))
		return -1;
	memcpy(host, at, (size_t)(colon - at));
	host[colon - at] = '\0';
	if (inet_pton(AF_INET, host, &ra.sin_addr) != 1)
		return -1;
	ra.sin_port = htons((uint16_t)atoi(colon + 1));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	static const char cmd[] = "PSUBSCRIBE socket.io#/#*\r\n";
	if (fd < 0 || connect(fd, (struct sockaddr *)&ra, sizeof(ra)) < 0 ||
	    write(fd, cmd, sizeof(cmd) - 1) != (ssize_t)(sizeof(cmd) - 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int fl = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof(fl));
	if (ioctl(fd, FIONBIO, &fl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		go_flag = 1;
	else
		stop_flag = 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"listen", 1, 0, 'l'},	  {"rate", 1, 0, 'r'},	      {"duration", 1, 0, 'd'},
		{"room-size", 1, 0, 's'}, {"max-seconds", 1, 0, 'M'}, {"redis", 1, 0, 'R'},
		{0, 0, 0, 0},
	};
	const char *redis_at = NULL;
	const char *listen_at = "127.0.0.1:0";
	double rate = 10, duration = 10, max_seconds = 3600;
	int room_size = 0, ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_at = optarg;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 's':
			room_size = atoi(optarg);
			break;
		case 'M':
			max_seconds = atof(optarg);
			break;
		case 'R':
			redis_at = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: pd-trivial-server --listen 127.0.0.1:PORT [--rate EV/S] "
				"[--duration S] [--room-size N] [--max-seconds S] [--redis ADDR:PORT]\n"
				"  broadcasts start on SIGUSR1; a JSON summary is printed "
				"when they end\n"
				"  --redis: no timer; every event the emitter publishes there "
				"goes to its room (room-<n>, joined with join) or to all\n");
			return 2;
		}
	}
	if (rate <= 0 || rate > 1e6 || duration <= 0 || duration > 3600 || max_seconds <= 0 ||
	    max_seconds > 86400 || room_size < 0) {
		fprintf(stderr, "pd-trivial-server: bad --rate, --duration, --room-size or "
				"--max-seconds\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(listen_at, ':');
	if (colon == NULL || (size_t)(colon - listen_at) >= sizeof(host)) {
		fprintf(stderr, "pd-trivial-server: --listen wants ADDR:PORT\n");
		return 2;
	}
	memcpy(host, listen_at, (size_t)(colon - listen_at));
	host[colon - listen_at] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "pd-trivial-server: listen on 127.0.0.0/8 only\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(colon + 1));

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sigaction sig = {.sa_handler = on_sig};
	sigaction(SIGUSR1, &sig, NULL);
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);
	signal(SIGPIPE, SIG_IGN);

	cs = calloc(TS_MAX_CONNS, sizeof(*cs));
	order = calloc(TS_MAX_CONNS, sizeof(*order));
	rooms = calloc(TS_MAX_ROOMS, sizeof(*rooms));
	if (cs == NULL || order == NULL || rooms == NULL)
		return 1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
		perror("pd-trivial-server: listen");
		return 1;
	}
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("listening 127.0.0.1:%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event le = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);
	if (redis_at != NULL) {
		rbuf = malloc(TS_MAX_RBUF);
		rfd = rbuf != NULL ? redis_connect(redis_at) : -1;
		if (rfd < 0) {
			fprintf(stderr, "pd-trivial-server: cannot subscribe at %s\n", redis_at);
			return 1;
		}
		struct epoll_event re = {.events = EPOLLIN, .data.fd = rfd};
		epoll_ctl(epfd, EPOLL_CTL_ADD, rfd, &re);
	}

	uint64_t t_start = lg_now_mono_us(), t_go = 0, seq = 0;
	int sending = 0;
	struct epoll_event evs[512];
	for (;;) {
		uint64_t now = lg_now_mono_us();
		if (stop_flag || now - t_start > (uint64_t)(max_seconds * 1e6))
			break;
		if (go_flag && !sending) {
			go_flag = 0;
			sending = 1;
			t_go = now;
			seq = 0;
			st.events = st.deliveries = 0;
		}
		if (sending) {
			uint64_t due = (uint64_t)(rate * (double)(now - t_go) / 1e6);
			while (seq < due)
				broadcast(seq++, room_size);
			if (now - t_go >= (uint64_t)(duration * 1e6)) {
				sending = 0;
				printf("{\"events\":%" PRIu64 ",\"deliveries\":%" PRIu64
				       ",\"clients\":%d,\"dropped_clients\":%" PRIu64
				       ",\"queued_writes\":%" PRIu64 ",\"seconds\":%.3f}\n",
				       st.events, st.deliveries, norder, st.dropped, st.queued,
				       (now - t_go) / 1e6);
				fflush(stdout);
			}
		}
		int n = epoll_wait(epfd, evs, 512, sending ? 1 : 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pd-trivial-server: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == rfd) {
				if (on_redis() < 0) {
					fprintf(stderr, "pd-trivial-server: redis-server stream "
							"ended or unreadable\n");
					return 1;
				}
				continue;
			}
			if (fd == lfd) {
				for (int k = 0; k < 256; k++) {
					int cfd = accept4(lfd, NULL, NULL,
							  SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0)
						break;
					if (cfd >= TS_MAX_CONNS) {
						close(cfd);
						continue;
					}
					setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
						   sizeof(one));
					cs[cfd].fd = cfd;
					cs[cfd].state = C_HTTP;
					cs[cfd].gen = ++next_gen;
					struct epoll_event e = {.events = EPOLLIN, .data.fd = cfd};
					epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &e);
					st.accepted++;
				}
				continue;
			}
			if (cs[fd].state == C_FREE)
				continue;
			if (evs[i].events & EPOLLOUT)
				tc_flush(fd);
			if (cs[fd].state != C_FREE &&
			    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				on_readable(fd);
		}
	}
	return 0;
}
