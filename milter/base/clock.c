/*
 * clock.c - the monotonic clock (never jumps with the wall clock).
 */
#include <time.h>

#include "base/clock.h"

uint64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
clock_ms(void)
{
	return clock_us() / 1000u;
}

double
clock_ms_since(uint64_t t0_us)
{
	return (double)(clock_us() - t0_us) / 1e3;
}

struct timespec
clock_timespec(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000u);
	ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
	return ts;
}
