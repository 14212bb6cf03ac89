/*
 * hist.c - latency histogram for the benchmark tools (see hist.h).
 */
#include <time.h>

#include "hist.h"

#define SUB (1u << HIST_SUB_BITS)

static unsigned
bucket_of(uint64_t v)
{
	unsigned e, shift;

	if (v < 2 * SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* v >= 128: e >= 7 */
	shift = e - HIST_SUB_BITS;
	if (shift > 40 - HIST_SUB_BITS)
		return HIST_BUCKETS - 1;
	return SUB * shift + (unsigned)(v >> shift);
}

/* Upper bound of bucket I (the largest value that falls into it). */
static uint64_t
bucket_top(unsigned i)
{
	unsigned shift, top;

	if (i < 2 * SUB)
		return i;
	shift = i / SUB - 1;
	top = i - SUB * shift;
	return (((uint64_t)top + 1) << shift) - 1;
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->n[bucket_of(ns)]++;
	h->count++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void
hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->n[i] += from->n[i];
	into->count += from->count;
	if (from->max_ns > into->max_ns)
		into->max_ns = from->max_ns;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count + 0.5);
	if (want < 1)
		want = 1;
	if (want > h->count)
		want = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= want) {
			uint64_t top = bucket_top(i);
			return top < h->max_ns ? top : h->max_ns;
		}
	}
	return h->max_ns;
}

uint64_t
hist_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
