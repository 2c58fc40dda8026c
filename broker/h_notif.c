/* h_notif: notification:count on connect, notification:markRead and
 * notification:markAllRead (their notification:count event goes to every
 * device of the user through the outbox; the asking socket is one of
 * them, and gets it directly when there was no event to publish). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

struct notif_req {
	struct dbq_notif q;
	char sid[EIO_SID_LEN + 1];
	long long ack;
	int kind; /* 0 count, 1 markRead, 2 markAllRead */
};

static void send_count(struct sio_socket *s, long long unread)
{
	json_t *a = json_pack("[{s:I}]", "unread", (json_int_t)unread);
	if (a != NULL)
		sio_emit(s, "notification:count", a, NULL, 0);
	json_decref(a);
}

static void notif_done(struct loop *l, void *arg, enum pd_err st)
{
	struct notif_req *r = container_of(arg, struct notif_req, q);
	if (st == PD_OK && r->q.nev > 0)
		app_publish(l, r->q.ev, r->q.nev);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s != NULL) {
		if (st != PD_OK) {
			if (r->kind != 0)
				app_fail(s, r->ack, st, r->q.msg);
		} else {
			int published = 0;
			for (size_t i = 0; i < r->q.nev; i++)
				if (strcmp(r->q.ev[i].event, "notification:count") == 0)
					published = 1;
			if (!published) /* nothing changed, or the relay has the row */
				send_count(s, r->q.unread);
			if (r->kind != 0)
				app_ok(s, r->ack, json_pack("{s:I}", "unread", (json_int_t)r->q.unread));
		}
	}
	dbq_notif_clear(&r->q);
	free(r);
}

static void notif_job(struct sio_socket *s, const char *id, long long ack, int kind)
{
	struct notif_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	if (dbq_notif_prepare(&r->q, &app_of(s)->who, id) == 1) {
		app_fail(s, ack, r->q.err, r->q.msg);
		dbq_notif_clear(&r->q);
		free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->ack = ack;
	r->kind = kind;
	dbpool_job_fn run = kind == 0 ? dbq_notif_count_job
			    : kind == 1 ? dbq_notif_read_job
					: dbq_notif_read_all_job;
	if (app_submit(s, kind == 0 ? -1 : ack, run, notif_done, &r->q) < 0) {
		dbq_notif_clear(&r->q);
		free(r);
	}
}

void h_notif_count(struct sio_socket *s)
{
	notif_job(s, NULL, -1, 0);
}

void h_notif_read(struct sio_socket *s, const json_t *arg, long long ack)
{
	const char *id = app_id_arg(arg, "id");
	if (id == NULL) {
		sio_error(s, ack, "BAD_REQUEST", "id must be a notification id");
		return;
	}
	notif_job(s, id, ack, 1);
}

void h_notif_read_all(struct sio_socket *s, const json_t *arg, long long ack)
{
	(void)arg;
	notif_job(s, NULL, ack, 2);
}
