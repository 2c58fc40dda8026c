/* fake_broker: the broker's real loops, rooms and adapter code without
 * connections, for unit tests that need no stack. The sio layer is
 * replaced (fake_broker.c): sio_msg encodes "EVENT<json> bins=N", sio_send
 * appends to the socket's log, sio_disconnect is counted. */
#ifndef PD_FAKE_BROKER_H
#define PD_FAKE_BROKER_H

#include <stddef.h>

#include "broker.h"
#include "sio.h"

#define FB_LOG 65536

struct fsock {
	struct sio_socket s;
	char log[FB_LOG];
	size_t loglen;
	int disconnects;
};

/* nloops loops (loop 0 is the test's thread; the others run on threads
 * of their own once fb_start ran), namespaces "/", "/tickets" (a view of
 * "/") and "/dashboard". */
void fb_init(int nloops);
/* Start the other loops' threads (make sockets before: they belong to
 * their loop's thread afterwards). */
void fb_start(void);
/* Run loop 0 until fb_done() is called on it (or ms pass): 0 when done. */
int fb_run(long ms);
void fb_done(void);
/* The settings every fake loop's worker carries (cfg). */
struct broker *fb_broker(void);
struct worker *fb_worker(int i);

/* A socket of namespace nsp on loop, of user in org, in rooms user:<user>
 * and org:<org> plus room1 (NULL: none). */
struct fsock *fb_sock(int loop, size_t nsp, const char *id, const char *user, const char *org,
		      const char *room1);
/* Occurrences of needle in the socket's log. */
size_t fb_count(const struct fsock *f, const char *needle);

#endif
