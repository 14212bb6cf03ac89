/*
 * fdlimit.h - file descriptors: raise the soft limit to the hard one, and
 * how many milter connections fit under it (README "File descriptors").
 */
#ifndef NSMILTER_FDLIMIT_H
#define NSMILTER_FDLIMIT_H

#include "config/config.h"

/*
 * Raise RLIMIT_NOFILE's soft limit to the hard limit where the process may
 * (a failure is logged), and return the milter connection cap for CFG:
 * half of the soft limit less what the directories, the socketmap and
 * nsmilter itself need.
 */
unsigned fdlimit_setup(const struct config *cfg);
/* Log the limit and the cap (once the daemon is up: not an error). */
void fdlimit_log(void);

#endif
