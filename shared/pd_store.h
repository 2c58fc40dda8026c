/* pd_store: the domain writes of pushdesk, each in ONE transaction with the
 * outbox rows of the events it causes (contract 3.1), so that the API and the
 * broker's database thread (message:send, notification:markRead) share the
 * same code. A write returns the outbox ids; the caller publishes them after
 * it returned (pd_outbox_publish), and the relay publishes whatever a crash
 * or a Valkey outage left behind. Every payload carries eventId = outbox id.
 *
 * Access rules that need the database are checked here, inside the
 * transaction: an object of another org, or one the actor may not see,
 * is PD_E_NOT_FOUND. Role rules that need no data are the caller's. */
#ifndef PD_STORE_H
#define PD_STORE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "pd_db.h"
#include "pd_err.h"

struct redisContext;
struct pd_emit_target;

/* Select-list expressions (text) for the resources as the API returns them,
 * over aliases t (tickets), m (messages) joined with u (its sender), n
 * (notifications). Need pd_db.h for PD_DB_TS. */
#define PD_STORE_TICKET_JSON                                                                          \
	"json_build_object('id',t.id,'orgId',t.org_id,'subject',t.subject,'status',t.status,"   \
	"'priority',t.priority,'customerId',t.customer_id,'assigneeId',t.assignee_id,"          \
	"'createdAt'," PD_DB_TS("t.created_at") ",'updatedAt'," PD_DB_TS("t.updated_at")        \
	",'updatedBy',t.updated_by)::text"

#define PD_STORE_MESSAGE_JSON                                                                         \
	"json_build_object('id',m.id,'ticketId',m.ticket_id,'content',m.content,"               \
	"'senderId',m.sender_id,'senderName',u.name,'senderRole',u.role,"                       \
	"'createdAt'," PD_DB_TS("m.created_at") ",'updatedAt'," PD_DB_TS("m.updated_at") ")::text"

#define PD_STORE_NOTIFICATION_JSON                                                                    \
	"json_build_object('id',n.id,'type',n.type,'title',n.title,'message',n.message,"        \
	"'data',n.data,'createdAt'," PD_DB_TS("n.created_at") ",'readAt'," PD_DB_TS("n.read_at") \
	")::text"

/* Who may see a ticket (contract 3.1 and 4): a ticket of the org; a
 * customer only their own. An SQL condition over alias t (tickets), given
 * the parameter numbers of ORG (the caller's org) and CUST (the caller's id
 * when a customer, NULL otherwise: pd_store_visible_as gives it), e.g.
 * PD_STORE_TICKET_VISIBLE("$2", "$3"). Every reader of tickets uses it. */
#define PD_STORE_TICKET_VISIBLE(org, cust)                                                   \
	"(t.org_id = " org "::uuid AND (" cust "::uuid IS NULL OR t.customer_id = " cust    \
	"::uuid))"

#define PD_STORE_MAX_EVENTS 8

/* Who acts: ids are canonical UUIDs (checked by the caller). */
struct pd_actor {
	const char *id;
	const char *org;
	const char *role;  /* customer | agent | admin | service */
};

struct pd_store_out {
	json_t *obj;                 /* the resource as the API returns it; owned */
	long long events[PD_STORE_MAX_EVENTS]; /* outbox ids, ascending */
	size_t nevents;
	/* message create: the ticket's participants, for the broker's `delivered` */
	char customer_id[64];
	char assignee_id[64];        /* "" when unassigned */
	char msg[200];               /* reason when not PD_OK ("" = default) */
};

/* The CUST parameter of PD_STORE_TICKET_VISIBLE for actor a: its id when a
 * customer, else NULL. */
const char *pd_store_visible_as(const struct pd_actor *a);

/* Frees o->obj and clears o. */
void pd_store_out_free(struct pd_store_out *o);

/* Create a ticket. customer_id: the ticket's customer (a user of the org;
 * NULL = the actor). priority NULL = "normal". Events: ticket:created to
 * agents:<org> and user:<customer>. */
enum pd_err pd_store_ticket_create(PGconn *c, const struct pd_actor *a, const char *customer_id,
				   const char *subject, const char *priority,
				   struct pd_store_out *o);

