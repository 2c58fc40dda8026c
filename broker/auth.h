/* auth: the handshake JWT middleware (contract 2 and 3): the token from
 * the CONNECT auth object, else the handshake's Authorization header or
 * cookie; verified with pd_jwt; the automatic rooms of a new socket. */
#ifndef PD_AUTH_H
#define PD_AUTH_H

#include <jansson.h>

#include "sio.h"

/* sio_nsp_def.authorize for namespaces open to every role. */
int auth_authorize(struct sio_client *c, const json_t *auth, struct sio_ident **ident,
		   const char **err, json_t **err_data);
/* The same, for admins only (FORBIDDEN otherwise). */
int auth_authorize_admin(struct sio_client *c, const json_t *auth, struct sio_ident **ident,
			 const char **err, json_t **err_data);
/* Join user:<sub>, org:<org>, role:<org>:<role>, agents:<org> (agent,
 * admin), team:<team>. 0 or -errno. */
int auth_join_rooms(struct sio_socket *s);

#endif
