/* dbq: the broker's database work as dbpool jobs with plain-value inputs and
 * outputs (contract 3.1, 3.2): ticket access for ticket:join (with a grant
 * cache), message:send through pd_store (the same transaction and outbox
 * rows as POST /tickets/{id}/messages), read receipts for chat:focus,
 * notification count / markRead / markAllRead, /dashboard metrics, and the
 * same-org check of presence:subscribe.
 *
 * Each request is a struct: the caller fills its inputs on the loop thread
 * with the dbq_*_prepare function, submits dbq_*_job with the struct as arg
 * (embed it in the caller's own request and use container_of in done; see
 * dbpool.h for the socket-id pattern), and reads the outputs in done. A
 * prepare function returns 1 when it already has the answer (invalid input:
 * q->err set, no job needed), 0 when the job must run, or -ENOMEM. Every
 * output is in the struct: q->err (also the job's return value, i.e. done's
 * status) and q->msg (a client-safe message, "" = pd_err_message(err)).
 * Outputs that own memory are freed by the matching dbq_*_clear, which
 * accepts a struct in any state (zeroed, prepared, answered).
 *
 * Errors: a ticket, message or notification the user may not see (another
 * org, a customer's ticket for another customer, unknown, malformed id) is
 * PD_E_NOT_FOUND; bad input PD_E_BAD_REQUEST; anything on the database side
 * (down, timeout, lost connection) PD_E_UNAVAILABLE, which the broker sends
 * as INTERNAL. */
#ifndef PD_DBQ_H
#define PD_DBQ_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "pd_err.h"
#include "pd_store.h"

struct pd_emit;

#define DBQ_ID 37               /* a canonical UUID and its NUL */
#define DBQ_ROLE 16
#define DBQ_MSG 200
#define DBQ_MAX_CONTENT 20000   /* characters, as the API (CHECK in 0001) */
#define DBQ_MAX_IDS 1000        /* user ids in one presence:subscribe */

/* Who acts: from the socket's verified token. */
struct dbq_who {
	char id[DBQ_ID];
	char org[DBQ_ID];
	char role[DBQ_ROLE]; /* customer | agent | admin | service */
};

/* Fill w (ids lower-cased). 0, or -EINVAL if sub/org are not UUIDs or the
 * role is not one of the four. */
int dbq_who_set(struct dbq_who *w, const char *sub, const char *org, const char *role);

/* ---- grant cache: "user U of org O with role R may see ticket T" ---------
 * One per process (mutex inside; a lookup is a hash probe, fine on a loop).
 * Only positive answers are cached: a ticket's org and customer never change,
 * so a grant stays true until the ticket is deleted. */
struct dbq_grants;

/* ttl_ms 0 disables the cache (lookups miss, puts are dropped); max_entries
 * 0 = 65536. NULL on ENOMEM. */
struct dbq_grants *dbq_grants_new(long ttl_ms, size_t max_entries);
void dbq_grants_free(struct dbq_grants *g);
/* 1 if a live grant is cached. */
int dbq_grants_check(struct dbq_grants *g, const char *ticket, const struct dbq_who *w);
void dbq_grants_put(struct dbq_grants *g, const char *ticket, const struct dbq_who *w);
size_t dbq_grants_count(struct dbq_grants *g);

/* ---- ticket:join --------------------------------------------------------- */

struct dbq_access {
	/* in */
	struct dbq_who who;
	char ticket[DBQ_ID];
	struct dbq_grants *grants; /* borrowed; may be NULL */
	/* out */
	enum pd_err err;
	char msg[DBQ_MSG];
	int cached;                /* answered from the grant cache */
};

/* 1 (answered: PD_OK from the cache, or NOT_FOUND for a malformed id) or 0
 * (submit dbq_access_job). */
int dbq_access_prepare(struct dbq_access *q, const struct dbq_who *w, const char *ticket_id,
		       struct dbq_grants *grants);
enum pd_err dbq_access_job(PGconn *c, void *arg); /* arg: struct dbq_access * */

/* ---- outbox events of a write, for the Valkey layer ---------------------- */

