/* admin: the operator's listener (GET /healthz, GET /metrics in the
 * Prometheus text format), a second small libmicrohttpd daemon run from
 * loop 0. */
#ifndef PD_ADMIN_H
#define PD_ADMIN_H

#include "loop.h"

/* 0, or -1 with err filled. */
int admin_start(struct loop *l, const char *addr, char *err, size_t errlen);

#endif
