/* eio_packet: Engine.IO v4 packets and HTTP long-polling payloads, no I/O.
 * A packet is one type character and its data; over WebSocket a text frame
 * holds one text packet and a binary frame holds one binary message; over
 * polling packets are joined by \x1e and binary ones are sent as 'b' + base64. */
#ifndef PD_EIO_PACKET_H
#define PD_EIO_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"

#define EIO_SEPARATOR '\x1e'

enum eio_type {
	EIO_OPEN = '0',
	EIO_CLOSE = '1',
	EIO_PING = '2',
	EIO_PONG = '3',
	EIO_MESSAGE = '4',
	EIO_UPGRADE = '5',
	EIO_NOOP = '6',
};

struct eio_packet {
	int type;            /* enum eio_type */
	int binary;          /* 1 for a binary message (type EIO_MESSAGE) */
	const uint8_t *data; /* borrowed: from the input, or from scratch when base64-decoded */
	size_t len;
};

/* Decode one text packet ("4hello", "2probe", "bAQID" -> binary message).
 * scratch receives base64-decoded bytes (reset first). 0, or -1 for an
 * unknown type, an empty packet or bad base64. */
int eio_decode_text(const char *p, size_t n, struct pd_buf *scratch, struct eio_packet *out);

/* Iterate a polling POST body: sets *elem to the next \x1e-separated packet
 * and advances *p and *n. Returns 1 while there is one, 0 at the end. An empty
 * element (two separators in a row, or an empty body) is returned too, so
 * that the caller rejects it through eio_decode_text. */
int eio_payload_next(const char **p, size_t *n, const char **elem, size_t *elem_len);

/* Append one packet to a polling payload (adds the \x1e separator when out is
 * not empty). Binary messages become 'b' + base64 (type is then ignored).
 * 0, -ENOMEM or -ENOBUFS (out left as it was), -EINVAL for an unknown type. */
int eio_payload_append(struct pd_buf *out, int type, int binary, const uint8_t *data, size_t len);

/* The handshake's OPEN packet data:
 * {"sid":"...","upgrades":[...],"pingInterval":N,"pingTimeout":N,"maxPayload":N} */
int eio_open_json(struct pd_buf *out, const char *sid, int can_upgrade, long ping_interval,
		  long ping_timeout, long max_payload);

#endif
