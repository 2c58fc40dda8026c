/* profiles: socketio-conformance and engineio-echo behave as the reference
 * test servers of those protocols (contract 6); bench does the small work
 * a load generator can compare with a Node server. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "pd_log.h"
#include "room.h"
#include "wsconn.h"

/* ---- socketio-conformance ---- */

static void conf_connect(struct sio_socket *s, const json_t *auth)
{
	json_t *args = json_pack("[O]", auth);
	if (args != NULL)
		sio_emit(s, "auth", args, NULL, 0);
	json_decref(args);
}

/* data without its first item (the event name) */
static json_t *args_of(const json_t *data)
{
	json_t *a = json_array();
	for (size_t i = 1; a != NULL && i < json_array_size(data); i++)
		json_array_append(a, json_array_get(data, i));
	return a;
}

static void conf_event(struct sio_socket *s, const char *event, const json_t *data,
		       const struct sio_bin *bins, size_t nbins, long long ack_id)
{
	if (strcmp(event, "message") == 0) {
		json_t *a = args_of(data);
		if (a != NULL)
			sio_emit(s, "message-back", a, bins, nbins);
		json_decref(a);
	} else if (strcmp(event, "message-with-ack") == 0 && ack_id >= 0) {
		json_t *a = args_of(data);
		if (a != NULL)
			sio_ack(s, ack_id, a, bins, nbins);
		json_decref(a);
	}
}

const struct sio_nsp_def conformance_nsps[] = {
    {.name = "/", .on_connect = conf_connect, .on_event = conf_event},
    /* the reference server only emits `auth` on /custom: events there are
     * ignored */
    {.name = "/custom", .on_connect = conf_connect},
};
const size_t conformance_nnsps = sizeof(conformance_nsps) / sizeof(conformance_nsps[0]);

/* ---- bench ---- */

static void bench_connect(struct sio_socket *s, const json_t *auth)
{
	(void)auth;
	if (auth_join_rooms(s) < 0)
		sio_disconnect(s, 0);
}

static void bench_ok(struct sio_socket *s, long long ack_id)
{
	if (ack_id < 0)
		return;
	json_t *a = json_pack("[{s:b}]", "ok", 1);
	if (a != NULL)
		sio_ack(s, ack_id, a, NULL, 0);
	json_decref(a);
}

static void bench_answer(struct sio_socket *s, const json_t *args, const struct sio_bin *bins,
			 size_t nbins, void *ud)
{
	(void)ud;
	sio_emit(s, "answer", args, bins, nbins);
}

#define BENCH_MAX_ROOMS 16

/* room names from a JSON array of strings into out; -1 if malformed */
static int names_of(const json_t *arr, const char **out, size_t *n)
{
	*n = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > BENCH_MAX_ROOMS)
		return -1;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_array_get(arr, i);
		if (!json_is_string(v))
			return -1;
		out[(*n)++] = json_string_value(v);
	}
	return 0;
}

/* broadcast {to?:[rooms], except?:[rooms], event, data?}: the room machinery
 * (every loop, encoded once) driven by a client, for fan-out benchmarks. */
static void bench_broadcast(struct sio_socket *s, const json_t *arg, long long ack_id)
{
	const char *to[BENCH_MAX_ROOMS], *except[BENCH_MAX_ROOMS];
	size_t nto, nexcept;
	const json_t *ev = json_object_get(arg, "event");
	if (!json_is_object(arg) || !json_is_string(ev) ||
	    names_of(json_object_get(arg, "to"), to, &nto) < 0 ||
	    names_of(json_object_get(arg, "except"), except, &nexcept) < 0) {
		sio_error(s, ack_id, "BAD_REQUEST", "broadcast needs {to?, except?, event, data?}");
		return;
	}
	/* through the cluster when there is one: every broker's members */
	int rc = app_emit(s->nsp->w->loop, s->nsp->idx, to, nto, except, nexcept,
			  json_string_value(ev), json_object_get(arg, "data"));
	if (rc < 0) {
		sio_error(s, ack_id, "INTERNAL", "out of memory");
		return;
	}
	bench_ok(s, ack_id);
}

static void bench_event(struct sio_socket *s, const char *event, const json_t *data,
			const struct sio_bin *bins, size_t nbins, long long ack_id)
{
	if (strcmp(event, "join") == 0) {
		const json_t *room = json_array_get(data, 1);
		if (!json_is_string(room) || room_join(s, json_string_value(room)) < 0) {
			sio_error(s, ack_id, "BAD_REQUEST", "join needs a room name");
			return;
		}
		bench_ok(s, ack_id);
	} else if (strcmp(event, "leave") == 0) {
		const json_t *room = json_array_get(data, 1);
		if (!json_is_string(room)) {
			sio_error(s, ack_id, "BAD_REQUEST", "leave needs a room name");
			return;
		}
		room_leave(s, json_string_value(room));
		bench_ok(s, ack_id);
	} else if (strcmp(event, "broadcast") == 0) {
		bench_broadcast(s, json_array_get(data, 1), ack_id);
	} else if (strcmp(event, "ask") == 0) {
		/* ask(event, ...args): the server emits event with args asking for
		 * an ack, and emits `answer` with what the client acked */
		const json_t *ev = json_array_get(data, 1);
		json_t *a = json_array();
		for (size_t i = 2; a != NULL && i < json_array_size(data); i++)
			json_array_append(a, json_array_get(data, i));
		if (!json_is_string(ev) || a == NULL ||
		    sio_emit_ack(s, json_string_value(ev), a, bench_answer, NULL) < 0)
			sio_error(s, ack_id, "BAD_REQUEST", "ask needs an event name");
		else
			bench_ok(s, ack_id);
		json_decref(a);
	} else if (strcmp(event, "echo") == 0) {
		if (ack_id >= 0) {
			json_t *a = args_of(data);
			if (a != NULL)
				sio_ack(s, ack_id, a, bins, nbins);
			json_decref(a);
		}
	} else {
		sio_error(s, ack_id, "BAD_REQUEST", "unknown event");
	}
}

const struct sio_nsp_def bench_nsps[] = {
    {.name = "/", .authorize = auth_authorize, .on_connect = bench_connect,
     .on_event = bench_event},
};
const size_t bench_nnsps = sizeof(bench_nsps) / sizeof(bench_nsps[0]);

/* ---- engineio-echo ---- */

static int echo_message(struct eio_session *s, int binary, const uint8_t *p, size_t n)
{
	struct msg *m;
	if (binary) {
		struct msg_src src = {1, p, n};
		m = msg_new(&src, 1);
	} else {
		char *b = malloc(n + 1);
		if (b == NULL)
			return 0;
		b[0] = '4';
		memcpy(b + 1, p, n);
		m = msg_text(b, n + 1);
		free(b);
	}
	if (m != NULL) {
		eio_send(s, m);
		msg_unref(m);
	}
	return 0;
}

const struct eio_ops echo_eio_ops = {
    .on_message = echo_message,
};
