/*
 * test_metrics.c - unit tests for the metrics registry and its text
 * exposition (base/metrics.c).
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/metrics.h"

static int
reset(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

/* Fail unless the exposition has LINE as a whole line. */
static void
expect_line(const char *line)
{
	size_t len, n = strlen(line);
	char *text = metrics_format(&len);
	const char *p;

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n') {
			free(text);
			return;
		}
	fail_msg("exposition lacks the line\n  %s\ngot:\n%s", line, text);
}

static void
expect_no_text(const char *needle)
{
	char *text = metrics_format(NULL);

	assert_non_null(text);
	if (strstr(text, needle) != NULL)
		fail_msg("exposition has %s, want none:\n%s", needle, text);
	free(text);
}

static void
test_decisions(void **state)
{
	struct metrics_domain *d = metrics_domain("corp.example");

	(void)state;
	assert_non_null(d);
	assert_ptr_equal(metrics_domain("corp.example"), d);
	metrics_decision(d, METRICS_ROUTE);
	metrics_decision(d, METRICS_ROUTE);
	metrics_decision(d, METRICS_REJECT);
	metrics_conflict(d);
	metrics_decision(NULL, METRICS_ACCEPT);   /* ignored */
	expect_line("# TYPE nsmilter_decisions_total counter");
	expect_line("nsmilter_decisions_total{domain=\"corp.example\","
	    "action=\"route\"} 2");
	expect_line("nsmilter_decisions_total{domain=\"corp.example\","
	    "action=\"reject\"} 1");
	/* Every action of a known domain, zero included. */
	expect_line("nsmilter_decisions_total{domain=\"corp.example\","
	    "action=\"accept\"} 0");
	expect_line("nsmilter_decisions_total{domain=\"corp.example\","
	    "action=\"tempfail\"} 0");
	expect_line("nsmilter_conflicts_total{domain=\"corp.example\"} 1");
}

static void
test_process_counters(void **state)
{
	(void)state;
	metrics_cache(3, 1);
	metrics_cache(0, 2);
	metrics_guard(METRICS_GUARD_HARVEST);
	metrics_guard(METRICS_GUARD_LOOP);
	metrics_guard(METRICS_GUARD_LOOP);
	metrics_reload(true);
	metrics_reload(false);
	metrics_reload(true);
	expect_line("nsmilter_cache_hits_total 3");
	expect_line("nsmilter_cache_misses_total 3");
	expect_line("nsmilter_cache_entries 0");
	expect_line("nsmilter_guard_total{guard=\"harvest\"} 1");
	expect_line("nsmilter_guard_total{guard=\"loop\"} 2");
	expect_line("nsmilter_reloads_total{result=\"ok\"} 2");
	expect_line("nsmilter_reloads_total{result=\"failed\"} 1");
	expect_line("nsmilter_build_info{version=\"" NSMILTER_VERSION "\"} 1");
}

/* Label values: backslash, double quote and newline are escaped. */
static void
test_label_escaping(void **state)
{
	struct metrics_directory *m = metrics_directory("a\\b\"c\nd");

	(void)state;
	metrics_lookup(m, METRICS_FOUND, 1000);
	expect_line("nsmilter_directory_lookups_total{directory="
	    "\"a\\\\b\\\"c\\nd\",result=\"found\"} 1");
	expect_line("nsmilter_directory_lookup_seconds_count{directory="
	    "\"a\\\\b\\\"c\\nd\"} 1");
	expect_no_text("a\\b\"c\nd");
}

static void
test_histogram(void **state)
{
	static const struct {
		uint64_t us;
		const char *le;   /* the smallest bucket that holds it */
	} cases[] = {
		{ .us = 0, .le = "0.0005" },
		{ .us = 500, .le = "0.0005" },       /* le is inclusive */
		{ .us = 501, .le = "0.001" },
		{ .us = 3000, .le = "0.005" },
		{ .us = 1000000, .le = "1" },
		{ .us = 5000000, .le = "5" },
		{ .us = 5000001, .le = "+Inf" },
	};
	static const char *const les[] = {
		"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
		"0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"
	};
	struct metrics_directory *m = metrics_directory("hq");
	uint64_t sum = 0;
	char line[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_lookup(m, i % 2 ? METRICS_NOTFOUND : METRICS_FOUND,
		    cases[i].us);
		sum += cases[i].us;
	}
	metrics_lookup(m, METRICS_ERROR, 0);
	expect_line("# TYPE nsmilter_directory_lookup_seconds histogram");
	/* Cumulative: each bucket holds every case at or below it. */
	for (size_t b = 0; b < sizeof(les) / sizeof(les[0]); b++) {
		unsigned want = 1;   /* the error lookup, 0 ns */
		size_t c;

		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			size_t k = 0;

			while (strcmp(les[k], cases[c].le) != 0)
				k++;
			if (k <= b)
				want++;
		}
		snprintf(line, sizeof(line), "nsmilter_directory_lookup_"
		    "seconds_bucket{directory=\"hq\",le=\"%s\"} %u", les[b],
		    want);
		expect_line(line);
	}
	expect_line("nsmilter_directory_lookup_seconds_count{directory=\"hq\"} 8");
	snprintf(line, sizeof(line), "nsmilter_directory_lookup_seconds_sum"
	    "{directory=\"hq\"} %.6f", (double)sum / 1e6);
	expect_line(line);
	expect_line("nsmilter_directory_lookups_total{directory=\"hq\","
	    "result=\"found\"} 4");
	expect_line("nsmilter_directory_lookups_total{directory=\"hq\","
	    "result=\"notfound\"} 3");
	expect_line("nsmilter_directory_lookups_total{directory=\"hq\","
	    "result=\"error\"} 1");
}

