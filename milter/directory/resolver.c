/*
 * resolver.c - the directories of one configuration snapshot, asked through
 * the cache.  resolver_lookup() is the decide_lookup_fn used by the milter,
 * the socketmap and nsmilter -q alike.
 *
 * The directories the cache cannot answer are asked at once: every search
 * is sent (directory_start), then one poll() waits on all their
 * descriptors until each has answered or reached its own directory's
 * deadline (then it is abandoned: an error, and the backend holds that
 * server down).  The answers land in answers[i] for dom->dirs[i] whatever
 * order they arrive in, so the precedence of the decision is unchanged; a
 * recipient costs the slowest directory, not the sum of them.  Starting a
 * search never waits for a busy directory (a lookup without a free
 * connection waits in this loop), each answer is read to its end whatever
 * the others do, and a directory is abandoned only on its own deadline,
 * after a last look: one hung directory never fails another.  Searches are
 * started in the order of the configuration's directories (not the
 * domain's).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "directory/cache.h"
#include "directory/mirror/mirror_backend.h"
#include "directory/resolver.h"

/* nsmilter_cache_entries, read at scrape time. */
static double
cache_entries(void *cache)
{
	return (double)cache_count(cache);
}

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
	for (size_t i = 0; i < cfg->n_directories; i++) {
		const struct directory_config *dc = &cfg->directories[i];
		const struct directory_ops *o = ops != NULL &&
		    dc->sync == CONFIG_SYNC_NONE ? ops :
		    directory_backend_lookup(directory_backend_for(dc));

		if ((r->dirs[i] = directory_open(o, dc)) == NULL)
			goto fail;
	}
	if (cfg->milter.cache_ttl_ms > 0 || cfg->milter.negative_cache_ttl_ms > 0) {
		r->cache = cache_new(cfg->milter.cache_size,
		    cfg->milter.cache_ttl_ms, cfg->milter.negative_cache_ttl_ms);
		if (r->cache == NULL)
			goto fail;
		/* The snapshot in force is the last one opened. */
		metrics_set_gauge_fn(METRICS_CACHE_ENTRIES, NULL, cache_entries,
		    r->cache);
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
	if (r->cache != NULL) {
		metrics_clear_gauge_fn(METRICS_CACHE_ENTRIES, NULL, r->cache);
		cache_free(r->cache);
	}
	free(r);
}

/* Longest single poll(): bounds a wait on a directory without a descriptor. */
#define RESOLVER_POLL_SLICE_MS 100

/*
 * Ask the directories dom->dirs[i] that the cache did not answer
 * (!answers[i].cached), all at once, and fill ANSWERS[i].  Returns -1 when
 * out of memory (nothing asked yet).
 */
