/* Fuzz target for pd_rooms: the input is a room name as a client or a
 * backend gives it. Properties: a resolved name fits PD_ROOM_MAX, is never
 * another org's and never a client-spellable free name; a free room is
 * free:<org>:<input> exactly; resolution is idempotent for the canonical
 * names it returns (except free rooms, whose input is not reserved). */
#include "pd_rooms.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORG "0b7a4c1e-0000-4000-8000-00000000000a"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), out[PD_ROOM_MAX], again[PD_ROOM_MAX], un[PD_ROOM_MAX];
	enum pd_room_kind k = PD_ROOM_INVALID;
	const char *id = NULL;
	int rc;

	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	rc = pd_room_resolve(ORG, name, out, sizeof(out), &k, &id);
	if (rc == 0) {
		if (strlen(out) >= sizeof(out) || id == NULL || id < out || id > out + strlen(out))
			abort();
		if (k == PD_ROOM_FREE) {
			if (strncmp(out, "free:" ORG ":", strlen("free:" ORG ":")) != 0 ||
			    strcmp(out + strlen("free:" ORG ":"), name) != 0 || pd_room_reserved(name))
				abort();
		} else {
			/* org-wide rooms are the caller's org's */
			if ((k == PD_ROOM_ORG || k == PD_ROOM_AGENTS) && strstr(out, ORG) == NULL)
				abort();
			if (pd_room_resolve(ORG, out, again, sizeof(again), NULL, NULL) != 0 ||
			    strcmp(out, again) != 0)
				abort();
		}
	} else if (rc != -EINVAL && rc != -EPERM && rc != -ENAMETOOLONG) {
		abort();
	} else if (out[0] != '\0') {
		abort();
	}
	if (pd_room_unalias(name, un, sizeof(un)) == 0 && strlen(un) >= sizeof(un))
		abort();
	free(name);
	return 0;
}
