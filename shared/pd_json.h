/* pd_json: small helpers over jansson for reading request bodies strictly
 * (type checks that name the field) and writing compact JSON. */
#ifndef PD_JSON_H
#define PD_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Parse a whole buffer as one JSON value (any type). Rejects invalid UTF-8
 * and trailing garbage; depth is bounded by jansson. NULL with err filled. */
json_t *pd_json_parse(const char *p, size_t n, char *err, size_t errlen);

/* (Nesting deeper than PD_JSON_MAX_DEPTH arrays/objects is refused before
 * jansson runs; duplicate keys and "\u0000" are refused too.) */
#define PD_JSON_MAX_DEPTH 64

/* Compact encoding, malloc'd, NUL-terminated; NULL on ENOMEM. */
char *pd_json_dump(const json_t *v, size_t *len);

/* Field readers for objects. Each returns 0 and sets *out, 1 when the field is
 * absent (out untouched), -1 with err = "FIELD must be ..." when present with
 * the wrong type or out of bounds. Strings must be valid UTF-8 (jansson
 * guarantees it) and 0 < length <= maxlen unless allow_empty. */
/* (maxlen counts bytes; a JSON null is the wrong type, not absent.) */
int pd_json_get_string(const json_t *obj, const char *field, size_t maxlen, int allow_empty,
		       const char **out, char *err, size_t errlen);
int pd_json_get_int(const json_t *obj, const char *field, long long min, long long max,
		    long long *out, char *err, size_t errlen);
int pd_json_get_bool(const json_t *obj, const char *field, int *out, char *err, size_t errlen);

/* 0 if every key of obj is in the NULL-terminated list allowed; -1 with err =
 * "unknown field: KEY" otherwise. */
int pd_json_only_fields(const json_t *obj, const char *const *allowed, char *err, size_t errlen);

/* A time in milliseconds since the epoch as the wire spells every time
 * (contract section 3): ISO 8601 in UTC with milliseconds,
 * "2026-12-06T13:40:00.123Z", the same text as PD_DB_TS. A new JSON string,
 * or JSON null for ms <= 0 (never seen). NULL on ENOMEM. */
json_t *pd_json_time_ms(long long ms);

/* A new JSON array of the n strings v (room lists on the wire), or NULL
 * on ENOMEM or a string that is not UTF-8. */
json_t *pd_json_strs(const char *const *v, size_t n);

/* 1 if s is a canonical UUID string (8-4-4-4-12 hex). */
int pd_uuid_valid(const char *s);

#endif
