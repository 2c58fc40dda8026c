/* room: the in-memory adapter. Per loop and namespace, rooms map a name to
 * the array of member sockets; each socket keeps its memberships with its
 * slot so that leaving is O(1). An emit is encoded once (a msg) and posted
 * to every loop; each loop writes the same bytes to its members, and a
 * member speaking another dialect gets that dialect's bytes, encoded once
 * per dialect for the emit. */
#ifndef PD_ROOM_H
#define PD_ROOM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"
#include "msg.h"

struct sio_socket;
struct nsp_rt;
struct worker;

#define ROOM_NAME_MAX 256
#define ROOM_MAX_PER_SOCKET 1024

struct room {
	struct hnode hn;
	struct nsp_rt *nsp;
	struct sio_socket **m;
	uint32_t n, cap;
	char name[];
};

const char *room_key(const struct hnode *n);
/* 0, -ENOMEM, -EINVAL (name empty or too long), -E2BIG (too many rooms). */
int room_join(struct sio_socket *s, const char *name);
void room_leave(struct sio_socket *s, const char *name);
void room_leave_all(struct sio_socket *s);
int room_has(const struct sio_socket *s, const char *name);

/* The one selection of sockets (delivery, counting and the queries of
 * other brokers all use it): visit, on this loop, each socket of
 * namespace n that is in any of rooms (every socket of n when nrooms is
 * 0; a name that is no room but a socket id of n names that socket) and
 * in none of except, once. fn returns 0 to go on, 1 to stop after this
 * socket, -1 when the socket does not count. fn may send to the socket
 * (which may close it) or make it join or leave rooms, but not start
 * another selection. Returns the sockets that counted. */
typedef int (*room_visit_fn)(struct sio_socket *s, void *ud);
size_t room_select(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		   const char *const *except, size_t nexcept, room_visit_fn fn, void *ud);

/* Deliver m on this loop to the sockets of namespace n that are in any of
 * rooms (every socket of n when nrooms == 0; a socket id names that socket)
 * and in none of except. Returns the number of sockets written to. */
size_t room_deliver(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		    const char *const *except, size_t nexcept, struct msg *m);

/* How many sockets of namespace n on this loop are in any of rooms (all
 * when nrooms == 0) and in none of except, counting up to max. */
size_t room_count(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
		  const char *const *except, size_t nexcept, size_t max);

/* Cluster-wide emit from loop self: delivered here at once and posted to
 * every other loop (m is shared, not copied). data (borrowed, kept by
 * reference: not to be changed afterwards) is the internal EVENT array
 * that m encodes: with it, a socket speaking another dialect gets that
 * dialect's translation, encoded once per dialect for the whole emit,
 * and an emit on "/" also reaches the view namespaces (dialect.h);
 * NULL: m to the namespace's sockets as it is. Alias room names (ws:,
 * conv:) are resolved. offset: connection state recovery's stream id of
 * the event (NULL or "" = none), added as the packet's last argument for
 * every socket except those of the views of "/".
 * 0 or -ENOMEM. */
int room_emit(struct worker *self, size_t nsp_idx, const char *const *rooms, size_t nrooms,
	      const char *const *except, size_t nexcept, struct msg *m, const json_t *data,
	      const char *offset);
/* The same for an event read back from the recovery stream after shard
 * subscriptions were lost (offset required): not delivered to a socket
 * whose memberships selecting it all began after the event's offset time,
 * to which it was never addressed. */
int room_emit_gap(struct worker *self, size_t nsp_idx, const char *const *rooms, size_t nrooms,
		  const char *const *except, size_t nexcept, struct msg *m, const json_t *data,
		  const char *offset);

#endif
