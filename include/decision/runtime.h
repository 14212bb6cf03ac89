/*
 * runtime.h - the configuration in force, as a refcounted snapshot.
 *
 * A snapshot is a loaded configuration plus its running directories and
 * cache.  SIGHUP builds a new snapshot and installs it; every SMTP
 * connection holds a reference to the snapshot it started with until it
 * closes, so no callback ever sees half a configuration.  It sits beside
 * the recipient step, below the front ends that acquire it; the process
 * (main.c, daemon.c) loads and installs it.
 */
#ifndef NSMILTER_RUNTIME_H
#define NSMILTER_RUNTIME_H

#include "config/config.h"
#include "directory/directory.h"
#include "directory/resolver.h"

struct runtime {
	struct config *cfg;
	struct resolver *resolver;
	unsigned long generation;
	int refs;          /* protected by the runtime lock */
};

/* Load PATH and open its directories; NULL with ERRS filled on failure. */
struct runtime *runtime_load(const char *path, const struct directory_ops *ops,
    struct config_errors *errs);

/* Make RT the snapshot in force (takes over the caller's reference). */
void runtime_install(struct runtime *rt);
/* A reference to the snapshot in force, or NULL before any install. */
struct runtime *runtime_acquire(void);
void runtime_release(struct runtime *rt);
/* Drop the snapshot in force (at shutdown). */
void runtime_shutdown(void);

#endif
