/*
 * directory.c - the generic side of the directory interface: answers and
 * the calls every backend (the LDAP backend, test fakes) is used through.
 */
#include <stdlib.h>

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
	answer_reset(out);
	if (d == NULL || d->ops == NULL || d->ops->lookup == NULL)
		return;
	d->ops->lookup(d, address, out);
	answer_done(out);
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

	if (d == NULL || d->ops == NULL || !has_async(d)) {
		directory_lookup(d, address, out);
		return NULL;
	}
	answer_reset(out);
	if ((op = d->ops->start(d, address, out)) == NULL)
		answer_done(out);
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
	if (op->dir->ops->poll(op, out) == 0)
		return 0;
	answer_done(out);
	return 1;
}

void
directory_op_abandon(struct directory_op *op, struct directory_answer *out)
{
	op->dir->ops->abandon(op, out);
	answer_done(out);
}

void
directory_close(struct directory *d)
{
	if (d != NULL && d->ops != NULL && d->ops->close != NULL)
		d->ops->close(d);
}
