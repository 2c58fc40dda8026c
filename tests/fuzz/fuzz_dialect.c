/* Fuzz target for broker/dialect: the input is a Socket.IO EVENT array as a
 * client or a backend sends it (["name", payload...]). Every dialect's
 * inbound entry for the name extracts an argument (never NULL for a present
 * payload), and every dialect translates the array as an internal event:
 * unchanged, dropped, or a new array whose first element is a string. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *a = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (a == NULL)
		return 0;
	const char *name = json_string_value(json_array_get(a, 0));
	const json_t *payload = json_array_get(a, 1);
	for (size_t i = 0; i < dia_count; i++) {
		const struct dialect *d = &dia_table[i];
		const struct dia_in *e = name != NULL ? dia_in_find(d, name) : NULL;
		if (e != NULL) {
			if (e->op >= DOP__N)
				abort();
			json_t *arg = dia_in_arg(e, payload);
			if ((arg == NULL) != (payload == NULL))
				abort();
			json_decref(arg);
		}
		json_t *out = NULL;
		int r = dia_out(d, a, &out);
		if (r < -1 || r > 1 || (r == 0) != (out != NULL))
			abort();
		if (out != NULL && !json_is_string(json_array_get(out, 0)))
			abort();
		json_decref(out);
	}
	json_decref(a);
	return 0;
}
