/*
 * ldap_pool.c - the pool of connections of one directory: idle
 * connections taken and put back, at most pool_size of them, and the
 * descriptor that says whether one can be taken.  Which server a new
 * connection goes to is ldap_holddown.c's business (ldapdir_connect_any).
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
