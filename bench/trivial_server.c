/* pd-trivial-server: the least a server can do and still be a Socket.IO
 * peer over WebSocket (epoll, one thread): accept, answer the Engine.IO and
 * Socket.IO handshakes, ack join and echo, and on SIGUSR1 write an event
 * frame to its clients at a fixed rate. It gives the harness's ceiling: a
 * figure near it measures pd-loadgen, not the server under test. */
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define TS_MAX_CONNS 65536
#define TS_MAX_WBUF (4u << 20)
#define TS_MAX_IN 65536 /* request head or pending client frames */

enum { C_FREE, C_HTTP, C_WS };

struct tconn {
	int fd;
	int state;
	int sio; /* Socket.IO CONNECT answered */
	uint8_t *rbuf;
	uint32_t rlen;
	uint8_t *wbuf;
	uint32_t wlen, woff, wcap;
};

static struct tconn *cs;
static int epfd, lfd;
static int *order; /* fds in the order their Socket.IO CONNECT came */
static int norder;
static volatile sig_atomic_t go_flag, stop_flag;
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
		{"room-size", 1, 0, 's'}, {"max-seconds", 1, 0, 'M'}, {0, 0, 0, 0},
	};
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
		default:
			fprintf(stderr,
				"usage: pd-trivial-server --listen 127.0.0.1:PORT [--rate EV/S] "
				"[--duration S] [--room-size N] [--max-seconds S]\n"
				"  broadcasts start on SIGUSR1; a JSON summary is printed "
				"when they end\n");
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
	if (cs == NULL || order == NULL)
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
