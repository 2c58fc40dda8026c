/* admin: health and metrics. Counters are per-loop relaxed atomics summed
 * here, so scraping never stops a loop. */
#include "admin.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "app.h"
#include "broker.h"
#include "dbpool.h"
#include "recovery.h"
#include "http.h"
#include "pd_buf.h"
#include "pd_log.h"
#include "sio.h"

static const struct broker *cfg; /* admin_start's: its loops, namespaces, recovery */

/* The sum over every loop of one counter of struct metrics. */
static unsigned long long sum_at(size_t off)
{
	unsigned long long s = 0;
	for (int i = 0; i < cfg->nloops; i++) {
		atomic_ullong *v = (atomic_ullong *)((char *)&cfg->workers[i].m + off);
		s += atomic_load_explicit(v, memory_order_relaxed);
	}
	return s;
}
#define SUM(field) sum_at(offsetof(struct metrics, field))

void admin_counter(struct pd_buf *b, const char *name, const char *help, const char *type,
		   unsigned long long v)
{
	pd_buf_printf(b, "# HELP pushdesk_broker_%s %s\n# TYPE pushdesk_broker_%s %s\n"
			 "pushdesk_broker_%s %llu\n",
		      name, help, name, type, name, v);
}

/* Events per second over the last RATE_WINDOW seconds: loop 0 samples the
 * summed counters once a second into a ring; a scrape compares the live
 * sums with the sample RATE_WINDOW seconds old (or the oldest one). */
#define RATE_WINDOW 10
struct rate_sample {
	uint64_t ms;
	unsigned long long in, out;
};
static struct rate_sample rate_ring[RATE_WINDOW + 1];
static size_t rate_n, rate_head; /* samples held; next slot */
static struct loop_timer rate_timer;
static struct loop *admin_loop;

static void rate_sample(struct loop_timer *t)
{
	rate_ring[rate_head] = (struct rate_sample){loop_clock_ms(), SUM(events_in), SUM(events_out)};
	rate_head = (rate_head + 1) % (RATE_WINDOW + 1);
	if (rate_n < RATE_WINDOW + 1)
		rate_n++;
	loop_timer_set(admin_loop, t, loop_clock_ms() + 1000);
}

static void rates(double *in, double *out)
{
	*in = *out = 0;
	if (rate_n == 0)
		return;
	/* the oldest sample: RATE_WINDOW seconds back once the ring is full */
	const struct rate_sample *o =
	    &rate_ring[rate_n < RATE_WINDOW + 1 ? 0 : rate_head];
	uint64_t now = loop_clock_ms();
	if (now <= o->ms)
		return;
	double secs = (double)(now - o->ms) / 1000.0;
	*in = (double)(SUM(events_in) - o->in) / secs;
	*out = (double)(SUM(events_out) - o->out) / secs;
}

static void delivery_histogram(struct pd_buf *b)
{
	unsigned long long bucket[MSG_LAT_BUCKETS] = {0}, sum_ns = 0;
	for (int i = 0; i < cfg->nloops; i++) {
		struct msg_lat *h = &cfg->workers[i].m.delivery;
		for (size_t k = 0; k < MSG_LAT_BUCKETS; k++)
			bucket[k] += atomic_load_explicit(&h->bucket[k], memory_order_relaxed);
		sum_ns += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
	}
	pd_buf_printf(b, "# HELP pushdesk_delivery_latency_seconds Time from the encoding of a "
			 "Socket.IO event to its last byte written to a WebSocket or handed to a "
			 "polling response, per recipient.\n"
			 "# TYPE pushdesk_delivery_latency_seconds histogram\n");
	unsigned long long cum = 0;
	for (size_t k = 0; k < MSG_LAT_BUCKETS; k++) {
		cum += bucket[k];
		if (k < MSG_LAT_BUCKETS - 1)
			pd_buf_printf(b, "pushdesk_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n",
				      (double)msg_lat_le_ns[k] / 1e9, cum);
		else
			pd_buf_printf(b, "pushdesk_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
				      cum);
	}
	pd_buf_printf(b, "pushdesk_delivery_latency_seconds_sum %llu.%09llu\n"
			 "pushdesk_delivery_latency_seconds_count %llu\n",
		      sum_ns / 1000000000u, sum_ns % 1000000000u, cum);
}

