/* ratelimit: fixed windows that start at a socket's first event of each
 * period, so a burst right after connecting is measured from its own
 * start rather than from a clock boundary. */
#include "ratelimit.h"

#include <stddef.h>

#include "pd_cfg.h"

int ratelimit_hit(struct rl_counter *c, const struct rl_rule *r, uint64_t now,
		  long *retry_after_s)
{
	if (c->start == 0 || now >= c->start + r->window_ms) {
		c->start = now ? now : 1;
		c->n = 0;
	}
	if (c->n < UINT32_MAX)
		c->n++;
	if (c->n <= r->count)
		return 0;
	uint64_t left = c->start + r->window_ms - now;
	*retry_after_s = (long)((left + 999) / 1000);
	if (*retry_after_s < 1)
		*retry_after_s = 1;
	return -1;
}

int ratelimit_rule_cfg(const struct pd_cfg *cfg, const char *key, struct rl_rule *out, char *err,
		       size_t errlen)
{
	long n, s;
	if (pd_cfg_get_rate(cfg, key, &n, &s, err, errlen) < 0)
		return -1;
	if (n > (long)UINT32_MAX)
		n = (long)UINT32_MAX;
	if (s > 86400L * 30)
		s = 86400L * 30;
	out->count = (uint32_t)n;
	out->window_ms = (uint32_t)(s * 1000);
	return 0;
}
