/* ratelimit: per-socket fixed-window counters (contract 3.3). A socket
 * holds one small counter per event it may send; a rule is COUNT events
 * per SECONDS. No allocation per event: checking is two compares. */
#ifndef PD_RATELIMIT_H
#define PD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct pd_cfg;

struct rl_rule {
	uint32_t count;     /* events allowed per window (>= 1) */
	uint32_t window_ms; /* window length (>= 1000) */
};

struct rl_counter {
	uint64_t start; /* ms (loop clock) when the current window began; 0 = none yet */
	uint32_t n;     /* events counted in it */
};

/* Count one event at now (ms). 0 if allowed; -1 if over the limit, with
 * *retry_after_s = whole seconds until the window ends (>= 1). The
 * refused event counts too: "every event received counts". */
int ratelimit_hit(struct rl_counter *c, const struct rl_rule *r, uint64_t now,
		  long *retry_after_s);

/* rule from a rate key of the configuration ("N/S"). 0, or -1 with err. */
int ratelimit_rule_cfg(const struct pd_cfg *cfg, const char *key, struct rl_rule *out, char *err,
		       size_t errlen);

#endif
