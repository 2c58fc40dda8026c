/* vk_driver: vk + cluster + presence against a real redis-server that this
 * program starts on a free loopback port under a mktemp folder, with the
 * broker's real loop, rooms and msg code and fake Socket.IO sockets (the
 * sio layer is tests/unit/fake_broker.c's: sio_msg encodes "EVENT-JSON",
 * sio_send appends to the socket's log). Checks: up/down transitions (redis killed,
 * restarted, frozen with SIGSTOP), resubscription, fan-out between two
 * cluster instances (own uid ignored, rooms/except honoured), emitter
 * messages, queries that wait only for live leases, lease expiry,
 * presence online/offline once per user across brokers and after a crash.
 * Exit 0 when every check passes; one line per check. */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapter.h"
#include "broker.h"
#include "cluster.h"
#include "fake_broker.h"
#include "loop.h"
#include "msg.h"
#include "pd_emitter.h"
#include "pd_keys.h"
#include "pd_log.h"
#include "presence.h"
#include "room.h"
#include "sio.h"
#include "vk.h"

/* ---------------- the fake sio layer: tests/unit/fake_broker.c ---------------- */

/* A socket of "/" with user:<user>, org:<org>, room1 and room2. */
static struct fsock *mksock(const char *id, const char *user, const char *org, const char *room1,
			    const char *room2)
{
	struct fsock *f = fb_sock(0, 0, id, user, org, room1);
	if (room2)
		room_join(&f->s, room2);
	return f;
}

#define count fb_count

/* ---------------- harness ---------------- */

#define L (fb_broker()->loops[0])
static int failures, checks;
static int port;
static pid_t redis_pid;
static char dir[64];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (cond) {                                                                        \
			printf("ok %d - ", checks);                                                \
		} else {                                                                           \
			printf("not ok %d - ", checks);                                            \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
	} while (0)

static int (*cond_fn)(void);
static struct loop_timer poll_t, limit_t;

static void on_poll(struct loop_timer *t)
{
	if (cond_fn != NULL && cond_fn())
		loop_stop(&L);
	else
		loop_timer_set(&L, t, L.now + 10);
}

static void on_limit(struct loop_timer *t)
{
	(void)t;
	loop_stop(&L);
}

/* Run the loop until cond() (NULL: the whole time) or ms passed; returns
 * the elapsed ms. */
