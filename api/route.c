/* route: the REST paths of contract section 4 below /api/v1. A path that
 * matches with another method is a 405 with Allow; no match is a 404. Every
 * {id} segment must be a UUID, else the object cannot exist: 404. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "pd_json.h"

struct route {
	const char *method;
	const char *pattern; /* "*" segments are ids */
	api_handler_fn *fn;
};

static const struct route ROUTES[] = {
	{"GET", "/health", h_health},
	{"POST", "/auth/login", h_login},
	{"GET", "/me", h_me},
	{"GET", "/users", h_users_list},
	{"POST", "/users", h_users_create},
	{"GET", "/tickets", h_tickets_list},
	{"POST", "/tickets", h_tickets_create},
	{"GET", "/tickets/*", h_ticket_get},
	{"PATCH", "/tickets/*", h_ticket_patch},
	{"GET", "/tickets/*/messages", h_messages_list},
	{"POST", "/tickets/*/messages", h_messages_create},
	{"GET", "/messages", h_messages_unread},
	{"PATCH", "/messages/*", h_message_patch},
	{"GET", "/notifications", h_notifications_list},
	{"POST", "/notifications", h_notifications_create},
	{"POST", "/notifications/read-all", h_notifications_read_all},
	{"POST", "/notifications/*/read", h_notification_read},
	{"GET", "/presence", h_presence},
	{"POST", "/emit", h_emit},
};

#define MAX_SEGS 8

/* Split s (modified) at '/' into segs; -1 on an empty segment or too many. */
static int split(char *s, char **segs)
{
	int n = 0;
	if (*s != '/')
		return -1;
	while (*s == '/') {
		*s++ = '\0';
		if (*s == '\0' && n > 0)
			break; /* one trailing slash is tolerated */
		if (*s == '/' || *s == '\0' || n == MAX_SEGS)
			return n == 0 && *s == '\0' ? 0 : -1;
		segs[n++] = s;
		s += strcspn(s, "/");
	}
	return n;
}

void api_dispatch(struct req *r)
{
	char *segs[MAX_SEGS];
	const struct route *found = NULL;
	int ns, known = 0;
	size_t nr = sizeof(ROUTES) / sizeof(ROUTES[0]);

	snprintf(r->segbuf, sizeof(r->segbuf), "%s", r->path);
	ns = split(r->segbuf, segs);
	r->allow[0] = '\0';
	for (size_t i = 0; ns > 0 && i < nr; i++) {
		char pat[64];
		char *psegs[MAX_SEGS];
		int pn, k;
		snprintf(pat, sizeof(pat), "%s", ROUTES[i].pattern);
		if ((pn = split(pat, psegs)) != ns)
			continue;
		for (k = 0; k < ns; k++)
			if (strcmp(psegs[k], "*") != 0 && strcmp(psegs[k], segs[k]) != 0)
				break;
		if (k < ns)
			continue;
		known = 1;
		if (strlen(r->allow) + strlen(ROUTES[i].method) + 3 < sizeof(r->allow)) {
			if (r->allow[0] != '\0')
				strcat(r->allow, ", ");
			strcat(r->allow, ROUTES[i].method);
		}
		if (found == NULL && strcmp(ROUTES[i].method, r->method) == 0) {
			int np = 0;
			found = &ROUTES[i];
			for (k = 0; k < ns; k++)
				if (strcmp(psegs[k], "*") == 0)
					r->params[np++] = segs[k];
		}
	}
	if (found == NULL) {
		if (known) {
			api_errorf(r, PD_E_METHOD, "method %s not allowed; allowed: %s", r->method,
				   r->allow);
		} else {
			r->allow[0] = '\0';
			api_error(r, PD_E_NOT_FOUND, "no such path");
		}
		return;
	}
	r->allow[0] = '\0';
	for (int k = 0; k < API_MAX_PARAMS && r->params[k] != NULL; k++) {
		if (!pd_uuid_valid(r->params[k])) {
			api_error(r, PD_E_NOT_FOUND, "not found");
			return;
		}
	}
	found->fn(r);
}