/* One outbox row (its id is the payload's eventId). Publish it after the
 * job's COMMIT (it is committed when done runs), then mark it published with
 * dbq_outbox_mark_job; if the broker dies in between, the API's outbox relay
 * publishes every row still unpublished, so delivery is at least once (and a
 * client drops a duplicate by eventId). */
struct dbq_event {
	long long id;
	const char *nsp, *event;  /* point into strings */
	const char **rooms;       /* nrooms, then nexcept more: except */
	size_t nrooms;
	const char **except;
	size_t nexcept;
	json_t *payload;          /* owned */
	char *strings;            /* owned: every string above */
};

/* A borrowed view for pd_emitter_encode / pd_emitter_channel: valid while
 * e lives. */
void dbq_event_emit(const struct dbq_event *e, struct pd_emit *out);
void dbq_events_free(struct dbq_event *v, size_t n);

/* ---- message:send -------------------------------------------------------- */

struct dbq_send {
	/* in */
	struct dbq_who who;
	char ticket[DBQ_ID];
	char *content;             /* owned copy */
	/* out */
	enum pd_err err;
	char msg[DBQ_MSG];
	json_t *message;           /* owned: {id,ticketId,content,senderId,senderName,
				    * senderRole,createdAt,updatedAt} as the API returns it */
	long long events[PD_STORE_MAX_EVENTS]; /* outbox ids, ascending */
	size_t nevents;
	struct dbq_event *ev;      /* owned: those rows read back after COMMIT (message:new,
				    * notification, notification:count), id order */
	size_t nev;                /* < nevents if reading them back failed: the relay
				    * publishes the rest */
	/* for `delivered`: the ticket's participants (the caller checks liveness,
	 * and anyone in ticket:<id> other than the sender) */
	char customer_id[DBQ_ID];
	char assignee_id[DBQ_ID];  /* "" when unassigned */
};

/* Validate the message:send payload {ticketId, content}: an object, ticketId
 * a UUID (otherwise NOT_FOUND, like an unknown ticket), content a string of
 * 1..20000 characters (no NUL). 1 (answered with err), 0 (submit
 * dbq_send_job) or -ENOMEM. */
int dbq_send_prepare(struct dbq_send *q, const struct dbq_who *w, const json_t *payload);
/* Runs pd_store_message_create (access check, insert, outbox rows, commit). */
enum pd_err dbq_send_job(PGconn *c, void *arg); /* arg: struct dbq_send * */
void dbq_send_clear(struct dbq_send *q);

/* ---- chat:focus read receipts -------------------------------------------- */

struct dbq_read {
	/* in */
	struct dbq_who who;
	char ticket[DBQ_ID];       /* dbq_read_ticket_job; optional for read_message */
	char message[DBQ_ID];      /* dbq_read_message_job */
	/* out */
	enum pd_err err;
	char msg[DBQ_MSG];
	long long added;           /* receipts newly stored (0: already read) */
	char ticket_id[DBQ_ID];    /* the ticket */
	char last_id[DBQ_ID];      /* the messageId of message:read: the message marked
				    * (read_message) or the ticket's newest ("" if none) */
	/* When added > 0: the committed outbox row of message:read {ticketId,
	 * userId, messageId, eventId} to ticket:<id>, to publish as dbq_send's
	 * events (and mark published); event_id 0 and nev 0 otherwise. */
	long long event_id;
	struct dbq_event *ev;      /* owned */
	size_t nev;
};

/* 1 (NOT_FOUND: malformed id) or 0. message_id NULL for a whole ticket;
 * with both, the message must be in that ticket. */
int dbq_read_prepare(struct dbq_read *q, const struct dbq_who *w, const char *ticket_id,
		     const char *message_id);
/* Mark q->message read for the user (ON CONFLICT DO NOTHING): added is 1 if
 * it was new. NOT_FOUND if the user may not see it (or, with q->ticket set,
 * it is not in that ticket). For chat:focus: run it for each message:new of
 * the focused ticket not sent by the focused user. */
