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
    {.name = "/custom", .on_connect = conf_connect, .on_event = conf_event},
};
const size_t conformance_nnsps = sizeof(conformance_nsps) / sizeof(conformance_nsps[0]);

/* ---- bench ---- */

static void bench_connect(struct sio_socket *s, const json_t *auth)
{
	(void)auth;
	if (auth_join_rooms(s) < 0)
		sio_disconnect(s, 0);
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
		if (ack_id >= 0) {
			json_t *a = json_pack("[{s:b}]", "ok", 1);
			if (a != NULL)
				sio_ack(s, ack_id, a, NULL, 0);
			json_decref(a);
		}
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
