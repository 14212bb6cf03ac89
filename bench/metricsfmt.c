/*
 * metricsfmt.c - what formatting one /metrics exposition costs.
 *
 *   metricsfmt [-d DOMAINS] [-r DIRECTORIES] [-n ITERATIONS]
 *
 * Registers DOMAINS shared domains and DIRECTORIES directories (as a
 * configuration would), counts some decisions and lookups so every number
 * has digits, then formats the exposition ITERATIONS times.  Prints
 *   RESULT bytes=B us_per_scrape=U series=S
 * The HTTP side (libmicrohttpd, the socket) is measured by bench/metrics.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/metrics.h"

int
main(int argc, char **argv)
{
	int ndom = 10, ndir = 6, iters = 20000, ch;
	size_t len = 0, lines = 0;
	char name[64], *text;
	uint64_t t0, t1;

	while ((ch = getopt(argc, argv, "d:r:n:")) != -1) {
		switch (ch) {
		case 'd': ndom = atoi(optarg); break;
		case 'r': ndir = atoi(optarg); break;
		case 'n': iters = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: metricsfmt [-d DOMAINS] "
			    "[-r DIRECTORIES] [-n ITERATIONS]\n");
			return 64;
		}
	}
	if (ndom < 1 || ndir < 1 || iters < 1)
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
	printf("RESULT bytes=%zu us_per_scrape=%.1f lines=%zu\n", len,
	    (double)(t1 - t0) / iters, lines);
	return 0;
}
