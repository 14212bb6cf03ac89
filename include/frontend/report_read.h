/*
 * report_read.h - one directory's addresses into the nsmilter -r table
 * (private to milter/frontend/report*.c): from its mirror when it has a
 * complete, current one, otherwise with a paged read of the directory.
 */
#ifndef NSMILTER_REPORT_READ_H
#define NSMILTER_REPORT_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "frontend/report_table.h"

struct report_dir {
	const struct directory_config *cfg;
	const char *source;    /* "mirror" or "ldap" */
	bool skipped;          /* not read: REASON says why */
	char *reason;
	uint64_t entries;      /* entries read */
	uint64_t addresses;    /* (address, entry) pairs */
};

/*
 * Read RD->cfg into T with CFG's [milter] settings (state_dir).  On a
 * failure RD is marked skipped with its reason and T is left as it was:
 * a directory is reported whole or not at all.  Returns 0, or -1 when out
 * of memory.
 */
int report_read_directory(const struct config *cfg, struct report_table *t,
    struct report_dir *rd);

#endif
