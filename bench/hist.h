/*
 * hist.h - latency histogram for the benchmark tools (bench/).
 *
 * Log-linear buckets in nanoseconds, HdrHistogram-style: exact below 128 ns,
 * then 64 buckets per power of two (relative error under 1.6 %), up to
 * 2^40 ns (about 18 minutes).  One histogram per thread, merged at the end:
 * recording is a single increment, no lock and no allocation.
 */
#ifndef NSMILTER_BENCH_HIST_H
#define NSMILTER_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_BUCKETS ((40 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t n[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *from);
/* The value below which a fraction Q (0..1) of the samples lie, in ns. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Monotonic clock in nanoseconds. */
uint64_t hist_now_ns(void);

#endif