static int metrics_text(struct pd_buf *b)
{
	pd_buf_printf(b, "# HELP pushdesk_broker_connections Engine.IO connections by transport.\n"
			 "# TYPE pushdesk_broker_connections gauge\n"
			 "pushdesk_broker_connections{transport=\"websocket\"} %llu\n"
			 "pushdesk_broker_connections{transport=\"polling\"} %llu\n",
		      SUM(conn_ws), SUM(conn_polling));
	pd_buf_printf(b, "# HELP pushdesk_broker_sockets Socket.IO sockets by namespace.\n"
			 "# TYPE pushdesk_broker_sockets gauge\n");
	for (size_t k = 0; k < cfg->nnsps; k++) {
		size_t n = 0;
		for (int i = 0; i < cfg->nloops; i++)
			n += atomic_load_explicit(&cfg->workers[i].nsps[k].nsockets,
						  memory_order_relaxed);
		pd_buf_printf(b, "pushdesk_broker_sockets{namespace=\"%s\"} %zu\n",
			      cfg->nsps[k].name, n);
	}
	pd_buf_printf(b, "# HELP pushdesk_broker_rooms Rooms by namespace (summed over loops).\n"
			 "# TYPE pushdesk_broker_rooms gauge\n");
	for (size_t k = 0; k < cfg->nnsps; k++) {
		size_t n = 0;
		for (int i = 0; i < cfg->nloops; i++)
			n += atomic_load_explicit(&cfg->workers[i].nsps[k].nrooms,
						  memory_order_relaxed);
		pd_buf_printf(b, "pushdesk_broker_rooms{namespace=\"%s\"} %zu\n",
			      cfg->nsps[k].name, n);
	}
	admin_counter(b, "namespaces", "Namespaces served.", "gauge", cfg->nnsps);
	admin_counter(b, "loops", "Event loops.", "gauge", (unsigned long long)cfg->nloops);
	admin_counter(b, "sessions_total", "Engine.IO sessions opened.", "counter", SUM(sessions_total));
	admin_counter(b, "messages_received_total", "Engine.IO message packets received.", "counter",
		SUM(events_in));
	admin_counter(b, "events_sent_total", "Socket.IO packets written to sockets.", "counter",
		SUM(events_out));
	admin_counter(b, "websocket_writes_total",
		"Write system calls to WebSocket clients (frames queued in one loop turn leave "
		"together).",
		"counter", SUM(ws_writes));
	admin_counter(b, "bytes_received_total", "Bytes read from clients.", "counter", SUM(bytes_in));
	admin_counter(b, "bytes_sent_total", "Bytes written to clients.", "counter", SUM(bytes_out));
	admin_counter(b, "slow_reader_disconnects_total",
		"Connections closed because their output queue passed a limit.", "counter",
		SUM(slow_disconnects));
	admin_counter(b, "ping_timeouts_total", "Connections closed for a missing pong.", "counter",
		SUM(ping_timeouts));
	admin_counter(b, "protocol_errors_total", "Connections closed for a protocol error.", "counter",
		SUM(protocol_errors));
	admin_counter(b, "rate_limited_total", "Client events refused by a rate limit.", "counter",
		SUM(rate_limited));
	double in_ps, out_ps;
	rates(&in_ps, &out_ps);
	pd_buf_printf(b, "# HELP pushdesk_broker_messages_received_per_second Engine.IO message "
			 "packets received per second over the last %d s.\n"
			 "# TYPE pushdesk_broker_messages_received_per_second gauge\n"
			 "pushdesk_broker_messages_received_per_second %.3f\n"
			 "# HELP pushdesk_broker_events_sent_per_second Socket.IO packets written to "
			 "sockets per second over the last %d s.\n"
			 "# TYPE pushdesk_broker_events_sent_per_second gauge\n"
			 "pushdesk_broker_events_sent_per_second %.3f\n",
		      RATE_WINDOW, in_ps, RATE_WINDOW, out_ps);
	delivery_histogram(b);
	const char *vs = adapter_state(g_app.adapter);
	pd_buf_printf(b, "# HELP pushdesk_broker_valkey_state Valkey connection state (1 for the "
			 "current one; none = no valkey_url).\n"
			 "# TYPE pushdesk_broker_valkey_state gauge\n");
	static const char *const states[] = {"up", "down", "none"};
	for (size_t k = 0; k < 3; k++)
		pd_buf_printf(b, "pushdesk_broker_valkey_state{state=\"%s\"} %d\n", states[k],
			      strcmp(states[k], vs) == 0);
	if (g_app.db != NULL) {
		struct dbpool_stats d;
		dbpool_get_stats(g_app.db, &d);
		admin_counter(b, "db_jobs_total", "Database jobs accepted.", "counter", d.submitted);
		admin_counter(b, "db_jobs_refused_total", "Database jobs refused (queue full, stopping).",
			"counter", d.refused);
		admin_counter(b, "db_jobs_unavailable_total",
			"Database jobs answered unavailable (database down).", "counter", d.unavailable);
		admin_counter(b, "db_reconnects_total", "Database connections (re)opened.", "counter",
			d.reconnects);
		admin_counter(b, "db_queue", "Database jobs waiting.", "gauge", d.queued);
		admin_counter(b, "db_connected", "Database threads holding a working connection.", "gauge",
			(unsigned long long)d.connected);
	}
	g_app.adapter->ops->metrics(g_app.adapter, b);
	if (cfg->recovery != NULL) { /* recovery hook */
		struct recovery_stats rs;
		recovery_get_stats(cfg->recovery, &rs);
		admin_counter(b, "recovery_sessions_recovered_total",
			"Sockets restored by connection state recovery.", "counter", rs.recovered);
		admin_counter(b, "recovery_missed_total",
			"Recoveries asked for and refused (window passed, state gone).", "counter",
			rs.missed);
		admin_counter(b, "recovery_events_replayed_total", "Events replayed to restored sockets.",
			"counter", rs.replayed);
		admin_counter(b, "recovery_caught_up_total",
			"Events read back from the stream after Valkey came back.", "counter",
			rs.caught_up);
	}
	return b->data != NULL ? 0 : -1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return http_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
				  "{\"error\":\"method not allowed\"}", 30);
	if (strcmp(url, "/healthz") == 0) {
		/* liveness: 200 while the loops run; the dependencies are named */
		char body[128];
		const char *vs = adapter_state(g_app.adapter);
		int n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"db\":\"%s\",\"valkey\":\"%s\"}",
				 g_app.db == NULL ? "none" : dbpool_up(g_app.db) ? "ok" : "down",
				 strcmp(vs, "up") == 0 ? "ok" : vs);
		return http_reply(c, MHD_HTTP_OK, "application/json", body, (size_t)n);
	}
	if (strcmp(url, "/metrics") == 0) {
		struct pd_buf b;
		pd_buf_init(&b, 0);
		enum MHD_Result r;
		if (metrics_text(&b) < 0)
			r = http_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "", 0);
		else
			r = http_reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
				       b.data, b.len);
		pd_buf_free(&b);
		return r;
	}
	return http_reply(c, MHD_HTTP_NOT_FOUND, "application/json", "{\"error\":\"not found\"}",
			  21);
}

int admin_start(struct loop *l, const struct broker *b, const char *addr, char *err,
		size_t errlen)
{
	int fd = http_listen(addr, err, errlen);
	if (fd < 0)
		return -1;
	admin_loop = l;
	cfg = b;
	loop_timer_init(&rate_timer, rate_sample);
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log_fn, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_END);
	if (d == NULL) {
		close(fd);
		snprintf(err, errlen, "libmicrohttpd failed to start the admin listener");
		return -1;
	}
	if (http_attach(l, d) < 0) {
		MHD_stop_daemon(d);
		snprintf(err, errlen, "cannot watch the admin listener");
		return -1;
	}
	rate_sample(&rate_timer); /* the first sample, and the timer */
	pd_log(LOG_NOTICE, "admin listening addr=%s port=%d", addr, http_bound_port(fd));
	return 0;
}
