/*
 * ldapload.c - slapd's own search rate, for comparison with nsmilter.
 *
 * An asynchronous libldap client: for every directory given (-H ... with
 * its -b, -f, -D, -y, -a), C connections, each keeping O searches
 * outstanding (ldap_search_ext, results collected with ldap_result under
 * one poll loop).  The filter template is expanded exactly as nsmilter
 * does (ldapfilter_expand from the nsmilter core: %s %u %d, RFC 4515
 * escaping), with addresses from a list file taken in order.
 *
 *   ldapload [-c CONNS] [-o OUTSTANDING] [-d SECONDS] [-W WARMUP] -l FILE
 *            -H URI -b BASE -f FILTER [-D DN -y PASSWORD-FILE] [-a ATTR]
 *            [-H URI ...]
 *
 * Reports searches per second, found / not found / errors and the latency
 * of each search (p50, p99, p99.9) per directory and in total.  The last
 * line is for scripts:
 *   RESULT rate=TOTAL-SEARCHES/s per_dir=RATE/NDIRS p50_ms=.. p99_ms=..
 *          p999_ms=.. searches=N errors=N
 * "per_dir" is the rate at which every directory can be asked once: the
 * ceiling for decisions that each need one search in every directory.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldap.h>

#include "addrlist.h"
#include "decision/address.h"
#include "directory/ldap/ldap_filter.h"
#include "hist.h"

#define MAX_TARGETS 8
#define MAX_OUT 64

struct target {
	const char *uri, *base, *filter, *binddn, *pwfile, *attr;
	char *password;
	char *attrs[2];
	size_t next;            /* next address of the list */
	uint64_t done, found, notfound, errors;
	struct hist h;
};

struct lconn {
	LDAP *ld;
	int fd;
	struct target *t;
	int msgid[MAX_OUT];
	uint64_t t0[MAX_OUT];
	bool dead;
};

static struct target targets[MAX_TARGETS];
static int n_targets;
static struct addrlist addrs;
static unsigned conns_per = 4, outstanding = 1;
static double duration = 10, warmup = 1;
static uint64_t t_warm, t_stop;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ldapload [-c CONNS] [-o OUTSTANDING] [-d SECONDS] "
	    "[-W WARMUP] -l FILE\n"
	    "         -H URI -b BASE -f FILTER [-D DN -y PWFILE] [-a ATTR] "
	    "[-H URI ...]\n");
	exit(64);
}

static char *
read_password(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		fprintf(stderr, "ldapload: %s: %s\n", path, strerror(errno));
		exit(66);
	}
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		fprintf(stderr, "ldapload: %s: empty\n", path);
		exit(66);
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int
conn_open(struct lconn *c, struct target *t)
{
	int version = LDAP_VERSION3, rc;
	struct berval cred = { 0, NULL };

	memset(c, 0, sizeof(*c));
	c->t = t;
	for (unsigned i = 0; i < MAX_OUT; i++)
		c->msgid[i] = -1;
	if ((rc = ldap_initialize(&c->ld, t->uri)) != LDAP_SUCCESS) {
		fprintf(stderr, "ldapload: %s: %s\n", t->uri,
		    ldap_err2string(rc));
		return -1;
	}
	ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	if (t->password != NULL) {
		cred.bv_val = t->password;
		cred.bv_len = strlen(t->password);
	}
	rc = ldap_sasl_bind_s(c->ld, t->binddn ? t->binddn : "",
	    LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		fprintf(stderr, "ldapload: bind to %s: %s\n", t->uri,
		    ldap_err2string(rc));
		return -1;
	}
	if (ldap_get_option(c->ld, LDAP_OPT_DESC, &c->fd) != LDAP_OPT_SUCCESS) {
		fprintf(stderr, "ldapload: %s: no descriptor\n", t->uri);
		return -1;
	}
	return 0;
}

