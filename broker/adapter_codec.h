/* adapter_codec: the wire format of the Socket.IO Redis adapter
 * (@socket.io/redis-adapter 8.3, the classic adapter on the socket.io-adapter
 * in-memory Adapter) and of @socket.io/redis-emitter 5.1, no I/O.
 *
 * Channels: see pd_wire.h (the names are built there and parsed here).
 *
 * Broadcast: msgpack (notepack.io) [uid, packet, opts] with packet
 * {type, data, nsp} (binary attachments are msgpack bin inside data) and opts
 * {rooms: [...], except: [...], flags: {volatile?, compress?, timeout?...}}.
 *
 * Requests are JSON objects {uid, requestId?, type, ...} except BROADCAST
 * (type 7, msgpack); responses are JSON {requestId, ...} or {type,
 * requestId, ...}, except BROADCAST_ACK (type 9, msgpack). A receiver tells
 * them apart as the adapter does: JSON when the first byte is '{'. */
#ifndef PD_ADAPTER_CODEC_H
#define PD_ADAPTER_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"
#include "pd_keys.h"
#include "pd_msgpack.h"
#include "pd_wire.h"

#define ADAPTER_DEFAULT_KEY PD_KEYS_DEFAULT_PREFIX
#define ADAPTER_MAX_MSG PD_WIRE_MAX_MSG    /* bytes of one message */
#define ADAPTER_MAX_KEY PD_KEYS_MAX_PREFIX /* bytes of the key prefix */
#define ADAPTER_MAX_NSP PD_WIRE_MAX_NSP    /* bytes of a namespace name */
#define ADAPTER_MAX_UID PD_WIRE_MAX_UID    /* bytes of a server uid or a requestId */
#define ADAPTER_MAX_ROOMS 1024             /* rooms in one list */
#define ADAPTER_MAX_ROOM PD_WIRE_MAX_ROOM  /* bytes of one room name */
#define ADAPTER_MAX_OFFSET 41              /* bytes of a stream id: 20 digits '-' 20 digits */
/* nesting of packet data, values in one message, binary values in one
 * packet (at most SIO_MAX_ATTACHMENTS): pd_msgpack's limits */
#define ADAPTER_MAX_DEPTH PD_MSGPACK_MAX_DEPTH
#define ADAPTER_MAX_NODES PD_MSGPACK_MAX_NODES
#define ADAPTER_MAX_ATTACHMENTS PD_MSGPACK_MAX_BINS

/* Request types (the adapter's RequestType enum). */
enum adapter_type {
	ADAPTER_SOCKETS = 0,
	ADAPTER_ALL_ROOMS = 1,
	ADAPTER_REMOTE_JOIN = 2,
	ADAPTER_REMOTE_LEAVE = 3,
	ADAPTER_REMOTE_DISCONNECT = 4,
	ADAPTER_REMOTE_FETCH = 5,
	ADAPTER_SERVER_SIDE_EMIT = 6,
	ADAPTER_BROADCAST = 7,
	ADAPTER_BROADCAST_CLIENT_COUNT = 8,
	ADAPTER_BROADCAST_ACK = 9,
};

/* ---- channels ---- */

enum adapter_channel_kind {
	ADAPTER_CH_BROADCAST = 0,
	ADAPTER_CH_REQUEST = 1,
	ADAPTER_CH_RESPONSE = 2,
};

/* A parsed channel; slices point into the channel name given. room is set
 * (p != NULL) only for K#N#ROOM#, uid only for K-response#N#UID#. */
struct adapter_channel {
	enum adapter_channel_kind kind;
	struct pd_str nsp;
	struct pd_str room;
	struct pd_str uid;
};

/* Channel names are pd_wire's (shared with pd_emitter and pushdeskctl):
 * these keep the codec's names for the broker and its tests. */
static inline int adapter_channel_broadcast(struct pd_buf *out, const char *key, const char *nsp,
					    const char *room)
{
	return pd_wire_channel_broadcast(out, key, nsp, room);
}
static inline int adapter_channel_request(struct pd_buf *out, const char *key, const char *nsp)
{
	return pd_wire_channel_request(out, key, nsp);
}
static inline int adapter_channel_response(struct pd_buf *out, const char *key, const char *nsp,
					   const char *uid)
{
	return pd_wire_channel_response(out, key, nsp, uid);
}
static inline int adapter_channel_pattern(struct pd_buf *out, const char *key, const char *nsp)
{
	return pd_wire_channel_pattern(out, key, nsp);
}

