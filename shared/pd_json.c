/* pd_json: strict JSON input for request bodies and socket payloads
 * (duplicate keys, deep nesting, invalid UTF-8 and trailing bytes refused)
 * and field readers whose errors name the field, for 400 answers. */
#include "pd_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* PD_JSON_MAX_DEPTH (pd_json.h): jansson's own bound is 2048 levels; a
 * request never needs more than a few, and a deep document costs stack in
 * every consumer that walks it. */

/* Nesting depth of [ and { outside strings; stops early past the bound. The
 * parser validates everything else, so this scan only has to be right for
 * documents that are valid JSON and never over-count strings. */
static int too_deep(const char *p, size_t n)
{
	int depth = 0, in_string = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = 0;
			continue;
		}
		if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > PD_JSON_MAX_DEPTH)
				return 1;
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 0;
}

json_t *pd_json_parse(const char *p, size_t n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;

	if (p == NULL || n == 0) {
		snprintf(err, errlen, "empty JSON document");
		return NULL;
	}
	if (too_deep(p, n)) {
		snprintf(err, errlen, "JSON nested deeper than %d levels", PD_JSON_MAX_DEPTH);
		return NULL;
	}
	/* No JSON_ALLOW_NUL: "\u0000" is refused, so strings are C strings. */
	v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (v == NULL) {
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column,
			 je.text);
		return NULL;
	}
	return v;
}

char *pd_json_dump(const json_t *v, size_t *len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

/* The common prologue: -1 if obj is not an object, 1 if absent, else 0 with *val. */
static int field(const json_t *obj, const char *name, json_t **val, char *err, size_t errlen)
{
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "body must be a JSON object");
		return -1;
	}
	*val = json_object_get(obj, name);
	return *val == NULL ? 1 : 0;
}

int pd_json_get_string(const json_t *obj, const char *field_name, size_t maxlen,
		       int allow_empty, const char **out, char *err, size_t errlen)
{
	json_t *v;
	int rc = field(obj, field_name, &v, err, errlen);
	if (rc != 0)
		return rc;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s must be a string", field_name);
		return -1;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (strlen(s) != len) { /* a value built with json_stringn and a NUL */
		snprintf(err, errlen, "%s must not contain NUL characters", field_name);
		return -1;
	}
	if (len == 0 && !allow_empty) {
		snprintf(err, errlen, "%s must not be empty", field_name);
		return -1;
	}
	if (len > maxlen) {
		snprintf(err, errlen, "%s must be at most %zu bytes long", field_name, maxlen);
		return -1;
	}
	*out = s;
	return 0;
}

int pd_json_get_int(const json_t *obj, const char *field_name, long long min, long long max,
		    long long *out, char *err, size_t errlen)
{
	json_t *v;
	int rc = field(obj, field_name, &v, err, errlen);
	if (rc != 0)
		return rc;
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "%s must be an integer", field_name);
		return -1;
	}
	json_int_t i = json_integer_value(v);
	if (i < min || i > max) {
		snprintf(err, errlen, "%s must be between %lld and %lld", field_name, min, max);
		return -1;
	}
	*out = i;
	return 0;
}

int pd_json_get_bool(const json_t *obj, const char *field_name, int *out, char *err,
		     size_t errlen)
{
	json_t *v;
	int rc = field(obj, field_name, &v, err, errlen);
	if (rc != 0)
		return rc;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "%s must be true or false", field_name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int pd_json_only_fields(const json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "body must be a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, v) {
		size_t i = 0;
		while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
			i++;
		if (allowed[i] == NULL) {
			snprintf(err, errlen, "unknown field: %.128s", key);
			return -1;
		}
	}
	return 0;
}

int pd_uuid_valid(const char *s)
{
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		char ch = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-')
				return 0;
		} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			     (ch >= 'A' && ch <= 'F'))) {
			return 0; /* also stops at a NUL before 36 */
		}
	}
	return s[36] == '\0';
}

json_t *pd_json_strs(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *pd_json_time_ms(long long ms)
{
	char buf[40];
	time_t t;
	struct tm tm;

	if (ms <= 0)
		return json_null();
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, 24, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return json_null();
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ", (int)(ms % 1000));
	return json_string(buf);
}
