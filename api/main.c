/* pushdesk-api: the FastCGI responder. The parent opens the listening socket
 * (or takes the one on stdin from spawn-fcgi/systemd), forks api_workers
 * workers and one outbox relay, restarts them when they die, reloads the
 * configuration on SIGHUP and stops them on SIGTERM. */
#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <hiredis.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "pd_cfg.h"
#include "pd_keys.h"
#include "pd_kvc.h"
#include "pd_db.h"
#include "pd_emitter.h"
#include "pd_log.h"
#include "pd_store.h"
#include "valid.h"

#define MAX_WORKERS 256
#define RELAY_LOCK_KEY "7082600417"  /* pg advisory lock: one relay at a time */
#define RELAY_BATCH 500

static volatile sig_atomic_t g_stop, g_busy;

static void usage(FILE *f)
{
	fprintf(f, "usage: pushdesk-api [--config FILE] [--socket PATH|HOST:PORT] [--workers N]\n");
}

static void on_term_worker(int sig)
{
	(void)sig;
	/* Idle in accept(): leave now. Serving: finish the request first. */
	if (!g_busy)
		_exit(0);
	g_stop = 1;
}

static void child_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term_worker;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static int ctx_init(struct api_ctx *ctx, const struct pd_cfg *cfg)
{
	char err[256];
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->database_url = pd_cfg_get(cfg, "database_url");
	ctx->valkey_url = pd_cfg_get(cfg, "valkey_url");
	ctx->adapter_key = pd_keys_prefix(pd_cfg_get(cfg, "adapter_key"));
	if ((ctx->adapter_mode = pd_emitter_mode(pd_cfg_get(cfg, "adapter_mode"))) < 0) {
		pd_log(LOG_ERR, "config: adapter_mode must be classic or sharded");
		return -1;
	}
	if (pd_cfg_get_long(cfg, "statement_timeout", 0, 3600000, &ctx->statement_timeout, err,
			    sizeof(err)) != 0 ||
	    pd_cfg_get_long(cfg, "api_max_body", 1, 1L << 30, &ctx->max_body, err, sizeof(err)) !=
		    0 ||
	    pd_cfg_get_long(cfg, "token_ttl", 1, 365L * 86400, &ctx->token_ttl, err, sizeof(err)) !=
		    0 ||
	    pd_emitter_recovery_cfg(cfg, &ctx->seen_ms, NULL, &ctx->stream_max, err, sizeof(err)) != 0) {
		pd_log(LOG_ERR, "config: %s", err);
		return -1;
	}
	ctx->token_cookie = pd_cfg_get(cfg, "token_cookie");
	if (!api_cookie_name_valid(ctx->token_cookie)) {
		pd_log(LOG_ERR, "config: token_cookie: '%.64s' is not a cookie name (RFC 6265 "
				"token: letters, digits and !#$%%&'*+-.^_`|~)",
		       ctx->token_cookie);
		return -1;
	}
	if (api_parse_rate(pd_cfg_get(cfg, "login_rate"), &ctx->login_n, &ctx->login_s) != 0) {
		pd_log(LOG_ERR, "config: login_rate must be N/SECONDS");
		return -1;
	}
	if ((ctx->jwt = pd_jwt_new(cfg, err, sizeof(err))) == NULL) {
		pd_log(LOG_ERR, "config: %s", err);
		return -1;
	}
	return 0;
}

static void ctx_fini(struct api_ctx *ctx)
{
	api_db_drop(ctx);
	api_kv_drop(ctx);
	pd_jwt_free(ctx->jwt);
}

