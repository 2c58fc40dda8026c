/* Fuzz target for broker/eio_packet: the input is a long-polling POST body.
 * Every element that decodes must encode back to exactly its own bytes (the
 * base64 decoder is strict, so binary ones too), and the re-encoded body
 * must split into the same elements. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pd_buf scratch, out, valid;
	struct eio_packet pk;
	const char *p = (const char *)data, *e;
	size_t left = size, elen, good = 0;

	pd_buf_init(&scratch, 0);
	pd_buf_init(&out, 0);
	pd_buf_init(&valid, 0);
	while (eio_payload_next(&p, &left, &e, &elen)) {
		if (memchr(e, EIO_SEPARATOR, elen) != NULL)
			abort();
		if (eio_decode_text(e, elen, &scratch, &pk) != 0)
			continue;
		if (pk.type < EIO_OPEN || pk.type > EIO_NOOP || (pk.binary && pk.type != EIO_MESSAGE))
			abort();
		if (eio_payload_append(&out, pk.type, pk.binary, pk.data, pk.len) != 0)
			abort();
		if ((valid.len > 0 && pd_buf_append(&valid, "\x1e", 1) != 0) ||
		    pd_buf_append(&valid, e, elen) != 0)
			abort();
		good++;
	}
	if (out.len != valid.len || (out.len > 0 && memcmp(out.data, valid.data, out.len) != 0))
		abort();
	/* and the re-encoded body splits into as many elements */
	if (good > 0) {
		size_t again = 0;
		p = out.data;
		left = out.len;
		while (eio_payload_next(&p, &left, &e, &elen)) {
			if (eio_decode_text(e, elen, &scratch, &pk) != 0)
				abort();
			again++;
		}
		if (again != good)
			abort();
	}
	pd_buf_free(&scratch);
	pd_buf_free(&out);
	pd_buf_free(&valid);
	return 0;
}