static double
fixed_gauge(void *ctx)
{
	return *(double *)ctx;
}

static void
test_gauges(void **state)
{
	double entries = 42, age = 1.5, other = 7, none = NAN;

	(void)state;
	metrics_set_gauge_fn(METRICS_CACHE_ENTRIES, NULL, fixed_gauge,
	    &entries);
	metrics_set_gauge_fn(METRICS_MIRROR_ENTRIES, "hq", fixed_gauge,
	    &entries);
	metrics_set_gauge_fn(METRICS_MIRROR_AGE_SECONDS, "hq", fixed_gauge,
	    &age);
	metrics_set_gauge_fn(METRICS_MIRROR_AGE_SECONDS, "legacy",
	    fixed_gauge, &none);
	expect_line("nsmilter_cache_entries 42");
	expect_line("nsmilter_mirror_entries{directory=\"hq\"} 42");
	expect_line("nsmilter_mirror_age_seconds{directory=\"hq\"} 1.500000");
	/* NaN: no value now, no line. */
	expect_no_text("nsmilter_mirror_age_seconds{directory=\"legacy\"}");

	/* A reload: the new snapshot sets, then the old one clears. */
	metrics_set_gauge_fn(METRICS_MIRROR_ENTRIES, "hq", fixed_gauge,
	    &other);
	metrics_clear_gauge_fn(METRICS_MIRROR_ENTRIES, "hq", &entries);
	expect_line("nsmilter_mirror_entries{directory=\"hq\"} 7");
	metrics_clear_gauge_fn(METRICS_MIRROR_ENTRIES, "hq", &other);
	expect_no_text("nsmilter_mirror_entries{");
	metrics_clear_gauge_fn(METRICS_CACHE_ENTRIES, NULL, &entries);
	expect_line("nsmilter_cache_entries 0");
	metrics_clear_gauge_fn(METRICS_MIRROR_AGE_SECONDS, "hq", &age);
	metrics_clear_gauge_fn(METRICS_MIRROR_AGE_SECONDS, "legacy", &none);
}

#define THREADS 8
#define ROUNDS 20000

static void *
count_thread(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	char name[32];

	for (unsigned i = 0; i < ROUNDS; i++) {
		/* Find-or-add while others count: a reload adds domains. */
		snprintf(name, sizeof(name), "d%u.example", i % 16);
		metrics_decision(metrics_domain(name), METRICS_ACCEPT);
		metrics_decision(metrics_domain("corp.example"),
		    (enum metrics_action)((i + t) % METRICS_N_ACTIONS));
		metrics_lookup(metrics_directory("hq"), METRICS_FOUND,
		    (uint64_t)(i % 7) * 1000u);
		metrics_cache(1, 1);
	}
	return NULL;
}

static void *
scrape_thread(void *arg)
{
	volatile int *stop = arg;

	while (!*stop)
		free(metrics_format(NULL));
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t tid[THREADS], scraper;
	volatile int stop = 0;
	char line[160];

	(void)state;
	assert_int_equal(pthread_create(&scraper, NULL, scrape_thread,
	    (void *)&stop), 0);
	for (uintptr_t t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&tid[t], NULL, count_thread,
		    (void *)t), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(tid[t], NULL);
	stop = 1;
	pthread_join(scraper, NULL);

	/* Nothing lost: every add is counted once. */
	snprintf(line, sizeof(line), "nsmilter_decisions_total{domain="
	    "\"d3.example\",action=\"accept\"} %u", THREADS * ROUNDS / 16);
	expect_line(line);
	for (int a = 0; a < METRICS_N_ACTIONS; a++) {
		static const char *const names[] = {
			"accept", "route", "reject", "tempfail"
		};
		snprintf(line, sizeof(line), "nsmilter_decisions_total{domain="
		    "\"corp.example\",action=\"%s\"} %u", names[a],
		    THREADS * ROUNDS / METRICS_N_ACTIONS);
		expect_line(line);
	}
	snprintf(line, sizeof(line), "nsmilter_directory_lookup_seconds_count"
	    "{directory=\"hq\"} %u", THREADS * ROUNDS);
	expect_line(line);
	snprintf(line, sizeof(line), "nsmilter_cache_hits_total %u",
	    THREADS * ROUNDS);
	expect_line(line);
	/* Each name was added once, whatever the race. */
	{
		char *text = metrics_format(NULL);
		int n = 0;

		for (const char *p = text; (p = strstr(p,
		    "{domain=\"d5.example\",action=\"route\"}")) != NULL; p++)
			n++;
		free(text);
		assert_int_equal(n, 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_decisions, reset),
		cmocka_unit_test_setup(test_process_counters, reset),
		cmocka_unit_test_setup(test_label_escaping, reset),
		cmocka_unit_test_setup(test_histogram, reset),
		cmocka_unit_test_setup(test_gauges, reset),
		cmocka_unit_test_setup(test_threads, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