/* Parse a channel name published under key. The namespace runs to the
 * first '#' after the prefix (a namespace containing '#' is ambiguous: use
 * adapter_channel_room for a known one). 0, or -1 with err filled when the
 * name is not one of the forms above or a part is over its limit. */
int adapter_channel_parse(const char *key, const char *ch, size_t len, struct adapter_channel *out,
			  char *err, size_t errlen);

/* As the adapter does for its own namespace nsp: 1 if ch is K#nsp# (room
 * NULL/0) or K#nsp#ROOM# (room set, a slice of ch), 0 if ch belongs to
 * another namespace or is not a broadcast channel, -1 if the room is over
 * ADAPTER_MAX_ROOM. */
int adapter_channel_room(const char *key, const char *nsp, const char *ch, size_t len,
			 struct pd_str *room);

/* ---- broadcast messages ---- */

/* Flags: each -1 when absent, else 0 or 1 (timeout: milliseconds). */
struct adapter_flags {
	int vol;           /* "volatile" */
	int compress;
	int local;
	int broadcast;
	int expect_single; /* "expectSingleResponse" */
	long long timeout;
};
#define ADAPTER_FLAGS_NONE {-1, -1, -1, -1, -1, -1}

/* A binary value of a packet: pd_msgpack's {p, len}, p owned by the
 * struct that holds it (malloc). */
#define adapter_bin pd_msgpack_bin

/* A Socket.IO packet as the adapter carries it. In data every binary value
 * is replaced by {"_placeholder":true,"num":N}, N its index in att (in the
 * order the values appear on the wire), as a Socket.IO BINARY_EVENT wants. */
struct adapter_packet {
	int type;                       /* Socket.IO packet type, 0..6 */
	char nsp[ADAPTER_MAX_NSP + 1];  /* "/" when absent */
	long long id;                   /* -1 when absent */
	json_t *data;                   /* owned; NULL when absent */
	struct adapter_bin *att;        /* owned */
	size_t natt;
};

struct adapter_rooms {
	char **v; /* owned, NUL-terminated names (numbers are written in decimal) */
	size_t n;
};

struct adapter_broadcast {
	char uid[ADAPTER_MAX_UID + 1]; /* "emitter" from redis-emitter; "" when nil */
	struct adapter_packet packet;
	struct adapter_rooms rooms;
	struct adapter_rooms except;
	struct adapter_flags flags;
	/* connection state recovery: the stream id pushdesk publishes as a
	 * fourth item (pd_keys_lua_xpub); "" when absent or not an id */
	char offset[ADAPTER_MAX_OFFSET + 1];
};

/* 1 if s (n bytes) is a Valkey stream id "MS-SEQ" (digits, at most
 * ADAPTER_MAX_OFFSET bytes), else 0. */
int adapter_offset_valid(const char *s, size_t n);
/* Compare two valid stream ids: <0, 0, >0. "" sorts first. */
int adapter_offset_cmp(const char *a, const char *b);

/* Decode [uid, packet, opts]. Refuses anything malformed or over a limit:
 * -1 with err filled and out left empty (safe to clear). On success
 * (0) the caller frees with adapter_broadcast_clear. EVENT and BINARY_EVENT
 * packets have data: a non-empty array whose first item is a string. */
int adapter_broadcast_decode(const uint8_t *p, size_t n, struct adapter_broadcast *out, char *err,
			     size_t errlen);
void adapter_broadcast_clear(struct adapter_broadcast *b);
void adapter_packet_clear(struct adapter_packet *pk);

/* What the broker publishes for one of its own room emits. */
struct adapter_emit {
	const char *uid;                 /* the broker's server uid */
	int type;                        /* normally 2 (EVENT) */
	const char *nsp;                 /* "/" when NULL */
	long long id;                    /* < 0: none (always so for broadcasts) */
	const json_t *data;              /* placeholders refer to att */
	const struct adapter_bin *att;
	size_t natt;
	const char *const *rooms;
	size_t nrooms;
	const char *const *except;
	size_t nexcept;
	const struct adapter_flags *flags; /* NULL: {} */
};

/* Encode as the adapter's broadcast() does (notepack.io, keys in its
 * order: [uid, {type, data, nsp}, {rooms, except, flags}], flags in the
 * order volatile, compress, local, broadcast, timeout,
 * expectSingleResponse), placeholders in data turned back into msgpack bin
 * from att. Appends to out: 0, -EINVAL (placeholders not 0..natt-1, a value
 * that cannot be encoded), -ENOMEM or -ENOBUFS; out unchanged on error. */
int adapter_broadcast_encode(struct pd_buf *out, const struct adapter_emit *e);

/* ---- requests and responses ---- */

