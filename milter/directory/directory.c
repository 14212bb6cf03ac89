/*
 * directory.c - the generic side of the directory interface: answers and
 * the calls every backend (the LDAP backend, test fakes) is used through.
 * Every query a backend answers passes here, so this is where each one is
 * counted and timed for the metrics (nsmilter_directory_lookups_total and
 * the lookup histogram); answers from the cache never reach a backend.
 */
#include <stdlib.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "config/config.h"
#include "directory/directory.h"

/* A new answer, before the backend fills it: an error until it says more. */
static void
answer_reset(struct directory_answer *out)
{
	out->status = DIRECTORY_ERROR;
	out->target = NULL;
	out->error = NULL;
	out->cached = 0;
	out->entries = 0;
	out->ambiguous = 0;
	out->source = NULL;
}

/* A finished answer keeps a target only when found. */
static void
answer_done(struct directory_answer *out)
{
	if (out->status != DIRECTORY_FOUND) {
		free(out->target);
		out->target = NULL;
	}
}

/* Count OUT, a finished query of a directory with series M. */
static void
count_query(struct metrics_directory *m, const struct directory_answer *out,
    uint64_t started_us)
{
	enum metrics_result r = out->status == DIRECTORY_FOUND ? METRICS_FOUND :
	    out->status == DIRECTORY_NOTFOUND ? METRICS_NOTFOUND : METRICS_ERROR;

	metrics_lookup(m, r, clock_us() - started_us);
}

/* Free what A holds and leave it "not found", ready for another lookup. */
void
directory_answer_clear(struct directory_answer *a)
{
	if (a == NULL)
		return;
	free(a->target);
	free(a->error);
	answer_reset(a);
	a->status = DIRECTORY_NOTFOUND;
}

/* The backend's open; NULL when it fails (bad configuration, no memory). */
struct directory *
directory_open(const struct directory_ops *ops,
    const struct directory_config *cfg)
{
	struct directory *d;

	if (ops == NULL || ops->open == NULL)
		return NULL;
	if ((d = ops->open(cfg)) != NULL) {
		d->ops = ops;
		d->cfg = cfg;
		d->metrics = metrics_directory(cfg->name);
	}
	return d;
}

/*
 * Look ADDRESS up in D.  OUT is overwritten (it must hold nothing to free:
 * new, or cleared with directory_answer_clear) and always has an outcome: a
 * backend that sets none gives DIRECTORY_ERROR.
 */
void
directory_lookup(struct directory *d, const char *address,
    struct directory_answer *out)
{
	uint64_t t0 = clock_us();

	answer_reset(out);
	if (d == NULL || d->ops == NULL || d->ops->lookup == NULL)
		return;
	d->ops->lookup(d, address, out);
	answer_done(out);
	count_query(d->metrics, out, t0);
}

static int
has_async(const struct directory *d)
{
	const struct directory_ops *o = d->ops;

	return o->start != NULL && o->fd != NULL && o->poll != NULL &&
	    o->abandon != NULL;
}

struct directory_op *
directory_start(struct directory *d, const char *address,
    struct directory_answer *out)
{
	struct directory_op *op;
	uint64_t t0;

	if (d == NULL || d->ops == NULL || !has_async(d)) {
		directory_lookup(d, address, out);
		return NULL;
	}
	answer_reset(out);
	t0 = clock_us();
	if ((op = d->ops->start(d, address, out)) == NULL) {
		answer_done(out);
		count_query(d->metrics, out, t0);
	} else
		op->started_us = t0;
	return op;
}

int
directory_op_fd(struct directory_op *op)
{
	return op->dir->ops->fd(op);
}

int
directory_op_poll(struct directory_op *op, struct directory_answer *out)
{
	/* A finished poll frees OP. */
	struct metrics_directory *m = op->dir->metrics;
	uint64_t t0 = op->started_us;

	if (op->dir->ops->poll(op, out) == 0)
		return 0;
	answer_done(out);
	count_query(m, out, t0);
	return 1;
}

void
directory_op_abandon(struct directory_op *op, struct directory_answer *out)
{
	struct metrics_directory *m = op->dir->metrics;
	uint64_t t0 = op->started_us;

	op->dir->ops->abandon(op, out);
	answer_done(out);
	count_query(m, out, t0);
}

void
directory_close(struct directory *d)
{
	if (d != NULL && d->ops != NULL && d->ops->close != NULL)
		d->ops->close(d);
}
