/* Fuzz target for broker/adapter_codec: the input is fed to each decoder
 * (broadcast, request, response, the sharded adapter's messages) and, as a
 * channel name, to the channel parser. Whatever decodes must encode, decode again to the same thing and
 * encode to the very same bytes; whatever fails must say why. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_codec.h"
#include "pd_wire.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

static int same_rooms(const struct adapter_rooms *a, const struct adapter_rooms *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int same_att(const struct adapter_bin *a, size_t na, const struct adapter_bin *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].len != b[i].len || memcmp(a[i].p, b[i].p, a[i].len) != 0)
			return 0;
	return 1;
}

static void broadcast(const uint8_t *data, size_t size)
{
	struct adapter_broadcast a, b;
	struct pd_buf e1, e2;
	char err[128];

	if (adapter_broadcast_decode(data, size, &a, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && a.packet.data == NULL && a.rooms.v == NULL);
		return;
	}
	/* a recovery offset is kept only when it is a stream id */
	check(a.offset[0] == '\0' || adapter_offset_valid(a.offset, strlen(a.offset)));
	check(adapter_offset_cmp(a.offset, a.offset) == 0);
	struct adapter_emit e = {a.uid, a.packet.type, a.packet.nsp, a.packet.id, a.packet.data,
				 a.packet.att, a.packet.natt, (const char *const *)a.rooms.v,
				 a.rooms.n, (const char *const *)a.except.v, a.except.n, &a.flags};
	pd_buf_init(&e1, 0);
	check(adapter_broadcast_encode(&e1, &e) == 0);
	check(adapter_broadcast_decode((const uint8_t *)e1.data, e1.len, &b, err, sizeof(err)) == 0);
	check(strcmp(a.uid, b.uid) == 0 && a.packet.type == b.packet.type &&
	      strcmp(a.packet.nsp, b.packet.nsp) == 0 && a.packet.id == b.packet.id &&
	      same_rooms(&a.rooms, &b.rooms) && same_rooms(&a.except, &b.except) &&
	      memcmp(&a.flags, &b.flags, sizeof(a.flags)) == 0 &&
	      same_att(a.packet.att, a.packet.natt, b.packet.att, b.packet.natt) &&
	      (a.packet.data == NULL) == (b.packet.data == NULL));
	struct adapter_emit f = {b.uid, b.packet.type, b.packet.nsp, b.packet.id, b.packet.data,
				 b.packet.att, b.packet.natt, (const char *const *)b.rooms.v,
				 b.rooms.n, (const char *const *)b.except.v, b.except.n, &b.flags};
	pd_buf_init(&e2, 0);
	check(adapter_broadcast_encode(&e2, &f) == 0);
	check(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	adapter_broadcast_clear(&a);
	adapter_broadcast_clear(&b);
	pd_buf_free(&e1);
	pd_buf_free(&e2);
}

