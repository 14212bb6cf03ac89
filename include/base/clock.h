/*
 * clock.h - the monotonic clock, in the units the tree uses: deadlines in
 * milliseconds, durations for log lines in microseconds.
 */
#ifndef NSMILTER_CLOCK_H
#define NSMILTER_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t clock_ms(void);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t clock_us(void);
/* Milliseconds (fractional) since T0_US, a clock_us() reading. */
double clock_ms_since(uint64_t t0_us);
/* MS (a clock_ms() value) as an absolute timespec, for condition waits. */
struct timespec clock_timespec(uint64_t ms);

#endif
