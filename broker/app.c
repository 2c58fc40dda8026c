/* app: the main profile. "/" authenticates and joins the automatic rooms;
 * its ticket, message, presence and typing events come with the database
 * in a later issue, so every event is unknown for now. "/dashboard" admits
 * admins only; its metrics come later too. */
#include "app.h"

#include "auth.h"
#include "pd_log.h"

static void main_connect(struct sio_socket *s, const json_t *auth)
{
	(void)auth;
	if (auth_join_rooms(s) < 0) {
		pd_log(LOG_ERR, "sio automatic rooms failed id=%s", s->id);
		sio_disconnect(s, 0);
	}
}

static void unknown_event(struct sio_socket *s, const char *event, const json_t *data,
			  const struct sio_bin *bins, size_t nbins, long long ack_id)
{
	(void)event;
	(void)data;
	(void)bins;
	(void)nbins;
	sio_error(s, ack_id, "BAD_REQUEST", "unknown event");
}

const struct sio_nsp_def app_nsps[] = {
    {.name = "/", .authorize = auth_authorize, .on_connect = main_connect,
     .on_event = unknown_event},
    {.name = "/dashboard", .authorize = auth_authorize_admin, .on_connect = main_connect,
     .on_event = unknown_event},
};
const size_t app_nnsps = sizeof(app_nsps) / sizeof(app_nsps[0]);
