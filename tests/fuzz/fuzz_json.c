/* Fuzz target for pd_json_parse and the field readers, with two properties:
 * what parses re-parses from its dump to an equal value, and accepted input
 * is valid UTF-8 by pd_utf8_valid. Also the strict base64 decoder: what it
 * accepts re-encodes to the very same text. */
#include "pd_buf.h"
#include "pd_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void readers(const json_t *v)
{
	static const char *const allowed[] = {"id", "content", "ticketId", NULL};
	char err[256];
	const char *s;
	long long i;
	int b;
	if (pd_json_get_string(v, "content", 100, 0, &s, err, sizeof(err)) == 0 &&
	    (strlen(s) == 0 || strlen(s) > 100 || !pd_utf8_valid((const uint8_t *)s, strlen(s))))
		abort();
	if (pd_json_get_string(v, "id", 64, 1, &s, err, sizeof(err)) == 0)
		(void)pd_uuid_valid(s);
	if (pd_json_get_int(v, "limit", 1, 100, &i, err, sizeof(err)) == 0 && (i < 1 || i > 100))
		abort();
	(void)pd_json_get_bool(v, "unread", &b, err, sizeof(err));
	(void)pd_json_only_fields(v, allowed, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *v = pd_json_parse((const char *)data, size, err, sizeof(err));
	if (v != NULL) {
		if (!pd_utf8_valid(data, size))
			abort();
		readers(v);
		size_t len;
		char *dump = pd_json_dump(v, &len);
		if (dump == NULL)
			abort();
		json_t *again = pd_json_parse(dump, len, err, sizeof(err));
		if (again == NULL || !json_equal(v, again))
			abort();
		json_decref(again);
		free(dump);
		json_decref(v);
	}

	struct pd_buf raw, enc;
	pd_buf_init(&raw, 0);
	pd_buf_init(&enc, 0);
	if (pd_base64_decode((const char *)data, size, &raw) == 0) {
		if (pd_base64_encode((const uint8_t *)raw.data, raw.len, &enc) != 0 ||
		    enc.len != size || memcmp(enc.data, data, size) != 0)
			abort();
	}
	pd_buf_free(&raw);
	pd_buf_free(&enc);
	return 0;
}
