/*
 * report.c - nsmilter -r, the merger reconciliation report (README
 * "Command line"): every address of every directory of the shared
 * domains, each decided by decide_recipient() as a RCPT for it would be,
 * with a lookup that answers from the addresses read.  So precedence,
 * subdomains, the recipient delimiter, target addresses followed inside
 * the shared domains and routing loops are the milter's own, and the
 * report cannot disagree with it.
 *
 * Memory and time: the addresses are one sorted array (report_table.c);
 * each address is decided once, each of its lookups a binary search, and
 * the findings come out of one pass over the array, already sorted by
 * address.  No pass is quadratic in the number of entries.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/log.h"
#include "base/xfmt.h"
#include "decision/decide.h"
#include "frontend/report.h"
#include "frontend/report_read.h"
#include "frontend/report_table.h"

struct lookup_ctx {
	const struct report_table *t;
	bool nomem;
};

/* What a directory answers for ADDRESS: the tuples that have it. */
static void
table_lookup(void *ctx, const struct domain_config *dom, const char *address,
    struct directory_answer *answers)
{
	struct lookup_ctx *c = ctx;
	const struct report_tuple *g = NULL;
	size_t n = 0, len = strlen(address);
	char *key = malloc(len + 1);

	if (key != NULL) {
		/* As the mirror stores addresses: ASCII lowercase. */
		for (size_t i = 0; i <= len; i++)
			key[i] = (address[i] >= 'A' && address[i] <= 'Z') ?
			    (char)(address[i] - 'A' + 'a') : address[i];
		g = report_table_find(c->t, key, &n);
		free(key);
	} else
		c->nomem = true;
	for (size_t i = 0; i < dom->n_dirs; i++) {
		if (key != NULL && report_table_answer(g, n,
		    (uint32_t)dom->dirs[i]->index, &answers[i]) == 0)
			continue;
		c->nomem = true;
		answers[i].status = DIRECTORY_ERROR;
		answers[i].error = strdup("out of memory");
	}
}

/* The domain part of ADDRESS (after the last '@'), or "". */
static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

/* Entries of directory DIR among the tuples G[0..N-1] of one address. */
static unsigned
entries_of(const struct report_tuple *g, size_t n, size_t dir,
    const char **target)
{
	unsigned entries = 0;

	for (size_t i = 0; i < n; i++)
		if (g[i].dir == dir && entries++ == 0 && target != NULL)
			*target = g[i].target;
	return entries;
}

static bool
domain_lists(const struct domain_config *dom, size_t dir)
{
	for (size_t i = 0; dom != NULL && i < dom->n_dirs; i++)
		if (dom->dirs[i]->index == dir)
			return true;
	return false;
}

/*
 * Decide the address of the tuples G[0..N-1] and print its findings:
 * conflict, duplicates, loop, then outside.  Returns the number of
 * findings that must be settled (conflict, duplicate, loop), or -1 when
 * out of memory.
 */