static void request(const uint8_t *data, size_t size)
{
	struct adapter_request a, b;
	struct pd_buf e1, e2;
	char err[128];

	if (adapter_request_decode(data, size, &a, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && a.data == NULL && a.packet.data == NULL);
		return;
	}
	pd_buf_init(&e1, 0);
	pd_buf_init(&e2, 0);
	check(adapter_request_encode(&e1, &a) == 0);
	check(adapter_request_decode((const uint8_t *)e1.data, e1.len, &b, err, sizeof(err)) == 0);
	check(a.type == b.type && strcmp(a.uid, b.uid) == 0 &&
	      strcmp(a.request_id, b.request_id) == 0 && a.has_opts == b.has_opts &&
	      same_rooms(&a.rooms, &b.rooms) && same_rooms(&a.opt_rooms, &b.opt_rooms) &&
	      same_rooms(&a.opt_except, &b.opt_except) && strcmp(a.sid, b.sid) == 0 &&
	      strcmp(a.room, b.room) == 0 && a.close == b.close &&
	      memcmp(&a.flags, &b.flags, sizeof(a.flags)) == 0 &&
	      same_att(a.packet.att, a.packet.natt, b.packet.att, b.packet.natt));
	check(adapter_request_encode(&e2, &b) == 0);
	check(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	adapter_request_clear(&a);
	adapter_request_clear(&b);
	pd_buf_free(&e1);
	pd_buf_free(&e2);
}

static void response(const uint8_t *data, size_t size)
{
	struct adapter_response a, b;
	struct pd_buf e1, e2;
	char err[128];

	if (adapter_response_decode(data, size, &a, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && a.sockets == NULL && a.packet == NULL);
		return;
	}
	pd_buf_init(&e1, 0);
	pd_buf_init(&e2, 0);
	/* types 0..5 and 7 are no reply's type: the encoder refuses them */
	if (adapter_response_encode(&e1, &a) != 0) {
		check(a.type >= 0 && a.type != 6 && a.type != 8 && a.type != 9);
		goto out;
	}
	check(adapter_response_decode((const uint8_t *)e1.data, e1.len, &b, err, sizeof(err)) == 0);
	check(a.type == b.type && strcmp(a.request_id, b.request_id) == 0 &&
	      same_att(a.att, a.natt, b.att, b.natt) && a.client_count == b.client_count);
	check(adapter_response_encode(&e2, &b) == 0);
	check(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	adapter_response_clear(&b);
out:
	adapter_response_clear(&a);
	pd_buf_free(&e1);
	pd_buf_free(&e2);
}

/* The query answers' reader (pd_wire) on the same input: what it accepts
 * names a request and a broker. */
static void answer(const uint8_t *data, size_t size)
{
	char id[PD_WIRE_MAX_UID + 1];
	json_t *d;
	if (pd_wire_answer_decode((const char *)data, size, id, &d) != 0) {
		check(d == NULL);
		return;
	}
	check(id[0] != '\0' && strlen(id) <= PD_WIRE_MAX_UID && pd_wire_answer_uid(d, NULL) != NULL);
	json_decref(d);
}

static void channel(const uint8_t *data, size_t size)
{
	struct adapter_channel c;
	struct pd_buf b;
	char err[128], nsp[ADAPTER_MAX_NSP + 1], tail[ADAPTER_MAX_ROOM + 1];
	const char *ch = (const char *)data;
	struct pd_str room;

	(void)adapter_channel_room("socket.io", "/", ch, size, &room);
	if (adapter_channel_parse("socket.io", ch, size, &c, err, sizeof(err)) != 0) {
		check(err[0] != '\0');
		return;
	}
	if (memchr(data, '\0', size) != NULL)
		return;
	check(c.nsp.len <= ADAPTER_MAX_NSP && c.room.len <= ADAPTER_MAX_ROOM &&
	      c.uid.len <= ADAPTER_MAX_UID);
	memcpy(nsp, c.nsp.p, c.nsp.len);
	nsp[c.nsp.len] = '\0';
	pd_buf_init(&b, 0);
	if (c.kind == ADAPTER_CH_BROADCAST) {
		if (c.room.p != NULL) {
			memcpy(tail, c.room.p, c.room.len);
			tail[c.room.len] = '\0';
		}
		check(adapter_channel_broadcast(&b, "socket.io", nsp, c.room.p ? tail : NULL) == 0);
	} else if (c.kind == ADAPTER_CH_REQUEST) {
		check(adapter_channel_request(&b, "socket.io", nsp) == 0);
	} else {
		if (c.uid.p != NULL) {
			memcpy(tail, c.uid.p, c.uid.len);
			tail[c.uid.len] = '\0';
		}
		check(adapter_channel_response(&b, "socket.io", nsp, c.uid.p ? tail : NULL) == 0);
	}
	check(b.len == size && memcmp(b.data, data, size) == 0);
	pd_buf_free(&b);
}

/* A sharded message: a BROADCAST must encode and decode to the same thing,
 * and encode to the same bytes again. */
static void sharded(const uint8_t *data, size_t size)
{
	struct adapter_sh_msg a, b;
	struct pd_buf e1, e2;
	char err[128];

	if (adapter_sh_decode(data, size, &a, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && a.packet.data == NULL && a.rooms.v == NULL &&
		      a.sockets == NULL);
		return;
	}
	check(a.type >= ADAPTER_SH_INITIAL_HEARTBEAT && a.type <= ADAPTER_SH_ADAPTER_CLOSE &&
	      a.nsp[0] == '/');
	if (a.type != ADAPTER_SH_BROADCAST) {
		adapter_sh_clear(&a);
		return;
	}
	struct adapter_emit e = {a.uid, a.packet.type, a.nsp, -1, a.packet.data,
				 a.packet.att, a.packet.natt, (const char *const *)a.rooms.v,
				 a.rooms.n, (const char *const *)a.except.v, a.except.n, &a.flags};
	const char *rid = a.request_id[0] != '\0' ? a.request_id : NULL;
	pd_buf_init(&e1, 0);
	pd_buf_init(&e2, 0);
	if (a.packet.data == NULL) { /* a packet without data is not a broker's */
		check(adapter_sh_broadcast_encode(&e1, &e, rid) == -EINVAL);
		goto out;
	}
	check(adapter_sh_broadcast_encode(&e1, &e, rid) == 0);
	check(adapter_sh_decode((const uint8_t *)e1.data, e1.len, &b, err, sizeof(err)) == 0);
	check(b.type == ADAPTER_SH_BROADCAST && strcmp(a.uid, b.uid) == 0 &&
	      strcmp(a.nsp, b.nsp) == 0 && strcmp(a.request_id, b.request_id) == 0 &&
	      a.packet.type == b.packet.type && same_rooms(&a.rooms, &b.rooms) &&
	      same_rooms(&a.except, &b.except) && memcmp(&a.flags, &b.flags, sizeof(a.flags)) == 0 &&
	      same_att(a.packet.att, a.packet.natt, b.packet.att, b.packet.natt));
	struct adapter_emit f = {b.uid, b.packet.type, b.nsp, -1, b.packet.data,
				 b.packet.att, b.packet.natt, (const char *const *)b.rooms.v,
				 b.rooms.n, (const char *const *)b.except.v, b.except.n, &b.flags};
	check(adapter_sh_broadcast_encode(&e2, &f, rid) == 0);
	check(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	adapter_sh_clear(&b);
out:
	adapter_sh_clear(&a);
	pd_buf_free(&e1);
	pd_buf_free(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	broadcast(data, size);
	sharded(data, size);
	request(data, size);
	response(data, size);
	answer(data, size);
	channel(data, size);
	return 0;
}
