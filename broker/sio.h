/* sio: Socket.IO v5 over Engine.IO sessions: namespaces, sockets, binary
 * attachment reassembly, acks both ways, and the emit helpers that encode a
 * packet once into a msg. */
#ifndef PD_SIO_H
#define PD_SIO_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "eio.h"
#include "hmap.h"
#include "msg.h"
#include "sio_packet.h"

struct sio_socket;
struct sio_client;
struct room;

/* A binary attachment (borrowed during a callback). */
struct sio_bin {
	const uint8_t *p;
	size_t len;
};

/* Who the socket is (from the JWT), NULL in the conformance profile. */
struct sio_ident {
	const char *sub, *org, *role, *team, *name;
	char buf[];
};

struct sio_membership {
	struct room *r;
	uint32_t idx;    /* our slot in r->m */
	uint32_t joined; /* wall clock in 4 ms ticks, modulo 2^32 (room_emit_gap) */
};

typedef void (*sio_ack_fn)(struct sio_socket *s, const json_t *args, const struct sio_bin *bins,
			   size_t nbins, void *ud);

struct sio_ack_wait {
	struct sio_ack_wait *next;
	long long id;
	sio_ack_fn fn;
	void *ud;
};

struct nsp_rt {
	const struct sio_nsp_def *def;
	size_t idx;
	struct worker *w;
	struct hmap rooms;
	struct sio_socket *head; /* every socket of this namespace on this loop */
	atomic_size_t nsockets;  /* read by the admin listener */
	atomic_size_t nrooms;
};

struct sio_socket {
	struct sio_client *c;
	struct nsp_rt *nsp;
	struct sio_socket *next;         /* in the client */
	struct sio_socket *nprev, *nnext; /* in the namespace */
	struct hnode hn;                 /* worker->sockets */
	char id[EIO_SID_LEN + 1];
	uint8_t connected;
	uint32_t mark; /* fan-out dedup epoch */
	uint16_t nrooms, caprooms;
	struct sio_membership *rooms;
	struct sio_ident *ident;
	struct sio_ack_wait *acks;
	long long next_ack;
	/* The application's per-socket state (app.c), owned by the namespace
	 * handlers: set in on_connect, freed in on_disconnect. */
	void *app;
	/* 1: room fan-out calls the namespace's on_delivered for this socket
	 * (chat:focus read receipts); 0 for almost every socket. */
	uint8_t watch;
	/* Index in dia_table of the vocabulary the socket speaks (contract
	 * 7); DIA_HELPDESK (0) gets the namespace's own encoding. Set by the
	 * namespace's on_connect. */
	uint8_t dialect;
	/* Connection state recovery (recovery.c): the private session id of
	 * the CONNECT reply ("" = none), and what was last persisted. */
	char pid[EIO_SID_LEN + 1];
	uint64_t rec_sig, rec_at;
	uint32_t rec_keep_ms; /* set while closing when the session is kept */
	/* a restored socket: events up to this stream id were replayed, their
	 * live copies are skipped (0-0: none) */
	uint64_t rec_until_ms, rec_until_seq;
};

struct sio_client {
	struct eio_session *es;
	struct sio_socket *sockets;
	/* a BINARY_EVENT / BINARY_ACK waiting for its attachments */
	struct sio_packet *pend;
	struct sio_bin *bins;
	size_t nbins, pend_bytes;
};

struct sio_nsp_def {
	const char *name;
	/* 1: a view of "/" (contract 7.1): its sockets join rooms of the same
	 * names and get every emit on "/" translated by their dialect. */
	int view;
	/* Middleware before the socket exists. 0 accepts (*ident may be set,
	 * owned by the socket), or -1 with *err (static string) and optional
	 * *err_data (owned) for CONNECT_ERROR. */
	int (*authorize)(struct sio_client *c, const json_t *auth, struct sio_ident **ident,
			 const char **err, json_t **err_data);
	/* After CONNECT was answered. auth is {} when absent. */
	void (*on_connect)(struct sio_socket *s, const json_t *auth);
	/* An EVENT: data is the whole array (name first), placeholders kept;
	 * ack_id < 0 when no ack was asked. */
	void (*on_event)(struct sio_socket *s, const char *event, const json_t *data,
			 const struct sio_bin *bins, size_t nbins, long long ack_id);
	void (*on_disconnect)(struct sio_socket *s, const char *reason);
	/* After room fan-out wrote m to a socket whose watch flag is set. */
	void (*on_delivered)(struct sio_socket *s, const struct msg *m);
};

extern const struct eio_ops sio_eio_ops;

const char *sio_socket_key(const struct hnode *n);
/* Set up worker w's namespaces (w->cfg->nsps: cfg set first). 0 or -ENOMEM. */
int sio_worker_init(struct worker *w);
void sio_worker_fini(struct worker *w);
/* The definition index of a namespace name in b's table, or -1. */
int sio_nsp_index(const struct broker *b, const char *name);

/* Encode one packet into a msg (type EVENT or ACK; becomes BINARY_* with
 * attachments). NULL on ENOMEM. */
struct msg *sio_msg(int type, const char *nsp, long long id, const json_t *data,
		    const struct sio_bin *bins, size_t nbins);
/* Send a ready msg to one socket. 0 or -errno. */
int sio_send(struct sio_socket *s, struct msg *m);

/* socket.emit(event, ...args): args is an array (borrowed) or NULL. */
int sio_emit(struct sio_socket *s, const char *event, const json_t *args,
	     const struct sio_bin *bins, size_t nbins);
/* Same, and call fn when the client acknowledges. */
int sio_emit_ack(struct sio_socket *s, const char *event, const json_t *args, sio_ack_fn fn,
		 void *ud);
/* Acknowledge the client's event id with args (an array, borrowed). */
int sio_ack(struct sio_socket *s, long long id, const json_t *args, const struct sio_bin *bins,
	    size_t nbins);
/* The error convention (contract 3): the error ack {error:{code,message}}
 * when ack_id >= 0, else event `error` {code,message}. */
int sio_error(struct sio_socket *s, long long ack_id, const char *code, const char *message);

/* The connected socket with this id on loop l, or NULL (gone, or never
 * there): how work that finished elsewhere finds its socket again. */
struct sio_socket *sio_socket_find(struct loop *l, const char *id);
/* sio_error with retryAfter (seconds) in the error object. */
int sio_error_retry(struct sio_socket *s, long long ack_id, const char *code, const char *message,
		    long retry_after);

/* Finish a CONNECT to namespace nsp_idx that its middleware accepted:
 * the socket (ident taken), with id sid (NULL = a new one) and, when
 * recovery is on and the namespace is no view, pid (NULL = a new one)
 * in the reply; then the namespace's on_connect. NULL when it failed (the
 * client got CONNECT_ERROR) or sid is in use here. */
struct sio_socket *sio_connect_finish(struct sio_client *c, size_t nsp_idx, const json_t *auth,
				      struct sio_ident *ident, const char *sid, const char *pid);

/* Server-side disconnect of one namespace (DISCONNECT packet); with
 * close_conn the whole Engine.IO connection is closed too. */
void sio_disconnect(struct sio_socket *s, int close_conn);

#endif