struct pd_ticket_patch {
	const char *subject, *status, *priority; /* NULL = unchanged */
	int set_assignee;                        /* assignee_id given */
	const char *assignee_id;                 /* NULL = unassign */
};

/* Update a ticket (the actor is staff: checked by the caller). Events:
 * ticket:updated to ticket:<id>, agents:<org>, user:<customer>; and
 * ticket:assigned to user:<assignee>, ticket:<id> when the assignee changed
 * to someone. An assignee must be an agent or admin of the org
 * (BAD_REQUEST otherwise). */
enum pd_err pd_store_ticket_update(PGconn *c, const struct pd_actor *a, const char *ticket_id,
				   const struct pd_ticket_patch *p, struct pd_store_out *o);

/* Post a message on a ticket the actor may see (a customer: their own).
 * Events: message:new to ticket:<id>; and, for the ticket's customer and
 * assignee other than the sender, a stored notification (type "message")
 * pushed as `notification` and `notification:count` to user:<id>. */
enum pd_err pd_store_message_create(PGconn *c, const struct pd_actor *a, const char *ticket_id,
				    const char *content, struct pd_store_out *o);

/* Edit a message: only its sender (FORBIDDEN for another participant).
 * Event: message:updated to ticket:<id>. */
enum pd_err pd_store_message_update(PGconn *c, const struct pd_actor *a, const char *message_id,
				    const char *content, struct pd_store_out *o);

/* Store a notification for user_id (NOT_FOUND unless a user of org).
 * data_json: a JSON object text (NULL = {}). Events: notification and
 * notification:count {unread} to user:<id>. */
enum pd_err pd_store_notification_create(PGconn *c, const char *org, const char *user_id,
					 const char *type, const char *title,
					 const char *message, const char *data_json,
					 struct pd_store_out *o);

/* Mark one (id) or, with id NULL, all of the actor's notifications read.
 * o->obj: the notification, or {"updated":N,"unread":0}. Event:
 * notification:count {unread} to user:<actor>. */
enum pd_err pd_store_notification_read(PGconn *c, const struct pd_actor *a, const char *id,
				       struct pd_store_out *o);

/* Queue an arbitrary event (POST /emit, pushdeskctl emit) through the
 * outbox; rooms and except as given (the caller restricts them), payload a
 * JSON text stored as is (no eventId added). o->obj: {"eventId":N}. */
enum pd_err pd_store_emit(PGconn *c, const char *org, const char *nsp, const char *event,
			  const char *const *rooms, size_t nrooms, const char *const *except,
			  size_t nexcept, const char *payload_json, struct pd_store_out *o);

/* Append one outbox row inside the caller's transaction. payload_json: JSON
 * text; with add_event_id and an object payload, eventId = the row id is
 * added to it. 0 or -1 with *err set. */
int pd_store_outbox_add(PGconn *c, const char *org, const char *nsp, const char *event,
			const char *const *rooms, size_t nrooms, const char *const *except,
			size_t nexcept, const char *payload_json, int add_event_id, long long *id,
			enum pd_err *err);

/* Publish outbox rows to Valkey and mark them published, in one transaction
 * that locks them, so the request that wrote them and the relay never both
 * publish a row. ids/n: those rows, for the writer: it waits for a relay
 * holding any of them and skips the ones already published, so when it
 * returns every row of ids is out (by it or the relay), each once, after
 * every older unpublished row (published first, in id order); ids
 * NULL: the oldest `limit` unpublished rows, for the relay, which skips rows
 * locked by a writer (SKIP LOCKED). Returns the number published, or -1
 * (Valkey or database error; nothing is marked and the rows will be retried:
 * a Valkey error after some PUBLISHes went out is the at-least-once case).
 * t: where and in which adapter_mode (pd_emitter.h; *t->kv may change to
 * another node's connection on a cluster); t->stream_max: connection state
 * recovery. */
long pd_outbox_publish(PGconn *c, const struct pd_emit_target *t, const long long *ids, size_t n,
		       size_t limit);

#endif
