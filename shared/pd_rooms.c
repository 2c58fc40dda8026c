/* pd_rooms: building, classifying and resolving room names. Pure string
 * work, no I/O: the one place where "agents:<org>" or "free:<org>:<name>"
 * is spelled, shared by the broker, the API and pushdeskctl. */
#include "pd_rooms.h"

#include "pd_jwt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *prefix;
	enum pd_room_kind kind;
} PREFIXES[] = {
	{"user:", PD_ROOM_USER},         {"org:", PD_ROOM_ORG},
	{"agents:", PD_ROOM_AGENTS},     {"role:", PD_ROOM_ROLE},
	{"team:", PD_ROOM_TEAM},         {"ticket:", PD_ROOM_TICKET},
	{"presence:", PD_ROOM_PRESENCE}, {"ws:", PD_ROOM_WS},
	{"conv:", PD_ROOM_CONV},         {"free:", PD_ROOM_INTERNAL_FREE},
};

static int fmt(char *out, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

static int fmt(char *out, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	if (len == 0)
		return -ENAMETOOLONG;
	va_start(ap, f);
	n = vsnprintf(out, len, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int pd_room_user(char *out, size_t len, const char *user)
{
	return fmt(out, len, "user:%s", user);
}

int pd_room_org(char *out, size_t len, const char *org)
{
	return fmt(out, len, "org:%s", org);
}

int pd_room_agents(char *out, size_t len, const char *org)
{
	return fmt(out, len, "agents:%s", org);
}

int pd_room_role(char *out, size_t len, const char *org, const char *role)
{
	return fmt(out, len, "role:%s:%s", org, role);
}

int pd_room_team(char *out, size_t len, const char *team)
{
	return fmt(out, len, "team:%s", team);
}

int pd_room_ticket(char *out, size_t len, const char *ticket)
{
	return fmt(out, len, "ticket:%s", ticket);
}

int pd_role_staff(const char *role)
{
	return role != NULL && (strcmp(role, "agent") == 0 || strcmp(role, "admin") == 0);
}

int pd_room_auto(const char *sub, const char *org, const char *role, const char *team,
		 char (*out)[PD_ROOM_MAX], size_t max)
{
	size_t n = 0;
	int rc;

#define AUTO(call)                                                                   \
	do {                                                                         \
		if (n >= max)                                                        \
			return -ENOSPC;                                              \
		if ((rc = (call)) < 0)                                               \
			return rc;                                                   \
		n++;                                                                 \
	} while (0)
	AUTO(pd_room_user(out[n], PD_ROOM_MAX, sub));
	AUTO(pd_room_org(out[n], PD_ROOM_MAX, org));
	AUTO(pd_room_role(out[n], PD_ROOM_MAX, org, role));
	if (pd_role_staff(role))
		AUTO(pd_room_agents(out[n], PD_ROOM_MAX, org));
	if (team != NULL && team[0] != '\0')
		AUTO(pd_room_team(out[n], PD_ROOM_MAX, team));
#undef AUTO
	return (int)n;
}

/* 1..PD_ROOM_NAME_MAX bytes, no control characters (they would be invisible
 * in logs and `pushdeskctl rooms`). */
static int name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++, n++)
		if (*p < 0x20 || *p == 0x7f || n >= PD_ROOM_NAME_MAX)
			return 0;
	return n > 0;
}

enum pd_room_kind pd_room_classify(const char *name)
{
	if (!name_ok(name))
		return PD_ROOM_INVALID;
	for (size_t i = 0; i < sizeof(PREFIXES) / sizeof(PREFIXES[0]); i++)
		if (strncmp(name, PREFIXES[i].prefix, strlen(PREFIXES[i].prefix)) == 0)
			return PREFIXES[i].kind;
	return PD_ROOM_FREE;
}

int pd_room_reserved(const char *name)
{
	enum pd_room_kind k = pd_room_classify(name);
	return k != PD_ROOM_INVALID && k != PD_ROOM_FREE;
}

int pd_room_free(char *out, size_t len, const char *org, const char *name)
{
	if (pd_room_classify(name) != PD_ROOM_FREE) {
		if (len > 0)
			out[0] = '\0';
		return -EINVAL;
	}
	return fmt(out, len, "free:%s:%s", org, name);
}

/* An id after a prefix: non-empty, no ':' (ids never hold one, and it keeps
 * "ticket:a:b" from meaning two things), lower-cased in place. */
static int id_fix(char *id)
{
	if (*id == '\0' || strchr(id, ':') != NULL)
		return -EINVAL;
	for (char *q = id; *q != '\0'; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return 0;
}

int pd_room_resolve(const char *org, const char *name, char *out, size_t len,
		    enum pd_room_kind *kind, const char **id)
{
	enum pd_room_kind k = pd_room_classify(name), rk = k;
	const char *rest = NULL, *colon;
	int rc;

	if (len > 0)
		out[0] = '\0';
	if (k == PD_ROOM_INVALID || org == NULL || org[0] == '\0')
		return -EINVAL;
	for (size_t i = 0; i < sizeof(PREFIXES) / sizeof(PREFIXES[0]); i++)
		if (PREFIXES[i].kind == k)
			rest = name + strlen(PREFIXES[i].prefix);
	switch (k) {
	case PD_ROOM_FREE:
		rc = pd_room_free(out, len, org, name);
		break;
	case PD_ROOM_ORG:
	case PD_ROOM_AGENTS:
	case PD_ROOM_WS:
		if (strcmp(rest, org) != 0)
			return -EPERM;
		rk = k == PD_ROOM_ORG ? PD_ROOM_ORG : PD_ROOM_AGENTS;
		rc = rk == PD_ROOM_ORG ? pd_room_org(out, len, org) : pd_room_agents(out, len, org);
		break;
	case PD_ROOM_ROLE:
		/* role:<org>:<role>, or seed 001's role:<role> for the caller's org */
		colon = strrchr(rest, ':');
		if (colon != NULL && ((size_t)(colon - rest) != strlen(org) ||
				      strncmp(rest, org, strlen(org)) != 0))
			return -EPERM;
		if (!pd_role_valid(colon != NULL ? colon + 1 : rest))
			return -EINVAL;
		rc = pd_room_role(out, len, org, colon != NULL ? colon + 1 : rest);
		break;
	case PD_ROOM_USER:
	case PD_ROOM_TEAM:
	case PD_ROOM_TICKET:
	case PD_ROOM_CONV:
		rk = k == PD_ROOM_CONV ? PD_ROOM_TICKET : k;
		rc = rk == PD_ROOM_USER   ? pd_room_user(out, len, rest)
		     : rk == PD_ROOM_TEAM ? pd_room_team(out, len, rest)
					  : pd_room_ticket(out, len, rest);
		if (rc == 0 && (rc = id_fix(strchr(out, ':') + 1)) != 0)
			out[0] = '\0';
		break;
	default: /* presence:, free: */
		return -EINVAL;
	}
	if (rc != 0)
		return rc;
	/* a canonical name is itself a valid name to give (conv:<id> is two
	 * bytes shorter than ticket:<id>); only free rooms carry a prefix more */
	if (rk != PD_ROOM_FREE && strlen(out) > PD_ROOM_NAME_MAX) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (kind != NULL)
		*kind = rk;
	if (id != NULL) {
		const char *c = rk == PD_ROOM_ROLE ? strrchr(out, ':') : strchr(out, ':');
		*id = rk == PD_ROOM_FREE || rk == PD_ROOM_ORG || rk == PD_ROOM_AGENTS || c == NULL
			      ? out + strlen(out)
			      : c + 1;
	}
	return 0;
}

int pd_room_unalias(const char *name, char *out, size_t len)
{
	switch (pd_room_classify(name)) {
	case PD_ROOM_WS:
		return pd_room_agents(out, len, name + strlen("ws:"));
	case PD_ROOM_CONV:
		if (pd_room_ticket(out, len, name + strlen("conv:")) != 0)
			return -ENAMETOOLONG;
		id_fix(out + strlen("ticket:")); /* a bad id stays as given: no such room */
		return 0;
	default:
		return fmt(out, len, "%s", name);
	}
}