enum pd_err dbq_read_message_job(PGconn *c, void *arg);
/* Mark every message of q->ticket not sent by the user read, up to now
 * (chat:focus itself): added = how many were new, last_id = the ticket's
 * newest message. */
enum pd_err dbq_read_ticket_job(PGconn *c, void *arg);
/* dbq_read_clear frees the outputs and zeroes q; _clear_out frees only the
 * outputs (the jobs call it first, so a struct may be resubmitted). */
void dbq_read_clear(struct dbq_read *q);
void dbq_read_clear_out(struct dbq_read *q);

/* ---- notifications ------------------------------------------------------- */

struct dbq_notif {
	/* in */
	struct dbq_who who;
	char id[DBQ_ID];           /* markRead; "" for count and markAllRead */
	/* out */
	enum pd_err err;
	char msg[DBQ_MSG];
	long long unread;          /* the user's unread count after the job */
	long long events[PD_STORE_MAX_EVENTS]; /* markRead / markAllRead: outbox ids */
	size_t nevents;            /* (notification:count to user:<id>, every device) */
	struct dbq_event *ev;      /* owned, as in dbq_send */
	size_t nev;
};

/* id NULL: count or markAllRead. 1 (NOT_FOUND: malformed id) or 0. */
int dbq_notif_prepare(struct dbq_notif *q, const struct dbq_who *w, const char *id);
enum pd_err dbq_notif_count_job(PGconn *c, void *arg);    /* unread */
/* pd_store_notification_read: NOT_FOUND for another user's notification. */
enum pd_err dbq_notif_read_job(PGconn *c, void *arg);     /* q->id */
enum pd_err dbq_notif_read_all_job(PGconn *c, void *arg); /* unread = 0 */
void dbq_notif_clear(struct dbq_notif *q);

/* ---- /dashboard metrics, one round trip per org -------------------------- */

struct dbq_dashboard {
	/* in */
	char org[DBQ_ID];
	/* out */
	enum pd_err err;
	char msg[DBQ_MSG];
	long long open, pending, resolved, closed;
	long long unassigned;           /* open, no assignee */
	long long oldest_waiting_s;     /* age of the oldest of those; 0 when none */
	char (*staff)[DBQ_ID];          /* owned: ids of the org's agents and admins */
	size_t nstaff;
};

/* 1 (BAD_REQUEST: org not a UUID) or 0. */
int dbq_dashboard_prepare(struct dbq_dashboard *q, const char *org);
enum pd_err dbq_dashboard_job(PGconn *c, void *arg);
/* {open,pending,resolved,closed} and {unassigned,oldestWaitingSeconds}: new
 * references, NULL on ENOMEM. */
json_t *dbq_dashboard_tickets_json(const struct dbq_dashboard *q);
json_t *dbq_dashboard_queue_json(const struct dbq_dashboard *q);
void dbq_dashboard_clear(struct dbq_dashboard *q);

/* ---- presence:subscribe: which of these ids are users of the org --------- */

struct dbq_members {
	/* in */
	char org[DBQ_ID];
	char (*ids)[DBQ_ID];            /* owned, lower-cased, as given (order kept) */
	size_t nids;
	/* out */
	enum pd_err err;
	char msg[DBQ_MSG];
	unsigned char *member;          /* owned: member[i] = 1 if ids[i] is a user of org */
	size_t nmembers;                /* how many are */
};

/* userIds: a JSON array of strings (1..DBQ_MAX_IDS; otherwise BAD_REQUEST).
 * A string that is not a UUID is simply not a member. 1 (answered), 0 or
 * -ENOMEM. */
int dbq_members_prepare(struct dbq_members *q, const char *org, const json_t *user_ids);
enum pd_err dbq_members_job(PGconn *c, void *arg);
void dbq_members_clear(struct dbq_members *q);

/* ---- outbox: mark rows published after the Valkey layer sent them -------- */

struct dbq_outbox_mark {
	long long ids[PD_STORE_MAX_EVENTS * 4];
	size_t n;
	enum pd_err err;
	long long marked;               /* rows that were still unpublished */
};
enum pd_err dbq_outbox_mark_job(PGconn *c, void *arg);

#endif
