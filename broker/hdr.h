/* hdr: the few HTTP header values the broker reads itself, parsed from
 * libmicrohttpd's NUL-terminated strings with no I/O (fuzzed by
 * tests/fuzz/fuzz_hdr.c). Lists are RFC 9110 section 5.6.1 lists: elements
 * separated by commas with optional whitespace, empty elements ignored. */
#ifndef PD_HDR_H
#define PD_HDR_H

#include <stdint.h>

/* 1 if an Accept-Encoding value accepts gzip: an element "gzip", "x-gzip"
 * or "*" whose q parameter is absent or not zero. v may be NULL (0). */
int hdr_accepts_gzip(const char *v);

/* 1 if an If-None-Match value matches etag (a quoted entity tag) by weak
 * comparison (RFC 9110 section 13.1.2: "W/" ignored), or is "*". v may be
 * NULL (0). */
int hdr_etag_match(const char *v, const char *etag);

/* A Content-Length value: 1*DIGIT, or a list of equal such values (RFC 9112
 * section 6.3 lets a recipient take "42, 42" as 42). 0 with *out set, or -1
 * for anything else (empty, a sign, differing values, over 2^53). */
int hdr_content_length(const char *v, uint64_t *out);

#endif
