/*
 * dirlookup.c - drive the LDAP directory backend without the milter.
 *
 *   dirlookup -u URI [-u URI...] -b BASE -f FILTER [-s base|one|sub]
 *             [-a ATTR] [-D BINDDN -w PASSWORD] [-t TIMEOUT_MS] [-P POOL]
 *             [-Z] [-C CAFILE] [-k] [-T THREADS] [ADDRESS...]
 *
 * Without ADDRESS arguments, reads addresses from standard input, one a
 * line, answering each at once (the process and its connection pool live
 * on, for restart tests).  One line per address:
 *
 *   ADDRESS found [target=TARGET] ms=N
 *   ADDRESS notfound ms=N
 *   ADDRESS error error="TEXT" ms=N
 *
 * -T N looks every ADDRESS up from N threads at once, 20 times each, and
 * prints "threads=N lookups=M mismatches=K" (a mismatch is an answer that
 * differs from the first single-threaded one).  -Z is starttls = yes,
 * -k is tls_verify = no.  Exit status 0, or 2 for bad usage.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "config/config.h"
#include "directory/directory.h"

#define MAX_URIS 8
#define ROUNDS 20

static struct directory *dir;
static char **addrs;
static int n_addrs;
static struct directory_answer *want;

static void
answer(const char *addr)
{
	struct directory_answer a;
	uint64_t t0 = clock_us();
	double ms;

	directory_lookup(dir, addr, &a);
	ms = clock_ms_since(t0);
	switch (a.status) {
	case DIRECTORY_FOUND:
		printf("%s found", addr);
		if (a.target != NULL)
			printf(" target=%s", a.target);
		break;
	case DIRECTORY_NOTFOUND:
		printf("%s notfound", addr);
		break;
	default:
		printf("%s error error=\"%s\"", addr,
		    a.error != NULL ? a.error : "");
		break;
	}
	printf(" ms=%.0f\n", ms);
	fflush(stdout);
	directory_answer_clear(&a);
}

static int
same(const struct directory_answer *a, const struct directory_answer *b)
{
	if (a->status != b->status)
		return 0;
	if ((a->target == NULL) != (b->target == NULL))
		return 0;
	return a->target == NULL || strcmp(a->target, b->target) == 0;
}

static void *
worker(void *arg)
{
	long *mismatches = arg;
	int r, i;

	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < n_addrs; i++) {
			struct directory_answer a;

			directory_lookup(dir, addrs[i], &a);
			if (!same(&a, &want[i]))
				(*mismatches)++;
			directory_answer_clear(&a);
		}
	}
	return NULL;
}

static int
threads(int n)
{
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	long *mism = calloc((size_t)n, sizeof(*mism));
	long total = 0;
	int i;

	want = calloc((size_t)n_addrs, sizeof(*want));
	if (t == NULL || mism == NULL || want == NULL)
		return 1;
	for (i = 0; i < n_addrs; i++)
		directory_lookup(dir, addrs[i], &want[i]);
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, &mism[i]);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += mism[i];
	}
	printf("threads=%d lookups=%d mismatches=%ld\n", n,
	    n * ROUNDS * n_addrs, total);
	for (i = 0; i < n_addrs; i++)
		directory_answer_clear(&want[i]);
	free(want);
	free(mism);
	free(t);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dirlookup -u URI -b BASE -f FILTER [-s scope] "
	    "[-a ATTR] [-D DN -w PW] [-t MS] [-P POOL] [-Z] [-C CA] [-k] "
	    "[-T THREADS] [ADDRESS...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static char *uris[MAX_URIS];
	struct directory_config cfg;
	char line[1024];
	int ch, n_threads = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "test";
	cfg.scope = CONFIG_SCOPE_SUB;
	cfg.timeout_ms = 2000;
	cfg.tls_verify = true;
	cfg.pool_size = 2;
	cfg.uri.v = uris;
	while ((ch = getopt(argc, argv, "u:b:f:s:a:D:w:t:P:ZC:kT:")) != -1) {
		switch (ch) {
		case 'u':
			if (cfg.uri.n == MAX_URIS)
				usage();
			uris[cfg.uri.n++] = optarg;
			break;
		case 'b': cfg.base = optarg; break;
		case 'f': cfg.filter = optarg; break;
		case 's':
			if (strcmp(optarg, "base") == 0)
				cfg.scope = CONFIG_SCOPE_BASE;
			else if (strcmp(optarg, "one") == 0)
				cfg.scope = CONFIG_SCOPE_ONE;
			else if (strcmp(optarg, "sub") == 0)
				cfg.scope = CONFIG_SCOPE_SUB;
			else
				usage();
			break;
		case 'a': cfg.target_attribute = optarg; break;
		case 'D': cfg.bind_dn = optarg; break;
		case 'w': cfg.bind_password = optarg; break;
		case 't': cfg.timeout_ms = (unsigned)atoi(optarg); break;
		case 'P': cfg.pool_size = (unsigned)atoi(optarg); break;
		case 'Z': cfg.starttls = true; break;
		case 'C': cfg.tls_ca_file = optarg; break;
		case 'k': cfg.tls_verify = false; break;
		case 'T': n_threads = atoi(optarg); break;
		default: usage();
		}
	}
	if (cfg.uri.n == 0 || cfg.base == NULL || cfg.filter == NULL)
		usage();
	addrs = argv + optind;
	n_addrs = argc - optind;
	if ((dir = directory_open(directory_backend_lookup("ldap"), &cfg)) == NULL) {
		fprintf(stderr, "dirlookup: cannot open the directory\n");
		return 1;
	}
	if (n_threads > 0 && n_addrs > 0) {
		threads(n_threads);
	} else if (n_addrs > 0) {
		int i;

		for (i = 0; i < n_addrs; i++)
			answer(addrs[i]);
	} else {
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] != '\0')
				answer(line);
		}
	}
	directory_close(dir);
	return 0;
}
