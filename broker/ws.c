/* ws: RFC 6455 framing without I/O. The parser keeps a partial header inline
 * and allocates a buffer only while a frame or a fragmented message is
 * incomplete; whole frames found in the input are delivered from the input
 * (ws_parser_feed_mut) or from a stack copy, so an idle parser owns no heap. */
#include "ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Data frames up to this size found whole in a const input are unmasked on
 * the stack instead of in a heap buffer. */
#define WS_STACK_COPY 4096
#define WS_MAX_CONTROL 125
#define UTF8_ACCEPT 0u
#define UTF8_REJECT 0xffffffffu

enum { ST_HEADER, ST_PAYLOAD };

struct ws_parser {
	uint8_t *buf;       /* message so far, then a partial control payload */
	size_t len;         /* bytes of the open data message in buf */
	size_t cap;         /* allocated size of buf */
	size_t max_message; /* bound on a reassembled data message */
	uint64_t left;      /* payload bytes of the current frame still to come */
	uint32_t utf8;      /* validator state of the open text message */
	uint8_t hdr[WS_MAX_HEADER];
	uint8_t hdr_len;      /* bytes of a partial header in hdr */
	uint8_t mask[4];      /* current frame's mask */
	uint8_t mask_off;     /* payload bytes of the current frame read so far, mod 4 */
	uint8_t ctl_len;      /* control payload bytes gathered at buf + len */
	uint8_t state;        /* ST_HEADER or ST_PAYLOAD */
	uint8_t opcode;       /* opcode of the current frame */
	uint8_t fin;          /* FIN bit of the current frame */
	uint8_t masked;       /* current frame is masked */
	uint8_t msg_op;       /* TEXT or BINARY while a data message is open, else 0 */
	uint8_t require_mask; /* 1: server side */
	uint8_t closed;       /* a CLOSE was delivered: the rest is ignored */
	uint16_t err;         /* sticky close code after a protocol error */
};

ssize_t ws_frame_parse_header(const uint8_t *p, size_t len, struct ws_frame *f)
{
	size_t need;
	uint64_t plen;

	if (len < 2)
		return 0;
	f->fin = p[0] >> 7;
	f->rsv = (p[0] >> 4) & 7;
	f->opcode = p[0] & 0xf;
	f->masked = p[1] >> 7;
	plen = p[1] & 0x7f;
	/* No extension is ever negotiated, so any RSV bit is an error. */
	if (f->rsv != 0)
		return -WS_CLOSE_PROTOCOL;
	switch (f->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!f->fin || plen > WS_MAX_CONTROL)
			return -WS_CLOSE_PROTOCOL;
		break;
	default:
		return -WS_CLOSE_PROTOCOL;
	}
	need = 2 + (plen == 126 ? 2 : plen == 127 ? 8 : 0) + (f->masked ? 4 : 0);
	if (len < need)
		return 0;
	if (plen == 126) {
		plen = (uint64_t)p[2] << 8 | p[3];
		if (plen < 126)
			return -WS_CLOSE_PROTOCOL;
	} else if (plen == 127) {
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | p[2 + i];
		if ((plen >> 63) != 0 || plen <= 0xffff)
			return -WS_CLOSE_PROTOCOL;
	}
	f->payload_len = plen;
	if (f->masked)
		memcpy(f->mask, p + need - 4, 4);
	else
		memset(f->mask, 0, 4);
	f->header_len = need;
	return (ssize_t)need;
}

void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
	uint8_t m[8];
	uint64_t m64, w;
	size_t i = 0;

	for (int k = 0; k < 8; k++)
		m[k] = mask[(offset + (size_t)k) & 3];
	memcpy(&m64, m, 8);
	/* The rotated mask repeats every 8 bytes, so whole words XOR at once. */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= m64;
		memcpy(p + i, &w, 8);
	}
	for (; i < n; i++)
		p[i] ^= m[i & 7];
}

