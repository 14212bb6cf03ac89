/*
 * mirror_backend.c - the mirror directory backend (struct directory_ops
 * mirror_ops): a mirrored directory's lookups are an exact,
 * case-insensitive match in its LMDB copy (nsmilter.ini(5), "DIRECTORY
 * MIRROR").
 *
 * In the daemon the copy is the one its engine keeps current
 * (mirror_engine.c); in other processes (nsmilter -q) the same files are
 * opened read-only, so -q answers what the milter answers.  A lookup is
 * one read transaction: no lock shared with the writer or other lookups.
 *
 * Answers carry source=mirror.  Out of contact with the directory for
 * longer than max_staleness, the copy's answers are a directory error.
 * Before the first complete refresh (no copy yet), lookups go to the
 * directory live, through the LDAP backend, with (&sync_filter filter):
 * the same entries as the copy has.  That live directory also serves
 * confirm_unknown (mirror_confirm).
 *
 * Each open mirror registers the gauges nsmilter_mirror_entries and
 * nsmilter_mirror_age_seconds (README "Metrics"), read from the copy's
 * state at scrape time; the snapshot opened last wins.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/xfmt.h"
#include "directory/ldap/ldap_backend.h"
#include "directory/mirror/mirror_backend.h"
#include "directory/mirror/mirror_engine.h"

#define MIRROR_SOURCE "mirror"

struct mirror_dir {
	struct directory hdr;             /* first */
	struct mirror_engine *eng;        /* the daemon's, or NULL */
	struct mirror_store *ro;          /* other processes: read-only */
	struct directory *live;           /* (&sync_filter filter), or NULL */
	struct directory_config live_cfg; /* CFG with that filter */
	char *live_filter;
};

static void mirror_close(struct directory *dd);

/* The copy's state for a gauge; false when there is no copy yet. */
static bool
gauge_meta(struct mirror_dir *d, struct mirror_meta *meta)
{
	struct mirror_store *s = d->eng ? mirror_engine_store(d->eng) : d->ro;
	char *err = NULL;

	if (s == NULL || mirror_store_meta(s, meta, &err) != 0) {
		free(err);
		return false;
	}
	return meta->present;
}

static double
gauge_entries(void *ctx)
{
	struct mirror_meta meta;

	return gauge_meta(ctx, &meta) ? (double)meta.entries : NAN;
}

/* Seconds since the last contact with the directory; none before one. */
static double
gauge_age(void *ctx)
{
	struct mirror_meta meta;
	uint64_t now = (uint64_t)time(NULL);

	if (!gauge_meta(ctx, &meta) || meta.contact == 0)
		return NAN;
	return now > meta.contact ? (double)(now - meta.contact) : 0;
}

static struct directory *
mirror_open(const struct directory_config *cfg)
{
	struct mirror_dir *d;

	if (cfg == NULL || cfg->sync == CONFIG_SYNC_NONE ||
	    cfg->state_dir == NULL)
		return NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->hdr.cfg = cfg;
	if (cfg->filter != NULL && cfg->uri.n > 0) {
		if ((d->live_filter = xasprintf("(&%s%s)", cfg->sync_filter,
		    cfg->filter)) == NULL)
			goto fail;
		d->live_cfg = *cfg;
		d->live_cfg.filter = d->live_filter;
		d->live_cfg.sync = CONFIG_SYNC_NONE;
		if ((d->live = directory_open(&ldapdir_ops, &d->live_cfg))
		    == NULL)
			goto fail;
	}
	if (mirror_engines_enabled()) {
		if ((d->eng = mirror_engine_get(cfg, cfg->state_dir)) == NULL)
			goto fail;
	} else {
		char *path = mirror_state_path(cfg->state_dir, cfg->name);
		char *err = NULL;

		if (path == NULL)
			goto fail;
		/* Absent (no message): lookups go live until there is one. */
		if (mirror_store_open(path, MIRROR_STORE_RDONLY, &d->ro, &err)
		    != 0 && err != NULL) {
			log_warning("directory %s: mirror: %s", cfg->name, err);
			free(err);
		}
		free(path);
	}
	metrics_set_gauge_fn(METRICS_MIRROR_ENTRIES, cfg->name, gauge_entries,
	    d);
	metrics_set_gauge_fn(METRICS_MIRROR_AGE_SECONDS, cfg->name, gauge_age,
	    d);
	return &d->hdr;
fail:
	mirror_close(&d->hdr);
	return NULL;
}

static void
mirror_close(struct directory *dd)
{
	struct mirror_dir *d = (struct mirror_dir *)dd;

	if (d == NULL)
		return;
	/* Before anything is freed: a scrape may be reading D. */
	metrics_clear_gauge_fn(METRICS_MIRROR_ENTRIES, d->hdr.cfg->name, d);
	metrics_clear_gauge_fn(METRICS_MIRROR_AGE_SECONDS, d->hdr.cfg->name, d);
	if (d->live != NULL)
		directory_close(d->live);
	mirror_engine_put(d->eng);
	mirror_store_close(d->ro);
	free(d->live_filter);
	free(d);
}

