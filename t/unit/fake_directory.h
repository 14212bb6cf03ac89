/*
 * fake_directory.h - a directory backend for the unit tests: answers from
 * FAKE_TABLE, counts its calls in FAKE_COUNTS.  fake_ops has the
 * synchronous lookup only; fake_async_ops has the asynchronous operations
 * too, and answers directory number I after fake_delay[I] polls (0: at
 * start, FAKE_NEVER: never, so the caller abandons it at its deadline).
 */
#ifndef NSMILTER_FAKE_DIRECTORY_H
#define NSMILTER_FAKE_DIRECTORY_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "config/config.h"
#include "directory/directory.h"

#define FAKE_NEVER UINT_MAX
#define FAKE_MAX_DIRS 8

struct fake_entry {
	const char *dir;       /* directory name; NULL ends the table */
	const char *address;
	enum directory_status status;
	const char *target;    /* also given with a status other than found */
};

struct fake_counts {
	unsigned opens, closes, lookups, starts, polls, abandons;
	size_t done[FAKE_MAX_DIRS];   /* directory indexes, in answer order */
	size_t n_done;
};

static const struct fake_entry *fake_table;
static struct fake_counts fake_counts;
static unsigned fake_delay[FAKE_MAX_DIRS];

struct fake_op {
	struct directory_op op;
	unsigned polls_left;
	int pipe[2];           /* always readable: poll() never waits */
	char *address;
};

static inline void
fake_reset(const struct fake_entry *table)
{
	fake_table = table;
	memset(&fake_counts, 0, sizeof(fake_counts));
	memset(fake_delay, 0, sizeof(fake_delay));
}

static inline void
fake_answer(struct directory *d, const char *address,
    struct directory_answer *out)
{
	if (fake_counts.n_done < FAKE_MAX_DIRS)
		fake_counts.done[fake_counts.n_done++] = d->cfg->index;
	out->status = DIRECTORY_NOTFOUND;
	for (const struct fake_entry *e = fake_table; e && e->dir; e++) {
		if (strcmp(e->dir, d->cfg->name) != 0 ||
		    strcmp(e->address, address) != 0)
			continue;
		out->status = e->status;
		out->target = e->target ? strdup(e->target) : NULL;
		if (e->status == DIRECTORY_ERROR)
			out->error = strdup("fake error");
		return;
	}
}

static inline struct directory *
fake_open(const struct directory_config *cfg)
{
	(void)cfg;
	fake_counts.opens++;
	return calloc(1, sizeof(struct directory));
}

static inline void
fake_close(struct directory *d)
{
	fake_counts.closes++;
	free(d);
}

static inline void
fake_lookup(struct directory *d, const char *address,
    struct directory_answer *out)
{
	fake_counts.lookups++;
	fake_answer(d, address, out);
}

static inline void
fake_op_free(struct fake_op *f)
{
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f->address);
	free(f);
}

static inline struct directory_op *
fake_start(struct directory *d, const char *address,
    struct directory_answer *out)
{
	unsigned delay = fake_delay[d->cfg->index];
	struct fake_op *f;

	fake_counts.starts++;
	if (delay == 0) {
		fake_answer(d, address, out);
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || pipe(f->pipe) != 0 ||
	    write(f->pipe[1], "x", 1) != 1)
		abort();
	f->op.dir = d;
	f->op.deadline_ms = clock_ms() + d->cfg->timeout_ms;
	f->polls_left = delay;
	f->address = strdup(address);
	return &f->op;
}

static inline int
fake_fd(struct directory_op *op)
{
	return ((struct fake_op *)op)->pipe[0];
}

static inline int
fake_poll(struct directory_op *op, struct directory_answer *out)
{
	struct fake_op *f = (struct fake_op *)op;

	fake_counts.polls++;
	if (f->polls_left == FAKE_NEVER || --f->polls_left > 0)
		return 0;
	fake_answer(op->dir, f->address, out);
	fake_op_free(f);
	return 1;
}

static inline void
fake_abandon(struct directory_op *op, struct directory_answer *out)
{
	fake_counts.abandons++;
	out->status = DIRECTORY_ERROR;
	out->error = strdup("timed out");
	fake_op_free((struct fake_op *)op);
}

/* Each test uses one or both. */
__attribute__((unused)) static const struct directory_ops fake_ops = {
	.kind = "fake",
	.open = fake_open,
	.lookup = fake_lookup,
	.close = fake_close,
};

__attribute__((unused)) static const struct directory_ops fake_async_ops = {
	.kind = "fake-async",
	.open = fake_open,
	.lookup = fake_lookup,
	.close = fake_close,
	.start = fake_start,
	.fd = fake_fd,
	.poll = fake_poll,
	.abandon = fake_abandon,
};

#endif
