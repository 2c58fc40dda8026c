/* lg_hist: a log-bucket latency histogram in the manner of HdrHistogram:
 * values in microseconds, exact below 128, then 64 sub-buckets per power of
 * two (1.6% relative precision) up to 2^40 us. Fixed size, no allocation. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define LG_HIST_BUCKETS (128 + 40 * 64)

struct lg_hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t b[LG_HIST_BUCKETS];
};

void lg_hist_reset(struct lg_hist *h);
/* Record one value in microseconds (values past 2^40 are clamped). */
void lg_hist_add(struct lg_hist *h, uint64_t us);
/* Value at quantile q (0..1), in microseconds: the upper edge of the bucket
 * holding it, never above the recorded maximum. 0 when empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

#endif
