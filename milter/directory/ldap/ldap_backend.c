/*
 * ldap_backend.c - the LDAP directory backend (struct directory_ops
 * ldapdir_ops): opening and closing a directory.  The backend is split by
 * concern: ldap_conn.c (one connection), ldap_pool.c (the pool and
 * failover), ldap_holddown.c (held servers and their prober),
 * ldap_lookup.c (one lookup), ldap_filter.c (search filters).
 *
 * A directory keeps a pool of up to pool_size connections (ldap_conn.c).
 * A lookup takes an idle connection, or creates one while the pool is under
 * its size, or waits (at most the directory's timeout) for one to come back:
 * the synchronous lookup on a condition variable, an asynchronous one in
 * its caller's poll() loop on the pool's eventfd, so that a directory whose
 * connections are all stuck never delays the lookups of another.
 * A connection that failed is unbound and dropped; the next lookup connects
 * afresh, so nsmilter recovers by itself when a server restarts.  A pooled
 * connection that used to work and now finds the server gone (restarted,
 * idle connection closed by Active Directory) is reconnected and the search
 * retried once within the same lookup.
 *
 *
 * Locking: d->mu protects the idle list, the connection count and the
 * per-server state; no network I/O happens under it.  A connection belongs
 * to one thread at a time.
 */
#include <signal.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "config/config.h"
#include "directory/directory.h"
#include "directory/ldap/ldap_conn.h"
#include "directory/ldap/ldap_backend.h"
#include "directory/ldap/ldap_dir.h"

static void
params_free(struct ldapdir_params *p)
{
	free(p->attrs[0]);
	memset(p, 0, sizeof(*p));
}

static int
params_init(struct ldapdir_params *p, const struct directory_config *cfg,
    unsigned timeout_ms)
{
	ldapconn_params_fill(p, cfg, timeout_ms);
	/* "1.1": no attributes, only whether an entry exists. */
	p->attrs[0] = strdup(cfg->target_attribute != NULL &&
	    *cfg->target_attribute != '\0' ? cfg->target_attribute : "1.1");
	p->attrs[1] = NULL;
	if (p->attrs[0] == NULL) {
		params_free(p);
		return -1;
	}
	return 0;
}

/*
 * Process-wide set-up, done from open() (single-threaded at start-up or
 * reload) rather than from the first concurrent lookup: libldap's global
 * initialisation, and SIGPIPE ignored so that writing to a server that went
 * away is an error, not the end of the process (libmilter's smfi_main
 * ignores it too; nsmilter -q does not run smfi_main).
 */
static void
process_init(void)
{
	struct sigaction sa;
	int version;

	ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version);
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static struct directory *
ldapdir_open(const struct directory_config *cfg)
{
	struct ldapdir *d;
	pthread_condattr_t ca;
	unsigned timeout_ms;

	if (cfg == NULL || cfg->uri.n == 0 || cfg->base == NULL ||
	    cfg->filter == NULL)
		return NULL;
	process_init();
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms
	    : LDAPDIR_DEFAULT_TIMEOUT_MS;
	if (params_init(&d->p, cfg, timeout_ms) != 0) {
		free(d);
		return NULL;
	}
	d->timeout_ms = timeout_ms;
	d->max_conns = cfg->pool_size > 0 ? cfg->pool_size : 1;
	d->n_servers = cfg->uri.n;
	if ((d->servers = calloc(d->n_servers, sizeof(*d->servers))) == NULL)
		goto fail;
	if (pthread_condattr_init(&ca) != 0)
		goto fail;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&d->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto fail;
	}
	if (pthread_cond_init(&d->probe_cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_cond_destroy(&d->cv);
		goto fail;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		pthread_cond_destroy(&d->cv);
		pthread_cond_destroy(&d->probe_cv);
		goto fail;
	}
	/* Without it lookups waiting for a connection poll every few ms. */
	d->avail_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->avail_set = false;
	ldapdir_pool_signal(d);
	d->hdr.ops = &ldapdir_ops;
	d->hdr.cfg = cfg;
	return &d->hdr;
fail:
	free(d->servers);
	params_free(&d->p);
	free(d);
	return NULL;
}

static void
ldapdir_close(struct directory *dd)
{
	struct ldapdir *d = (struct ldapdir *)dd;

	if (d == NULL)
		return;
	/* The caller guarantees no lookup is running any more. */
	ldapdir_prober_stop(d);
	ldapconn_free_list(d->idle);
	d->idle = NULL;
	for (size_t i = 0; i < d->n_servers; i++)
		free(d->servers[i].error);
	free(d->servers);
	if (d->avail_fd >= 0)
		close(d->avail_fd);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->probe_cv);
	params_free(&d->p);
	free(d);
}

const struct directory_ops ldapdir_ops = {
	.kind = "ldap",
	.open = ldapdir_open,
	.lookup = ldapdir_lookup,
	.close = ldapdir_close,
	.start = ldapdir_start,
	.fd = ldapdir_op_fd,
	.poll = ldapdir_op_poll,
	.abandon = ldapdir_op_abandon,
};