static int worker_main(const struct pd_cfg *cfg, int listen_fd)
{
	struct api_ctx ctx;
	FCGX_Request f;

	child_signals();
	if (sodium_init() < 0 || ctx_init(&ctx, cfg) != 0)
		return 1;
	if (FCGX_InitRequest(&f, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		return 1;
	while (!g_stop) {
		g_busy = 0;
		if (FCGX_Accept_r(&f) < 0) {
			if (g_stop)
				break;
			continue;
		}
		g_busy = 1;
		api_serve(&ctx, &f);
		FCGX_Finish_r(&f);
	}
	ctx_fini(&ctx);
	return 0;
}

/* The outbox relay: publishes what requests could not (crash after commit,
 * Valkey down), oldest first, every relay_interval ms. pg_try_advisory_lock
 * keeps it to one relay across every pushdesk-api instance. */
static int relay_main(const struct pd_cfg *cfg)
{
	struct api_ctx ctx;
	long interval;
	char err[128];
	int locked = 0;

	child_signals();
	/* The relay holds no request: SIGTERM ends it at once. */
	g_busy = 0;
	if (ctx_init(&ctx, cfg) != 0 ||
	    pd_cfg_get_long(cfg, "relay_interval", 10, 3600000, &interval, err, sizeof(err)) != 0)
		return 1;
	while (!g_stop) {
		struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
		long n;

		nanosleep(&ts, NULL);
		if (ctx.valkey_url[0] == '\0')
			continue;
		/* After a PostgreSQL restart the idle connection (and with it the
		 * session's advisory lock) is gone: reconnect and take it again. */
		if (ctx.db != NULL && pd_db_stale(ctx.db)) {
			pd_log(LOG_NOTICE, "relay: db connection closed by the server: reconnecting");
			api_db_drop(&ctx);
		}
		if (ctx.db == NULL)
			locked = 0;
		if (ctx.db == NULL && (ctx.db = pd_db_connect(ctx.database_url, 0)) == NULL)
			continue;
		if (!locked) {
			const char *p[1] = {RELAY_LOCK_KEY};
			PGresult *r = pd_db_exec(ctx.db, "SELECT pg_try_advisory_lock($1::bigint)", 1,
						 p, NULL);
			locked = r != NULL && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
			PQclear(r);
			if (!locked)
				continue;
			pd_log(LOG_INFO, "relay: holding the outbox relay lock");
		}
		if (api_kv(&ctx) == NULL)
			continue;
		g_busy = 1;
		do {
			struct pd_emit_target t = {ctx.kv, ctx.adapter_key, ctx.adapter_mode,
						   ctx.stream_max, ctx.seen_ms};
			n = pd_outbox_publish(ctx.db, &t, NULL, 0, RELAY_BATCH);
			if (n > 0)
				pd_log(LOG_INFO, "relay: published %ld outbox events", n);
		} while (n == RELAY_BATCH && !g_stop);
		g_busy = 0;
		if (n < 0 && ctx.kv != NULL && pd_kvc_ctx(ctx.kv)->err != 0)
			api_kv_drop(&ctx);
	}
	ctx_fini(&ctx);
	return 0;
}

struct child {
	pid_t pid;
	time_t started;
};

static pid_t spawn(const struct pd_cfg *cfg, int listen_fd, int relay)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(relay ? relay_main(cfg) : worker_main(cfg, listen_fd));
	if (pid < 0)
		pd_log(LOG_ERR, "fork failed: %s", strerror(errno));
	return pid;
}

static int open_listener(const char *spec)
{
	int fd;
	if (spec == NULL || spec[0] == '\0') {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		/* spawn-fcgi / systemd: the listening socket is fd 0. */
		if (getsockname(0, (struct sockaddr *)&ss, &sl) != 0) {
			pd_log(LOG_ERR, "no api_socket configured and stdin is not a socket");
			return -1;
		}
		return 0;
	}
	if (spec[0] == '/' || strchr(spec, ':') == NULL)
		unlink(spec);
	fd = FCGX_OpenSocket(spec, 256);
	if (fd < 0) {
		pd_log(LOG_ERR, "cannot listen on %s", spec);
		return -1;
	}
	/* nginx runs as another user: let it connect to the unix socket. */
	if (spec[0] == '/' && chmod(spec, 0666) != 0)
		pd_log(LOG_WARNING, "chmod %s: %s", spec, strerror(errno));
	return fd;
}

static struct pd_cfg *load_cfg(const char *path, const char *sock, const char *workers)
{
	struct pd_cfg *c = pd_cfg_new();
	char err[512];
	if (c == NULL)
		return NULL;
	if (pd_cfg_load(c, path, err, sizeof(err)) != 0) {
		pd_log(LOG_ERR, "config: %s", err);
		pd_cfg_free(c);
		return NULL;
	}
	if ((sock != NULL && pd_cfg_set(c, "api_socket", sock) != 0) ||
	    (workers != NULL && pd_cfg_set(c, "api_workers", workers) != 0)) {
		pd_cfg_free(c);
		return NULL;
	}
	return c;
}

static void apply_log(const struct pd_cfg *cfg)
{
	int lvl = pd_log_level_parse(pd_cfg_get(cfg, "log_level"));
	int tgt = pd_log_target_parse(pd_cfg_get(cfg, "log_target"));
	pd_log_init("pushdesk-api", lvl < 0 ? LOG_INFO : lvl,
		    tgt < 0 ? PD_LOG_STDERR : (enum pd_log_target)tgt);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"socket", required_argument, NULL, 's'},
					     {"workers", required_argument, NULL, 'w'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *cfgpath = NULL, *sock = NULL, *workers = NULL;
	struct child kids[MAX_WORKERS + 1];
	struct pd_cfg *cfg;
	long nworkers;
	char err[128];
	int fd, o, rc = 0;
	sigset_t set;

	while ((o = getopt_long(argc, argv, "c:s:w:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cfgpath = optarg; break;
		case 's': sock = optarg; break;
		case 'w': workers = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("pushdesk-api %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	pd_log_init("pushdesk-api", LOG_INFO, PD_LOG_STDERR);
	if ((cfg = load_cfg(cfgpath, sock, workers)) == NULL)
		return 1;
	apply_log(cfg);
	if (pd_cfg_get_long(cfg, "api_workers", 1, MAX_WORKERS, &nworkers, err, sizeof(err)) != 0) {
		pd_log(LOG_ERR, "config: %s", err);
		return 1;
	}
	{
		/* Check the whole configuration once, before forking. */
		struct api_ctx probe;
		if (sodium_init() < 0 || ctx_init(&probe, cfg) != 0)
			return 1;
		ctx_fini(&probe);
	}
	if (FCGX_Init() != 0 || (fd = open_listener(pd_cfg_get(cfg, "api_socket"))) < 0)
		return 1;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(kids, 0, sizeof(kids));
	for (long i = 0; i <= nworkers; i++) {
		kids[i].pid = spawn(cfg, fd, i == nworkers);
		kids[i].started = time(NULL);
	}
	pd_log(LOG_NOTICE, "started workers=%ld socket=%s", nworkers,
	       pd_cfg_get(cfg, "api_socket")[0] != '\0' ? pd_cfg_get(cfg, "api_socket") : "stdin");

	for (;;) {
		struct timespec tmo = {1, 0};
		int sig = sigtimedwait(&set, NULL, &tmo);
		pid_t pid;
		int status;

		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			struct pd_cfg *n = load_cfg(cfgpath, sock, workers);
			struct api_ctx probe;
			if (n != NULL && ctx_init(&probe, n) == 0) {
				ctx_fini(&probe);
				pd_cfg_free(cfg);
				cfg = n;
				apply_log(cfg);
				pd_log(LOG_NOTICE, "config reloaded: restarting workers");
				for (long i = 0; i <= nworkers; i++)
					if (kids[i].pid > 0)
						kill(kids[i].pid, SIGTERM);
			} else {
				pd_cfg_free(n);
				pd_log(LOG_ERR, "config reload failed: keeping the old one");
			}
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (long i = 0; i <= nworkers; i++) {
				if (kids[i].pid != pid)
					continue;
				if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
					pd_log(LOG_WARNING, "%s pid=%d died status=%d",
					       i == nworkers ? "relay" : "worker", (int)pid, status);
				kids[i].pid = 0;
			}
		}
		for (long i = 0; i <= nworkers; i++) {
			/* Respawn, but not more than once a second per slot. */
			if (kids[i].pid == 0 && time(NULL) != kids[i].started) {
				kids[i].pid = spawn(cfg, fd, i == nworkers);
				kids[i].started = time(NULL);
			}
		}
	}

	pd_log(LOG_NOTICE, "stopping");
	for (long i = 0; i <= nworkers; i++)
		if (kids[i].pid > 0)
			kill(kids[i].pid, SIGTERM);
	for (int waited = 0; waited < 100; waited++) {
		int left = 0;
		pid_t pid;
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			for (long i = 0; i <= nworkers; i++)
				if (kids[i].pid == pid)
					kids[i].pid = 0;
		for (long i = 0; i <= nworkers; i++)
			left += kids[i].pid > 0;
		if (left == 0)
			break;
		usleep(100000);
	}
	for (long i = 0; i <= nworkers; i++)
		if (kids[i].pid > 0) {
			kill(kids[i].pid, SIGKILL);
			rc = 1;
		}
	{
		const char *s = pd_cfg_get(cfg, "api_socket");
		if (s[0] == '/')
			unlink(s);
	}
	pd_cfg_free(cfg);
	return rc;
}
