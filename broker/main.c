/* pushdesk-broker: arguments, configuration and profiles, signals, one
 * event loop per core. Loop 0 runs libmicrohttpd (handshakes, polling,
 * upgrades) and the admin listener; upgraded WebSockets are handed to the
 * loops round robin. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "admin.h"
#include "app.h"
#include "broker.h"
#include "eio.h"
#include "http.h"
#include "loop.h"
#include "pd_cfg.h"
#include "pd_jwt.h"
#include "pd_log.h"
#include "sio.h"

#define SHUTDOWN_GRACE_MS 3000

/* The process's settings: passed on from here (the workers' cfg,
 * app_setup, http_start, admin_start), named nowhere else. */
static struct broker g_broker;

static struct loop_watch sigwatch;
static int sigfd = -1;
static struct loop_timer drain_timer[64];
static uint64_t drain_deadline;

static void reload_config(void);

int broker_origin_allowed(const char *origin)
{
	if (origin == NULL)
		return 0;
	if (g_broker.cors_any)
		return 1;
	for (size_t i = 0; i < g_broker.ncors; i++)
		if (strcmp(g_broker.cors[i], origin) == 0)
			return 1;
	return 0;
}

void broker_random_id(char *out, size_t len)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t r[32];
	if (len > sizeof(r))
		len = sizeof(r);
	arc4random_buf(r, len);
	for (size_t i = 0; i < len; i++)
		out[i] = abc[r[i] & 63];
	out[len] = '\0';
}

void broker_session_id(char *out, size_t len)
{
	size_t rl = strlen(g_broker.route);
	if (rl == 0 || rl + 2 > len) {
		broker_random_id(out, len);
		return;
	}
	broker_random_id(out, len - rl - 1);
	out[len - rl - 1] = '.';
	memcpy(out + len - rl, g_broker.route, rl + 1);
}

/* broker_route: 1-8 URL-safe characters without '.', so that a front end
 * finds the route after the sid's only dot. 0, or -1 if invalid. */
static int set_route(const char *v)
{
	size_t n = strlen(v);
	if (n >= sizeof(g_broker.route) || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						     "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
		return -1;
	memcpy(g_broker.route, v, n + 1);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pushdesk-broker [--config FILE] [--listen ADDR:PORT]\n"
		"                       [--admin-listen ADDR:PORT]\n"
		"                       [--profile socketio-conformance|engineio-echo|bench]\n"
		"                       [--threads N] [--help]\n"
		"Serves Socket.IO v5 / Engine.IO v4 at /socket.io/ (engineio-echo: /engine.io/).\n"
		"Every pushdesk.conf key may be set by PUSHDESK_<KEY> in the environment.\n"
		"SIGHUP re-reads the configuration: log_level, log_target and cors_origins\n"
		"apply at once; other keys need a restart (the log names them).\n");
}

/* ---- shutdown ---- */

/* Loops 1..N-1 stop once drained (or at the deadline); loop 0, home of the
 * cluster, presence and dashboard, waits for them, then leaves the cluster
 * and stops the database pool while every loop's posts still run, and stops
 * a little later so that the last Valkey commands leave. */
static atomic_int drained_loops;
static int app_stopped;

static void drain_check(struct loop_timer *t)
{
	struct loop *l = NULL;
	for (int i = 0; i < g_broker.nloops; i++)
		if (&drain_timer[i] == t)
			l = &g_broker.loops[i];
	struct worker *w = worker_of(l);
	if (l->idx == 0 && app_stopped) {
		loop_stop(l);
		return;
	}
	int drained = w->sessions.n == 0 && w->live_ws == 0 && (l->idx != 0 || http_suspended() == 0);
	if (l->idx == 0 && atomic_load(&drained_loops) < g_broker.nloops - 1)
		drained = 0;
	if (!drained && l->now < drain_deadline) {
		loop_timer_set(l, t, l->now + 50);
		return;
	}
	if (!drained)
		pd_log(LOG_NOTICE, "shutdown grace over loop=%d sessions=%zu websockets=%zu", l->idx,
		       w->sessions.n, w->live_ws);
	if (l->idx != 0) {
		atomic_fetch_add(&drained_loops, 1);
		loop_stop(l);
		return;
	}
	app_stopped = 1;
	long wait = app_stop();
	loop_timer_set(l, t, l->now + (uint64_t)wait);
}