static long run_until(int (*cond)(void), long ms)
{
	uint64_t t0 = loop_clock_ms();
	cond_fn = cond;
	L.stop = 0;
	loop_timer_set(&L, &poll_t, t0 + 10);
	loop_timer_set(&L, &limit_t, t0 + (uint64_t)ms);
	loop_run(&L);
	loop_timer_cancel(&L, &poll_t);
	loop_timer_cancel(&L, &limit_t);
	return (long)(loop_clock_ms() - t0);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static void redis_start(void)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	redis_pid = fork();
	if (redis_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
		       "--appendonly", "no", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	/* wait until it answers */
	for (int i = 0; i < 100; i++) {
		redisContext *rc = redisConnect("127.0.0.1", port);
		int ok = rc && !rc->err;
		redisFree(rc);
		if (ok)
			return;
		usleep(50000);
	}
	fprintf(stderr, "redis-server did not start\n");
	exit(2);
}

static void redis_kill(int sig)
{
	if (redis_pid > 0) {
		kill(redis_pid, sig);
		if (sig == SIGKILL || sig == SIGTERM) {
			waitpid(redis_pid, NULL, 0);
			redis_pid = 0;
		}
	}
}

static redisContext *sync_ctx(void)
{
	redisContext *c = redisConnect("127.0.0.1", port);
	if (c == NULL || c->err) {
		fprintf(stderr, "sync connect failed\n");
		exit(2);
	}
	return c;
}

/* ---------------- the checks ---------------- */

static struct cluster *A, *B;
static struct presence *PA, *PB;
static struct fsock *s1, *s2, *s3;

static int both_up(void)
{
	return cluster_is_up(A) && cluster_is_up(B);
}
static int two_live(void)
{
	return cluster_server_count(A) == 2 && cluster_server_count(B) == 2;
}

static int got_replies;
static json_t *last_results;
static int last_missing;
static void on_reply(json_t *results, int missing, void *ud)
{
	(void)ud;
	json_decref(last_results);
	last_results = results;
	last_missing = missing;
	got_replies++;
}
static int replied(void)
{
	return got_replies > 0;
}

static int got_list;
static size_t list_n;
static char list_dump[1024];
static void on_list(const json_t *list, void *ud)
{
	(void)ud;
	got_list = 1;
	list_n = json_array_size(list);
	char *d = list ? json_dumps(list, JSON_COMPACT) : NULL;
	snprintf(list_dump, sizeof(list_dump), "%s", d ? d : "null");
	free(d);
}
static int listed(void)
{
	return got_list;
}

static int a_down(void)
{
	return !cluster_is_up(A);
}
static int a_up(void)
{
	return cluster_is_up(A);
}
static int s1_has_outage_event(void)
{
	return count(s1, "after-outage") >= 1;
}
static int one_live(void)
{
	return cluster_server_count(A) == 1;
}
static int u2_offline(void)
{
	return count(s1, "[\"user:offline\",\"u2\"]") >= 1;
}

static int ups_of(struct cluster *c)
{
	struct vk_stats st;
	vk_get_stats(cluster_vk(c), &st);
	return (int)st.ups;
}
static int downs_of(struct cluster *c)
{
	struct vk_stats st;
	vk_get_stats(cluster_vk(c), &st);
	return (int)st.downs;
}

static int u1_online_seen(void)
{
	return count(s1, "[\"user:online\",\"u1\"]") >= 1;
}

static int u1_back_online(void)
{
	return count(s1, "[\"user:online\",\"u1\"]") >= 2;
}

static void reset_logs(void)
{
	s1->loglen = s2->loglen = s3->loglen = 0;
	s1->log[0] = s2->log[0] = s3->log[0] = '\0';
}

int main(void)
{
	pd_log_init("vk_driver", getenv("VK_DEBUG") ? LOG_DEBUG : LOG_NOTICE, PD_LOG_STDERR);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/vk_driver.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 2;
	port = free_port();
	redis_start();

	/* one loop, the fake broker */
	fb_init(1);
	loop_timer_init(&poll_t, on_poll);
	loop_timer_init(&limit_t, on_limit);

	s1 = mksock("sockA1", "u1", "o1", "r1", NULL);
	s2 = mksock("sockA2", "u2", "o1", "r1", "r2");
	s3 = mksock("sockA3", "u3", "o2", "r2", NULL);

	char url[64], err[256];
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
	struct broker *fb = fb_broker();
	struct cluster_cfg cfg = {.valkey_url = url, .key = "vkt", .lease_ttl_ms = 3000,
				  .request_timeout_ms = 20000, .command_timeout_ms = 1000,
				  .nsps = fb->nsps, .nnsps = fb->nnsps,
				  .loops = fb->loops, .workers = fb->workers,
				  .nloops = fb->nloops, .broker = fb};
	A = cluster_new(&L, &cfg, err, sizeof(err));
	B = cluster_new(&L, &cfg, err, sizeof(err));
	if (A == NULL || B == NULL) {
		fprintf(stderr, "cluster_new: %s\n", err);
		return 2;
	}
	PA = presence_new(A, 4000, 0);
	PB = presence_new(B, 4000, 0);
	cluster_start(A);
	cluster_start(B);
	presence_start(PA);
	presence_start(PB);

	long t = run_until(both_up, 3000);
	CHECK(both_up(), "both clusters up in %ld ms", t);
	t = run_until(two_live, 3000);
	CHECK(two_live(), "lease set shows 2 live brokers (%ld ms)", t);

	/* fan-out: A publishes to r1 except r2: B delivers once to s1 only */
	run_until(NULL, 200); /* let subscriptions settle */
	const char *r1[1] = {"r1"}, *r2[1] = {"r2"};
	json_t *data = json_pack("[s, {s:i}]", "hello", "n", 1);
	int rc = cluster_publish(A, 0, data, NULL, 0, r1, 1, r2, 1, 0);
	json_decref(data);
	CHECK(rc == 0, "cluster_publish returns 0 (%d)", rc);
	run_until(NULL, 300);
	CHECK(count(s1, "[\"hello\",{\"n\":1}]") == 1, "remote broadcast delivered once to r1 member (%zu)",
	      count(s1, "hello"));
	CHECK(count(s2, "hello") == 0, "except r2 honoured");
	CHECK(count(s3, "hello") == 0, "non-member not delivered");

	/* binary attachment */
	json_t *bdata = json_pack("[s, {s:b, s:i}]", "bin", "_placeholder", 1, "num", 0);
	struct sio_bin bin = {(const uint8_t *)"\x01\x02\x03", 3};
	rc = cluster_publish(A, 0, bdata, &bin, 1, r2, 1, NULL, 0, 0);
	json_decref(bdata);
	run_until(NULL, 300);
	CHECK(rc == 0 && count(s3, "bins=1") == 1, "binary attachment carried (rc=%d, %zu)", rc,
	      count(s3, "bins=1"));

	/* emitter format (uid "emitter"): both instances deliver */
	{
		redisContext *sc = sync_ctx();
		const char *rooms[1] = {"r2"};
		json_t *pl = json_pack("{s:s}", "k", "v");
		struct pd_emit e = {.nsp = "/", .event = "fromEmitter", .payload = pl, .rooms = rooms,
				    .nrooms = 1};
		long n = pd_emitter_publish(sc, "vkt", &e);
		json_decref(pl);
		redisFree(sc);
		run_until(NULL, 300);
		CHECK(n == 2 && count(s3, "fromEmitter") == 2 && count(s1, "fromEmitter") == 0,
		      "emitter publish reaches both instances (subscribers=%ld, s3=%zu)", n,
		      count(s3, "fromEmitter"));
	}

	/* a query across the two: complete, both answers */
	got_replies = 0;
	struct adapter_query q = {.kind = AK_ROOMS, .nsp_idx = 0};
	cluster_request(A, &L, &q, on_reply, NULL);
	t = run_until(replied, 5000);
	CHECK(replied() && last_missing == 0 && json_array_size(last_results) == 2,
	      "rooms query answered by both in %ld ms (missing=%d n=%zu)", t, last_missing,
	      json_array_size(last_results));
	if (last_results) {
		json_t *r0 = json_object_get(json_array_get(last_results, 0), "result");
		CHECK(json_integer_value(json_object_get(r0, "r1")) == 2,
		      "local room count r1=2 (%lld)",
		      (long long)json_integer_value(json_object_get(r0, "r1")));
	}
	got_replies = 0;
	q = (struct adapter_query){.kind = AK_ONLINE, .nsp_idx = 0, .id = "o1"};
	cluster_request(B, &L, &q, on_reply, NULL);
	run_until(replied, 5000);
	{
		json_t *r0 = json_object_get(json_array_get(last_results, 0), "result");
		CHECK(json_array_size(r0) == 2, "online query lists u1,u2 of o1 (%zu)",
		      json_array_size(r0));
	}

	/* presence: u1 on B and on A, u2 on B only */
	reset_logs();
	presence_connect(PB, "c-b-1", "u1", "o1");
	presence_connect(PB, "c-b-2", "u2", "o1");
	run_until(NULL, 300);
	presence_connect(PA, "c-a-1", "u1", "o1");
	run_until(NULL, 300);
	CHECK(count(s1, "[\"user:online\",\"u1\"]") == 2,
	      "user:online u1 once (delivered by both instances: %zu)",
	      count(s1, "[\"user:online\",\"u1\"]"));
	CHECK(count(s3, "user:online") == 0, "other org does not see user:online");
	got_list = 0;
	presence_online(PA, "o1", &L, on_list, NULL);
	run_until(listed, 2000);
	CHECK(got_list && list_n == 2, "presence_online(o1) lists 2 users (%zu)", list_n);
	got_list = 0;
	const char *who[2] = {"u2", "nobody"};
	presence_get(PA, who, 2, &L, on_list, NULL);
	run_until(listed, 2000);
	CHECK(got_list && strstr(list_dump, "\"nobody\",\"status\":\"offline\"") != NULL &&
		  strstr(list_dump, "\"u2\",\"status\":\"online\"") != NULL,
	      "presence_get: %s", list_dump);

	/* status */
	presence_set_status(PA, "c-a-1", "away");
	run_until(NULL, 300);
	CHECK(count(s1, "\"status\":\"away\"") >= 1, "presence:update away reaches the org");
	CHECK(presence_set_status(PA, "c-a-1", "sleeping") == -EINVAL, "bad status refused");

	/* B dies (no goodbye): its lease and u2's connection expire */
	reset_logs();
	presence_free(PB);
	cluster_free(B);
	B = NULL;
	got_replies = 0;
	q = (struct adapter_query){.kind = AK_STATS};
	cluster_request(A, &L, &q, on_reply, NULL);
	t = run_until(replied, 15000);
	CHECK(replied() && t < 4500 && last_missing == 0,
	      "query stops waiting for the dead broker when its lease expires (%ld ms)", t);
	t = run_until(one_live, 5000);
	CHECK(one_live(), "dead broker's lease gone (%ld ms more)", t);
	t = run_until(u2_offline, 6000);
	CHECK(u2_offline(), "u2 offline after its broker died (%ld ms)", t);
	run_until(NULL, 1500);
	CHECK(count(s1, "[\"user:offline\",\"u2\"]") == 1, "user:offline u2 exactly once (%zu)",
	      count(s1, "[\"user:offline\",\"u2\"]"));
	CHECK(count(s1, "[\"user:offline\",\"u1\"]") == 0, "u1 still online (A holds a connection)");

	/* redis killed: down once, publish refused, back up, resubscribed,
	 * presence written back (user:online again: the data went with redis) */
	reset_logs();
	int ups0 = ups_of(A), downs0 = downs_of(A);
	redis_kill(SIGKILL);
	t = run_until(a_down, 3000);
	CHECK(a_down(), "down noticed in %ld ms", t);
	data = json_pack("[s]", "lost");
	rc = cluster_publish(A, 0, data, NULL, 0, r1, 1, NULL, 0, 0);
	json_decref(data);
	CHECK(rc == -ENOTCONN, "publish while down refused (%d)", rc);
	run_until(NULL, 1500);
	CHECK(downs_of(A) == downs0 + 1, "one down transition (%d)", downs_of(A) - downs0);
	redis_start();
	t = run_until(a_up, 8000);
	CHECK(a_up() && ups_of(A) == ups0 + 1, "up again in %ld ms, one up transition", t);
	t = run_until(u1_back_online, 3000);
	CHECK(u1_back_online() || u1_online_seen(),
	      "presence written back after the outage (user:online u1 %zu)",
	      count(s1, "[\"user:online\",\"u1\"]"));
	{
		redisContext *sc = sync_ctx();
		const char *rooms[1] = {"r1"};
		struct pd_emit e = {.nsp = "/", .event = "after-outage", .rooms = rooms, .nrooms = 1};
		pd_emitter_publish(sc, "vkt", &e);
		char hk[PD_KEYS_MAX];
		pd_keys_presence_user(hk, sizeof(hk), "vkt", "u1");
		redisReply *hr = redisCommand(sc, "HGET %s status", hk);
		CHECK(hr && hr->type == REDIS_REPLY_STRING && strcmp(hr->str, "online") == 0,
		      "presence hash rewritten (status=%s)", hr && hr->str ? hr->str : "nil");
		freeReplyObject(hr);
		redisFree(sc);
	}
	run_until(s1_has_outage_event, 2000);
	CHECK(s1_has_outage_event(), "resubscribed: emitter event after the outage delivered");

	/* frozen server: command timeout takes it down, SIGCONT brings it back */
	ups0 = ups_of(A);
	redis_kill(SIGSTOP);
	t = run_until(a_down, 6000);
	CHECK(a_down(), "frozen redis detected by command timeout in %ld ms", t);
	redis_kill(SIGCONT);
	t = run_until(a_up, 8000);
	CHECK(a_up() && ups_of(A) == ups0 + 1, "up after SIGCONT in %ld ms", t);

	/* clean disconnect: u1's last connection */
	reset_logs();
	presence_disconnect(PA, "c-a-1");
	run_until(NULL, 500);
	CHECK(count(s1, "[\"user:offline\",\"u1\"]") == 1, "user:offline u1 on last disconnect (%zu)",
	      count(s1, "[\"user:offline\",\"u1\"]"));

	/* graceful leave removes the lease at once (the same key holds A's
	 * lease before: the check below reads the right key) */
	char bk[PD_KEYS_MAX];
	pd_keys_brokers(bk, sizeof(bk), "vkt");
	{
		redisContext *sc = sync_ctx();
		redisReply *zr = redisCommand(sc, "ZCARD %s", bk);
		CHECK(zr && zr->type == REDIS_REPLY_INTEGER && zr->integer >= 1,
		      "a running broker holds a lease in %s (%lld)", bk, zr ? zr->integer : -1);
		freeReplyObject(zr);
		redisFree(sc);
	}
	cluster_stop(A);
	run_until(NULL, 300);
	{
		redisContext *sc = sync_ctx();
		redisReply *zr = redisCommand(sc, "ZCARD %s", bk);
		CHECK(zr && zr->type == REDIS_REPLY_INTEGER && zr->integer == 0,
		      "graceful stop leaves no lease (%lld)", zr ? zr->integer : -1);
		freeReplyObject(zr);
		redisFree(sc);
	}
	presence_free(PA);
	cluster_free(A);
	run_until(NULL, 50);
	json_decref(last_results);
	redis_kill(SIGTERM);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	printf("1..%d\n# %d checks, %d failed\n", checks, checks, failures);
	return failures ? 1 : 0;
}
