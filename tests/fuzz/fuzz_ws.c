/* Fuzz target for broker/ws: the input (after two control bytes) is a byte
 * stream from a peer, fed to parsers in both require_mask modes, whole, in
 * place and in pseudo-random chunks. All three must deliver the same
 * messages and end with the same result, or the target aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define MAX_MSGS 256

struct trace {
	int n;
	int opcode[MAX_MSGS];
	size_t len[MAX_MSGS];
	uint64_t hash[MAX_MSGS];
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int record(void *ud, int opcode, uint8_t *data, size_t len)
{
	struct trace *t = ud;
	if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY && opcode != WS_OP_PING &&
	    opcode != WS_OP_PONG && opcode != WS_OP_CLOSE)
		abort();
	if (opcode >= WS_OP_CLOSE && len > 125)
		abort();
	if (t->n == MAX_MSGS)
		return 7; /* stop: also exercises the callback's early return */
	t->opcode[t->n] = opcode;
	t->len[t->n] = len;
	t->hash[t->n] = fnv(data, len);
	t->n++;
	return 0;
}

static void same(const struct trace *a, int ra, const struct trace *b, int rb)
{
	if (ra != rb || a->n != b->n)
		abort();
	for (int i = 0; i < a->n; i++)
		if (a->opcode[i] != b->opcode[i] || a->len[i] != b->len[i] || a->hash[i] != b->hash[i])
			abort();
}

static void run(const uint8_t *p, size_t n, size_t max, int require_mask, uint32_t seed)
{
	static struct trace whole, inplace, chunked;
	struct ws_parser *a = ws_parser_new(max, require_mask);
	struct ws_parser *b = ws_parser_new(max, require_mask);
	struct ws_parser *c = ws_parser_new(max, require_mask);
	uint8_t *copy = malloc(n + 1);
	int ra, rb, rc = 0;

	if (a == NULL || b == NULL || c == NULL || copy == NULL)
		abort();
	memset(&whole, 0, sizeof(whole));
	memset(&inplace, 0, sizeof(inplace));
	memset(&chunked, 0, sizeof(chunked));

	ra = ws_parser_feed(a, p, n, record, &whole);

	memcpy(copy, p, n);
	rb = ws_parser_feed_mut(b, copy, n, record, &inplace);

	for (size_t off = 0; off < n && rc == 0;) {
		seed = seed * 1103515245u + 12345u;
		size_t k = 1 + (seed >> 16) % 23;
		if ((seed & 0x300) == 0)
			k = 1; /* often byte by byte */
		if (k > n - off)
			k = n - off;
		/* alternate entry points: the result must not depend on them */
		if (seed & 0x1000) {
			memcpy(copy, p + off, k);
			rc = ws_parser_feed_mut(c, copy, k, record, &chunked);
		} else {
			rc = ws_parser_feed(c, p + off, k, record, &chunked);
		}
		off += k;
	}
	same(&whole, ra, &inplace, rb);
	same(&whole, ra, &chunked, rc);
	/* a failed parser stays failed */
	if (ra < 0 && ws_parser_feed(a, p, n, record, &whole) != ra)
		abort();
	if (ra == 0 && ws_parser_buffered(a) > max + 125 + 256)
		abort();
	ws_parser_free(a);
	ws_parser_free(b);
	ws_parser_free(c);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h[WS_MAX_HEADER];
	char key[29];
	struct ws_frame f;

	if (size < 2)
		return 0;
	size_t max = (size_t)1 << (4 + data[1] % 17); /* 16 B .. 1 MiB */
	uint32_t seed = data[0];
	run(data + 2, size - 2, max, 1, seed);
	run(data + 2, size - 2, max, 0, seed);

	/* a parsed header encodes back to the same bytes */
	ssize_t hl = ws_frame_parse_header(data + 2, size - 2, &f);
	if (hl > 0) {
		size_t el = ws_frame_header_encode(h, f.fin, f.opcode, f.payload_len,
						   f.masked ? f.mask : NULL);
		if (el != (size_t)hl || memcmp(h, data + 2, el) != 0)
			abort();
	}
	if (size >= 26) {
		char k[25];
		memcpy(k, data + 2, 24);
		k[24] = '\0';
		if (ws_accept_key(k, key) == 0 && strlen(key) != 28)
			abort();
	}
	return 0;
}
