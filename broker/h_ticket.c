/* h_ticket: ticket:join / ticket:leave, message:send (stored through
 * pd_store by a database job, its events published, acked with whether a
 * participant other than the sender is connected), and chat:focus /
 * chat:blur read receipts. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter.h"
#include "app.h"
#include "pd_log.h"
#include "room.h"
#include "pd_rooms.h"

static void ticket_room(char *out, size_t len, const char *ticket)
{
	pd_room_ticket(out, len, ticket);
}

/* ---- ticket:join / ticket:leave ---- */

struct join_req {
	struct dbq_access q;
	char sid[EIO_SID_LEN + 1];
	long long ack;
};

static void join_now(struct sio_socket *s, const char *ticket, long long ack)
{
	char room[DBQ_ID + 8];
	ticket_room(room, sizeof(room), ticket);
	int rc = room_join(s, room);
	if (rc < 0) {
		sio_error(s, ack, rc == -E2BIG ? "BAD_REQUEST" : "INTERNAL",
			  rc == -E2BIG ? "too many rooms" : "out of memory");
		return;
	}
	/* the id for a dialect's reply event (ticket:subscribed {ticketId}) */
	app_ok(s, ack, ack < -1 ? json_pack("{s:s}", "ticketId", ticket) : NULL);
}

static void join_done(struct loop *l, void *arg, enum pd_err st)
{
	struct join_req *r = container_of(arg, struct join_req, q);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s != NULL) {
		if (st == PD_OK)
			join_now(s, r->q.ticket, r->ack);
		else
			app_fail(s, r->ack, st, r->q.msg);
	}
	free(r);
}

void h_ticket_join(struct sio_socket *s, const json_t *arg, long long ack)
{
	const char *id = app_id_arg(arg, "ticketId");
	if (id == NULL) {
		sio_error(s, ack, "BAD_REQUEST", "ticketId must be a string");
		return;
	}
	struct join_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	if (dbq_access_prepare(&r->q, &app_of(s)->who, id, g_app.grants) == 1) {
		if (r->q.err == PD_OK)
			join_now(s, r->q.ticket, ack);
		else
			app_fail(s, ack, r->q.err, r->q.msg);
		free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->ack = ack;
	if (app_submit(s, ack, dbq_access_job, join_done, &r->q) < 0)
		free(r);
}

void h_ticket_leave(struct sio_socket *s, const json_t *arg, long long ack)
{
	const char *id = app_id_arg(arg, "ticketId");
	char room[ROOM_NAME_MAX + 1];
	if (id == NULL || strlen(id) >= DBQ_ID) {
		sio_error(s, ack, "BAD_REQUEST", "ticketId must be a ticket id");
		return;
	}
	struct dbq_access q;
	/* the canonical (lower-case) id, as ticket:join used */
	dbq_access_prepare(&q, &app_of(s)->who, id, NULL);
	ticket_room(room, sizeof(room), q.ticket[0] != '\0' ? q.ticket : id);
	room_leave(s, room);
	app_ok(s, ack, ack < -1 ? json_pack("{s:s}", "ticketId", id) : NULL);
}

/* ---- message:send ---- */

struct send_req {
	struct dbq_send q;
	char sid[EIO_SID_LEN + 1];
	char sub[DBQ_ID];
	long long ack;
	struct loop *l;
};

static void send_answer(struct loop *l, struct send_req *r, int delivered)
{
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s != NULL && r->ack != -1) { /* a client ack or a dialect reply */
		json_t *f = json_pack("{s:O, s:b}", "message", r->q.message, "delivered", delivered);
		app_ok(s, r->ack, f);
	}
	dbq_send_clear(&r->q);
	free(r);
}

/* delivered: a recipient's socket somewhere (every broker with Valkey) */
static void count_back(struct loop *l, size_t found, void *ud)
{
	send_answer(l, ud, found > 0);
}

static void delivered_start(struct loop *l, struct send_req *r)
{
	const char *rooms[3];
	char rb[3][DBQ_ID + 8], except[DBQ_ID + 8];
	size_t n = 0;
	ticket_room(rb[n], sizeof(rb[n]), r->q.ticket);
	rooms[n] = rb[n];
	n++;
	if (r->q.customer_id[0] != '\0' && strcmp(r->q.customer_id, r->q.who.id) != 0) {
		pd_room_user(rb[n], sizeof(rb[n]), r->q.customer_id);
		rooms[n] = rb[n];
		n++;
	}
	if (r->q.assignee_id[0] != '\0' && strcmp(r->q.assignee_id, r->q.who.id) != 0) {
		pd_room_user(rb[n], sizeof(rb[n]), r->q.assignee_id);
		rooms[n] = rb[n];
		n++;
	}
	pd_room_user(except, sizeof(except), r->sub);
	r->l = l;
	const char *except1[1] = {except};
	if (adapter_count(g_app.adapter, l, 0, rooms, n, except1, 1, count_back, r) < 0)
		send_answer(l, r, 0);
}