struct adapter_request {
	int type;                             /* enum adapter_type */
	char uid[ADAPTER_MAX_UID + 1];        /* "" when absent (the emitter's join/leave/disconnect) */
	char request_id[ADAPTER_MAX_UID + 1]; /* "" when absent */
	/* SOCKETS: the rooms to list; REMOTE_JOIN/LEAVE: the rooms to join/leave. */
	struct adapter_rooms rooms;
	/* REMOTE_JOIN/LEAVE/DISCONNECT/FETCH, BROADCAST: the sockets concerned. */
	int has_opts;
	struct adapter_rooms opt_rooms;
	struct adapter_rooms opt_except;
	struct adapter_flags flags;           /* BROADCAST (opts.flags) */
	/* Old form of REMOTE_JOIN/LEAVE/DISCONNECT (has_opts 0): one socket. */
	char sid[ADAPTER_MAX_ROOM + 1];
	char room[ADAPTER_MAX_ROOM + 1];
	int close;                            /* REMOTE_DISCONNECT */
	json_t *data;                         /* SERVER_SIDE_EMIT: [event, args...], owned */
	struct adapter_packet packet;         /* BROADCAST */
};

/* Decode a message of the request channel (JSON or msgpack). Checks the
 * fields its type needs (SERVER_SIDE_EMIT: data a non-empty array starting
 * with a string; REMOTE_JOIN/LEAVE: opts and rooms, or sid and room;
 * REMOTE_FETCH and BROADCAST: requestId and opts; SOCKETS and ALL_ROOMS:
 * requestId). Unknown types are an error. 0, or -1 with err filled; on
 * success free with adapter_request_clear. */
int adapter_request_decode(const uint8_t *p, size_t n, struct adapter_request *out, char *err,
			   size_t errlen);
void adapter_request_clear(struct adapter_request *r);
/* A request with no fields set: type -1, flags absent. */
void adapter_request_init(struct adapter_request *r);

/* Encode r as the adapter publishes requests of r->type: JSON (keys in the
 * adapter's order, as JSON.stringify writes them) for 0..6, msgpack for
 * BROADCAST. uid "" is omitted (the emitter's form). 0, -EINVAL, -ENOMEM or
 * -ENOBUFS; out unchanged on error. */
int adapter_request_encode(struct pd_buf *out, const struct adapter_request *r);

struct adapter_response {
	int type;                             /* -1 when absent (SOCKETS, ALL_ROOMS, FETCH, JOIN... replies) */
	char request_id[ADAPTER_MAX_UID + 1]; /* required */
	/* ALL_ROOMS reply: rooms (has_rooms). */
	int has_rooms;
	struct adapter_rooms rooms;
	/* SOCKETS reply: an array of socket ids; REMOTE_FETCH reply: an array of
	 * {id, handshake, rooms, data} (ids and rooms checked). Owned, or NULL. */
	json_t *sockets;
	json_t *data;                         /* SERVER_SIDE_EMIT ack argument, owned, or NULL */
	long long client_count;               /* BROADCAST_CLIENT_COUNT, else -1 */
	/* BROADCAST_ACK: the client's ack argument, binaries as placeholders. */
	json_t *packet;
	struct adapter_bin *att;
	size_t natt;
};

/* Decode a message of a response channel. 0, or -1 with err filled; on
 * success free with adapter_response_clear. */
int adapter_response_decode(const uint8_t *p, size_t n, struct adapter_response *out, char *err,
			    size_t errlen);
void adapter_response_clear(struct adapter_response *r);
void adapter_response_init(struct adapter_response *r);

/* Encode as the adapter answers: type -1 gives {"requestId"[,"sockets"][,"rooms"]};
 * SERVER_SIDE_EMIT {"type":6,"requestId"[,"data"]}; BROADCAST_CLIENT_COUNT
 * {"type":8,"requestId","clientCount"} (JSON); BROADCAST_ACK msgpack
 * {type:9, requestId, packet} with att put back as bin. 0, -EINVAL, -ENOMEM
 * or -ENOBUFS; out unchanged on error. */
int adapter_response_encode(struct pd_buf *out, const struct adapter_response *r);

#endif

