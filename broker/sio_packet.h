/* sio_packet: Socket.IO v5 packets, no I/O.
 * <type>[<attachments>-][<nsp>,][<id>][<json>], e.g. 2["hello",1],
 * 21-/admin,42["bin",{"_placeholder":true,"num":0}]. JSON through jansson. */
#ifndef PD_SIO_PACKET_H
#define PD_SIO_PACKET_H

#include <jansson.h>
#include <stddef.h>

#include "pd_buf.h"

#define SIO_NSP_MAX 256
#define SIO_MAX_ATTACHMENTS 64

enum sio_type {
	SIO_CONNECT = 0,
	SIO_DISCONNECT = 1,
	SIO_EVENT = 2,
	SIO_ACK = 3,
	SIO_CONNECT_ERROR = 4,
	SIO_BINARY_EVENT = 5,
	SIO_BINARY_ACK = 6,
};

struct sio_packet {
	int type;
	char nsp[SIO_NSP_MAX]; /* "/" when absent */
	long long id;          /* -1 when absent */
	int attachments;       /* binary types only; placeholders stay in data */
	json_t *data;          /* owned; NULL when absent */
};

/* Decode a packet from an Engine.IO message. Checks what the spec demands:
 * a known type; attachments only on binary types and <= SIO_MAX_ATTACHMENTS;
 * nsp starting with '/'; id only on EVENT/ACK types; EVENT data a non-empty
 * array whose first item is a string; ACK data an array; CONNECT data absent
 * or an object; DISCONNECT with no data. 0, or -1 with err filled.
 * On success the caller frees with sio_packet_clear. */
int sio_decode(const char *p, size_t n, struct sio_packet *out, char *err, size_t errlen);
void sio_packet_clear(struct sio_packet *pk);

/* Encode. nsp NULL or "/" omits it; id < 0 omits it; data NULL omits it;
 * attachments > 0 only with BINARY_* types. Appends to out: 0, -ENOMEM or
 * -ENOBUFS (out left as it was), or -EINVAL for a caller bug: unknown type,
 * nsp not starting with '/', holding ',' or too long, attachments on a
 * non-binary type or < 1 on a BINARY_* one (what the decoder refuses). */
int sio_encode(struct pd_buf *out, int type, const char *nsp, long long id, int attachments,
	       const json_t *data);

/* Append v as JavaScript's JSON.stringify writes it (compact, '/' and
 * non-ASCII unescaped, controls as lower-case \u00xx, numbers in their
 * shortest form, array-index keys first): the bytes a Node.js peer would
 * send. On error out is left as it was. 0, -ENOMEM or -ENOBUFS. */
int sio_json_append(struct pd_buf *out, const json_t *v);

/* Count the {"_placeholder":true,"num":N} objects in data and check that
 * their nums are exactly 0..count-1. Returns count, or -1 if malformed. */
int sio_placeholders_check(const json_t *data);

/* The event name of an EVENT packet (borrowed), or NULL. */
const char *sio_event_name(const struct sio_packet *pk);

#endif
