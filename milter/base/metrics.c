/*
 * metrics.c - the metrics registry and its text exposition (see
 * base/metrics.h).
 *
 * Two append-only lists of named series (domains, directories).  A reader
 * walks a list from its head with acquire loads and never takes a lock; a
 * writer adds a node under add_lock after looking again, filling the node
 * completely before publishing it with a release store.  Nodes are never
 * freed.  Counters are 64-bit atomics added with relaxed ordering: each
 * one is exact, a scrape sees each one at some moment of its own.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"

typedef _Atomic uint64_t counter;

struct metrics_domain {
	char *name;
	counter decisions[METRICS_N_ACTIONS];
	counter conflicts;
	struct metrics_domain *_Atomic next;
};

struct gauge_cb {
	metrics_gauge_fn fn;
	void *ctx;
};

struct metrics_directory {
	char *name;
	counter lookups[METRICS_N_RESULTS];
	counter buckets[METRICS_LOOKUP_BUCKETS + 1];  /* not cumulative */
	counter sum_us;
	struct gauge_cb mirror[2];      /* entries, age: under gauge_lock */
	struct metrics_directory *_Atomic next;
};

static const uint64_t bucket_us[METRICS_LOOKUP_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000
};
static const char *const bucket_le[METRICS_LOOKUP_BUCKETS + 1] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"
};
static const char *const action_names[METRICS_N_ACTIONS] = {
	"accept", "route", "reject", "tempfail"
};
static const char *const result_names[METRICS_N_RESULTS] = {
	"found", "notfound", "error"
};
static const char *const guard_names[METRICS_N_GUARDS] = {
	"harvest", "loop"
};

static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t gauge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_domain *_Atomic domains;
static struct metrics_directory *_Atomic directories;
static counter cache_hits, cache_misses;
static counter guards[METRICS_N_GUARDS];
static counter reloads[2];   /* [0] ok, [1] failed */
static struct gauge_cb cache_entries;   /* under gauge_lock */

