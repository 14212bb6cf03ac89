/*
 * report_table.h - the addresses nsmilter -r collected (private to
 * milter/frontend/report*.c).
 *
 * One (address, directory, entry, target) tuple per address of an entry,
 * in one array sorted by address: a lookup is a binary search, the
 * findings one linear pass.  Strings live in an arena of large blocks, so
 * half a million entries cost a few allocations, not millions.
 */
#ifndef NSMILTER_REPORT_TABLE_H
#define NSMILTER_REPORT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "directory/directory.h"
#include "directory/mirror/mirror_store.h"

struct report_tuple {
	const char *addr;     /* lowercased */
	const char *target;   /* the entry's target address, or NULL */
	uint32_t dir;         /* index in config->directories */
	uint32_t entry;       /* the entry, numbered in reading order */
};

struct report_block;

struct report_table {
	struct report_tuple *v;
	size_t n, cap;
	uint32_t entries;             /* entries added, all directories */
	struct report_block *blocks;  /* the arena */
};

void report_table_init(struct report_table *t);
void report_table_free(struct report_table *t);

/* Add entry E of directory DIR.  Returns 0, or -1 when out of memory. */
int report_table_add(struct report_table *t, uint32_t dir,
    const struct mirror_entry *e);

/* Sort by address, directory, entry; before any lookup. */
void report_table_sort(struct report_table *t);

/* The first tuple of ADDRESS (lowercased), or NULL; *N its tuples. */
const struct report_tuple *report_table_find(const struct report_table *t,
    const char *address, size_t *n);

/*
 * What DIR answers for the tuples GROUP[0..N-1] of one address, as a live
 * lookup or a mirror would: not found, or found with the number of
 * entries, the first one's target, and whether they disagree.  OUT's
 * target is a new string.  Returns 0, or -1 when out of memory.
 */
int report_table_answer(const struct report_tuple *group, size_t n,
    uint32_t dir, struct directory_answer *out);

#endif
