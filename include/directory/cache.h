/*
 * cache.h - bounded, concurrent cache of directory answers.
 *
 * Keyed by (directory index, address).  Found answers live cache_ttl,
 * not-found answers negative_cache_ttl; errors are never stored.  Bounded by
 * max_entries (least recently used entries go first).  Safe for concurrent
 * use by milter threads without one global lock on the hot path (sharded).
 */
#ifndef NSMILTER_CACHE_H
#define NSMILTER_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "directory/directory.h"

struct cache;

/* Returns NULL on out of memory.  TTL 0 means "do not store that kind". */
struct cache *cache_new(size_t max_entries, unsigned ttl_ms,
    unsigned negative_ttl_ms);
void cache_free(struct cache *c);

/*
 * 1 and OUT filled (status, a copy of target, cached = 1) on a fresh hit;
 * 0 on a miss or an expired entry (OUT untouched).
 */
int cache_get(struct cache *c, size_t dir_index, const char *address,
    struct directory_answer *out);
/* Store A (DIRECTORY_ERROR answers are ignored). */
void cache_put(struct cache *c, size_t dir_index, const char *address,
    const struct directory_answer *a);
void cache_flush(struct cache *c);
size_t cache_count(struct cache *c);

/* For tests: replace the monotonic millisecond clock (NULL restores it). */
void cache_set_clock(uint64_t (*now_ms)(void));

#endif