/* ---- the sharded adapter ----
 * @socket.io/redis-adapter 8.3's createShardedAdapter (Redis 7 sharded
 * pub/sub, SSUBSCRIBE/SPUBLISH) on socket.io-adapter 2.5's ClusterAdapter.
 * Channels, subscriptionMode "dynamic" (pd_wire's names, same shapes):
 *   K#NSP#        the namespace's: every server subscribes
 *   K#NSP#ROOM#   a public room's: the servers with a member in it; a
 *                 broadcast to exactly one room that is not a socket id
 *                 (ADAPTER_SH_SID_LEN bytes) and wants no ack goes there
 *   K#NSP#UID#    a server's responses
 * Messages: the ClusterAdapter's {type, data, uid, nsp}, keys in that
 * order, as JSON.stringify writes them, or msgpack (notepack.io) when a
 * BROADCAST, BROADCAST_ACK, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT or
 * SERVER_SIDE_EMIT_RESPONSE carries binary data; a receiver tells them
 * apart by the first byte ('{': JSON). The packet of a BROADCAST is
 * {type, data} (no nsp: the message's nsp names it). */

/* The ClusterAdapter's MessageType. */
enum adapter_sh_type {
	ADAPTER_SH_INITIAL_HEARTBEAT = 1,
	ADAPTER_SH_HEARTBEAT = 2,
	ADAPTER_SH_BROADCAST = 3,
	ADAPTER_SH_SOCKETS_JOIN = 4,
	ADAPTER_SH_SOCKETS_LEAVE = 5,
	ADAPTER_SH_DISCONNECT_SOCKETS = 6,
	ADAPTER_SH_FETCH_SOCKETS = 7,
	ADAPTER_SH_FETCH_SOCKETS_RESPONSE = 8,
	ADAPTER_SH_SERVER_SIDE_EMIT = 9,
	ADAPTER_SH_SERVER_SIDE_EMIT_RESPONSE = 10,
	ADAPTER_SH_BROADCAST_CLIENT_COUNT = 11,
	ADAPTER_SH_BROADCAST_ACK = 12,
	ADAPTER_SH_ADAPTER_CLOSE = 13,
};
#define ADAPTER_SH_SID_LEN 20 /* a room this long is a socket id to the adapter */

/* 1 when a broadcast to rooms (no ack) goes to the room's own channel in
 * dynamic mode, as the adapter's computeChannel decides. */
int adapter_sh_room_channel(const char *const *rooms, size_t nrooms, int with_ack);

/* A decoded message. Fields a type does not carry stay empty. */
struct adapter_sh_msg {
	int type;                             /* enum adapter_sh_type */
	char uid[ADAPTER_MAX_UID + 1];        /* the sender; "" when absent */
	char nsp[ADAPTER_MAX_NSP + 1];        /* required, starts with '/' */
	char request_id[ADAPTER_MAX_UID + 1]; /* data.requestId; "" when absent */
	/* BROADCAST: data.packet; SERVER_SIDE_EMIT: data.packet ([event, args...])
	 * in packet.data; BROADCAST_ACK, SERVER_SIDE_EMIT_RESPONSE: the
	 * argument in packet.data. Binaries as placeholders into packet.att. */
	struct adapter_packet packet;
	/* BROADCAST, SOCKETS_JOIN/LEAVE, DISCONNECT_SOCKETS, FETCH_SOCKETS: data.opts */
	struct adapter_rooms rooms, except;
	struct adapter_flags flags;
	struct adapter_rooms targets;         /* SOCKETS_JOIN/LEAVE: data.rooms */
	int close;                            /* DISCONNECT_SOCKETS: data.close */
	long long client_count;               /* BROADCAST_CLIENT_COUNT, else -1 */
	json_t *sockets;                      /* FETCH_SOCKETS_RESPONSE: data.sockets, owned */
	/* BROADCAST: pushdesk's recovery stream id (pd_wire_sh_offset), "" when
	 * absent or not an id; the ClusterAdapter ignores the key */
	char offset[ADAPTER_MAX_OFFSET + 1];
};

/* Decode one message of a sharded channel. Checks what its type needs
 * (BROADCAST: packet and opts, EVENT data [name, ...]; SOCKETS_JOIN/LEAVE:
 * opts and rooms; FETCH_SOCKETS and the responses: requestId; ...);
 * unknown types, a missing nsp and anything over a limit are errors.
 * 0, or -1 with err filled and out empty; on success free with
 * adapter_sh_clear. */
int adapter_sh_decode(const uint8_t *p, size_t n, struct adapter_sh_msg *out, char *err,
		      size_t errlen);
void adapter_sh_clear(struct adapter_sh_msg *m);

/* A broker's broadcast (e->type EVENT or BINARY_EVENT, no id) in the
 * sharded format: JSON without attachments, msgpack with. request_id NULL:
 * none. 0, -EINVAL, -ENOMEM or -ENOBUFS; out unchanged on error. */
int adapter_sh_broadcast_encode(struct pd_buf *out, const struct adapter_emit *e,
				const char *request_id);
