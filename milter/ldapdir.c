/*
 * ldapdir.c - the LDAP directory backend (struct directory_ops ldapdir_ops).
 *
 * A directory keeps a pool of up to pool_size connections (ldapdir_conn.c).
 * A lookup takes an idle connection, or creates one while the pool is under
 * its size, or waits (at most the directory's timeout) for one to come back.
 * A connection that failed is unbound and dropped; the next lookup connects
 * afresh, so nsmilter recovers by itself when a server restarts.  A pooled
 * connection that used to work and now finds the server gone (restarted,
 * idle connection closed by Active Directory) is reconnected and the search
 * retried once within the same lookup.
 *
 * Locking: d->mu protects the idle list and the connection count only; no
 * network I/O happens under it.  A connection belongs to one thread at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "address.h"
#include "config.h"
#include "directory.h"
#include "ldapdir_conn.h"

#define LDAPDIR_DEFAULT_TIMEOUT_MS 2000u

struct ldapdir {
	struct directory hdr;       /* first: ldapdir_ops sees a directory */
	struct ldapdir_params p;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* a connection came back to the pool */
	struct ldapconn *idle;      /* connected, unused; most recent first */
	unsigned n_conns;           /* idle + in use */
	unsigned max_conns;
	unsigned timeout_ms;
};

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
	size_t i;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->tls = cfg->starttls;
	for (i = 0; i < cfg->uri.n; i++)
		if (strncasecmp(cfg->uri.v[i], "ldaps://", 8) == 0)
			p->tls = true;
	switch (cfg->scope) {
	case CFG_SCOPE_BASE:
		p->scope = LDAP_SCOPE_BASE;
		break;
	case CFG_SCOPE_ONE:
		p->scope = LDAP_SCOPE_ONELEVEL;
		break;
	default:
		p->scope = LDAP_SCOPE_SUBTREE;
		break;
	}
	/* "1.1": no attributes, only whether an entry exists. */
	p->attrs[0] = strdup(cfg->target_attribute != NULL &&
	    *cfg->target_attribute != '\0' ? cfg->target_attribute : "1.1");
	p->attrs[1] = NULL;
	if (p->attrs[0] == NULL) {
		params_free(p);
		return -1;
	}
	p->tv.tv_sec = (time_t)(timeout_ms / 1000);
	p->tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
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
	if (pthread_condattr_init(&ca) != 0)
		goto fail;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&d->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto fail;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		pthread_cond_destroy(&d->cv);
		goto fail;
	}
	d->hdr.ops = &ldapdir_ops;
	d->hdr.cfg = cfg;
	return &d->hdr;
fail:
	params_free(&d->p);
	free(d);
	return NULL;
}

/*
 * Take a connection: an idle one, else a new (unconnected) one while the
 * pool is under its size, else wait up to the timeout for one.  NULL when
 * none came back in time or out of memory.
 */
static struct ldapconn *
pool_take(struct ldapdir *d)
{
	struct ldapconn *c = NULL;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(d->timeout_ms / 1000);
	deadline.tv_nsec += (long)(d->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while (d->idle == NULL && d->n_conns >= d->max_conns) {
		int rc = pthread_cond_timedwait(&d->cv, &d->mu, &deadline);

		if (rc == ETIMEDOUT || (rc != 0 && rc != EINTR))
			break;
	}
	if (d->idle != NULL) {
		c = d->idle;
		d->idle = c->next;
		c->next = NULL;
	} else if (d->n_conns < d->max_conns &&
	    (c = calloc(1, sizeof(*c))) != NULL) {
		d->n_conns++;
	}
	pthread_mutex_unlock(&d->mu);
	return c;
}

/* Give C back: kept when connected, dropped otherwise. */
static void
pool_put(struct ldapdir *d, struct ldapconn *c)
{
	pthread_mutex_lock(&d->mu);
	if (c->ld != NULL) {
		c->next = d->idle;
		d->idle = c;
	} else {
		d->n_conns--;
		free(c);
	}
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static void
ldapdir_lookup(struct directory *dd, const char *address,
    struct dir_answer *out)
{
	struct ldapdir *d = (struct ldapdir *)dd;
	struct ldapconn *c;
	char *filter, *err = NULL;
	int attempt, rc;

	out->status = DIR_ERROR;
	out->target = NULL;
	out->error = NULL;
	out->cached = 0;
	if ((filter = address_expand_filter(d->p.cfg->filter, address))
	    == NULL) {
		out->error = strdup("cannot expand the filter");
		return;
	}
	if ((c = pool_take(d)) == NULL) {
		char buf[96];

		snprintf(buf, sizeof(buf),
		    "no free connection within %u ms (pool_size %u)",
		    d->timeout_ms, d->max_conns);
		out->error = strdup(buf);
		free(filter);
		return;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		/* A pooled connection that has answered before. */
		bool reused = c->ld != NULL && c->uses > 0;

		if (c->ld == NULL) {
			rc = ldapconn_open(c, &d->p, &err);
			if (rc != LDAP_SUCCESS) {
				out->status = DIR_ERROR;
				break;
			}
		}
		rc = ldapconn_search(c, &d->p, filter, out, &err);
		if (rc == LDAP_SUCCESS)
			break;
		ldapconn_close(c);
		if (rc != LDAP_SERVER_DOWN || !reused || attempt > 0)
			break;
		/* Stale connection (server restarted): reconnect once. */
		free(err);
		err = NULL;
		free(out->target);
		out->target = NULL;
		out->status = DIR_ERROR;
	}
	if (out->status == DIR_ERROR)
		out->error = err != NULL ? err : strdup("out of memory");
	else
		free(err);
	pool_put(d, c);
	free(filter);
}

static void
ldapdir_close(struct directory *dd)
{
	struct ldapdir *d = (struct ldapdir *)dd;
	struct ldapconn *c;

	if (d == NULL)
		return;
	/* The caller guarantees no lookup is running any more. */
	while ((c = d->idle) != NULL) {
		d->idle = c->next;
		ldapconn_close(c);
		free(c);
	}
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	params_free(&d->p);
	free(d);
}

const struct directory_ops ldapdir_ops = {
	.kind = "ldap",
	.open = ldapdir_open,
	.lookup = ldapdir_lookup,
	.close = ldapdir_close,
};