static void
count(counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Find-or-add, once for each list: two small copies rather than casts. */
static struct metrics_domain *
find_domain(const char *name)
{
	struct metrics_domain *m;

	for (m = atomic_load_explicit(&domains, memory_order_acquire);
	    m != NULL; m = atomic_load_explicit(&m->next, memory_order_acquire))
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

struct metrics_domain *
metrics_domain(const char *name)
{
	struct metrics_domain *m, *_Atomic *tail;

	if (name == NULL)
		return NULL;
	if ((m = find_domain(name)) != NULL)
		return m;
	pthread_mutex_lock(&add_lock);
	if ((m = find_domain(name)) == NULL && (m = calloc(1, sizeof(*m))) !=
	    NULL) {
		if ((m->name = strdup(name)) == NULL) {
			free(m);
			m = NULL;
		} else {
			for (tail = &domains; atomic_load(tail) != NULL;
			    tail = &atomic_load(tail)->next)
				;
			atomic_store_explicit(tail, m, memory_order_release);
		}
	}
	pthread_mutex_unlock(&add_lock);
	return m;
}

static struct metrics_directory *
find_directory(const char *name)
{
	struct metrics_directory *m;

	for (m = atomic_load_explicit(&directories, memory_order_acquire);
	    m != NULL; m = atomic_load_explicit(&m->next, memory_order_acquire))
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

struct metrics_directory *
metrics_directory(const char *name)
{
	struct metrics_directory *m, *_Atomic *tail;

	if (name == NULL)
		return NULL;
	if ((m = find_directory(name)) != NULL)
		return m;
	pthread_mutex_lock(&add_lock);
	if ((m = find_directory(name)) == NULL && (m = calloc(1, sizeof(*m))) !=
	    NULL) {
		if ((m->name = strdup(name)) == NULL) {
			free(m);
			m = NULL;
		} else {
			for (tail = &directories; atomic_load(tail) != NULL;
			    tail = &atomic_load(tail)->next)
				;
			atomic_store_explicit(tail, m, memory_order_release);
		}
	}
	pthread_mutex_unlock(&add_lock);
	return m;
}

void
metrics_decision(struct metrics_domain *m, enum metrics_action a)
{
	if (m != NULL && (unsigned)a < METRICS_N_ACTIONS)
		count(&m->decisions[a], 1);
}

void
metrics_conflict(struct metrics_domain *m)
{
	if (m != NULL)
		count(&m->conflicts, 1);
}

void
metrics_lookup(struct metrics_directory *m, enum metrics_result r,
    uint64_t us)
{
	size_t b = 0;

	if (m == NULL || (unsigned)r >= METRICS_N_RESULTS)
		return;
	while (b < METRICS_LOOKUP_BUCKETS && us > bucket_us[b])
		b++;
	count(&m->lookups[r], 1);
	count(&m->buckets[b], 1);
	count(&m->sum_us, us);
}

void
metrics_cache(unsigned hits, unsigned misses)
{
	if (hits > 0)
		count(&cache_hits, hits);
	if (misses > 0)
		count(&cache_misses, misses);
}

void
metrics_guard(enum metrics_guard g)
{
	if ((unsigned)g < METRICS_N_GUARDS)
		count(&guards[g], 1);
}

void
metrics_reload(bool ok)
{
	count(&reloads[ok ? 0 : 1], 1);
}

/* The callback slot of G for DIRECTORY (added if needed), or NULL. */
static struct gauge_cb *
gauge_slot(enum metrics_gauge g, const char *directory)
{
	struct metrics_directory *m;

	switch (g) {
	case METRICS_CACHE_ENTRIES:
		return &cache_entries;
	case METRICS_MIRROR_ENTRIES:
	case METRICS_MIRROR_AGE_SECONDS:
		if ((m = metrics_directory(directory)) == NULL)
			return NULL;
		return &m->mirror[g == METRICS_MIRROR_ENTRIES ? 0 : 1];
	default:
		return NULL;
	}
}

void
metrics_set_gauge_fn(enum metrics_gauge g, const char *directory,
    metrics_gauge_fn fn, void *ctx)
{
	struct gauge_cb *slot = gauge_slot(g, directory);

	if (slot == NULL)
		return;
	pthread_mutex_lock(&gauge_lock);
	slot->fn = fn;
	slot->ctx = ctx;
	pthread_mutex_unlock(&gauge_lock);
}

void
metrics_clear_gauge_fn(enum metrics_gauge g, const char *directory,
    void *ctx)
{
	struct gauge_cb *slot = gauge_slot(g, directory);

	if (slot == NULL)
		return;
	pthread_mutex_lock(&gauge_lock);
	if (slot->ctx == ctx) {
		slot->fn = NULL;
		slot->ctx = NULL;
	}
	pthread_mutex_unlock(&gauge_lock);
}

/* Called with gauge_lock held; NaN when nothing is registered. */
static double
gauge_read(const struct gauge_cb *cb)
{
	return cb->fn != NULL ? cb->fn(cb->ctx) : NAN;
}

/* A label value per the exposition format: \ " and newline escaped. */
static void
put_label(FILE *f, const char *s)
{
	if (strpbrk(s, "\\\"\n") == NULL) {
		fputs(s, f);	/* the usual case: nothing to escape */
		return;
	}
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A gauge value: integral ones without a fraction. */
static void
put_value(FILE *f, double v)
{
	if (v == floor(v) && fabs(v) < 9.0e15)
		fprintf(f, "%.0f\n", v);
	else
		fprintf(f, "%.6f\n", v);
}

static void
format_domains(FILE *f)
{
	struct metrics_domain *m, *head;

	head = atomic_load_explicit(&domains, memory_order_acquire);
	family(f, "nsmilter_decisions_total", "counter",
	    "Recipient decisions by shared domain and action.");
	for (m = head; m != NULL; m = atomic_load_explicit(&m->next,
	    memory_order_acquire))
		for (int a = 0; a < METRICS_N_ACTIONS; a++) {
			fputs("nsmilter_decisions_total{domain=\"", f);
			put_label(f, m->name);
			fprintf(f, "\",action=\"%s\"} %llu\n", action_names[a],
			    (unsigned long long)get(&m->decisions[a]));
		}
	family(f, "nsmilter_conflicts_total", "counter",
	    "Recipients found in more than one directory, by domain.");
	for (m = head; m != NULL; m = atomic_load_explicit(&m->next,
	    memory_order_acquire)) {
		fputs("nsmilter_conflicts_total{domain=\"", f);
		put_label(f, m->name);
		fprintf(f, "\"} %llu\n",
		    (unsigned long long)get(&m->conflicts));
	}
}

static void
format_histogram(FILE *f, struct metrics_directory *m)
{
	uint64_t cum = 0;

	for (int b = 0; b <= METRICS_LOOKUP_BUCKETS; b++) {
		cum += get(&m->buckets[b]);
		fputs("nsmilter_directory_lookup_seconds_bucket{directory=\"", f);
		put_label(f, m->name);
		fprintf(f, "\",le=\"%s\"} %llu\n", bucket_le[b],
		    (unsigned long long)cum);
	}
	fputs("nsmilter_directory_lookup_seconds_sum{directory=\"", f);
	put_label(f, m->name);
	fprintf(f, "\"} %.6f\n", (double)get(&m->sum_us) / 1e6);
	/* The +Inf bucket as read above: _count always matches it. */
	fputs("nsmilter_directory_lookup_seconds_count{directory=\"", f);
	put_label(f, m->name);
	fprintf(f, "\"} %llu\n", (unsigned long long)cum);
}

static void
format_directories(FILE *f)
{
	static const char *const gauge_names[2] = {
		"nsmilter_mirror_entries", "nsmilter_mirror_age_seconds"
	};
	static const char *const gauge_help[2] = {
		"Entries in the local mirror of a directory.",
		"Seconds since the mirror of a directory was last in sync."
	};
	struct metrics_directory *m, *head;

	head = atomic_load_explicit(&directories, memory_order_acquire);
	family(f, "nsmilter_directory_lookups_total", "counter",
	    "Directory queries (cache misses) by directory and result.");
	for (m = head; m != NULL; m = atomic_load_explicit(&m->next,
	    memory_order_acquire))
		for (int r = 0; r < METRICS_N_RESULTS; r++) {
			fputs("nsmilter_directory_lookups_total{directory=\"", f);
			put_label(f, m->name);
			fprintf(f, "\",result=\"%s\"} %llu\n", result_names[r],
			    (unsigned long long)get(&m->lookups[r]));
		}
	family(f, "nsmilter_directory_lookup_seconds", "histogram",
	    "Time a directory query took, by directory.");
	for (m = head; m != NULL; m = atomic_load_explicit(&m->next,
	    memory_order_acquire))
		format_histogram(f, m);
	for (int g = 0; g < 2; g++) {
		family(f, gauge_names[g], "gauge", gauge_help[g]);
		pthread_mutex_lock(&gauge_lock);
		for (m = head; m != NULL; m = atomic_load_explicit(&m->next,
		    memory_order_acquire)) {
			double v = gauge_read(&m->mirror[g]);

			if (isnan(v))
				continue;
			fprintf(f, "%s{directory=\"", gauge_names[g]);
			put_label(f, m->name);
			fputs("\"} ", f);
			put_value(f, v);
		}
		pthread_mutex_unlock(&gauge_lock);
	}
}

static void
format_process(FILE *f)
{
	double entries;

	family(f, "nsmilter_cache_hits_total", "counter",
	    "Directory answers taken from the cache.");
	fprintf(f, "nsmilter_cache_hits_total %llu\n",
	    (unsigned long long)get(&cache_hits));
	family(f, "nsmilter_cache_misses_total", "counter",
	    "Directory answers the cache did not have.");
	fprintf(f, "nsmilter_cache_misses_total %llu\n",
	    (unsigned long long)get(&cache_misses));
	pthread_mutex_lock(&gauge_lock);
	entries = gauge_read(&cache_entries);
	pthread_mutex_unlock(&gauge_lock);
	family(f, "nsmilter_cache_entries", "gauge",
	    "Directory answers held in the cache.");
	fputs("nsmilter_cache_entries ", f);
	put_value(f, isnan(entries) ? 0 : entries);
	family(f, "nsmilter_guard_total", "counter",
	    "Recipients stopped by a guard (harvest: too many unknown "
	    "recipients, loop: mail back from the system it is routed to).");
	for (int g = 0; g < METRICS_N_GUARDS; g++)
		fprintf(f, "nsmilter_guard_total{guard=\"%s\"} %llu\n",
		    guard_names[g], (unsigned long long)get(&guards[g]));
	family(f, "nsmilter_reloads_total", "counter",
	    "Configuration reloads (SIGHUP) by result.");
	fprintf(f, "nsmilter_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)get(&reloads[0]));
	fprintf(f, "nsmilter_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)get(&reloads[1]));
	family(f, "nsmilter_build_info", "gauge",
	    "The running version of nsmilter.");
	fputs("nsmilter_build_info{version=\"", f);
	put_label(f, NSMILTER_VERSION);
	fputs("\"} 1\n", f);
}

char *
metrics_format(size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	/* Only this thread writes to F: no stdio lock per call. */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	format_domains(f);
	format_directories(f);
	format_process(f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = size;
	return buf;
}

static void
zero(counter *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&c[i], 0, memory_order_relaxed);
}

void
metrics_reset(void)
{
	for (struct metrics_domain *m = atomic_load(&domains); m != NULL;
	    m = atomic_load(&m->next)) {
		zero(m->decisions, METRICS_N_ACTIONS);
		zero(&m->conflicts, 1);
	}
	for (struct metrics_directory *m = atomic_load(&directories);
	    m != NULL; m = atomic_load(&m->next)) {
		zero(m->lookups, METRICS_N_RESULTS);
		zero(m->buckets, METRICS_LOOKUP_BUCKETS + 1);
		zero(&m->sum_us, 1);
	}
	zero(&cache_hits, 1);
	zero(&cache_misses, 1);
	zero(guards, METRICS_N_GUARDS);
	zero(reloads, 2);
}