size_t ws_frame_header_encode(uint8_t out[WS_MAX_HEADER], int fin, int opcode, uint64_t len,
			      const uint8_t mask[4])
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0xf));
	out[1] = mask != NULL ? 0x80 : 0;
	if (len < 126) {
		out[1] |= (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] |= 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] |= 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

static int is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int ws_accept_key(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t in[24 + sizeof(guid) - 1], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	/* A 16-byte nonce in base64: 22 alphabet characters and "==". */
	for (int i = 0; i < 22; i++)
		if (!is_b64(key[i]))
			return -1;
	if (key[22] != '=' || key[23] != '=' || key[24] != '\0')
		return -1;
	memcpy(in, key, 24);
	memcpy(in + 24, guid, sizeof(guid) - 1);
	if (EVP_Digest(in, sizeof(in), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != 28)
		return -1;
	out[28] = '\0';
	return 0;
}

/* Incremental UTF-8 check: state is 0 between characters, else the number of
 * continuation bytes still expected and the range the next one must fall in
 * (which rules out overlongs, surrogates and code points past U+10FFFF). */
static uint32_t utf8_step(uint32_t st, const uint8_t *p, size_t n)
{
	unsigned need = st & 3, lo = (st >> 8) & 0xff, hi = (st >> 16) & 0xff;
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		if (need == 0) {
			if (c < 0x80) {
				uint64_t w;
				/* ASCII runs are common: skip them a word at a time. */
				while (i + 8 <= n) {
					memcpy(&w, p + i, 8);
					if ((w & 0x8080808080808080ull) != 0)
						break;
					i += 8;
				}
				if (i < n && p[i] < 0x80)
					i++;
				continue;
			}
			lo = 0x80;
			hi = 0xbf;
			if (c >= 0xc2 && c <= 0xdf) {
				need = 1;
			} else if (c >= 0xe0 && c <= 0xef) {
				need = 2;
				if (c == 0xe0)
					lo = 0xa0;
				else if (c == 0xed)
					hi = 0x9f;
			} else if (c >= 0xf0 && c <= 0xf4) {
				need = 3;
				if (c == 0xf0)
					lo = 0x90;
				else if (c == 0xf4)
					hi = 0x8f;
			} else {
				return UTF8_REJECT;
			}
		} else {
			if (c < lo || c > hi)
				return UTF8_REJECT;
			need--;
			lo = 0x80;
			hi = 0xbf;
		}
		i++;
	}
	return need == 0 ? UTF8_ACCEPT : (need | lo << 8 | hi << 16);
}

struct ws_parser *ws_parser_new(size_t max_message, int require_mask)
{
	struct ws_parser *wp = calloc(1, sizeof(*wp));

	if (wp == NULL)
		return NULL;
	/* Keeps max_message + a control payload from overflowing. */
	if (max_message > SIZE_MAX / 2)
		max_message = SIZE_MAX / 2;
	wp->max_message = max_message;
	wp->require_mask = require_mask ? 1 : 0;
	return wp;
}

void ws_parser_free(struct ws_parser *wp)
{
	if (wp == NULL)
		return;
	free(wp->buf);
	free(wp);
}

size_t ws_parser_buffered(const struct ws_parser *wp)
{
	return wp->cap;
}

static int fail(struct ws_parser *wp, int code)
{
	wp->err = (uint16_t)code;
	free(wp->buf);
	wp->buf = NULL;
	wp->cap = 0;
	wp->len = 0;
	return -code;
}

/* Free the buffer when nothing is pending: an idle parser holds no heap. */
static void release(struct ws_parser *wp)
{
	if (wp->msg_op == 0 && wp->state == ST_HEADER) {
		free(wp->buf);
		wp->buf = NULL;
		wp->cap = 0;
		wp->len = 0;
	}
}

