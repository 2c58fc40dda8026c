/* typing: relays with a per-socket deadline per ticket on the socket's own
 * loop (timers live in the socket's app state, cancelled when it goes). */
#include "typing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "pd_log.h"
#include "room.h"
#include "sio.h"
#include "pd_rooms.h"

static void relay(struct sio_socket *s, const char *ticket, int start)
{
	struct app_sock *a = app_of(s);
	char room[DBQ_ID + 8], self[ROOM_NAME_MAX + 8];
	pd_room_ticket(room, sizeof(room), ticket);
	pd_room_user(self, sizeof(self), s->ident->sub);
	const char *rooms[1] = {room}, *except[1] = {self};
	json_t *p = start ? json_pack("{s:s, s:s, s:s}", "ticketId", ticket, "userId", a->who.id,
				      "userName", s->ident->name)
			  : json_pack("{s:s, s:s}", "ticketId", ticket, "userId", a->who.id);
	if (p == NULL)
		return;
	app_emit(s->nsp->w->loop, app_emit_nsp(s), rooms, 1, except, 1,
		 start ? "typing:start" : "typing:stop", p);
	json_decref(p);
}

static struct typing_slot *slot_of(struct app_sock *a, const char *ticket)
{
	for (int i = 0; a->typing != NULL && i < TYPING_MAX; i++)
		if (a->typing[i].s != NULL && strcmp(a->typing[i].ticket, ticket) == 0)
			return &a->typing[i];
	return NULL;
}

static void slot_free(struct typing_slot *t)
{
	loop_timer_cancel(t->s->nsp->w->loop, &t->t);
	t->s = NULL;
}

static void on_timeout(struct loop_timer *lt)
{
	struct typing_slot *t = container_of(lt, struct typing_slot, t);
	struct sio_socket *s = t->s;
	if (s == NULL)
		return;
	t->s = NULL;
	relay(s, t->ticket, 0);
}

/* The socket may type in ticket: now do it. */
static void apply(struct sio_socket *s, const char *ticket, int start, long long ack)
{
	struct app_sock *a = app_of(s);
	struct loop *l = s->nsp->w->loop;
	struct typing_slot *t = slot_of(a, ticket);
	if (!start) {
		if (t != NULL)
			slot_free(t);
		relay(s, ticket, 0);
		app_ok(s, ack, NULL);
		return;
	}
	if (t == NULL) {
		if (a->typing == NULL && (a->typing = calloc(TYPING_MAX, sizeof(*a->typing))) == NULL) {
			sio_error(s, ack, "INTERNAL", "out of memory");
			return;
		}
		for (int i = 0; i < TYPING_MAX && t == NULL; i++)
			if (a->typing[i].s == NULL)
				t = &a->typing[i];
		if (t == NULL) { /* full: stop the one due first */
			t = &a->typing[0];
			for (int i = 1; i < TYPING_MAX; i++)
				if (a->typing[i].t.when < t->t.when)
					t = &a->typing[i];
			slot_free(t);
			relay(s, t->ticket, 0);
		}
		loop_timer_init(&t->t, on_timeout);
		t->s = s;
		snprintf(t->ticket, sizeof(t->ticket), "%s", ticket);
	}
	if (loop_timer_set(l, &t->t, l->now + (uint64_t)g_app.typing_timeout_ms) < 0) {
		t->s = NULL;
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	relay(s, ticket, 1);
	app_ok(s, ack, NULL);
}

struct typing_req {
	struct dbq_access q;
	char sid[EIO_SID_LEN + 1];
	long long ack;
	int start;
};

static void access_done(struct loop *l, void *arg, enum pd_err st)
{
	struct typing_req *r = container_of(arg, struct typing_req, q);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s != NULL && app_of(s) != NULL) {
		if (st == PD_OK)
			apply(s, r->q.ticket, r->start, r->ack);
		else
			app_fail(s, r->ack, st, r->q.msg);
	}
	free(r);
}

void typing_event(struct sio_socket *s, const json_t *arg, long long ack, int start)
{
	struct app_sock *a = app_of(s);
	const char *id = app_id_arg(arg, "ticketId");
	if (id == NULL) {
		sio_error(s, ack, "BAD_REQUEST", "ticketId must be a string");
		return;
	}
	struct typing_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	int rc = dbq_access_prepare(&r->q, &a->who, id, g_app.grants);
	char room[DBQ_ID + 8];
	pd_room_ticket(room, sizeof(room), r->q.ticket);
	if (rc == 1 || (r->q.ticket[0] != '\0' && (room_has(s, room) || slot_of(a, r->q.ticket)))) {
		if (rc == 1 && r->q.err != PD_OK)
			app_fail(s, ack, r->q.err, r->q.msg);
		else
			apply(s, r->q.ticket, start, ack);
		free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->ack = ack;
	r->start = start;
	if (app_submit(s, ack, dbq_access_job, access_done, &r->q) < 0)
		free(r);
}

void typing_stop_all(struct sio_socket *s)
{
	struct app_sock *a = app_of(s);
	for (int i = 0; a != NULL && a->typing != NULL && i < TYPING_MAX; i++) {
		struct typing_slot *t = &a->typing[i];
		if (t->s == NULL)
			continue;
		slot_free(t);
		relay(s, t->ticket, 0);
	}
}
