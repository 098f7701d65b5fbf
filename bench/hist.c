/*
 * hist.c - latency histogram of apikey-bench: one per client thread, fed
 * once per answer, merged when the scenario ends. Log-linear buckets
 * (HdrHistogram's layout, at 6 bits of precision): a sample costs a shift
 * and an increment, and a scenario of millions of requests keeps 18 KiB
 * per thread instead of a sample each.
 */
#include <stdint.h>

#include "bench.h"

static unsigned
bucket_of(uint64_t ns)
{
	unsigned	 log2, shift;

	if (ns < 2 * HIST_SUB)
		return (unsigned)ns;
	if (ns >= (uint64_t)1 << HIST_MAX_LOG2)
		ns = ((uint64_t)1 << HIST_MAX_LOG2) - 1;
	log2 = 63 - (unsigned)__builtin_clzll(ns);
	shift = log2 - HIST_SUB_BITS;
	/* ns >> shift is in [HIST_SUB, 2 * HIST_SUB). */
	return (shift + 1) * HIST_SUB + (unsigned)(ns >> shift) - HIST_SUB;
}

/* The middle of bucket i, in nanoseconds. */
static double
bucket_mid(unsigned i)
{
	unsigned	 shift;
	uint64_t	 low;

	if (i < 2 * HIST_SUB)
		return (double)i;
	shift = i / HIST_SUB - 1;
	low = (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
	return (double)low + (double)((uint64_t)1 << shift) / 2;
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->b[bucket_of(ns)]++;
	h->n++;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned	 i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
}

double
hist_quantile_us(const struct hist *h, double q)
{
	uint64_t	 rank, seen = 0;
	unsigned	 i;

	if (h->n == 0)
		return 0;
	/* The smallest sample with at least q of all at or below it. */
	rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return bucket_mid(i) / 1000;
	}
	return bucket_mid(HIST_BUCKETS - 1) / 1000;
}
