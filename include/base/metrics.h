/*
 * metrics.h - counters, a histogram and gauges for the Prometheus
 * exposition served at [milter] metrics (nsmilter.ini(5), README
 * "Metrics").
 *
 * Series are keyed by name (a domain, a directory) in a registry that is
 * only ever appended to: a reload that drops or renames a domain keeps the
 * counts already made, and a pointer returned by metrics_domain() or
 * metrics_directory() stays valid until the process exits.  Finding a
 * series takes no lock (the registry is a list published with
 * release/acquire atomics); adding one takes a mutex, once per name.
 * Counting is one relaxed atomic add: no lock on the RCPT path.  Gauges
 * are read through callbacks at scrape time.
 */
#ifndef NSMILTER_BASE_METRICS_H
#define NSMILTER_BASE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metrics_action {
	METRICS_ACCEPT,
	METRICS_ROUTE,
	METRICS_REJECT,
	METRICS_TEMPFAIL,
	METRICS_N_ACTIONS
};

enum metrics_result {
	METRICS_FOUND,
	METRICS_NOTFOUND,
	METRICS_ERROR,
	METRICS_N_RESULTS
};

enum metrics_guard {
	METRICS_GUARD_HARVEST,
	METRICS_GUARD_LOOP,
	METRICS_N_GUARDS
};

enum metrics_gauge {
	METRICS_CACHE_ENTRIES,        /* no label */
	METRICS_MIRROR_ENTRIES,       /* {directory} */
	METRICS_MIRROR_AGE_SECONDS,   /* {directory} */
	METRICS_N_GAUGES
};

/* Upper bounds of the lookup histogram, in seconds ("le"). */
#define METRICS_LOOKUP_BUCKETS 13

struct metrics_domain;
struct metrics_directory;

/*
 * The series of domain or directory NAME, added on first use.  NULL only
 * when out of memory; every counting function accepts NULL and does
 * nothing.
 */
struct metrics_domain *metrics_domain(const char *name);
struct metrics_directory *metrics_directory(const char *name);

void metrics_decision(struct metrics_domain *m, enum metrics_action a);
void metrics_conflict(struct metrics_domain *m);
/* One directory query that took US microseconds (base/clock.h clock_us). */
void metrics_lookup(struct metrics_directory *m, enum metrics_result r,
    uint64_t us);
void metrics_cache(unsigned hits, unsigned misses);
void metrics_guard(enum metrics_guard g);
void metrics_reload(bool ok);

/*
 * A gauge read at scrape time: FN(CTX) returns the value, or NaN for "no
 * value now" (the line is left out).  DIRECTORY names the directory for
 * the mirror gauges and is NULL for METRICS_CACHE_ENTRIES.  Setting
 * replaces the previous callback.  A backend clears its callback before
 * it frees CTX; clearing does nothing when another CTX has been set since
 * (a reload opens the new snapshot before it closes the old one).  FN runs
 * on the HTTP thread, under a lock that setting and clearing also take.
 */
typedef double (*metrics_gauge_fn)(void *ctx);
void metrics_set_gauge_fn(enum metrics_gauge g, const char *directory,
    metrics_gauge_fn fn, void *ctx);
void metrics_clear_gauge_fn(enum metrics_gauge g, const char *directory,
    void *ctx);

/*
 * The whole exposition (text format 0.0.4) as a new string, its length in
 * *LEN.  NULL when out of memory.
 */
char *metrics_format(size_t *len);

/* For unit tests: zero every counter (series and names stay). */
void metrics_reset(void);

#endif
