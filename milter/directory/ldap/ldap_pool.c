/*
 * ldap_pool.c - the pool of connections of one directory, and failover
 * along its uri list.
 *
 * Failover.  A new connection goes to the first server of the uri list
 * that is not held down; connect, StartTLS and bind each have the timeout.
 * The URIs are tried here one by one rather than by handing the whole list
 * to ldap_initialize: libldap fails over only within one connect and only
 * for plain connections, while TLS needs the asynchronous connect mode (see
 * ldap_conn.c); and it lets the directory keep state per server.
 *
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "config/config.h"
#include "directory/directory.h"
#include "directory/ldap/ldap_conn.h"
#include "directory/ldap/ldap_dir.h"

/*
 * Make d->avail_fd readable exactly while a connection can be taken (one
 * is idle, or the pool is under its size); under d->mu, after every
 * change to the idle list or the count.  Level, not edge: every waiting
 * lookup sees it, the first to take the connection wins, the others poll
 * on.
 */
void
ldapdir_pool_signal(struct ldapdir *d)
{
	bool avail = d->idle != NULL || d->n_conns < d->max_conns;
	uint64_t v = 1;

	if (d->avail_fd < 0 || avail == d->avail_set)
		return;
	if (avail ? write(d->avail_fd, &v, sizeof(v)) == (ssize_t)sizeof(v)
	    : read(d->avail_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		d->avail_set = avail;
}

/* An idle connection, else a new one under the pool size; under d->mu. */
static struct ldapconn *
take_locked(struct ldapdir *d)
{
	struct ldapconn *c = NULL;

	if (d->idle != NULL) {
		c = d->idle;
		d->idle = c->next;
		c->next = NULL;
	} else if (d->n_conns < d->max_conns &&
	    (c = calloc(1, sizeof(*c))) != NULL) {
		d->n_conns++;
	}
	ldapdir_pool_signal(d);
	return c;
}

/*
 * Take a connection: an idle one, else a new (unconnected) one while the
 * pool is under its size, else wait up to the timeout for one.  NULL when
 * none came back in time or out of memory.
 */
struct ldapconn *
ldapdir_pool_take(struct ldapdir *d)
{
	struct ldapconn *c = NULL;
	struct timespec deadline = clock_timespec(clock_ms() + d->timeout_ms);

	pthread_mutex_lock(&d->mu);
	while (d->idle == NULL && d->n_conns >= d->max_conns) {
		int rc = pthread_cond_timedwait(&d->cv, &d->mu, &deadline);

		if (rc == ETIMEDOUT || (rc != 0 && rc != EINTR))
			break;
	}
	c = take_locked(d);
	pthread_mutex_unlock(&d->mu);
	return c;
}

/* As ldapdir_pool_take, but never waits: NULL when none is free now. */
struct ldapconn *
ldapdir_pool_try_take(struct ldapdir *d)
{
	struct ldapconn *c;

	pthread_mutex_lock(&d->mu);
	c = take_locked(d);
	pthread_mutex_unlock(&d->mu);
	return c;
}

/* Give C back: kept when connected to a server not held down. */
void
ldapdir_pool_put(struct ldapdir *d, struct ldapconn *c)
{
	pthread_mutex_lock(&d->mu);
	if (c->ld != NULL && !d->servers[c->server].held) {
		c->next = d->idle;
		d->idle = c;
		c = NULL;
	} else {
		d->n_conns--;
	}
	pthread_cond_signal(&d->cv);
	ldapdir_pool_signal(d);
	pthread_mutex_unlock(&d->mu);
	if (c != NULL) {
		ldapconn_close(c);
		free(c);
	}
}

/*
 * Connect C to the first server, in uri order, that is not held down and
 * answers.  Each server failing with a "try next" error is held down.
 * Returns an LDAP code; *ERR is set (new) unless LDAP_SUCCESS.
 */
int
ldapdir_connect_any(struct ldapdir *d, struct ldapconn *c, char **err)
{
	int rc = LDAP_SERVER_DOWN;
	bool tried = false;

	*err = NULL;
	for (size_t i = 0; i < d->n_servers; i++) {
		char *e = NULL;
		bool skip;

		pthread_mutex_lock(&d->mu);
		skip = ldapdir_server_skipped(d, i, clock_ms());
		pthread_mutex_unlock(&d->mu);
		if (skip)
			continue;
		tried = true;
		rc = ldapconn_open_one(c, &d->p, i, &e);
		free(*err);
		*err = e;
		if (rc == LDAP_SUCCESS)
			return rc;
		if (!ldapconn_try_next(rc))
			break;
		ldapdir_server_hold(d, i, e);
	}
	if (!tried) {
		pthread_mutex_lock(&d->mu);
		*err = ldapdir_held_message(d);
		pthread_mutex_unlock(&d->mu);
	}
	if (*err == NULL)
		*err = strdup(ldap_err2string(rc));
	return rc;
}
