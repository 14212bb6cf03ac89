/*
 * resolver.c - the directories of one configuration snapshot, asked through
 * the cache.  resolver_lookup() is the decide_lookup_fn used by the milter,
 * the socketmap and nsmilter -q alike.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "resolver.h"

struct resolver *
resolver_open(const struct config *cfg, const struct directory_ops *ops)
{
	struct resolver *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->cfg = cfg;
	r->dirs = calloc(cfg->n_directories ? cfg->n_directories : 1,
	    sizeof(*r->dirs));
	if (r->dirs == NULL)
		goto fail;
	for (size_t i = 0; i < cfg->n_directories; i++)
		if ((r->dirs[i] = directory_open(ops,
		    &cfg->directories[i])) == NULL)
			goto fail;
	if (cfg->milter.cache_ttl_ms > 0 || cfg->milter.negative_cache_ttl_ms > 0) {
		r->cache = cache_new(cfg->milter.cache_size,
		    cfg->milter.cache_ttl_ms, cfg->milter.negative_cache_ttl_ms);
		if (r->cache == NULL)
			goto fail;
	}
	return r;
fail:
	resolver_close(r);
	return NULL;
}

void
resolver_close(struct resolver *r)
{
	if (r == NULL)
		return;
	if (r->dirs != NULL)
		for (size_t i = 0; i < r->cfg->n_directories; i++)
			if (r->dirs[i] != NULL)
				directory_close(r->dirs[i]);
	free(r->dirs);
	if (r->cache != NULL)
		cache_free(r->cache);
	free(r);
}

void
resolver_lookup(void *ctx, const struct domain_config *dom,
    const char *address, struct dir_answer *answers)
{
	struct resolver_call *call = ctx;
	struct resolver *r = call->resolver;

	for (size_t i = 0; i < dom->n_dirs; i++) {
		size_t idx = dom->dirs[i]->index;

		memset(&answers[i], 0, sizeof(answers[i]));
		if (r->cache != NULL &&
		    cache_get(r->cache, idx, address, &answers[i])) {
			call->hits++;
			continue;
		}
		call->misses++;
		directory_lookup(r->dirs[idx], address, &answers[i]);
		if (r->cache != NULL)
			cache_put(r->cache, idx, address, &answers[i]);
	}
}

const char *
resolver_call_cache(const struct resolver_call *call)
{
	if (call->misses > 0)
		return "miss";
	return call->hits > 0 ? "hit" : NULL;
}