static void
answer_error(struct directory_answer *out, char *msg)
{
	out->status = DIRECTORY_ERROR;
	out->error = msg != NULL ? msg : strdup("out of memory");
}

/* No usable copy: ask the directory live, else an error (WHY). */
static void
live_or_error(struct mirror_dir *d, const char *address,
    struct directory_answer *out, const char *why)
{
	if (d->live != NULL) {
		directory_lookup(d->live, address, out);
		return;
	}
	answer_error(out, xasprintf("mirror: %s", why));
}

static void
mirror_lookup(struct directory *dd, const char *address,
    struct directory_answer *out)
{
	struct mirror_dir *d = (struct mirror_dir *)dd;
	const struct directory_config *cfg = d->hdr.cfg;
	struct mirror_store *s = d->eng ? mirror_engine_store(d->eng) : d->ro;
	struct mirror_meta meta;
	struct mirror_hit hit;
	uint64_t now;
	char *err = NULL;

	if (s == NULL) {
		live_or_error(d, address, out, "no copy yet");
		return;
	}
	if (mirror_store_lookup(s, address, &meta, &hit, &err) != 0) {
		answer_error(out, err);
		return;
	}
	if (!meta.complete) {
		mirror_hit_clear(&hit);
		live_or_error(d, address, out, "first refresh not complete");
		return;
	}
	now = (uint64_t)time(NULL);
	out->source = MIRROR_SOURCE;
	if (now > meta.contact &&
	    (now - meta.contact) * 1000u > cfg->max_staleness_ms) {
		mirror_hit_clear(&hit);
		answer_error(out, xasprintf("mirror out of contact with the "
		    "directory for %llu s (max_staleness)",
		    (unsigned long long)(now - meta.contact)));
		return;
	}
	if (hit.entries == 0) {
		out->status = DIRECTORY_NOTFOUND;
		return;
	}
	out->status = DIRECTORY_FOUND;
	out->target = hit.target;
	out->entries = hit.entries;
	out->ambiguous = hit.ambiguous;
}

bool
mirror_is_mirror(const struct directory *d)
{
	return d != NULL && d->ops == &mirror_ops;
}

bool
mirror_confirm(struct directory *dd, const char *address,
    struct directory_answer *out)
{
	struct mirror_dir *d = (struct mirror_dir *)dd;
	struct directory_answer live;

	if (!mirror_is_mirror(dd) || !d->hdr.cfg->confirm_unknown ||
	    d->live == NULL || out->status != DIRECTORY_NOTFOUND ||
	    out->source == NULL)
		return false;
	memset(&live, 0, sizeof(live));
	directory_lookup(d->live, address, &live);
	if (live.status != DIRECTORY_FOUND) {
		/* Not there either, or no answer: the mirror's stands. */
		directory_answer_clear(&live);
		return false;
	}
	log_info("directory %s: %s found live, not yet in the mirror",
	    d->hdr.cfg->name, address);
	directory_answer_clear(out);
	*out = live;
	return true;
}

unsigned
mirror_contact_interval_ms(const struct directory_config *cfg)
{
	return cfg->sync_interval_ms < 5000u ? cfg->sync_interval_ms : 5000u;
}

const char *
mirror_state_name(enum mirror_state s)
{
	switch (s) {
	case MIRROR_ABSENT:
		return "absent";
	case MIRROR_REFRESHING:
		return "refreshing";
	case MIRROR_CURRENT:
		return "current";
	case MIRROR_STALE:
		return "stale";
	case MIRROR_EXPIRED:
		return "expired";
	}
	return "?";
}

enum mirror_state
mirror_state_of(const struct directory_config *cfg,
    const struct mirror_meta *meta, uint64_t now, long long *age)
{
	uint64_t window_ms;

	*age = -1;
	if (meta == NULL || !meta->present)
		return MIRROR_ABSENT;
	if (meta->contact > 0)
		*age = now > meta->contact ? (long long)(now - meta->contact)
		    : 0;
	if (!meta->complete)
		return MIRROR_REFRESHING;
	if (*age < 0 || (uint64_t)*age * 1000u > cfg->max_staleness_ms)
		return MIRROR_EXPIRED;
	/* A session records its contact every interval; a fetch every
	 * sync_interval.  Either may take up to the timeout, and the age is
	 * counted in whole seconds. */
	if (cfg->sync == CONFIG_SYNC_SYNCREPL) {
		if (!meta->session)
			return MIRROR_STALE;
		window_ms = mirror_contact_interval_ms(cfg);
	} else {
		window_ms = cfg->sync_interval_ms;
	}
	window_ms += cfg->timeout_ms + 1000u;
	return (uint64_t)*age * 1000u <= window_ms ? MIRROR_CURRENT
	    : MIRROR_STALE;
}

const struct directory_ops mirror_ops = {
	.kind = "mirror",
	.open = mirror_open,
	.lookup = mirror_lookup,
	.close = mirror_close,
};
