/*
 * directory.h - the directory interface: one mail system's mailboxes.
 *
 * A lookup has three outcomes, never two: found, not found, failed.  A
 * failure is turned into 4xx by the decision engine, never 5xx.
 * Backends (LDAP in ldapdir.c, fakes in the tests) implement struct
 * directory_ops, in the shape of OpenSMTPD's table backends.
 */
#ifndef NSMILTER_DIRECTORY_H
#define NSMILTER_DIRECTORY_H

#include <stddef.h>

struct directory_config;

enum dir_status {
	DIR_NOTFOUND = 0,
	DIR_FOUND = 1,
	DIR_ERROR = -1
};

struct dir_answer {
	enum dir_status status;
	char *target;  /* DIR_FOUND: target address, smtp: stripped; or NULL */
	char *error;   /* DIR_ERROR: message, never containing a password */
	int cached;    /* 1 if answered from the cache */
};

void dir_answer_clear(struct dir_answer *a);

struct directory;

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
	    struct dir_answer *out);
	void (*close)(struct directory *d);
};

/* Every directory object starts with this header. */
struct directory {
	const struct directory_ops *ops;
	const struct directory_config *cfg;
};

/* The LDAP backend (ldapdir.c). */
extern const struct directory_ops ldapdir_ops;

struct directory *directory_open(const struct directory_ops *ops,
    const struct directory_config *cfg);
void directory_lookup(struct directory *d, const char *address,
    struct dir_answer *out);
void directory_close(struct directory *d);

#endif
