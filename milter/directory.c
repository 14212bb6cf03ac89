/*
 * directory.c - the generic side of the directory interface: answers and
 * the calls every backend (ldapdir_ops, test fakes) is used through.
 */
#include <stdlib.h>

#include "directory.h"

/* Free what A holds and leave it "not found", ready for another lookup. */
void
dir_answer_clear(struct dir_answer *a)
{
	if (a == NULL)
		return;
	free(a->target);
	free(a->error);
	a->status = DIR_NOTFOUND;
	a->target = NULL;
	a->error = NULL;
	a->cached = 0;
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
 * new, or cleared with dir_answer_clear) and always has an outcome: a
 * backend that sets none gives DIR_ERROR.
 */
void
directory_lookup(struct directory *d, const char *address,
    struct dir_answer *out)
{
	out->status = DIR_ERROR;
	out->target = NULL;
	out->error = NULL;
	out->cached = 0;
	if (d == NULL || d->ops == NULL || d->ops->lookup == NULL)
		return;
	d->ops->lookup(d, address, out);
	if (out->status != DIR_FOUND) {
		free(out->target);
		out->target = NULL;
	}
}

void
directory_close(struct directory *d)
{
	if (d != NULL && d->ops != NULL && d->ops->close != NULL)
		d->ops->close(d);
}