static void send_done(struct loop *l, void *arg, enum pd_err st)
{
	struct send_req *r = container_of(arg, struct send_req, q);
	/* committed: publish whether or not the sender is still here */
	if (st == PD_OK)
		app_publish(l, r->q.ev, r->q.nev);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s == NULL || st != PD_OK) {
		if (s != NULL)
			app_fail(s, r->ack, st, r->q.msg);
		dbq_send_clear(&r->q);
		free(r);
		return;
	}
	if (r->ack == -1) {
		send_answer(l, r, 0);
		return;
	}
	delivered_start(l, r);
}

void h_message_send(struct sio_socket *s, const json_t *arg, long long ack)
{
	struct send_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	int rc = dbq_send_prepare(&r->q, &app_of(s)->who, arg);
	if (rc != 0) {
		if (rc < 0)
			sio_error(s, ack, "INTERNAL", "out of memory");
		else
			app_fail(s, ack, r->q.err, r->q.msg);
		dbq_send_clear(&r->q);
		free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	snprintf(r->sub, sizeof(r->sub), "%s", s->ident->sub);
	r->ack = ack;
	if (app_submit(s, ack, dbq_send_job, send_done, &r->q) < 0) {
		dbq_send_clear(&r->q);
		free(r);
	}
}

/* ---- chat:focus / chat:blur ---- */

struct read_req {
	struct dbq_read q;
	char sid[EIO_SID_LEN + 1];
	long long ack;
	int focus; /* chat:focus itself (else one message:new) */
};

static void read_done(struct loop *l, void *arg, enum pd_err st)
{
	struct read_req *r = container_of(arg, struct read_req, q);
	if (st == PD_OK && r->q.nev > 0)
		app_publish(l, r->q.ev, r->q.nev);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s != NULL && app_of(s) != NULL && r->focus) {
		if (st != PD_OK) {
			app_fail(s, r->ack, st, r->q.msg);
		} else {
			struct app_sock *a = app_of(s);
			char room[DBQ_ID + 8];
			/* to see the ticket's new messages while focused */
			ticket_room(room, sizeof(room), r->q.ticket_id);
			room_join(s, room);
			memcpy(a->focus, r->q.ticket_id, sizeof(a->focus));
			s->watch = 1;
			app_ok(s, r->ack, json_pack("{s:s, s:I}", "ticketId", r->q.ticket_id, "marked",
						    (json_int_t)r->q.added));
		}
	} else if (st != PD_OK && st != PD_E_NOT_FOUND) {
		pd_log(LOG_INFO, "read receipt failed err=%s", pd_err_code(st));
	}
	dbq_read_clear(&r->q);
	free(r);
}

/* chattingWith (seed 003): stored for the roster, which goes again. */
static void set_chatting(struct sio_socket *s, const char *partner)
{
	struct app_sock *a = app_of(s);
	snprintf(a->chatting, sizeof(a->chatting), "%s", partner);
	s->watch = a->focus[0] != '\0' || a->chatting[0] != '\0';
	g_app.adapter->ops->pres_set_info(g_app.adapter, a->who.id, "chattingWith", partner);
	g_app.adapter->ops->pres_roster_emit(g_app.adapter, a->who.org);
}

struct partner_req {
	struct dbq_members q;
	char sid[EIO_SID_LEN + 1];
	long long ack;
};

static void partner_done(struct loop *l, void *arg, enum pd_err st)
{
	struct partner_req *r = container_of(arg, struct partner_req, q);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s != NULL && app_of(s) != NULL) {
		if (st != PD_OK)
			app_fail(s, r->ack, st, r->q.msg);
		else if (r->q.nmembers == 0)
			sio_error(s, r->ack, "NOT_FOUND", "partnerId is no user of your organization");
		else {
			set_chatting(s, r->q.ids[0]);
			app_ok(s, r->ack, json_pack("{s:s}", "partnerId", r->q.ids[0]));
		}
	}
	dbq_members_clear(&r->q);
	free(r);
}