/* Start a search in slot I of C. */
static int
search_start(struct lconn *c, unsigned i)
{
	struct target *t = c->t;
	const char *addr = addrs.v[t->next++ % addrs.n];
	char *filter = ldapfilter_expand(t->filter, addr);
	int rc;

	if (filter == NULL) {
		fprintf(stderr, "ldapload: bad filter %s\n", t->filter);
		return -1;
	}
	c->t0[i] = hist_now_ns();
	rc = ldap_search_ext(c->ld, t->base, LDAP_SCOPE_SUBTREE, filter,
	    t->attrs, 0, NULL, NULL, NULL, 0, &c->msgid[i]);
	free(filter);
	if (rc != LDAP_SUCCESS) {
		fprintf(stderr, "ldapload: search on %s: %s\n", t->uri,
		    ldap_err2string(rc));
		c->msgid[i] = -1;
		return -1;
	}
	return 0;
}

/* Collect every finished search of C and start the next ones. */
static void
conn_drain(struct lconn *c, bool restart)
{
	struct timeval zero = { 0, 0 };
	LDAPMessage *res;
	int rc;

	while ((rc = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ALL, &zero,
	    &res)) > 0) {
		int id = ldap_msgid(res), err = LDAP_OTHER;
		uint64_t now = hist_now_ns();
		unsigned i;

		for (i = 0; i < outstanding; i++)
			if (c->msgid[i] == id)
				break;
		if (i == outstanding || rc != LDAP_RES_SEARCH_RESULT) {
			/* LDAP_MSG_ALL returns whole searches only. */
			ldap_msgfree(res);
			continue;
		}
		if (ldap_parse_result(c->ld, res, &err, NULL, NULL, NULL,
		    NULL, 0) != LDAP_SUCCESS)
			err = LDAP_OTHER;
		if (c->t0[i] >= t_warm && now <= t_stop) {
			c->t->done++;
			if (err != LDAP_SUCCESS)
				c->t->errors++;
			else if (ldap_count_entries(c->ld, res) > 0)
				c->t->found++;
			else
				c->t->notfound++;
			hist_add(&c->t->h, now - c->t0[i]);
		}
		ldap_msgfree(res);
		c->msgid[i] = -1;
		if (restart && search_start(c, i) != 0) {
			c->dead = true;
			return;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "ldapload: %s: connection lost\n", c->t->uri);
		c->dead = true;
	}
}

static void
print_line(const char *name, uint64_t done, uint64_t found,
    uint64_t notfound, uint64_t errors, const struct hist *h, double secs)
{
	printf("ldapload: %-28s %8.0f searches/s (%" PRIu64 ": found %"
	    PRIu64 ", not found %" PRIu64 ", errors %" PRIu64 ")  "
	    "ms p50 %.3f p99 %.3f p99.9 %.3f\n", name, (double)done / secs,
	    done, found, notfound, errors,
	    (double)hist_quantile(h, 0.5) / 1e6,
	    (double)hist_quantile(h, 0.99) / 1e6,
	    (double)hist_quantile(h, 0.999) / 1e6);
}

