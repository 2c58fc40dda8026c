/* pd_msgpack: the msgpack of the Socket.IO Redis adapter's wire, as
 * notepack.io (used by @socket.io/redis-adapter 8.3 and
 * @socket.io/redis-emitter 5.1) writes and reads it. The one writer of
 * pushdesk's msgpack (broker/adapter_codec and pd_emitter use it) and the
 * one bounded reader. No I/O.
 *
 * Binary values: the reader copies each msgpack bin (and each extension
 * notepack reads as a Buffer) out into a list and leaves in its place the
 * Socket.IO placeholder {"_placeholder":true,"num":N}, N its index in the
 * list; the writer, given such a list, writes each placeholder that refers
 * to it back as a bin. */
#ifndef PD_MSGPACK_H
#define PD_MSGPACK_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"

#define PD_MSGPACK_MAX_DEPTH 64    /* nesting of values */
#define PD_MSGPACK_MAX_NODES 262144 /* values in one message */
#define PD_MSGPACK_MAX_BINS 64     /* binary values in one message */

struct pd_msgpack_bin {
	uint8_t *p; /* owned by the struct that holds it (malloc) */
	size_t len;
};

struct pd_msgpack_bins {
	struct pd_msgpack_bin *v; /* owned */
	size_t n;
};

/* Frees every value and the list; leaves it empty. */
void pd_msgpack_bins_free(struct pd_msgpack_bins *b);

/* ---- reading ---- */

/* The whole message p[0..n) as one value, as notepack decodes it and
 * JSON.stringify would write it: undefined left out of maps and null in
 * arrays, Dates as ISO strings, NaN and Infinity null, other extensions
 * [type, placeholder]. Binary values go to bins (bins NULL: refused, an
 * error). Refuses invalid UTF-8, map keys that are not strings, nesting
 * over PD_MSGPACK_MAX_DEPTH, more than PD_MSGPACK_MAX_NODES values or
 * PD_MSGPACK_MAX_BINS binaries, truncation and trailing bytes: NULL with
 * err filled (bins may hold values: free them). The value is the caller's. */
json_t *pd_msgpack_load(const uint8_t *p, size_t n, struct pd_msgpack_bins *bins, char *err,
			size_t errlen);

/* ---- writing ---- */

/* A writer appending to a pd_buf; att (natt values) the binaries that
 * placeholders in written values refer to (NULL, 0: none). Write with the
 * functions below or msgpack-c's msgpack_pack_* on &w.pk; each returns
 * non-zero on failure, so that calls chain with ||. */
struct pd_msgpack_wr {
	msgpack_packer pk;
	const struct pd_msgpack_bin *att;
	size_t natt;
	struct pd_buf *out;
	size_t start;
};

void pd_msgpack_wr_init(struct pd_msgpack_wr *w, struct pd_buf *out,
			const struct pd_msgpack_bin *att, size_t natt);
/* Closes a message: 0 when bad is 0; else -ENOMEM with out cut back to
 * where it was at init (NUL-terminated). */
int pd_msgpack_wr_end(struct pd_msgpack_wr *w, int bad);

int pd_msgpack_str(struct pd_msgpack_wr *w, const char *s, size_t n);
int pd_msgpack_cstr(struct pd_msgpack_wr *w, const char *s);
/* An array of strings. */
int pd_msgpack_strs(struct pd_msgpack_wr *w, const char *const *v, size_t n);
/* A JSON value as notepack writes the JavaScript value: integral numbers
 * (up to 2^53) as integers, others as float64; placeholders that refer to
 * att as bin. depth: v's own nesting level, refused past PD_MSGPACK_MAX_DEPTH. */
int pd_msgpack_json(struct pd_msgpack_wr *w, const json_t *v, int depth);

#endif
