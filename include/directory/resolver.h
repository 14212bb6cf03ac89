/*
 * resolver.h - the running directories of one configuration snapshot, and
 * the decide_lookup_fn that asks them (through the cache).
 */
#ifndef NSMILTER_RESOLVER_H
#define NSMILTER_RESOLVER_H

#include "config/config.h"
#include "directory/directory.h"

struct cache;

struct resolver {
	const struct config *cfg;
	struct directory **dirs;  /* one per cfg->directories[i] */
	struct cache *cache;      /* NULL when cache_ttl = 0 */
};

/*
 * Open every directory of CFG with OPS, or, when OPS is NULL (production),
 * with the backend the registry names for it.
 */
struct resolver *resolver_open(const struct config *cfg,
    const struct directory_ops *ops);
void resolver_close(struct resolver *r);

/* One decision's use of a resolver: what the cache answered. */
struct resolver_call {
	struct resolver *resolver;
	unsigned hits;     /* answers from the cache */
	unsigned misses;   /* answers from a directory */
};

/*
 * Fill ANSWERS[i] for dom->dirs[i] (the decision's lookup function, see
 * decision/decide.h); CTX is a struct resolver_call *.
 */
void resolver_lookup(void *ctx, const struct domain_config *dom,
    const char *address, struct directory_answer *answers);

/* "hit", "miss", or NULL when no directory was asked. */
const char *resolver_call_cache(const struct resolver_call *call);

#endif