static int reserve(struct ws_parser *wp, size_t need)
{
	size_t limit = wp->max_message + WS_MAX_CONTROL, ncap;
	uint8_t *nb;

	if (need <= wp->cap)
		return 0;
	/* Grow with the bytes that arrived, not with the length announced by
	 * the peer, so that a header alone cannot make us allocate much. */
	ncap = wp->cap < 128 ? 256 : wp->cap * 2;
	if (ncap > limit)
		ncap = limit;
	if (ncap < need)
		ncap = need;
	if ((nb = realloc(wp->buf, ncap)) == NULL)
		return -ENOMEM;
	wp->buf = nb;
	wp->cap = ncap;
	return 0;
}

static int close_code_valid(unsigned code)
{
	if (code >= 3000 && code <= 4999)
		return 1;
	/* 1004 is reserved; 1005, 1006 and 1015 must never be on the wire. */
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/* Header checks that need the parser's state. */
static int frame_begin(struct ws_parser *wp, const struct ws_frame *f)
{
	if (wp->require_mask != f->masked)
		return WS_CLOSE_PROTOCOL;
	switch (f->opcode) {
	case WS_OP_CONT:
		if (wp->msg_op == 0)
			return WS_CLOSE_PROTOCOL;
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (wp->msg_op != 0)
			return WS_CLOSE_PROTOCOL;
		wp->msg_op = f->opcode;
		wp->utf8 = UTF8_ACCEPT;
		break;
	default:
		return 0;
	}
	if ((uint64_t)wp->len + f->payload_len > wp->max_message)
		return WS_CLOSE_TOO_BIG;
	return 0;
}

/* Check and hand over a complete control frame payload. */
static int deliver_control(struct ws_parser *wp, int opcode, uint8_t *d, size_t n,
			   ws_message_fn fn, void *ud)
{
	if (opcode == WS_OP_CLOSE && n > 0) {
		if (n == 1 || !close_code_valid((unsigned)d[0] << 8 | d[1]))
			return fail(wp, WS_CLOSE_PROTOCOL);
		if (utf8_step(UTF8_ACCEPT, d + 2, n - 2) != UTF8_ACCEPT)
			return fail(wp, WS_CLOSE_BAD_DATA);
	}
	if (opcode == WS_OP_CLOSE)
		wp->closed = 1;
	return fn(ud, opcode, d, n);
}

static int feed(struct ws_parser *wp, uint8_t *mbase, const uint8_t *p, size_t n,
		ws_message_fn fn, void *ud)
{
	const uint8_t *base = p;
	int rc;

	if (wp->err != 0)
		return -(int)wp->err;
	for (;;) {
		if (wp->closed)
			return 0;
		if (wp->state == ST_HEADER) {
			struct ws_frame f;
			ssize_t h;
			if (n == 0)
				return 0;
			if (wp->hdr_len == 0) {
				h = ws_frame_parse_header(p, n, &f);
				if (h == 0) {
					/* n < WS_MAX_HEADER here: keep the partial header. */
					memcpy(wp->hdr, p, n);
					wp->hdr_len = (uint8_t)n;
					return 0;
				}
			} else {
				size_t take = n < WS_MAX_HEADER - (size_t)wp->hdr_len
						      ? n
						      : WS_MAX_HEADER - (size_t)wp->hdr_len;
				memcpy(wp->hdr + wp->hdr_len, p, take);
				h = ws_frame_parse_header(wp->hdr, wp->hdr_len + take, &f);
				if (h == 0) {
					wp->hdr_len = (uint8_t)(wp->hdr_len + take);
					return 0;
				}
				if (h > 0) {
					h -= wp->hdr_len;
					wp->hdr_len = 0;
				}
			}
			if (h < 0)
				return fail(wp, (int)-h);
			p += h;
			n -= (size_t)h;
			if ((rc = frame_begin(wp, &f)) != 0)
				return fail(wp, rc);

			/* Fast path: a control frame or a whole unfragmented data
			 * message entirely in the input is delivered from there. */
			if (f.payload_len <= n && (f.opcode >= WS_OP_CLOSE || (f.fin && f.opcode != WS_OP_CONT))) {
				uint8_t stack[WS_STACK_COPY];
				size_t sz = (size_t)f.payload_len;
				uint8_t *d = NULL;
				if (mbase != NULL)
					d = mbase + (p - base);
				else if (sz <= sizeof(stack))
					d = memcpy(stack, p, sz);
				if (d != NULL) {
					if (f.masked)
						ws_unmask(d, sz, f.mask, 0);
					p += sz;
					n -= sz;
					if (f.opcode >= WS_OP_CLOSE) {
						if ((rc = deliver_control(wp, f.opcode, d, sz, fn, ud)) != 0)
							return rc;
						continue;
					}
					wp->msg_op = 0;
					if (f.opcode == WS_OP_TEXT && utf8_step(UTF8_ACCEPT, d, sz) != UTF8_ACCEPT)
						return fail(wp, WS_CLOSE_BAD_DATA);
					if ((rc = fn(ud, f.opcode, d, sz)) != 0)
						return rc;
					continue;
				}
			}
			wp->state = ST_PAYLOAD;
			wp->left = f.payload_len;
			wp->opcode = f.opcode;
			wp->fin = f.fin;
			wp->masked = f.masked;
			memcpy(wp->mask, f.mask, 4);
			wp->mask_off = 0;
			wp->ctl_len = 0;
		}

		/* ST_PAYLOAD: gather what is here into the buffer. */
		size_t take = n < wp->left ? n : (size_t)wp->left;
		int control = wp->opcode >= WS_OP_CLOSE;
		size_t at = wp->len + (control ? wp->ctl_len : 0);
		if (take > 0) {
			if (reserve(wp, at + take) != 0)
				return fail(wp, WS_CLOSE_INTERNAL);
			uint8_t *dst = wp->buf + at;
			memcpy(dst, p, take);
			if (wp->masked)
				ws_unmask(dst, take, wp->mask, wp->mask_off);
			wp->mask_off = (uint8_t)((wp->mask_off + take) & 3);
			if (!control && wp->msg_op == WS_OP_TEXT &&
			    (wp->utf8 = utf8_step(wp->utf8, dst, take)) == UTF8_REJECT)
				return fail(wp, WS_CLOSE_BAD_DATA); /* fail fast, per RFC 6455 8.1 */
			if (control)
				wp->ctl_len = (uint8_t)(wp->ctl_len + take);
			else
				wp->len += take;
			wp->left -= take;
			p += take;
			n -= take;
		}
		if (wp->left > 0)
			return 0;
		wp->state = ST_HEADER;
		if (control) {
			uint8_t ctl[WS_MAX_CONTROL];
			size_t cn = wp->ctl_len;
			/* Copied out so that the buffer can be released first. */
			if (cn > 0)
				memcpy(ctl, wp->buf + wp->len, cn);
			wp->ctl_len = 0;
			release(wp);
			if ((rc = deliver_control(wp, wp->opcode, ctl, cn, fn, ud)) != 0)
				return rc;
		} else if (wp->fin) {
			int op = wp->msg_op;
			uint8_t none = 0;
			if (op == WS_OP_TEXT && wp->utf8 != UTF8_ACCEPT)
				return fail(wp, WS_CLOSE_BAD_DATA);
			wp->msg_op = 0;
			/* An empty fragmented message may never have allocated. */
			rc = fn(ud, op, wp->buf != NULL ? wp->buf : &none, wp->len);
			release(wp);
			if (rc != 0)
				return rc;
		}
	}
}

int ws_parser_feed(struct ws_parser *wp, const uint8_t *p, size_t n, ws_message_fn fn, void *ud)
{
	return feed(wp, NULL, p, n, fn, ud);
}

int ws_parser_feed_mut(struct ws_parser *wp, uint8_t *p, size_t n, ws_message_fn fn, void *ud)
{
	return feed(wp, p, p, n, fn, ud);
}
