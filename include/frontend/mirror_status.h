/*
 * mirror_status.h - nsmilter -m: the state of each mirrored directory.
 */
#ifndef NSMILTER_MIRROR_STATUS_H
#define NSMILTER_MIRROR_STATUS_H

#include <stdio.h>

#include "config/config.h"

/*
 * Print one line per mirrored directory of CFG to OUT:
 *   NAME sync=MODE state=STATE entries=N addresses=M age=SECONDS
 * (age -1: never in contact).  Returns the exit status: 0 when every
 * mirror is current, EX_TEMPFAIL otherwise.
 */
int mirror_status_run(const struct config *cfg, FILE *out);

#endif
