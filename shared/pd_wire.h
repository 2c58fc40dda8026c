/* pd_wire: what pushdesk's programs say to each other on Valkey's pub/sub
 * in the protocol of the Socket.IO Redis adapter (@socket.io/redis-adapter
 * 8.3, @socket.io/redis-emitter 5.1), where the broker, pd_emitter and
 * pushdeskctl share it: the channel names, and pushdesk's own query across
 * brokers. The adapter's messages themselves are broker/adapter_codec's,
 * their msgpack pd_msgpack's.
 *
 * Channels, for a key prefix K (adapter_key, pd_keys_prefix) and a
 * namespace N:
 *   K#N#          broadcasts (PSUBSCRIBE K#N#* to get the next one too)
 *   K#N#ROOM#     a broadcast to exactly one room
 *   K-request#N#  requests between servers
 *   K-response#N# responses (the shared channel, the adapter's default)
 *   K-response#N#UID#  responses for one server (8.x subscribes to it; it
 *                 publishes there only with publishOnSpecificResponseChannel)
 *
 * A query: the adapter's SERVER_SIDE_EMIT request (JSON, type 6)
 *   {"uid": ASKER, "requestId": ID, "type": 6,
 *    "data": ["pushdesk:request", KIND, ARG]}
 * on K-request#/#, answered by every pushdesk broker on K-response#/#ASKER#
 * with {"type": 6, "requestId": ID, "data": {"uid": BROKER, "result": ...}}.
 * Node servers have no listener for the event and do not answer. */
#ifndef PD_WIRE_H
#define PD_WIRE_H

#include <jansson.h>
#include <stddef.h>

#include "pd_buf.h"

/* The separators after K, spelled once (the broker's parser uses them). */
#define PD_WIRE_BROADCAST "#"
#define PD_WIRE_REQUEST "-request#"
#define PD_WIRE_RESPONSE "-response#"

#define PD_WIRE_MAX_NSP 255  /* bytes of a namespace name */
#define PD_WIRE_MAX_ROOM 256 /* bytes of one room name */
#define PD_WIRE_MAX_UID 64   /* bytes of a server uid or a requestId */
#define PD_WIRE_MAX_MSG (2u << 20) /* bytes of one message */

/* Channel names, appended to out NUL-terminated. key NULL or "" means the
 * default prefix, nsp NULL or "" means "/". room NULL: the namespace's
 * broadcast channel; uid NULL: the shared response channel.
 * 0, -EINVAL (a name longer than its limit), -ENOMEM or -ENOBUFS. */
int pd_wire_channel_broadcast(struct pd_buf *out, const char *key, const char *nsp,
			      const char *room);
int pd_wire_channel_request(struct pd_buf *out, const char *key, const char *nsp);
int pd_wire_channel_response(struct pd_buf *out, const char *key, const char *nsp,
			     const char *uid);
/* The PSUBSCRIBE pattern K#N#* with glob characters of K and N escaped. */
int pd_wire_channel_pattern(struct pd_buf *out, const char *key, const char *nsp);

/* ---- the sharded adapter's broadcast with a recovery offset ---- */

/* Adds "offset": id (a recovery stream id, idlen bytes) as the last key of
 * msg, a sharded adapter message as createShardedAdapter encodes it: JSON
 * (an object ending in '}') or msgpack (a fixmap of fewer than 15 keys).
 * The ClusterAdapter reads no such key; pushdesk's brokers deliver the
 * event with it as the Socket.IO offset. 0, -EINVAL (not such a message,
 * an id with characters other than digits and '-'), -ENOMEM or -ENOBUFS;
 * msg unchanged on error. */
int pd_wire_sh_offset(struct pd_buf *msg, const char *id, size_t idlen);

/* ---- pushdesk's query across brokers ---- */

#define PD_WIRE_QUERY_EVENT "pushdesk:request"

/* The request message from uid, kind with arg (borrowed; NULL: {}),
 * appended to out. 0, -EINVAL (an id
 * over PD_WIRE_MAX_UID), -ENOMEM or -ENOBUFS; out unchanged on error. */
int pd_wire_query_encode(struct pd_buf *out, const char *uid, const char *request_id,
			 const char *kind, const json_t *arg);

/* The kind of a request's data and its arg (borrowed; NULL when absent or
 * not an object), or NULL when data is not ["pushdesk:request", kind, ...]. */
const char *pd_wire_query_kind(const json_t *data, const json_t **arg);

/* A broker's answer, the response's data {uid, result} (result borrowed),
 * new, or NULL when out of memory. */
json_t *pd_wire_answer_data(const char *uid, const json_t *result);

/* Reads a message of a response channel as an answer to a query: its
 * requestId into request_id (PD_WIRE_MAX_UID + 1 bytes) and its data
 * (new reference) into *data. 0, or -1 when the message is not an answer
 * (not JSON, over PD_WIRE_MAX_MSG, not type 6, no requestId, data without
 * a uid): then *data is NULL. */
int pd_wire_answer_decode(const char *p, size_t n, char *request_id, json_t **data);

/* From an answer's data: the answering broker's uid (borrowed from data)
 * and its result (borrowed; NULL when absent). */
const char *pd_wire_answer_uid(const json_t *data, const json_t **result);

#endif
