/* wsconn: an upgraded socket served in the broker's own epoll: reads into
 * the loop's scratch buffer through a ws_parser, writes queued msgs with
 * writev once per loop turn (EPOLLOUT only on EAGAIN), closes with a close frame
 * and a half-close drain. */
#ifndef PD_WSCONN_H
#define PD_WSCONN_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "msg.h"

struct eio_session;
struct ws_parser;

enum wsconn_state { WSC_OPEN = 0, WSC_CLOSING, WSC_DRAINING, WSC_DEAD };

struct wsconn {
	struct loop_watch watch;
	struct loop *l;
	int fd;
	uint8_t state;
	uint8_t pollout;
	uint8_t probe; /* attached to a polling session as an upgrade probe */
	uint8_t flush_pending; /* a flush is deferred to the end of the turn */
	struct ws_parser *parser;
	struct eio_session *s;
	struct outq q;
	struct loop_timer timer; /* armed only while closing */
};

/* Take fd (non-blocking, connected) and serve it on l for session s.
 * On failure fd is closed. NULL on error. */
struct wsconn *wsconn_new(struct loop *l, int fd, struct eio_session *s);
/* Feed bytes read elsewhere (libmicrohttpd's extra_in) once linked. */
void wsconn_input(struct wsconn *c, const uint8_t *p, size_t n);
/* Queue a msg (refs m); it is written at the end of the loop's turn,
 * with whatever else was queued in the turn. 0 or -EPIPE/-ENOMEM. */
int wsconn_send(struct wsconn *c, struct msg *m);
/* Start a close: a close frame with code (0: none), flush, half-close,
 * drain, free. The session link is dropped at once. */
void wsconn_close(struct wsconn *c, int code);
/* Drop the connection now (queued output discarded; no session call). */
void wsconn_abort(struct wsconn *c);
/* Start writing whatever is queued. */
void wsconn_flush(struct wsconn *c);

#endif
