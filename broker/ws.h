/* ws: RFC 6455 framing with no I/O. A ws_parser turns bytes read from a
 * socket into whole messages (fragments joined, masks removed, text checked
 * as UTF-8, control frames passed through between fragments); the encoders
 * write frame headers so that a payload encoded once can be sent to many. */
#ifndef PD_WS_H
#define PD_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WS_MAX_HEADER 14

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes, returned negated by ws_parser_feed on a protocol error. */
enum ws_close {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005,
	WS_CLOSE_BAD_DATA = 1007, /* invalid UTF-8 in a text message */
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
};

struct ws_frame {
	unsigned fin : 1;
	unsigned rsv : 3;
	unsigned masked : 1;
	unsigned opcode : 4;
	uint8_t mask[4];
	uint64_t payload_len;
	size_t header_len;
};

/* Parse one frame header. Returns the header length (>0), 0 when more bytes
 * are needed, or -WS_CLOSE_PROTOCOL (bad opcode, RSV bits set, control frame
 * fragmented or longer than 125, non-minimal length, 64-bit length with the
 * top bit set). Masking is not checked here. */
ssize_t ws_frame_parse_header(const uint8_t *p, size_t len, struct ws_frame *f);

/* XOR p[0..n) with mask, starting at mask byte offset % 4. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

/* Write a frame header for a payload of len bytes (no mask when mask is
 * NULL: server to client). Returns the header length (2..14). */
size_t ws_frame_header_encode(uint8_t out[WS_MAX_HEADER], int fin, int opcode, uint64_t len,
			      const uint8_t mask[4]);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
 * out gets 28 chars + NUL. 0, or -1 if key is not 24 base64 chars. */
int ws_accept_key(const char *key, char out[29]);

/* A whole message: opcode is TEXT, BINARY, PING, PONG or CLOSE. data is owned
 * by the parser and valid only during the call. For CLOSE, data holds the
 * raw payload (code and reason; checked: length 0 or >= 2, valid code, UTF-8
 * reason). Return 0 to go on, non-zero to stop feeding (returned as is). */
typedef int (*ws_message_fn)(void *ud, int opcode, uint8_t *data, size_t len);

struct ws_parser;

/* max_message bounds a message after reassembly (-WS_CLOSE_TOO_BIG past it).
 * require_mask: 1 on the server (unmasked client frames are a protocol
 * error), 0 on a client. NULL on ENOMEM. Small when idle: buffers are
 * allocated only while a frame or message is incomplete. */
struct ws_parser *ws_parser_new(size_t max_message, int require_mask);
void ws_parser_free(struct ws_parser *wp);

/* Feed bytes read from the socket. Calls fn for each complete message.
 * Returns 0 when all bytes were taken (partial frames are kept inside),
 * -WS_CLOSE_* on a protocol error (the connection must be failed with that
 * code), or the callback's non-zero return. */
int ws_parser_feed(struct ws_parser *wp, const uint8_t *p, size_t n, ws_message_fn fn, void *ud);

/* Same as ws_parser_feed, but p may be modified: frames found whole in p are
 * unmasked in place and handed to fn pointing into p (no copy, no
 * allocation). For a read buffer the caller owns and reuses. */
int ws_parser_feed_mut(struct ws_parser *wp, uint8_t *p, size_t n, ws_message_fn fn, void *ud);

/* Bytes held by the parser (for memory accounting). */
size_t ws_parser_buffered(const struct ws_parser *wp);

#endif
