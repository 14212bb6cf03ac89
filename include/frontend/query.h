/*
 * query.h - nsmilter -q: decide addresses and print one line each.
 */
#ifndef NSMILTER_QUERY_H
#define NSMILTER_QUERY_H

#include <stdio.h>
#include "decision/runtime.h"

/*
 * Decide each of ADDRS (N of them; "-" reads addresses from IN, one per
 * line) with RT, printing the -q line (README "Command line") for each to OUT, flushed per line.
 * Returns the exit status: 0, or EX_TEMPFAIL when any was tempfail.
 */
int query_run(struct runtime *rt, char *const *addrs, int n, FILE *in,
    FILE *out);

#endif
