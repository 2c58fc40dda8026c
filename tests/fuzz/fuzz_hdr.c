/* Fuzz target for broker/hdr: the input is a header value (cut at its
 * first NUL, as libmicrohttpd hands values over). Each parser must stay in
 * bounds; a Content-Length it accepts must be at most 2^53 and parse the
 * same once printed; the If-None-Match list "*" and the value itself taken
 * as an ETag must match. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	(void)hdr_accepts_gzip(v);
	(void)hdr_etag_match(v, "\"d5d79a35039e\"");
	if (hdr_etag_match("*", v) != 1)
		abort();
	uint64_t n;
	if (hdr_content_length(v, &n) == 0) {
		char buf[32];
		uint64_t m;
		if (n > ((uint64_t)1 << 53))
			abort();
		snprintf(buf, sizeof(buf), "%" PRIu64, n);
		if (hdr_content_length(buf, &m) != 0 || m != n)
			abort();
	}
	/* a value with no comma taken as an ETag matches itself */
	if (strchr(v, ',') == NULL && v[0] == '"' && strlen(v) > 2 &&
	    v[strlen(v) - 1] == '"' && strchr(v, ' ') == NULL && strchr(v, '\t') == NULL &&
	    hdr_etag_match(v, v) != 1)
		abort();
	free(v);
	return 0;
}
