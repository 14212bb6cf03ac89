/*
 * report.h - nsmilter -r, the merger reconciliation report (README
 * "Command line" and "A first day in production"): every address of
 * every directory of the shared domains, decided as a RCPT would be, and
 * what the operators must settle before they enforce.
 */
#ifndef NSMILTER_REPORT_H
#define NSMILTER_REPORT_H

#include <stdio.h>

#include "config/config.h"

/*
 * Read the directories of CFG's shared domains and print the findings,
 * one a line sorted by address, then one line per directory, to OUT.
 * Returns the exit status: 0 nothing to settle, 1 a conflict, duplicate
 * or loop, EX_TEMPFAIL a directory could not be read.
 */
int report_run(const struct config *cfg, FILE *out);

#endif
