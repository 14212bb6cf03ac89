/*
 * directory.h - the directory interface: one mail system's mailboxes.
 *
 * A lookup has three outcomes, never two: found, not found, failed.  A
 * failure is turned into 4xx by the decision engine, never 5xx.
 * Backends (LDAP in milter/directory/ldap/, fakes in the tests) implement
 * struct directory_ops, in the shape of OpenSMTPD's table backends, and are
 * found by name in a registry (directory_backend_lookup), as Postfix's
 * dict_open_register / OpenSMTPD's table_backend_lookup.
 */
#ifndef NSMILTER_DIRECTORY_H
#define NSMILTER_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

struct directory_config;
struct metrics_directory;

enum directory_status {
	DIRECTORY_NOTFOUND = 0,
	DIRECTORY_FOUND = 1,
	DIRECTORY_ERROR = -1
};

struct directory_answer {
	enum directory_status status;
	char *target;  /* FOUND: target address, smtp: stripped; or NULL */
	char *error;   /* ERROR: message, never containing a password */
	int cached;    /* 1 if answered from the cache */
	unsigned entries;   /* FOUND: entries that matched (>1: duplicate) */
	int ambiguous;      /* FOUND: the entries lead to different
			       decisions (different targets, or a target and
			       none); TARGET is then meaningless */
	const char *source; /* static: "mirror" when a mirror answered, or NULL */
};

void directory_answer_clear(struct directory_answer *a);

struct directory;

/*
 * One asynchronous lookup in progress.  Backends embed it first in their
 * own operation object and set both fields in start().
 */
struct directory_op {
	struct directory *dir;
	uint64_t deadline_ms;  /* CLOCK_MONOTONIC ms: abandon it then */
	uint64_t started_us;   /* set by directory_start (for the metrics) */
};

struct directory_ops {
	const char *kind;
	/* Create the runtime state for CFG (no network I/O required yet). */
	struct directory *(*open)(const struct directory_config *cfg);
	/*
	 * Look ADDRESS (local@domain, as normalised) up.  Must be thread-safe:
	 * milter threads call it concurrently.  Never blocks longer than the
	 * directory's timeout.
	 */
	void (*lookup)(struct directory *d, const char *address,
	    struct directory_answer *out);
	void (*close)(struct directory *d);

	/*
	 * Optional asynchronous lookup (all four or none), so that one thread
	 * can ask several directories at once (resolver.c).  Thread-safe like
	 * lookup.
	 *
	 * start: send the query for ADDRESS.  Returns the operation, or NULL
	 * when OUT was answered at once (no connection could be made, every
	 * server is held down, ...).  Never waits for a free connection nor
	 * for the answer; may block while a new connection is set up
	 * (bounded by the timeout).
	 * fd: the descriptor to poll() for POLLIN, or -1 (poll again after a
	 * short sleep).
	 * poll: collect the answer without blocking.  1: done, OUT filled and
	 * OP freed; 0: not yet (its deadline_ms may have moved, e.g. when a
	 * stale connection was reopened and the query sent again).
	 * abandon: give up (the deadline passed): OUT becomes DIRECTORY_ERROR,
	 * OP is freed.
	 */
	struct directory_op *(*start)(struct directory *d, const char *address,
	    struct directory_answer *out);
	int (*fd)(struct directory_op *op);
	int (*poll)(struct directory_op *op, struct directory_answer *out);
	void (*abandon)(struct directory_op *op, struct directory_answer *out);
};

/* Every directory object starts with this header. */
struct directory {
	const struct directory_ops *ops;
	const struct directory_config *cfg;
	struct metrics_directory *metrics;  /* set by directory_open */
};

/*
 * The backend registry.  Built-in backends are registered on first use;
 * register adds another (a test fake).  Not thread-safe against lookups:
 * call at start-up.  0, or -1 when the name is taken or the table full.
 */
int directory_backend_register(const struct directory_ops *ops);
const struct directory_ops *directory_backend_lookup(const char *kind);
/* The name of the backend that serves CFG ("ldap"). */
const char *directory_backend_for(const struct directory_config *cfg);

struct directory *directory_open(const struct directory_ops *ops,
    const struct directory_config *cfg);
void directory_lookup(struct directory *d, const char *address,
    struct directory_answer *out);
void directory_close(struct directory *d);

/*
 * The asynchronous lookup through D's ops.  directory_start falls back to
 * directory_lookup (and returns NULL, OUT answered) for a backend without
 * asynchronous operations.  OUT: as for directory_lookup.
 */
struct directory_op *directory_start(struct directory *d, const char *address,
    struct directory_answer *out);
int directory_op_fd(struct directory_op *op);
int directory_op_poll(struct directory_op *op, struct directory_answer *out);
void directory_op_abandon(struct directory_op *op,
    struct directory_answer *out);

#endif
