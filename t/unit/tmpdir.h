/*
 * tmpdir.h - a private folder for one unit test program:
 * /tmp/PROGRAM.XXXXXX in TMPDIR, made by setup_dir and removed with what
 * it holds by teardown_dir (cmocka group set-up and tear-down).
 */
#ifndef NSMILTER_TMPDIR_H
#define NSMILTER_TMPDIR_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static char tmpdir[64];

static inline int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.XXXXXX",
	    program_invocation_short_name);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static inline int
teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
