/* auth: JWT verification at CONNECT time. Tokens are never logged. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pd_jwt.h"
#include "pd_log.h"
#include "pd_rooms.h"
#include "room.h"

static struct sio_ident *ident_new(const struct pd_claims *cl)
{
	const char *f[5] = {cl->sub, cl->org, cl->role, cl->team, cl->name};
	size_t len[5], total = 0;
	for (int i = 0; i < 5; i++) {
		len[i] = strlen(f[i]);
		total += len[i] + 1;
	}
	struct sio_ident *id = malloc(sizeof(*id) + total);
	if (id == NULL)
		return NULL;
	char *p = id->buf;
	const char **dst[5] = {&id->sub, &id->org, &id->role, &id->team, &id->name};
	for (int i = 0; i < 5; i++) {
		memcpy(p, f[i], len[i] + 1);
		*dst[i] = p;
		p += len[i] + 1;
	}
	return id;
}

int auth_authorize(struct sio_client *c, const json_t *auth, struct sio_ident **ident,
		   const char **err, json_t **err_data)
{
	const char *token = NULL;
	json_t *t = json_is_object(auth) ? json_object_get(auth, "token") : NULL;
	(void)err_data;
	if (json_is_string(t))
		token = json_string_value(t);
	else if (c->es->hs_token != NULL)
		token = c->es->hs_token;
	struct pd_claims cl;
	enum pd_jwt_status st = pd_jwt_verify(c->es->w->cfg->jwt, token, time(NULL), &cl);
	if (st != PD_JWT_OK) {
		*err = pd_jwt_status_code(st);
		return -1;
	}
	*ident = ident_new(&cl);
	if (*ident == NULL) {
		*err = "INTERNAL";
		return -1;
	}
	return 0;
}

int auth_authorize_admin(struct sio_client *c, const json_t *auth, struct sio_ident **ident,
			 const char **err, json_t **err_data)
{
	if (auth_authorize(c, auth, ident, err, err_data) < 0)
		return -1;
	if (strcmp((*ident)->role, "admin") != 0) {
		free(*ident);
		*ident = NULL;
		*err = "FORBIDDEN";
		return -1;
	}
	return 0;
}

int auth_join_rooms(struct sio_socket *s)
{
	const struct sio_ident *id = s->ident;
	char names[PD_ROOM_AUTO_MAX][PD_ROOM_MAX];
	int n, rc = 0;

	if (id == NULL)
		return 0;
	/* A name too long for a room (ids are bounded by the token's checks,
	 * so this does not happen) joins none rather than some. */
	n = pd_room_auto(id->sub, id->org, id->role, id->team, names, PD_ROOM_AUTO_MAX);
	for (int i = 0; i < n && rc == 0; i++)
		rc = room_join(s, names[i]);
	return n < 0 ? n : rc;
}