static int
report_address(const struct config *cfg, const struct report_table *t,
    const struct report_tuple *g, size_t n, FILE *out)
{
	const struct domain_config *dom = config_find_domain(cfg,
	    domain_of(g[0].addr));
	char *addr = log_escape(g[0].addr);
	int settle = 0;
	bool decided = false;

	if (addr == NULL)
		return -1;
	for (size_t i = 0; dom != NULL && i < dom->n_dirs; i++)
		if (entries_of(g, n, dom->dirs[i]->index, NULL) > 0)
			decided = true;
	if (decided) {
		struct lookup_ctx c = { .t = t };
		struct decide_input in = { .rcpt = g[0].addr };
		struct decision d;

		decide_recipient(cfg, &in, table_lookup, &c, &d);
		if (c.nomem || d.reason == REASON_NOMEM) {
			decision_free(&d);
			free(addr);
			return -1;
		}
		if (d.conflict != NULL && d.directory != NULL) {
			const char *sep = "";

			fprintf(out, "conflict %s domain=%s directories=", addr,
			    dom->name);
			for (size_t i = 0; i < dom->n_dirs; i++)
				if (entries_of(g, n, dom->dirs[i]->index,
				    NULL) > 0) {
					fprintf(out, "%s%s", sep,
					    dom->dirs[i]->name);
					sep = ",";
				}
			fprintf(out, " winner=%s\n", d.directory->name);
			settle++;
		}
		for (size_t i = 0; i < dom->n_dirs; i++) {
			unsigned e = entries_of(g, n, dom->dirs[i]->index,
			    NULL);

			if (e > 1) {
				fprintf(out, "duplicate %s directory=%s "
				    "entries=%u\n", addr, dom->dirs[i]->name,
				    e);
				settle++;
			}
		}
		if (d.reason == REASON_LOOP && d.directory != NULL) {
			const char *target = NULL;
			char *et = NULL;

			entries_of(g, n, d.directory->index, &target);
			if (target != NULL && (et = log_escape(target)) == NULL) {
				decision_free(&d);
				free(addr);
				return -1;
			}
			fprintf(out, "loop %s directory=%s target=%s\n", addr,
			    d.directory->name, et != NULL ? et : "");
			free(et);
			settle++;
		}
		decision_free(&d);
	}
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && g[i].dir == g[i - 1].dir) ||
		    domain_lists(dom, g[i].dir))
			continue;
		fprintf(out, "outside %s directory=%s\n", addr,
		    cfg->directories[g[i].dir].name);
	}
	free(addr);
	return settle;
}

/* Which directories the shared domains list: USED[i] for directory i. */
static void
used_directories(const struct config *cfg, bool *used)
{
	for (size_t i = 0; i < cfg->n_domains; i++)
		for (size_t j = 0; j < cfg->domains[i].n_dirs; j++)
			used[cfg->domains[i].dirs[j]->index] = true;
}

static void
summary(const struct report_dir *rd, FILE *out)
{
	if (rd->skipped) {
		fprintf(out, "directory %s skipped reason=", rd->cfg->name);
		xfputquoted(out, rd->reason);
		fputc('\n', out);
		return;
	}
	fprintf(out, "directory %s entries=%llu addresses=%llu\n",
	    rd->cfg->name, (unsigned long long)rd->entries,
	    (unsigned long long)rd->addresses);
}

int
report_run(const struct config *cfg, FILE *out)
{
	struct report_table t;
	struct report_dir *rds;
	bool *used, skipped = false, nomem = false;
	int settle = 0;

	/* A server that goes away mid-read is an error, not the end. */
	signal(SIGPIPE, SIG_IGN);
	rds = calloc(cfg->n_directories + 1, sizeof(*rds));
	used = calloc(cfg->n_directories + 1, sizeof(*used));
	if (rds == NULL || used == NULL) {
		free(rds);
		free(used);
		fprintf(stderr, "nsmilter: out of memory\n");
		return EX_TEMPFAIL;
	}
	report_table_init(&t);
	used_directories(cfg, used);
	for (size_t i = 0; i < cfg->n_directories && !nomem; i++) {
		if (!used[i])
			continue;
		rds[i].cfg = &cfg->directories[i];
		if (report_read_directory(cfg, &t, &rds[i]) != 0)
			nomem = true;
		skipped |= rds[i].skipped;
	}
	/* Reading done: a reader that went away (| head) ends the report. */
	signal(SIGPIPE, SIG_DFL);
	report_table_sort(&t);
	for (size_t i = 0, j; i < t.n && !nomem; i = j) {
		int r;

		for (j = i + 1; j < t.n && strcmp(t.v[j].addr, t.v[i].addr)
		    == 0; j++)
			;
		if ((r = report_address(cfg, &t, &t.v[i], j - i, out)) < 0)
			nomem = true;
		else
			settle += r;
	}
	for (size_t i = 0; i < cfg->n_directories && !nomem; i++)
		if (used[i])
			summary(&rds[i], out);
	for (size_t i = 0; i < cfg->n_directories; i++)
		free(rds[i].reason);
	free(rds);
	free(used);
	report_table_free(&t);
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "nsmilter: cannot write the report\n");
		return EX_IOERR;
	}
	if (nomem) {
		fprintf(stderr, "nsmilter: out of memory\n");
		return EX_TEMPFAIL;
	}
	if (skipped)
		return EX_TEMPFAIL;
	return settle > 0 ? 1 : 0;
}
