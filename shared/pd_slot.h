/* pd_slot: Valkey/Redis Cluster routing facts, shared by the broker
 * (broker/vk.c, async) and the synchronous clients (pd_kvc: the API,
 * its outbox relay and pushdeskctl). hiredis 0.14 has no cluster support.
 *
 *   - a key's slot: CRC16 (XMODEM: poly 0x1021, init 0) of the key, or of
 *     its hash tag, modulo 16384. The tag is what lies between the first
 *     '{' and the first '}' after it, when that is not empty; pd_keys puts
 *     the keys one Lua script touches under one tag.
 *   - which argument of a command is its key (the one pushdesk sends).
 *   - the redirect errors: "MOVED <slot> <host>:<port>" and
 *     "ASK <slot> <host>:<port>" (host may be empty: the node replying). */
#ifndef PD_SLOT_H
#define PD_SLOT_H

#include <stddef.h>

#define PD_SLOT_COUNT 16384
#define PD_SLOT_HOST_MAX 256

/* CRC16/XMODEM of p[0..n). */
unsigned pd_slot_crc16(const void *p, size_t n);

/* The slot of key k[0..n) (0..16383), hash tags honoured. */
unsigned pd_slot_of(const char *k, size_t n);

/* The index in argv of the command's key, or -1 when it has none that
 * routes it (PUBLISH, PING, SCAN, EVAL with no keys...: any node serves
 * it). lens NULL: strlen. EVAL/EVALSHA route by their first key. */
int pd_slot_cmd_key(int argc, const char *const *argv, const size_t *lens);

struct pd_slot_redirect {
	int ask;                     /* 1: ASK (this command only), 0: MOVED */
	unsigned slot;
	char host[PD_SLOT_HOST_MAX]; /* "" when the error named none */
	int port;
};

/* Parse an error reply e[0..n) as a redirect. 0, or -1 when it is not one
 * (or is malformed: bad slot, port, a host too long). */
int pd_slot_redirect_parse(const char *e, size_t n, struct pd_slot_redirect *out);

/* The first arguments (at most max) of a command formatted in RESP as
 * hiredis formats it ("*N\r\n" then N "$len\r\nbytes\r\n"): pointers into
 * cmd[0..len) and their lengths. The count stored, or -1 when cmd is not
 * such an array (bounds checked: no byte past len is read). */
int pd_slot_resp_args(const char *cmd, size_t len, int max, const char **argv, size_t *lens);

/* ---- a client's slot map: the node of each slot as MOVED told it ------
 * At most PD_SLOT_NODES_MAX nodes, each an index that the client pairs
 * with its connection (pd_kvc). A slot not known (and a command with no
 * key) goes to whatever node the client holds, which redirects. No I/O. */
#define PD_SLOT_NODES_MAX 16

struct pd_slot_map;

/* An empty map, or NULL (out of memory). */
struct pd_slot_map *pd_slot_map_new(void);
void pd_slot_map_free(struct pd_slot_map *m);

/* The index of node host:port, added when new. -1: the map is full, or
 * host is empty or longer than PD_SLOT_HOST_MAX - 1. */
int pd_slot_map_node(struct pd_slot_map *m, const char *host, int port);

/* Node i's host (borrowed) and *port, or NULL: no node i. */
const char *pd_slot_map_addr(const struct pd_slot_map *m, int i, int *port);

/* Route slot to node i from now on (i < 0: not known again). */
void pd_slot_map_set(struct pd_slot_map *m, unsigned slot, int i);

/* Node i failed: none of its slots is known any more. */
void pd_slot_map_forget(struct pd_slot_map *m, int i);

/* The node serving command cmd[0..len) (RESP, pd_slot_resp_args) by the
 * slot of its key (pd_slot_cmd_key), or -1: no key, a slot not known, or
 * an empty map (a plain Valkey: nothing parsed). */
int pd_slot_map_route(const struct pd_slot_map *m, const char *cmd, size_t len);

#endif