static void begin_shutdown(struct loop *l, void *arg)
{
	struct worker *w = worker_of(l);
	(void)arg;
	if (w->stopping)
		return;
	w->stopping = 1;
	eio_close_all(w, "server shutting down");
	loop_timer_init(&drain_timer[l->idx], drain_check);
	loop_timer_set(l, &drain_timer[l->idx], l->now + 20);
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	(void)w;
	(void)events;
	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			pd_log(LOG_NOTICE, "reloading configuration signal=%s",
			       strsignal((int)si.ssi_signo));
			reload_config();
			continue;
		}
		if (si.ssi_signo != SIGTERM && si.ssi_signo != SIGINT)
			continue;
		if (worker_of(&g_broker.loops[0])->stopping)
			continue;
		pd_log(LOG_NOTICE, "shutting down signal=%s", strsignal((int)si.ssi_signo));
		drain_deadline = g_broker.loops[0].now + SHUTDOWN_GRACE_MS;
		http_quiesce();
		for (int i = 1; i < g_broker.nloops; i++)
			loop_post(&g_broker.loops[i], begin_shutdown, NULL);
		begin_shutdown(&g_broker.loops[0], NULL);
	}
}

static void *thread_main(void *arg)
{
	loop_run(arg);
	return NULL;
}

/* Close whatever a loop still holds after the grace period. */
static void force_close(struct worker *w)
{
	eio_drop_all(w);
}

/* ---- configuration ---- */

static int cfg_long(struct pd_cfg *c, const char *key, long min, long max, long *out)
{
	char err[256];
	if (pd_cfg_get_long(c, key, min, max, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "pushdesk-broker: %s\n", err);
		return -1;
	}
	return 0;
}

/* broker_path: an absolute URL path as Socket.IO's `path` option takes it,
 * kept with one trailing slash ("/socket.io" and "/socket.io/" are the
 * same path, as engine.io normalises it). Characters that would end or
 * escape a path in a request line are refused. */
static int set_path(const char *v)
{
	size_t n = strlen(v);
	while (n > 1 && v[n - 1] == '/')
		n--;
	if (v[0] != '/' || n + 2 > sizeof(g_broker.path))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f || v[i] == '?' || v[i] == '#' || v[i] == '%')
			goto bad;
	memcpy(g_broker.path, v, n);
	if (g_broker.path[n - 1] != '/')
		g_broker.path[n++] = '/';
	g_broker.path[n] = '\0';
	return 0;
bad:
	fprintf(stderr,
		"pushdesk-broker: broker_path must be an absolute URL path of at most %zu "
		"characters without spaces, '?', '#' or '%%': %s\n",
		sizeof(g_broker.path) - 2, v);
	return -1;
}

struct cors_list {
	char **v;
	size_t n;
	int any;
};

static void cors_free(struct cors_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int parse_cors(const char *v, struct cors_list *out)
{
	char *copy = strdup(v), *save = NULL;
	struct cors_list l = {NULL, 0, 0};
	if (copy == NULL)
		return -1;
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
		if (strcmp(t, "*") == 0) {
			l.any = 1;
			continue;
		}
		char **n = realloc(l.v, (l.n + 1) * sizeof(*n));
		if (n == NULL) {
			cors_free(&l);
			free(copy);
			return -1;
		}
		l.v = n;
		if ((l.v[l.n] = strdup(t)) == NULL) {
			cors_free(&l);
			free(copy);
			return -1;
		}
		l.n++;
	}
	free(copy);
	*out = l;
	return 0;
}

/* ---- SIGHUP: re-read the configuration ---- */

/* What the configuration was loaded from, to load it again the same way
 * (command line options override the file, as at start). */
static struct pd_cfg *start_cfg; /* what the process started with */
static struct pd_cfg *cur_cfg;   /* the last loaded (runtime keys applied) */
static const char *config_path, *opt_listen, *opt_admin, *opt_threads;

/* Keys applied at run time. Everything runs on loop 0 here: the CORS list
 * is read on loop 0 only (libmicrohttpd and the admin listener run there);
 * the log level is a plain int every thread reads (pd_log.c: a racy read
 * at worst logs one line more or less). */
static const char *const runtime_keys[] = {"log_level", "log_target", "cors_origins"};

static int is_runtime_key(const char *k)
{
	for (size_t i = 0; i < sizeof(runtime_keys) / sizeof(runtime_keys[0]); i++)
		if (strcmp(runtime_keys[i], k) == 0)
			return 1;
	return 0;
}