/* chat:focus {partnerId}: a user of the socket's org (checked). */
static void focus_partner(struct sio_socket *s, const json_t *partner, long long ack)
{
	if (!json_is_string(partner) || json_string_length(partner) == 0 ||
	    json_string_length(partner) >= DBQ_ID) {
		sio_error(s, ack, "BAD_REQUEST", "partnerId must be a user id");
		return;
	}
	struct partner_req *r = calloc(1, sizeof(*r));
	json_t *ids = json_pack("[O]", partner);
	int rc = r != NULL && ids != NULL ? dbq_members_prepare(&r->q, app_of(s)->who.org, ids) : -1;
	json_decref(ids);
	if (rc != 0) {
		if (rc < 0)
			sio_error(s, ack, "INTERNAL", "out of memory");
		else
			app_fail(s, ack, r->q.err, r->q.msg);
		if (r != NULL)
			dbq_members_clear(&r->q);
		free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->ack = ack;
	if (app_submit(s, ack, dbq_members_job, partner_done, &r->q) < 0) {
		dbq_members_clear(&r->q);
		free(r);
	}
}

void h_chat_focus(struct sio_socket *s, const json_t *arg, long long ack)
{
	if (json_is_object(arg) && json_object_get(arg, "partnerId") != NULL) {
		focus_partner(s, json_object_get(arg, "partnerId"), ack);
		return;
	}
	const char *id = app_id_arg(arg, "ticketId");
	if (id == NULL) {
		sio_error(s, ack, "BAD_REQUEST", "ticketId must be a string");
		return;
	}
	struct read_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	if (dbq_read_prepare(&r->q, &app_of(s)->who, id, NULL) == 1) {
		app_fail(s, ack, r->q.err, r->q.msg);
		dbq_read_clear(&r->q);
		free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->ack = ack;
	r->focus = 1;
	if (app_submit(s, ack, dbq_read_ticket_job, read_done, &r->q) < 0) {
		dbq_read_clear(&r->q);
		free(r);
	}
}

void h_chat_blur(struct sio_socket *s, const json_t *arg, long long ack)
{
	struct app_sock *a = app_of(s);
	(void)arg;
	a->focus[0] = '\0';
	s->watch = 0;
	if (a->chatting[0] != '\0')
		set_chatting(s, "");
	app_ok(s, ack, NULL);
}

/* A message:new written to a focused socket: mark it read for its user. */
void h_chat_delivered(struct sio_socket *s, const struct msg *m)
{
	/* message:new, or the participants' copy the presence dialect gets */
	static const char prefix[] = "42[\"message:new\",", prefix2[] = "42[\"message:participants\",";
	struct app_sock *a = app_of(s);
	if (a == NULL || (a->focus[0] == '\0' && a->chatting[0] == '\0') || m->nparts < 1)
		return;
	const char *p = (const char *)m->ws + m->parts[0].off;
	size_t len = m->parts[0].len;
	if ((len < sizeof(prefix) - 1 || memcmp(p, prefix, sizeof(prefix) - 1) != 0) &&
	    (len < sizeof(prefix2) - 1 || memcmp(p, prefix2, sizeof(prefix2) - 1) != 0))
		return;
	json_t *data = json_loadb(p + 2, len - 2, 0, NULL);
	json_t *msgo = json_array_get(data, 1);
	const char *ticket = json_string_value(json_object_get(msgo, "ticketId"));
	const char *id = json_string_value(json_object_get(msgo, "id"));
	const char *sender = json_string_value(json_object_get(msgo, "senderId"));
	/* focused on the ticket, or chatting with its sender (7.3) */
	int focused = ticket != NULL && strcasecmp(ticket, a->focus) == 0;
	int chatting = sender != NULL && a->chatting[0] != '\0' && strcasecmp(sender, a->chatting) == 0;
	if (ticket == NULL || id == NULL || !(focused || chatting) ||
	    (sender != NULL && strcasecmp(sender, a->who.id) == 0) || g_app.db == NULL) {
		json_decref(data);
		return;
	}
	struct read_req *r = calloc(1, sizeof(*r));
	if (r != NULL && dbq_read_prepare(&r->q, &a->who, ticket, id) == 0) {
		memcpy(r->sid, s->id, sizeof(r->sid));
		r->ack = -1;
		if (dbpool_submit(g_app.db, s->nsp->w->loop, dbq_read_message_job, read_done, &r->q) == 0)
			r = NULL;
	}
	if (r != NULL) {
		dbq_read_clear(&r->q);
		free(r);
	}
	json_decref(data);
}
