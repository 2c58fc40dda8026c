/* dialect: the client vocabularies of contract 7 as data at the broker's
 * edge. pushdesk has one internal vocabulary (contract 3: its operations,
 * events and rooms); a dialect says, for one namespace, how a client's
 * event name and argument become an internal operation (inbound), how an
 * internal event becomes the client's event and payload or is dropped
 * (outbound), which names the errors take, and which reply event stands
 * for a successful ack. The handlers never see a dialect's names. Room
 * names (free rooms, the alias rooms ws:/conv:) are pd_rooms' facts.
 *
 * Pure translation (no sockets, no I/O): unit-tested in
 * tests/unit/test_dialect.c. Adding a dialect = one table in dialect.c
 * and its tests. */
#ifndef PD_DIALECT_H
#define PD_DIALECT_H

#include <jansson.h>
#include <stddef.h>

/* Internal operations a client event may ask for. Each has its own rate
 * counter per socket, so an alias of an operation shares its budget. */
enum dia_op {
	DOP_TICKET_JOIN,
	DOP_TICKET_LEAVE,
	DOP_MESSAGE_SEND,
	DOP_TYPING_START,
	DOP_TYPING_STOP,
	DOP_PRESENCE_PING,
	DOP_PRESENCE_STATUS,
	DOP_PRESENCE_SUBSCRIBE,
	DOP_PRESENCE_UNSUBSCRIBE,
	DOP_CHAT_FOCUS,
	DOP_CHAT_BLUR,
	DOP_NOTIF_READ,
	DOP_NOTIF_READ_ALL,
	DOP_ROOM_JOIN,    /* a free room or ticket:<id> (contract 7.2) */
	DOP_ROOM_LEAVE,
	DOP_ROOM_MESSAGE, /* {room, text} to a joined room, not stored */
	DOP_ROOM_TYPING_START, /* ROOM: rate-limited as typing:start */
	DOP_ROOM_TYPING_STOP,
	DOP_AUTH,         /* post-connect {userId, token?} */
	DOP_OTHER,        /* unknown events: counted, then BAD_REQUEST */
	DOP__N
};

/* How the client's argument becomes the handler's. */
enum dia_arg {
	DARG_ASIS,   /* unchanged */
	DARG_WRAP,   /* bare value v -> {key: v}; an object passes */
	DARG_UNWRAP, /* {key: v} -> v; a bare value passes */
	DARG_RENAME, /* object: member key -> key2 (a copy); others pass */
};

struct dia_in {
	const char *name; /* the client's event */
	enum dia_op op;
	enum dia_arg arg;
	const char *key, *key2;
	/* Non-NULL: a success without a client ack is answered with this
	 * event, its payload built by reply_build from the ack's fields
	 * ({ok:true, ...}); NULL builder = the fields without "ok". */
	const char *reply;
	json_t *(*reply_build)(const json_t *fields);
};

struct dia_out {
	const char *event; /* internal event */
	const char *name;  /* the client's name; NULL: dropped */
	/* payload (borrowed, may be NULL) -> new payload (new reference),
	 * NULL = drop this one; NULL builder = payload unchanged. *name
	 * starts as the entry's name; a builder may pick another (static). */
	json_t *(*build)(const json_t *payload, const char **name);
};

struct dialect {
	const char *name; /* "helpdesk", ..., or the view's name */
	const char *nsp;  /* the namespace it is spoken on */
	const struct dia_in *in;
	size_t nin;
	const struct dia_out *out;
	size_t nout;
	int pass_unknown; /* internal events not in out[]: 1 unchanged, 0 dropped */
	/* handshake refusals: contract 3's code -> the dialect's (NULL: same) */
	const char *err_missing, *err_invalid, *err_expired;
	const char *err_status; /* a presence status outside online/away/busy */
	/* the name of NOT_FOUND after connect (NULL: the same): seeds 001,
	 * 002 and 004 call a refused conversation or ticket FORBIDDEN */
	const char *err_not_found;
	/* non-NULL: this event carries the org's roster (presence.h) to each
	 * new socket (seed 003's presence:connected) */
	const char *on_connect_roster;
};

/* Times on the wire are ISO 8601 UTC with milliseconds (contract 3). */
#define DIA_ISO_LEN 32
long long dia_now_ms(void); /* CLOCK_REALTIME */
void dia_iso_time(long long ms, char *out, size_t len);

#define DIA_MAX 16
#define DIA_HELPDESK 0 /* contract 3; every table's first entry */

extern const struct dialect dia_table[];
extern const size_t dia_count;

/* Index of the dialect of namespace "/" named name (a view's name is not
 * one), or -1. */
int dia_find(const char *name);
/* Index of the view dialect serving namespace nsp, or -1 ("/" and
 * namespaces that are not views). */
int dia_of_view(const char *nsp);

/* The inbound entry for a client event, or NULL (unknown event). */
const struct dia_in *dia_in_find(const struct dialect *d, const char *event);
/* The handler's argument for payload (borrowed, may be NULL): a new
 * reference, or NULL when payload is NULL. */
json_t *dia_in_arg(const struct dia_in *e, const json_t *payload);

/* Outbound: data is an internal EVENT array [event, payload?, ...].
 * Returns 1 when it goes unchanged, 0 with *out a new array to send
 * instead, -1 when this dialect drops it (or out of memory). */
int dia_out(const struct dialect *d, const json_t *data, json_t **out);

/* An error code of contract 3 (after connect) as the dialect names it. */
const char *dia_error_code(const struct dialect *d, const char *code);
/* A handshake refusal code of contract 3 as the dialect names it. */
const char *dia_handshake_error(const struct dialect *d, const char *code);

#endif
