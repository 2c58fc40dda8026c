/* http: the libmicrohttpd glue on loop 0. Engine.IO's HTTP side (handshake,
 * long-polling GET held suspended, POST, errors as the reference server
 * sends them, CORS), the WebSocket upgrade (the socket is dup()ed out of
 * libmicrohttpd and handed to a loop), and running daemons from our epoll. */
#ifndef PD_HTTP_H
#define PD_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "loop.h"

struct broker;
struct http_poll;

/* Answer a pending long-poll GET with a 200 text/plain body (copied); the
 * connection is resumed if it was suspended. p must not be used after. */
void http_poll_answer(struct http_poll *p, const char *data, size_t len);

/* Bind and listen on "ADDR:PORT" ("[::1]:80" for IPv6). Returns the fd or
 * -1 with err filled. */
int http_listen(const char *addr, char *err, size_t errlen);
/* The bound port of a listening fd (for the log line). */
int http_bound_port(int fd);

/* Run daemon d from l: its epoll fd joins l's epoll, MHD_run each turn. */
int http_attach(struct loop *l, struct MHD_Daemon *d);
/* Start the Engine.IO daemon on loop l (loop 0) listening on fd, for
 * broker b (kept: its settings; its next_loop turns). */
int http_start(struct loop *l, struct broker *b, int listen_fd, char *err, size_t errlen);
/* Shutdown step 1: no new connections. */
void http_quiesce(void);
/* Shutdown step 2: stop every daemon (all polls must be answered first). */
void http_stop(void);
/* Number of suspended (unanswered) polls. */
size_t http_suspended(void);

/* Helpers for other daemons' handlers. */
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			   const void *body, size_t len);
void http_log_fn(void *cls, const char *fmt, va_list ap);

#endif