int
main(int argc, char **argv)
{
	const char *list = NULL;
	struct target *cur = NULL;
	struct lconn *conns;
	struct pollfd *pfd;
	size_t nconns;
	struct hist *all;
	uint64_t done = 0, errors = 0, found = 0, notfound = 0;
	double secs;
	int ch;

	while ((ch = getopt(argc, argv, "c:o:d:W:l:H:b:f:D:y:a:h")) != -1) {
		switch (ch) {
		case 'c': conns_per = (unsigned)atoi(optarg); break;
		case 'o': outstanding = (unsigned)atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'W': warmup = atof(optarg); break;
		case 'l': list = optarg; break;
		case 'H':
			if (n_targets == MAX_TARGETS)
				usage();
			cur = &targets[n_targets++];
			cur->uri = optarg;
			cur->filter = "(mail=%s)";
			break;
		case 'b': if (!cur) usage(); cur->base = optarg; break;
		case 'f': if (!cur) usage(); cur->filter = optarg; break;
		case 'D': if (!cur) usage(); cur->binddn = optarg; break;
		case 'y': if (!cur) usage(); cur->pwfile = optarg; break;
		case 'a': if (!cur) usage(); cur->attr = optarg; break;
		default: usage();
		}
	}
	if (list == NULL || n_targets == 0 || optind != argc ||
	    conns_per < 1 || conns_per > 256 || outstanding < 1 ||
	    outstanding > MAX_OUT || duration <= 0 || duration > 3600 ||
	    warmup < 0)
		usage();
	if (addrlist_load(&addrs, list) != 0)
		return 66;
	nconns = (size_t)n_targets * conns_per;
	conns = calloc(nconns, sizeof(*conns));
	pfd = calloc(nconns, sizeof(*pfd));
	all = calloc(1, sizeof(*all));
	if (conns == NULL || pfd == NULL || all == NULL)
		return 71;
	for (int i = 0; i < n_targets; i++) {
		struct target *t = &targets[i];
		if (t->base == NULL)
			usage();
		if (t->pwfile != NULL)
			t->password = read_password(t->pwfile);
		t->attrs[0] = (char *)(t->attr ? t->attr : "1.1");
		/* Each directory starts at another place of the list. */
		t->next = (size_t)i * (addrs.n / (size_t)n_targets);
	}
	for (size_t i = 0; i < nconns; i++)
		if (conn_open(&conns[i], &targets[i % (size_t)n_targets]) != 0)
			return 69;
	t_warm = hist_now_ns() + (uint64_t)(warmup * 1e9);
	t_stop = t_warm + (uint64_t)(duration * 1e9);
	for (size_t i = 0; i < nconns; i++)
		for (unsigned j = 0; j < outstanding; j++)
			if (search_start(&conns[i], j) != 0)
				conns[i].dead = true;
	while (hist_now_ns() < t_stop) {
		size_t live = 0;
		for (size_t i = 0; i < nconns; i++) {
			pfd[i].fd = conns[i].dead ? -1 : conns[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			live += !conns[i].dead;
		}
		if (live == 0)
			break;
		if (poll(pfd, nconns, 100) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < nconns; i++)
			if (!conns[i].dead && pfd[i].revents)
				conn_drain(&conns[i], true);
	}
	secs = duration;
	for (int i = 0; i < n_targets; i++) {
		struct target *t = &targets[i];
		print_line(t->uri, t->done, t->found, t->notfound, t->errors,
		    &t->h, secs);
		done += t->done;
		found += t->found;
		notfound += t->notfound;
		errors += t->errors;
		hist_merge(all, &t->h);
	}
	print_line("all directories", done, found, notfound, errors, all,
	    secs);
	printf("ldapload: %d directories x %u connections x %u outstanding, "
	    "%.1fs (after %.1fs warm-up), %zu addresses\n", n_targets,
	    conns_per, outstanding, duration, warmup, addrs.n);
	printf("RESULT rate=%.1f per_dir=%.1f p50_ms=%.3f p99_ms=%.3f "
	    "p999_ms=%.3f searches=%" PRIu64 " found=%" PRIu64
	    " notfound=%" PRIu64 " errors=%" PRIu64 "\n",
	    (double)done / secs, (double)done / secs / n_targets,
	    (double)hist_quantile(all, 0.5) / 1e6,
	    (double)hist_quantile(all, 0.99) / 1e6,
	    (double)hist_quantile(all, 0.999) / 1e6, done, found, notfound,
	    errors);
	fflush(stdout);
	for (size_t i = 0; i < nconns; i++)
		ldap_unbind_ext(conns[i].ld, NULL, NULL);
	for (int i = 0; i < n_targets; i++)
		free(targets[i].password);
	free(conns);
	free(pfd);
	free(all);
	addrlist_free(&addrs);
	return errors > 0 ? 1 : 0;
}