static void reload_config(void)
{
	char err[512];
	struct pd_cfg *c = pd_cfg_new();
	if (c == NULL || pd_cfg_load(c, config_path, err, sizeof(err)) < 0) {
		pd_log(LOG_ERR, "reload failed, configuration unchanged: %s",
		       c ? err : "out of memory");
		pd_cfg_free(c);
		return;
	}
	if ((opt_listen && pd_cfg_set(c, "broker_listen", opt_listen) < 0) ||
	    (opt_admin && pd_cfg_set(c, "broker_admin_listen", opt_admin) < 0) ||
	    (opt_threads && pd_cfg_set(c, "broker_threads", opt_threads) < 0)) {
		pd_log(LOG_ERR, "reload failed, configuration unchanged: bad option value");
		pd_cfg_free(c);
		return;
	}
	/* check everything before applying anything */
	int level = pd_log_level_parse(pd_cfg_get(c, "log_level"));
	int target = pd_log_target_parse(pd_cfg_get(c, "log_target"));
	struct cors_list cors = {NULL, 0, 0};
	if (level < 0 || target < 0) {
		pd_log(LOG_ERR, "reload failed, configuration unchanged: bad log_level or log_target");
		pd_cfg_free(c);
		return;
	}
	int cors_changed = strcmp(pd_cfg_get(c, "cors_origins"),
				  pd_cfg_get(cur_cfg, "cors_origins")) != 0;
	/* the protocol-testing profiles fix CORS to "*" (contract 6) */
	int cors_fixed = g_broker.profile == PROFILE_CONFORMANCE || g_broker.profile == PROFILE_ECHO;
	if (cors_changed && !cors_fixed && parse_cors(pd_cfg_get(c, "cors_origins"), &cors) < 0) {
		pd_log(LOG_ERR, "reload failed, configuration unchanged: out of memory");
		pd_cfg_free(c);
		return;
	}

	char applied[256] = "", restart[1024] = "";
	size_t na = 0, nr = 0;
	const char *k;
	for (size_t i = 0; (k = pd_cfg_key_at(i, NULL, NULL)) != NULL; i++) {
		int rt = is_runtime_key(k) && !(cors_fixed && strcmp(k, "cors_origins") == 0);
		/* a restart key differs from what runs until a restart, however
		 * many reloads came between */
		if (strcmp(pd_cfg_get(c, k), pd_cfg_get(rt ? cur_cfg : start_cfg, k)) == 0)
			continue;
		/* key names only: values may be secrets */
		char *dst = rt ? applied : restart;
		size_t cap = dst == applied ? sizeof(applied) : sizeof(restart);
		size_t *len = dst == applied ? &na : &nr;
		int n = snprintf(dst + *len, cap - *len, "%s%s", *len ? "," : "", k);
		if (n > 0 && (size_t)n < cap - *len)
			*len += (size_t)n;
	}
	if (target != pd_log_target_parse(pd_cfg_get(cur_cfg, "log_target")))
		pd_log_init(NULL, level, (enum pd_log_target)target);
	else
		pd_log_set_level(level);
	if (cors_changed && !cors_fixed) {
		struct cors_list old = {g_broker.cors, g_broker.ncors, g_broker.cors_any};
		g_broker.cors = cors.v;
		g_broker.ncors = cors.n;
		g_broker.cors_any = cors.any;
		cors_free(&old);
	}
	if (cur_cfg != start_cfg)
		pd_cfg_free(cur_cfg);
	cur_cfg = c;
	pd_log(LOG_NOTICE, "configuration reloaded applied=\"%s\" restart_needed=\"%s\"", applied,
	       restart);
	if (nr > 0)
		pd_log(LOG_WARNING, "configuration keys changed that take effect only after a "
				    "restart keys=\"%s\"", restart);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},  {"listen", required_argument, NULL, 'l'},
	    {"admin-listen", required_argument, NULL, 'a'}, {"profile", required_argument, NULL, 'p'},
	    {"threads", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *config = NULL, *listen_addr = NULL, *admin_addr = NULL, *profile = NULL,
		   *threads = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "c:l:a:p:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'l': listen_addr = optarg; break;
		case 'a': admin_addr = optarg; break;
		case 'p': profile = optarg; break;
		case 't': threads = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	char err[512];
	struct pd_cfg *cfg = pd_cfg_new();
	if (cfg == NULL || pd_cfg_load(cfg, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "pushdesk-broker: %s\n", cfg ? err : "out of memory");
		return 1;
	}
	if ((listen_addr && pd_cfg_set(cfg, "broker_listen", listen_addr) < 0) ||
	    (admin_addr && pd_cfg_set(cfg, "broker_admin_listen", admin_addr) < 0) ||
	    (threads && pd_cfg_set(cfg, "broker_threads", threads) < 0)) {
		fprintf(stderr, "pushdesk-broker: bad option value\n");
		return 1;
	}
	start_cfg = cur_cfg = cfg;
	config_path = config;
	opt_listen = listen_addr;
	opt_admin = admin_addr;
	opt_threads = threads;
	int level = pd_log_level_parse(pd_cfg_get(cfg, "log_level"));
	int target = pd_log_target_parse(pd_cfg_get(cfg, "log_target"));
	if (level < 0 || target < 0) {
		fprintf(stderr, "pushdesk-broker: bad log_level or log_target\n");
		return 1;
	}
	pd_log_init("pushdesk-broker", level, (enum pd_log_target)target);

	g_broker.profile = PROFILE_NORMAL;
	if (profile != NULL) {
		if (strcmp(profile, "socketio-conformance") == 0)
			g_broker.profile = PROFILE_CONFORMANCE;
		else if (strcmp(profile, "engineio-echo") == 0)
			g_broker.profile = PROFILE_ECHO;
		else if (strcmp(profile, "bench") == 0)
			g_broker.profile = PROFILE_BENCH;
		else {
			fprintf(stderr, "pushdesk-broker: unknown profile %s\n", profile);
			return 2;
		}
	}
	long nthreads, soft, hard, soft_s;
	if (cfg_long(cfg, "ping_interval", 1, 3600000, &g_broker.ping_interval) < 0 ||
	    cfg_long(cfg, "ping_timeout", 1, 3600000, &g_broker.ping_timeout) < 0 ||
	    cfg_long(cfg, "max_payload", 16, 1L << 30, &g_broker.max_payload) < 0 ||
	    cfg_long(cfg, "connect_timeout", 1, 3600000, &g_broker.connect_timeout) < 0 ||
	    cfg_long(cfg, "broker_max_connections", 1, 10000000, &g_broker.max_connections) < 0 ||
	    cfg_long(cfg, "broker_threads", 0, 64, &nthreads) < 0 ||
	    cfg_long(cfg, "output_soft_limit", 1024, 1L << 30, &soft) < 0 ||
	    cfg_long(cfg, "output_hard_limit", 1024, 1L << 30, &hard) < 0 ||
	    cfg_long(cfg, "output_soft_seconds", 0, 86400, &soft_s) < 0 ||
	    cfg_long(cfg, "header_timeout", 0, 3600000, &g_broker.header_timeout) < 0 ||
	    cfg_long(cfg, "max_pending_per_ip", 0, 10000000, &g_broker.max_pending_per_ip) < 0)
		return 1;
	g_broker.out_soft = (size_t)soft;
	g_broker.out_hard = (size_t)hard;
	g_broker.out_soft_ms = soft_s * 1000;
	if (set_path(pd_cfg_get(cfg, "broker_path")) < 0)
		return 1;
	struct cors_list cors;
	if (parse_cors(pd_cfg_get(cfg, "cors_origins"), &cors) < 0) {
		fprintf(stderr, "pushdesk-broker: out of memory\n");
		return 1;
	}
	g_broker.cors = cors.v;
	g_broker.ncors = cors.n;
	g_broker.cors_any = cors.any;
	snprintf(g_broker.token_cookie, sizeof(g_broker.token_cookie), "%s",
		 pd_cfg_get(cfg, "token_cookie"));
	if (set_route(pd_cfg_get(cfg, "broker_route")) < 0) {
		fprintf(stderr, "pushdesk-broker: broker_route: '%s' is not 1-8 of A-Z a-z 0-9 _ -\n",
			pd_cfg_get(cfg, "broker_route"));
		return 1;
	}
	eio_upper = &sio_eio_ops;
	switch (g_broker.profile) {
	case PROFILE_CONFORMANCE:
	case PROFILE_ECHO:
		g_broker.ping_interval = 300;
		g_broker.ping_timeout = 200;
		g_broker.max_payload = 1000000;
		g_broker.connect_timeout = 1000;
		g_broker.cors_any = 1;
		if (g_broker.profile == PROFILE_ECHO) {
			snprintf(g_broker.path, sizeof(g_broker.path), "/engine.io/");
			eio_upper = &echo_eio_ops;
		} else {
			g_broker.nsps = conformance_nsps;
			g_broker.nnsps = conformance_nnsps;
		}
		break;
	case PROFILE_BENCH:
		g_broker.nsps = bench_nsps;
		g_broker.nnsps = bench_nnsps;
		break;
	default:
		g_broker.nsps = app_nsps;
		g_broker.nnsps = app_nnsps;
		break;
	}
	if (g_broker.profile == PROFILE_NORMAL || g_broker.profile == PROFILE_BENCH) {
		g_broker.jwt = pd_jwt_new(cfg, err, sizeof(err));
		if (g_broker.jwt == NULL) {
			fprintf(stderr, "pushdesk-broker: %s\n", err);
			return 1;
		}
	}
	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = n > 0 ? (n > 64 ? 64 : n) : 1;
	}
	g_broker.nloops = (int)nthreads;

	/* every fd we may hold */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* signals: blocked in every thread, read through a signalfd on loop 0 */
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0 || eio_init() < 0) {
		fprintf(stderr, "pushdesk-broker: signalfd: %s\n", strerror(errno));
		return 1;
	}

	g_broker.loops = calloc((size_t)g_broker.nloops, sizeof(struct loop));
	g_broker.workers = calloc((size_t)g_broker.nloops, sizeof(struct worker));
	if (g_broker.loops == NULL || g_broker.workers == NULL) {
		fprintf(stderr, "pushdesk-broker: out of memory\n");
		return 1;
	}
	for (int i = 0; i < g_broker.nloops; i++) {
		struct loop *l = &g_broker.loops[i];
		struct worker *w = &g_broker.workers[i];
		w->cfg = &g_broker; /* sio_worker_init reads the namespaces there */
		int rc = loop_init(l, i);
		if (rc < 0 || sio_worker_init(w) < 0) {
			fprintf(stderr, "pushdesk-broker: loop init: %s\n", strerror(rc < 0 ? -rc : ENOMEM));
			return 1;
		}
		w->loop = l;
		w->loops = g_broker.loops;
		w->nloops = g_broker.nloops;
		w->nnsps = g_broker.nnsps;
		w->nconn = &g_broker.nconn;
		hmap_init(&w->sessions, eio_session_key);
		l->data = w;
	}
	struct loop *l0 = &g_broker.loops[0];
	if (app_setup(cfg, l0, &g_broker, err, sizeof(err)) < 0) {
		fprintf(stderr, "pushdesk-broker: %s\n", err);
		return 1;
	}
	sigwatch.fn = on_signal;
	const char *la = pd_cfg_get(cfg, "broker_listen");
	int lfd = http_listen(la, err, sizeof(err));
	if (lfd < 0 || loop_watch_add(l0, sigfd, EPOLLIN, &sigwatch) < 0 ||
	    http_start(l0, &g_broker, lfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "pushdesk-broker: %s\n", err);
		return 1;
	}
	pd_log(LOG_NOTICE, "listening addr=%s port=%d profile=%s loops=%d path=%s", la,
	       http_bound_port(lfd), profile ? profile : "main", g_broker.nloops, g_broker.path);
	const char *aa = pd_cfg_get(cfg, "broker_admin_listen");
	if (aa[0] != '\0' && admin_start(l0, &g_broker, aa, err, sizeof(err)) < 0) {
		fprintf(stderr, "pushdesk-broker: %s\n", err);
		return 1;
	}

	if (app_start(err, sizeof(err)) < 0) {
		fprintf(stderr, "pushdesk-broker: %s\n", err);
		return 1;
	}
	for (int i = 1; i < g_broker.nloops; i++) {
		if (pthread_create(&g_broker.loops[i].thread, NULL, thread_main, &g_broker.loops[i]) != 0) {
			fprintf(stderr, "pushdesk-broker: cannot start loop %d\n", i);
			return 1;
		}
	}
	loop_run(l0);
	for (int i = 1; i < g_broker.nloops; i++)
		pthread_join(g_broker.loops[i].thread, NULL);
	if (!app_stopped)
		app_stop();
	for (int i = 0; i < g_broker.nloops; i++)
		force_close(&g_broker.workers[i]);
	http_stop();
	app_fini();
	for (int i = 0; i < g_broker.nloops; i++) {
		struct worker *w = &g_broker.workers[i];
		loop_fini(&g_broker.loops[i]);
		sio_worker_fini(w);
		hmap_fini(&w->sessions);
	}
	eio_fini();
	pd_log(LOG_NOTICE, "stopped");
	close(sigfd);
	free(g_broker.loops);
	free(g_broker.workers);
	struct cors_list cl = {g_broker.cors, g_broker.ncors, g_broker.cors_any};
	cors_free(&cl);
	pd_jwt_free(g_broker.jwt);
	if (cur_cfg != start_cfg)
		pd_cfg_free(cur_cfg);
	pd_cfg_free(start_cfg);
	return 0;
}
