/* pd_buf: a growable byte buffer with a hard cap, and pd_str slices.
 * Appends never grow past the cap given at init: -ENOBUFS instead. */
#ifndef PD_BUF_H
#define PD_BUF_H

#include <stddef.h>
#include <stdint.h>

struct pd_str {
	const char *p;
	size_t len;
};
#define PD_STR(lit) ((struct pd_str){(lit), sizeof(lit) - 1})

struct pd_buf {
	char *data;  /* always NUL-terminated after a successful append (not counted in len) */
	size_t len;
	size_t cap;  /* allocated */
	size_t max;  /* hard limit on len; 0 = SIZE_MAX/2 */
};

void pd_buf_init(struct pd_buf *b, size_t max);
void pd_buf_free(struct pd_buf *b);            /* frees data, leaves b empty and reusable */
void pd_buf_reset(struct pd_buf *b);           /* len = 0, keeps memory */
int pd_buf_reserve(struct pd_buf *b, size_t extra);      /* 0, -ENOMEM or -ENOBUFS */
int pd_buf_append(struct pd_buf *b, const void *p, size_t n); /* 0, -ENOMEM or -ENOBUFS */
int pd_buf_append_str(struct pd_buf *b, const char *s);
int pd_buf_printf(struct pd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pd_buf_consume(struct pd_buf *b, size_t n); /* drop n bytes from the front */
/* Take ownership of the bytes (NUL-terminated); b becomes empty. NULL if empty and never allocated. */
char *pd_buf_steal(struct pd_buf *b, size_t *len);

int pd_str_eq(struct pd_str a, const char *lit);

/* base64 (RFC 4648, padded). encode: 0 or -ENOMEM; decode: 0, -EINVAL on bad input. */
/* (decode is strict: padded, standard alphabet, no blanks, canonical unused
 * bits; it appends to out and leaves it as it was on error. Both may also
 * return -ENOBUFS past out's cap or -ENOMEM.) */
int pd_base64_encode(const uint8_t *p, size_t n, struct pd_buf *out);
int pd_base64_decode(const char *p, size_t n, struct pd_buf *out);

/* 1 if [p, p+n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int pd_utf8_valid(const uint8_t *p, size_t n);

#endif
