/*
 * ldap_dir.h - the state of one LDAP directory, shared by the files of the
 * LDAP backend (private to milter/directory/ldap/).
 */
#ifndef NSMILTER_LDAP_DIR_H
#define NSMILTER_LDAP_DIR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "directory/directory.h"
#include "directory/ldap/ldap_conn.h"

#define LDAPDIR_DEFAULT_TIMEOUT_MS 2000u
#define LDAPDIR_PROBE_MS 1000u      /* probe a held server this long after */

/* What the directory knows about one server of its uri list. */
struct ldapdir_server {
	bool held;              /* lookups skip it */
	uint64_t held_until;    /* without a probe thread: hold lapses then */
	uint64_t next_probe;    /* monotonic ms */
	uint64_t failed_seq;    /* order of failures: the "last error" */
	char *error;            /* why it is held */
};

struct ldapdir {
	struct directory hdr;       /* first: ldapdir_ops sees a directory */
	struct ldapdir_params p;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* a connection came back to the pool */
	pthread_cond_t probe_cv;    /* a new hold, or stop: wake the prober */
	struct ldapconn *idle;      /* connected, unused; most recent first */
	unsigned n_conns;           /* idle + in use */
	unsigned max_conns;
	int avail_fd;               /* eventfd, readable while a connection
				       can be taken (ldapdir_pool_signal);
				       -1: none, waiting lookups poll */
	bool avail_set;             /* avail_fd is readable */
	unsigned timeout_ms;
	struct ldapdir_server *servers;   /* one per cfg->uri.v[i] */
	size_t n_servers;
	uint64_t fail_seq;
	pthread_t prober;
	pid_t prober_pid;           /* 0: not started (in this process) */
	bool stopping;
};

/* One lookup in progress (asynchronous, or the synchronous one). */
struct ldapdir_op {
	struct directory_op hdr;          /* first */
	struct ldapdir *d;
	struct ldapconn *c;
	char *filter;
	int msgid;
	bool reused;                /* C had answered before this search */
	bool queued;                /* waiting for a free connection (C NULL) */
	bool retried;               /* the reconnect-and-retry was used */
};

/* ldap_holddown.c; "under d->mu" where said. */
bool ldapdir_prober_alive(const struct ldapdir *d);
/* Whether lookups skip server I now; under d->mu. */
bool ldapdir_server_skipped(const struct ldapdir *d, size_t i, uint64_t now);
/* "all servers held down: <last error>" (new string); under d->mu. */
char *ldapdir_held_message(const struct ldapdir *d);
/* NULL, or the "all servers held down" message when every server is. */
char *ldapdir_all_held(struct ldapdir *d);
/* Hold server I down after failure ERR; its idle connections are closed. */
void ldapdir_server_hold(struct ldapdir *d, size_t i, const char *err);
void ldapdir_prober_stop(struct ldapdir *d);
/* Connect C to the first server not held down that answers. */
int ldapdir_connect_any(struct ldapdir *d, struct ldapconn *c, char **err);

/* ldap_pool.c */
struct ldapconn *ldapdir_pool_take(struct ldapdir *d);
struct ldapconn *ldapdir_pool_try_take(struct ldapdir *d);
void ldapdir_pool_signal(struct ldapdir *d);
void ldapdir_pool_put(struct ldapdir *d, struct ldapconn *c);

/* ldap_lookup.c: the operations of ldapdir_ops */
void ldapdir_lookup(struct directory *dd, const char *address,
    struct directory_answer *out);
struct directory_op *ldapdir_start(struct directory *dd, const char *address,
    struct directory_answer *out);
int ldapdir_op_fd(struct directory_op *o);
int ldapdir_op_poll(struct directory_op *o, struct directory_answer *out);
void ldapdir_op_abandon(struct directory_op *o, struct directory_answer *out);

#endif
