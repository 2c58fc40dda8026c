/* Fuzz target for the Valkey address parsers: the input is a valkey_url
 * (pd_redis_url_parse) and, as it comes from a server, a redirect error
 * (pd_slot_redirect_parse), and as a formatted command whose key pd_kvc
 * routes on (pd_slot_resp_args). Properties: every field stays
 * NUL-terminated within its buffer, 1 <= seeds <= PD_URL_SEEDS_MAX with
 * valid ports, a redirect's slot and port are in range, and a command's
 * arguments lie within its bytes. */
#include "pd_slot.h"
#include "pd_url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct pd_redis_url u;
	struct pd_slot_redirect r;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pd_redis_url_parse(s, &u) == 0) {
		if (u.unix_path[0] == '\0' && (u.nseeds < 1 || u.nseeds > PD_URL_SEEDS_MAX))
			abort();
		for (int i = 0; i < u.nseeds; i++)
			if (strlen(u.seeds[i].host) >= sizeof(u.seeds[i].host) ||
			    u.seeds[i].port < 1 || u.seeds[i].port > 65535)
				abort();
		if (u.nseeds > 1 && u.db != 0)
			abort();
	} else if (u.err == NULL) {
		abort();
	}
	/* the raw bytes, not NUL-terminated: only size bytes may be read */
	if (pd_slot_redirect_parse((const char *)data, size, &r) == 0 &&
	    (r.slot >= PD_SLOT_COUNT || r.port < 1 || r.port > 65535 ||
	     strlen(r.host) >= sizeof(r.host)))
		abort();
	if (pd_slot_of(s, size) >= PD_SLOT_COUNT)
		abort();
	const char *argv[4];
	size_t lens[4];
	int argc = pd_slot_resp_args((const char *)data, size, 4, argv, lens);
	if (argc > 4)
		abort();
	for (int i = 0; i < argc; i++)
		if (argv[i] < (const char *)data || lens[i] > size ||
		    (size_t)(argv[i] - (const char *)data) > size - lens[i])
			abort();
	free(s);
	return 0;
}