static int
ask_parallel(struct resolver *r, const struct domain_config *dom,
    const char *address, struct directory_answer *answers)
{
	size_t n = dom->n_dirs, pending = 0, i;
	struct directory_op **ops = calloc(n, sizeof(*ops));
	struct pollfd *fds = calloc(n, sizeof(*fds));

	if (ops == NULL || fds == NULL) {
		free(ops);
		free(fds);
		return -1;
	}
	/* Start in configuration order (see the top of this file). */
	for (size_t idx = 0; idx < r->cfg->n_directories; idx++)
		for (i = 0; i < n; i++)
			if (!answers[i].cached && dom->dirs[i]->index == idx &&
			    (ops[i] = directory_start(r->dirs[idx], address,
			    &answers[i])) != NULL)
				pending++;
	while (pending > 0) {
		uint64_t now, wait = RESOLVER_POLL_SLICE_MS;
		nfds_t nfds = 0;

		/* Read what arrived (TLS may hold data poll() cannot see). */
		for (i = 0; i < n; i++)
			if (ops[i] != NULL &&
			    directory_op_poll(ops[i], &answers[i])) {
				ops[i] = NULL;
				pending--;
			}
		now = clock_ms();
		for (i = 0; i < n; i++) {
			int fd;

			if (ops[i] == NULL)
				continue;
			/*
			 * Past its deadline: one last look first (another
			 * directory's poll may have taken a while; what has
			 * arrived counts), then give up on this one only.
			 */
			if (now >= ops[i]->deadline_ms &&
			    directory_op_poll(ops[i], &answers[i])) {
				ops[i] = NULL;
				pending--;
				continue;
			}
			if ((now = clock_ms()) >= ops[i]->deadline_ms) {
				directory_op_abandon(ops[i], &answers[i]);
				ops[i] = NULL;
				pending--;
				continue;
			}
			if (ops[i]->deadline_ms - now < wait)
				wait = ops[i]->deadline_ms - now;
			if ((fd = directory_op_fd(ops[i])) >= 0) {
				fds[nfds].fd = fd;
				fds[nfds].events = POLLIN;
				fds[nfds].revents = 0;
				nfds++;
			}
		}
		if (pending == 0)
			break;
		/* Readable, hung up, or the slice is over: look again. */
		if (poll(fds, nfds, (int)wait) < 0 && errno != EINTR)
			break;   /* not with valid arguments */
	}
	/* Only after a failed poll(): nothing may stay unanswered. */
	for (i = 0; i < n; i++)
		if (ops[i] != NULL)
			directory_op_abandon(ops[i], &answers[i]);
	free(ops);
	free(fds);
	return 0;
}

/*
 * confirm_unknown: when no directory of DOM knows ADDRESS (every answer
 * "not found"), the mirrored directories whose mirror said so look it up
 * live, in order of precedence, until one finds it: a mailbox created
 * since the last change reached the mirror is not refused.  A live lookup
 * that fails leaves the mirror's "not found".
 */
static void
confirm_unknown(struct resolver *r, const struct domain_config *dom,
    const char *address, struct directory_answer *answers)
{
	size_t i;

	for (i = 0; i < dom->n_dirs; i++)
		if (answers[i].status != DIRECTORY_NOTFOUND)
			return;
	for (i = 0; i < dom->n_dirs; i++)
		if (mirror_confirm(r->dirs[dom->dirs[i]->index], address,
		    &answers[i]))
			return;
}

void
resolver_lookup(void *ctx, const struct domain_config *dom,
    const char *address, struct directory_answer *answers)
{
	struct resolver_call *call = ctx;
	struct resolver *r = call->resolver;
	size_t n_missing = 0, i;
	unsigned hits = 0;

	for (i = 0; i < dom->n_dirs; i++) {
		size_t idx = dom->dirs[i]->index;

		memset(&answers[i], 0, sizeof(answers[i]));
		/* A mirror answers faster than the cache, and is current. */
		if (mirror_is_mirror(r->dirs[idx])) {
			n_missing++;
			continue;
		}
		if (r->cache != NULL &&
		    cache_get(r->cache, idx, address, &answers[i])) {
			answers[i].cached = 1;
			hits++;
			continue;
		}
		n_missing++;
	}
	call->hits += hits;
	call->misses += (unsigned)n_missing;
	if (r->cache != NULL)
		metrics_cache(hits, (unsigned)n_missing);
	/* One directory to ask (or no memory): the synchronous lookups. */
	if (n_missing < 2 || ask_parallel(r, dom, address, answers) != 0)
		for (i = 0; i < dom->n_dirs; i++)
			if (!answers[i].cached)
				directory_lookup(r->dirs[dom->dirs[i]->index],
				    address, &answers[i]);
	if (r->cache != NULL)
		for (i = 0; i < dom->n_dirs; i++)
			if (!answers[i].cached &&
			    !mirror_is_mirror(r->dirs[dom->dirs[i]->index]))
				cache_put(r->cache, dom->dirs[i]->index,
				    address, &answers[i]);
	confirm_unknown(r, dom, address, answers);
}

const char *
resolver_call_cache(const struct resolver_call *call)
{
	if (call->misses > 0)
		return "miss";
	return call->hits > 0 ? "hit" : NULL;
}
