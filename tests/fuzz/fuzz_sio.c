/* Fuzz target for broker/sio_packet: decode the input; when it decodes, its
 * encoding must decode again to an equal packet (numbers compared as
 * JavaScript does, as doubles) and encode to the very same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio_packet.h"

static int num(const json_t *v, double *d)
{
	if (json_is_integer(v))
		*d = (double)json_integer_value(v);
	else if (json_is_real(v))
		*d = json_real_value(v);
	else
		return 0;
	return 1;
}

static int equal(const json_t *a, const json_t *b)
{
	double x, y;
	if (num(a, &x) && num(b, &y))
		return x == y;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!equal(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, v)
		{
			const json_t *w = json_object_get(b, k);
			if (w == NULL || !equal(v, w))
				return 0;
		}
		return 1;
	}
	default:
		return json_equal(a, b);
	}
}

static void encode(struct pd_buf *out, const struct sio_packet *pk)
{
	pd_buf_init(out, 0);
	if (sio_encode(out, pk->type, pk->nsp, pk->id, pk->attachments, pk->data) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sio_packet a, b;
	struct pd_buf e1, e2;
	char err[128];

	if (sio_decode((const char *)data, size, &a, err, sizeof(err)) != 0) {
		if (a.data != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (a.type == SIO_EVENT || a.type == SIO_BINARY_EVENT) {
		if (sio_event_name(&a) == NULL)
			abort();
	}
	if (a.data != NULL)
		(void)sio_placeholders_check(a.data);

	encode(&e1, &a);
	if (sio_decode(e1.data, e1.len, &b, err, sizeof(err)) != 0)
		abort();
	if (a.type != b.type || strcmp(a.nsp, b.nsp) != 0 || a.id != b.id ||
	    a.attachments != b.attachments || (a.data == NULL) != (b.data == NULL) ||
	    (a.data != NULL && !equal(a.data, b.data)))
		abort();
	encode(&e2, &b);
	if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
		abort();
	sio_packet_clear(&a);
	sio_packet_clear(&b);
	pd_buf_free(&e1);
	pd_buf_free(&e2);
	return 0;
}
