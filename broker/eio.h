/* eio: Engine.IO v4 sessions: handshake state, heartbeats, the polling
 * queue, the upgrade from polling to WebSocket, close. The layer above
 * (Socket.IO, or the echo profile) plugs in through struct eio_ops. */
#ifndef PD_EIO_H
#define PD_EIO_H

#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "eio_packet.h"
#include "hmap.h"
#include "loop.h"
#include "msg.h"

struct wsconn;
struct http_poll;

enum eio_transport { EIO_T_POLLING = 0, EIO_T_WEBSOCKET = 1 };
enum eio_state { EIO_S_OPEN = 0, EIO_S_CLOSING, EIO_S_CLOSED };

#define EIO_SID_LEN 20

struct eio_session {
	struct hnode hn; /* in worker->sessions */
	struct worker *w;
	char sid[EIO_SID_LEN + 1];
	uint8_t transport;
	uint8_t state;
	uint8_t wait_pong;
	uint8_t upgrading;     /* a WebSocket probe answered 3probe */
	uint8_t posting;       /* a polling POST is being read */
	uint8_t flush_pending; /* polling flush deferred to the end of the turn */
	struct loop_timer timer;
	uint64_t hb_at;      /* next ping, or the pong deadline when wait_pong */
	uint64_t connect_by; /* 0 once the upper layer said it is connected */
	uint64_t soft_since; /* output above the soft limit since (0: not) */
	uint64_t close_by;   /* CLOSING: drop the session at this time */
	struct outq q;       /* polling output */
	struct http_poll *poll; /* the pending long-poll GET */
	struct wsconn *ws;      /* the WebSocket transport, or the probe */
	void *upper;
	char *hs_token; /* token from the handshake's Authorization header or cookie */
	/* ?dialect=NAME of the handshake request: dia_find(NAME) + 1, 0 when
	 * absent, -1 for an unknown name (contract 7) */
	int hs_dialect;
};

struct eio_ops {
	/* The session is open (the OPEN packet is queued). Return <0 to refuse. */
	int (*on_open)(struct eio_session *s);
	/* A message packet. Return <0 on a protocol error: the session is closed. */
	int (*on_message)(struct eio_session *s, int binary, const uint8_t *p, size_t n);
	/* The session is gone (called once). */
	void (*on_close)(struct eio_session *s, const char *reason);
	/* 1: close a session that eio_connected() was not called for within
	 * connect_timeout (Socket.IO's connectTimeout). */
	int connect_timeout;
};

extern const struct eio_ops *eio_upper;

/* Create a session on w: polling when ws is NULL, else on that WebSocket.
 * Takes hs_token (may be NULL; freed on failure). Queues the OPEN packet.
 * NULL on ENOMEM, when broker_max_connections is reached (*full = 1), or
 * when the upper layer refused. */
struct eio_session *eio_session_new(struct worker *w, struct wsconn *ws, char *hs_token, int *full);
/* Key function of worker->sessions. */
const char *eio_session_key(const struct hnode *n);
/* Create the shared control packets. 0 or -ENOMEM. */
int eio_init(void);
void eio_fini(void);
/* Queue an outgoing message (refs m). 0, or -EPIPE when closed. */
int eio_send(struct eio_session *s, struct msg *m);
/* Close from the server side: polling gets a CLOSE packet on its next poll,
 * WebSocket a close frame with ws_code (1000, 1001 ...). */
void eio_close(struct eio_session *s, const char *reason, int ws_code);
/* Drop the session at once (errors): nothing more is sent. */
void eio_abort(struct eio_session *s, const char *reason);
/* Mark the session connected for the connect timeout. */
void eio_connected(struct eio_session *s);
/* Look a session up on this loop. */
struct eio_session *eio_find(struct worker *w, const char *sid);

/* Input from a transport: one decoded packet. from_ws is the WebSocket it
 * came on (the probe or the active one), NULL for polling. Returns 0, or <0
 * when the session was closed because of it (the caller stops reading). */
int eio_on_packet(struct eio_session *s, struct wsconn *from_ws, const struct eio_packet *pk);

/* Polling: a GET arrived. Returns 1 when p was answered at once (through
 * http_poll_answer), 0 when it is parked until data, -1 when it is an
 * overlapping GET (the session is closed; answer 400). */
int eio_poll_get(struct eio_session *s, struct http_poll *p);
/* The pending GET went away (client closed it). */
void eio_poll_gone(struct eio_session *s, struct http_poll *p);

/* WebSocket transport events (from wsconn). */
void eio_ws_attached(struct eio_session *s, struct wsconn *c); /* direct ws handshake */
void eio_ws_gone(struct eio_session *s, struct wsconn *c);
/* Output volume changed on the session's transport: enforce the limits. */
void eio_check_output(struct eio_session *s, size_t queued);

/* Close every session of this loop (shutdown). */
void eio_close_all(struct worker *w, const char *reason);
/* Drop every session of this loop at once (after the shutdown grace). */
void eio_drop_all(struct worker *w);

#endif
