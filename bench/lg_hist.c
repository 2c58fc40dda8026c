/* lg_hist: see lg_hist.h. Bucket i < 128 holds value i; above, a value v
 * with its top bit at position m (m >= 7) falls in the group shift = m - 6,
 * sub-bucket (v >> shift) - 64. */
#include "lg_hist.h"

#include <string.h>

void lg_hist_reset(struct lg_hist *h)
{
	memset(h, 0, sizeof(*h));
}

static unsigned bucket_of(uint64_t v)
{
	if (v < 128)
		return (unsigned)v;
	unsigned m = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = m - 6;
	return 128u + (shift - 1u) * 64u + (unsigned)((v >> shift) - 64u);
}

/* Largest value that falls in bucket i. */
static uint64_t bucket_top(unsigned i)
{
	if (i < 128)
		return i;
	unsigned shift = (i - 128u) / 64u + 1u;
	uint64_t mant = (i - 128u) % 64u + 64u;
	return ((mant + 1u) << shift) - 1u;
}

void lg_hist_add(struct lg_hist *h, uint64_t us)
{
	if (us >= (1ull << 40))
		us = (1ull << 40) - 1;
	h->b[bucket_of(us)]++;
	h->count++;
	h->sum += us;
	if (us > h->max)
		h->max = us;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	/* rank of the value wanted, 1-based: ceil(q * count), at least 1 */
	uint64_t want = (uint64_t)(q * (double)h->count);
	if ((double)want < q * (double)h->count)
		want++;
	if (want == 0)
		want = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t top = bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
