/* admin: the operator's listener (GET /healthz, GET /metrics in the
 * Prometheus text format), a second small libmicrohttpd daemon run from
 * loop 0. */
#ifndef PD_ADMIN_H
#define PD_ADMIN_H

#include "loop.h"

struct broker;
struct pd_buf;

/* On loop l, for broker b (kept: its loops' counters, its namespaces).
 * 0, or -1 with err filled. */
int admin_start(struct loop *l, const struct broker *b, const char *addr, char *err,
		size_t errlen);

/* One metric line set (HELP, TYPE, value) named pushdesk_broker_<name>:
 * for the adapters' own lines of /metrics. */
void admin_counter(struct pd_buf *b, const char *name, const char *help, const char *type,
		   unsigned long long v);

#endif
