/* pd_rooms: the one home of pushdesk's room names (contract sections 3 and
 * 7). The broker joins sockets to these names, the API and pushdeskctl emit
 * to them, and both resolve what a client or a backend names (free rooms,
 * alias rooms) through the same function, so the two daemons cannot drift.
 *
 * Canonical (internal) names:
 *   user:<sub>          every socket of one user
 *   org:<org>           every socket of one organization
 *   agents:<org>        the org's staff (agent and admin)
 *   role:<org>:<role>   the org's sockets of one role
 *   team:<team>         one team
 *   ticket:<id>         one ticket's participants
 *   free:<org>:<name>   a free room: any client-given name outside the
 *                       reserved prefixes, scoped to the org, so two orgs
 *                       using the same <name> never meet. <name> is kept as
 *                       the client spelled it (case-sensitive, any bytes
 *                       but NUL and control characters), 1..PD_ROOM_NAME_MAX.
 *
 * Reserved prefixes a client may not use as a free room: user: org: agents:
 * role: team: ticket: presence: ws: conv: (and free:, the internal spelling
 * above, so that no client-given name ever equals an internal one).
 *
 * Alias rooms (seed spellings accepted from clients and backends):
 *   ws:<org>     = agents:<org>
 *   conv:<id>    = ticket:<id>
 *   role:<role>  = role:<org>:<role>  (one colon: the caller's org) */
#ifndef PD_ROOMS_H
#define PD_ROOMS_H

#include <stddef.h>

#define PD_ROOM_NAME_MAX 200 /* bytes of a client-given room name */
#define PD_ROOM_MAX 320      /* bytes of any internal name, NUL included */

enum pd_room_kind {
	PD_ROOM_INVALID = 0, /* empty, too long, control characters */
	PD_ROOM_FREE,        /* no reserved prefix */
	PD_ROOM_USER,
	PD_ROOM_ORG,
	PD_ROOM_AGENTS,
	PD_ROOM_ROLE,        /* role:<org>:<role> or the alias role:<role> */
	PD_ROOM_TEAM,
	PD_ROOM_TICKET,
	PD_ROOM_PRESENCE,    /* reserved, never resolved */
	PD_ROOM_WS,          /* alias of agents: */
	PD_ROOM_CONV,        /* alias of ticket: */
	PD_ROOM_INTERNAL_FREE, /* free:..., internal only */
};

/* Canonical names. Each writes a NUL-terminated name into out and returns 0,
 * or -ENAMETOOLONG (out then holds "") when it does not fit. */
int pd_room_user(char *out, size_t len, const char *user);
int pd_room_org(char *out, size_t len, const char *org);
int pd_room_agents(char *out, size_t len, const char *org);
int pd_room_role(char *out, size_t len, const char *org, const char *role);
int pd_room_team(char *out, size_t len, const char *team);
int pd_room_ticket(char *out, size_t len, const char *ticket);
/* free:<org>:<name>; -EINVAL if name is not a valid free room name. */
int pd_room_free(char *out, size_t len, const char *org, const char *name);

/* The rooms a connection of this identity joins at CONNECT (contract 3.1),
 * in this order: user:<sub>, org:<org>, role:<org>:<role>, agents:<org>
 * for staff (agent, admin), team:<team> when team is not empty. Writes up
 * to max names of PD_ROOM_MAX bytes each into out; returns how many, or
 * -ENAMETOOLONG (a name does not fit) or -ENOSPC (max too small). */
#define PD_ROOM_AUTO_MAX 5
int pd_room_auto(const char *sub, const char *org, const char *role, const char *team,
		 char (*out)[PD_ROOM_MAX], size_t max);
/* 1 if role is staff (agent or admin): the role that sees agents:<org>. */
int pd_role_staff(const char *role);

/* What a client-given name is, from its prefix only (no lookup). */
enum pd_room_kind pd_room_classify(const char *name);
/* 1 if name starts with a reserved prefix (free: included), else 0. */
int pd_room_reserved(const char *name);

/* Resolve a name as a client or a backend of org gives it into the
 * canonical room: aliases mapped, a free name scoped to org, ids after
 * user:/ticket:/team:/conv: lower-cased (the database's spelling of a
 * UUID). *kind (may be NULL) gets the kind of the resolved room (ws: gives
 * PD_ROOM_AGENTS, conv: PD_ROOM_TICKET); *id (may be NULL) points into out
 * at the id of a user/ticket/team room, the role of a role room, else at
 * the end of out.
 * Returns 0, -EINVAL for an invalid name or a reserved one that cannot be
 * named (presence:, free:, role: with an empty part), -EPERM for a room
 * of another org (org:, agents:, ws:, role:<other>:), -ENAMETOOLONG.
 * Whether a user/ticket/team id belongs to org is the caller's check. */
int pd_room_resolve(const char *org, const char *name, char *out, size_t len,
		    enum pd_room_kind *kind, const char **id);

/* A room as a sender with no org of its own names it (pushdeskctl emit, a
 * backend's @socket.io/redis-emitter): the aliases that carry their own
 * scope mapped, ws:<org> -> agents:<org> and conv:<id> -> ticket:<id> (id
 * lower-cased); any other name copied as it is. 0 or -ENAMETOOLONG. */
int pd_room_unalias(const char *name, char *out, size_t len);

#endif
