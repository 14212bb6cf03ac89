/*
 * metricsfmt.c - what the metrics cost: formatting one /metrics
 * exposition, and the counting an RCPT does.
 *
 *   metricsfmt [-d DOMAINS] [-r DIRECTORIES] [-n ITERATIONS] [-t THREADS]
 *
 * Registers DOMAINS shared domains and DIRECTORIES directories (as a
 * configuration would), counts some decisions and lookups so every number
 * has digits, then formats the exposition ITERATIONS times.  Then THREADS
 * threads (default 2) each count ITERATIONS x 100 uncached RCPTs of a
 * domain with two directories: the domain found by name (as the milter
 * does), one decision, two directory queries with their histogram, the
 * cache misses.  Prints
 *   RESULT bytes=B us_per_scrape=U lines=L ns_per_rcpt=N threads=T
 * The HTTP side (libmicrohttpd, the socket) is measured by bench/metrics.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/metrics.h"

static long rcpts_per_thread;

/* What the milter counts for one uncached RCPT of a domain with two
 * directories. */
static void *
count_rcpts(void *arg)
{
	struct metrics_directory *a = metrics_directory("directory0");
	struct metrics_directory *b = metrics_directory("directory1");

	(void)arg;
	for (long i = 0; i < rcpts_per_thread; i++) {
		metrics_decision(metrics_domain("shared0.corp.example"),
		    METRICS_ACCEPT);
		metrics_lookup(a, METRICS_FOUND, 300 + (uint64_t)(i & 1023));
		metrics_lookup(b, METRICS_NOTFOUND, 400);
		metrics_cache(0, 2);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int ndom = 10, ndir = 6, iters = 20000, nthreads = 2, ch;
	pthread_t tid[64];
	size_t len = 0, lines = 0;
	char name[64], *text;
	uint64_t t0, t1;

	while ((ch = getopt(argc, argv, "d:r:n:t:")) != -1) {
		switch (ch) {
		case 'd': ndom = atoi(optarg); break;
		case 'r': ndir = atoi(optarg); break;
		case 'n': iters = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: metricsfmt [-d DOMAINS] "
			    "[-r DIRECTORIES] [-n ITERATIONS] [-t THREADS]\n");
			return 64;
		}
	}
	if (ndom < 1 || ndir < 2 || iters < 1 || nthreads < 1 ||
	    nthreads > 64)
		return 64;
	for (int i = 0; i < ndom; i++) {
		snprintf(name, sizeof(name), "shared%d.corp.example", i);
		for (int k = 0; k < 1000 * (i + 1); k++)
			metrics_decision(metrics_domain(name),
			    (enum metrics_action)(k % METRICS_N_ACTIONS));
	}
	for (int i = 0; i < ndir; i++) {
		snprintf(name, sizeof(name), "directory%d", i);
		for (int k = 0; k < 10000; k++)
			metrics_lookup(metrics_directory(name),
			    (enum metrics_result)(k % METRICS_N_RESULTS),
			    (uint64_t)(k % 5000) * 10);
	}
	metrics_cache(123456, 7890);
	text = metrics_format(&len);
	for (const char *p = text; p && *p; p++)
		lines += *p == '\n';
	free(text);
	t0 = clock_us();
	for (int i = 0; i < iters; i++)
		free(metrics_format(NULL));
	t1 = clock_us();
	printf("RESULT bytes=%zu us_per_scrape=%.1f lines=%zu", len,
	    (double)(t1 - t0) / iters, lines);

	rcpts_per_thread = (long)iters * 100;
	t0 = clock_us();
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&tid[i], NULL, count_rcpts, NULL) != 0)
			return 71;
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	t1 = clock_us();
	/* Wall time per RCPT of one thread: what each RCPT waits. */
	printf(" ns_per_rcpt=%.1f threads=%d\n",
	    (double)(t1 - t0) * 1000.0 / (double)rcpts_per_thread, nthreads);
	return 0;
}
