/* fuzz_body: the API's request-body path without I/O: content-type check,
 * api_parse_object, every endpoint's field validator, the redis-emitter
 * encoding of the parsed value (what POST /emit publishes), and the
 * query-string parsers (cursor, limit) on the raw input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_emitter.h"
#include "valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *s = malloc(size + 1);
	json_t *v;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)api_content_type_json(s);
	{
		long long us;
		char id[64];
		struct api_kv_url u;
		long n, secs;
		(void)api_cursor_decode(s, &us, id, sizeof(id));
		(void)api_parse_limit(s, 50, 100);
		(void)api_kv_parse_url(s, &u);
		(void)api_parse_rate(s, &n, &secs);
	}
	v = api_parse_object((const char *)data, size, err, sizeof(err));
	if (v != NULL) {
		struct v_login l;
		struct v_user u;
		struct v_ticket t;
		struct pd_ticket_patch p;
		struct v_notification no;
		struct v_emit e;
		const char *content;
		struct pd_buf b;
		struct pd_emit pe = {.event = "fuzz", .payload = v};

		(void)valid_login(v, &l, err, sizeof(err));
		(void)valid_user(v, &u, err, sizeof(err));
		(void)valid_ticket(v, &t, err, sizeof(err));
		(void)valid_ticket_patch(v, &p, err, sizeof(err));
		(void)valid_message(v, &content, err, sizeof(err));
		(void)valid_notification(v, &no, err, sizeof(err));
		if (valid_emit(v, &e, err, sizeof(err)) == 0) {
			pe.nsp = e.nsp;
			pe.event = e.event;
			pe.payload = e.data;
			pe.rooms = e.rooms;
			pe.nrooms = e.nrooms;
			pe.except = e.except;
			pe.nexcept = e.nexcept;
		}
		pd_buf_init(&b, 1 << 20);
		(void)pd_emitter_encode(&pe, &b);
		pd_buf_reset(&b);
		(void)pd_emitter_channel("socket.io", &pe, &b);
		pd_buf_free(&b);
		json_decref(v);
	}
	free(s);
	return 0;
}
