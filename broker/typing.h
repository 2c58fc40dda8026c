/* typing: typing:start / typing:stop relayed to ticket:<id> except the
 * sender's own sockets (room user:<sub>), and the typing:stop that follows
 * by itself typing_timeout ms after the last typing:start, or when the
 * socket goes. A socket types in at most TYPING_MAX tickets at once (the
 * oldest is stopped to make room). */
#ifndef PD_TYPING_H
#define PD_TYPING_H

#include <jansson.h>

#include "dbq.h"
#include "loop.h"

struct sio_socket;

#define TYPING_MAX 4

struct typing_slot {
	struct loop_timer t;
	struct sio_socket *s; /* NULL: free */
	char ticket[DBQ_ID];
};

/* A typing:start (start 1) or typing:stop (0) from s with payload arg
 * (ticketId, bare or {ticketId}). Access: the socket is in ticket:<id>,
 * or the grant cache or database says it may see the ticket. */
void typing_event(struct sio_socket *s, const json_t *arg, long long ack, int start);
/* The socket is going: typing:stop for every ticket it types in. */
void typing_stop_all(struct sio_socket *s);

#endif
