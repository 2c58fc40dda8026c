/* lg_wire: the few pieces of RFC 6455 and JWT the benchmark programs need,
 * kept here so that the harness does not depend on the code it measures:
 * frame headers (both directions), base64, Sec-WebSocket-Accept, and
 * HS256 tokens. No I/O. */
#ifndef LG_WIRE_H
#define LG_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LG_WS_MAX_HEADER 14
#define LG_MAX_MESSAGE (1u << 20) /* larger messages fail the connection */

struct lg_frame {
	int fin, opcode, masked;
	uint8_t mask[4];
	uint64_t len; /* payload length */
	size_t header_len;
};

/* Parse a frame header: its length (>0), 0 if more bytes are needed, -1 on
 * a header that no sane peer sends (RSV set, bad opcode, length >= 2^63). */
ssize_t lg_frame_parse(const uint8_t *p, size_t n, struct lg_frame *f);

/* Write a whole frame (header, then payload masked with mask when mask is
 * non-NULL) to out, which must hold len + LG_WS_MAX_HEADER bytes. Returns
 * the bytes written. */
size_t lg_frame_encode(uint8_t *out, int opcode, const void *payload, size_t len,
		       const uint8_t *mask);

/* base64 of n bytes into out (needs 4 * ((n + 2) / 3) + 1); url: the
 * base64url alphabet without padding. Returns the length written. */
size_t lg_base64(char *out, const uint8_t *in, size_t n, int url);

/* Sec-WebSocket-Accept for key (28 chars + NUL into out). */
void lg_ws_accept(const char *key, size_t keylen, char out[29]);

/* Mint an HS256 JWT for claims_json (a JSON object, already serialised)
 * into out. Returns the length, or -1 if out is too small. */
int lg_jwt_hs256(char *out, size_t cap, const char *secret, const char *claims_json);

/* Current CLOCK_REALTIME / CLOCK_MONOTONIC in microseconds. */
uint64_t lg_now_real_us(void);
uint64_t lg_now_mono_us(void);

#endif
