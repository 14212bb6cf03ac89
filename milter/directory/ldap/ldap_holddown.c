/*
 * ldap_holddown.c - servers held down after a failure, failover along the
 * uri list past them, and the probe thread that brings them back.
 *
 * Failover.  A new connection goes to the first server of the uri list
 * that is not held down; connect, StartTLS and bind each have the timeout.
 * The URIs are tried here one by one rather than by handing the whole list
 * to ldap_initialize: libldap fails over only within one connect and only
 * for plain connections, while TLS needs the asynchronous connect mode (see
 * ldap_conn.c); and it lets the directory keep state per server.
 *
 * Hold-down.  A server is held down when
 *   - opening a connection to it failed in a way worth failing over for
 *     (ldapconn_try_next: cannot connect, timed out, TLS failed, busy or
 *     unavailable; not a refused bind, which its replicas would refuse too),
 *   - or a search on it timed out, or lost its connection (after the one
 *     reconnect-and-retry above), or was answered "busy"/"unavailable".
 * Lookups skip a held server and go on to the next URI; when every server
 * of the directory is held, a lookup fails at once ("all servers held down:
 * <last error>") instead of spending a timeout.  Idle pooled connections to
 * a server are closed when it is held (the next lookup would wait on a
 * frozen server again), and connections to it coming back to the pool are
 * dropped.  So a hung or dead server costs one timeout per lookup that was
 * in flight when it failed, not one per recipient.
 *
 * A probe thread per directory (started on the first hold, not at open:
 * the daemon forks after loading the configuration; stopped and joined by
 * close; all signals blocked) re-opens a connection to each held server
 * LDAPDIR_PROBE_MS (1 s) after its last failure, with the normal timeout.
 * A probe needs an LDAP answer, not just a TCP connection (a frozen server
 * still accepts those): the bind, or for an anonymous directory a read of
 * the root DSE.  Success (or an answer that is not a reachability failure,
 * such as a refused bind) ends the hold, and the fresh connection joins the pool if
 * it has room.  A restarted server is used again within about 1-2 s.  Were
 * the thread impossible to start, a hold lapses after LDAPDIR_PROBE_MS and
 * the next lookup tries the server itself.
 *
 */
#include <signal.h>
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

/* Whether the probe thread runs in this process (not just in a parent). */
bool
ldapdir_prober_alive(const struct ldapdir *d)
{
	return d->prober_pid != 0 && d->prober_pid == getpid();
}

bool
ldapdir_server_skipped(const struct ldapdir *d, size_t i, uint64_t now)
{
	const struct ldapdir_server *s = &d->servers[i];

	return s->held && (ldapdir_prober_alive(d) || now < s->held_until);
}

/* "all servers held down: <last error>" (new string), under d->mu. */
char *
ldapdir_held_message(const struct ldapdir *d)
{
	const char *last = NULL;
	uint64_t seq = 0;
	char *s;

	for (size_t i = 0; i < d->n_servers; i++)
		if (d->servers[i].held && d->servers[i].error != NULL &&
		    d->servers[i].failed_seq >= seq) {
			seq = d->servers[i].failed_seq;
			last = d->servers[i].error;
		}
	if (asprintf(&s, "all servers held down: %s",
	    last != NULL ? last : "unknown error") < 0)
		return NULL;
	return s;
}

/* NULL, or the "all servers held down" message when every server is. */
char *
ldapdir_all_held(struct ldapdir *d)
{
	uint64_t now = clock_ms();
	char *msg = NULL;
	size_t i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->n_servers; i++)
		if (!ldapdir_server_skipped(d, i, now))
			break;
	if (i == d->n_servers && (msg = ldapdir_held_message(d)) == NULL)
		msg = strdup("all servers held down");
	pthread_mutex_unlock(&d->mu);
	return msg;
}

static void *prober_main(void *arg);

/* Start the probe thread unless it runs; under d->mu. */
static void
prober_start(struct ldapdir *d)
{
	sigset_t all, old;

	if (ldapdir_prober_alive(d) || d->stopping)
		return;
	/* Created with every signal blocked: they are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&d->prober, NULL, prober_main, d) == 0)
		d->prober_pid = getpid();
	else
		log_warning("directory %s: cannot start the probe thread; "
		    "held servers are retried by lookups", d->p.cfg->name);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * Hold server I down after failure ERR: lookups skip it until the probe
 * thread gets an answer from it; its idle connections are closed.
 */
void
ldapdir_server_hold(struct ldapdir *d, size_t i, const char *err)
{
	struct ldapdir_server *s = &d->servers[i];
	struct ldapconn **pp, *c, *drop = NULL;
	uint64_t now = clock_ms();
	char *e = strdup(err != NULL ? err : "error");
	bool was_held;

	pthread_mutex_lock(&d->mu);
	was_held = s->held;
	s->held = true;
	s->held_until = now + LDAPDIR_PROBE_MS;
	s->next_probe = now + LDAPDIR_PROBE_MS;
	s->failed_seq = ++d->fail_seq;
	if (e != NULL) {
		free(s->error);
		s->error = e;
	}
	for (pp = &d->idle; (c = *pp) != NULL; ) {
		if (c->server == i) {
			*pp = c->next;
			c->next = drop;
			drop = c;
			d->n_conns--;
		} else {
			pp = &c->next;
		}
	}
	if (drop != NULL) {
		pthread_cond_broadcast(&d->cv);   /* room for new ones */
		ldapdir_pool_signal(d);
	}
	prober_start(d);
	pthread_cond_signal(&d->probe_cv);
	pthread_mutex_unlock(&d->mu);
	ldapconn_free_list(drop);
	if (!was_held)
		log_warning("directory %s: server %s held down: %s",
		    d->p.cfg->name, d->p.cfg->uri.v[i], err ? err : "error");
}

/* Whether connections bind (the bind then is the probe's LDAP answer). */
static bool
has_bind(const struct ldapdir *d)
{
	return d->p.cfg->bind_dn != NULL && *d->p.cfg->bind_dn != '\0';
}

/*
 * The probe thread: re-open a connection to each held server about every
 * LDAPDIR_PROBE_MS, until close() sets d->stopping.
 */
static void *
prober_main(void *arg)
{
	struct ldapdir *d = arg;

	pthread_mutex_lock(&d->mu);
	while (!d->stopping) {
		uint64_t now = clock_ms(), wake = UINT64_MAX;
		struct ldapconn *c;
		struct ldapdir_server *s;
		size_t i, pick = d->n_servers;
		char *err = NULL;
		int rc;

		for (i = 0; i < d->n_servers; i++) {
			s = &d->servers[i];
			if (!s->held)
				continue;
			if (s->next_probe <= now) {
				pick = i;
				break;
			}
			if (s->next_probe < wake)
				wake = s->next_probe;
		}
		if (pick == d->n_servers) {
			if (wake == UINT64_MAX) {
				pthread_cond_wait(&d->probe_cv, &d->mu);
			} else {
				struct timespec ts = clock_timespec(wake);

				pthread_cond_timedwait(&d->probe_cv, &d->mu,
				    &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&d->mu);

		if ((c = calloc(1, sizeof(*c))) == NULL) {
			rc = LDAP_NO_MEMORY;
			err = strdup("out of memory");
		} else {
			rc = ldapconn_open_one(c, &d->p, pick, &err);
			if (rc == LDAP_SUCCESS && !has_bind(d))
				rc = ldapconn_probe(c, &d->p, &err);
		}

		pthread_mutex_lock(&d->mu);
		s = &d->servers[pick];
		if (c != NULL && (rc == LDAP_SUCCESS ||
		    !ldapconn_try_next(rc))) {
			/* It answers (even "invalid credentials"): use it. */
			s->held = false;
			free(s->error);
			s->error = NULL;
			if (rc == LDAP_SUCCESS && !d->stopping &&
			    d->n_conns < d->max_conns) {
				c->next = d->idle;
				d->idle = c;
				d->n_conns++;
				pthread_cond_signal(&d->cv);
				ldapdir_pool_signal(d);
				c = NULL;
			}
			pthread_mutex_unlock(&d->mu);
			log_info("directory %s: server %s answers again%s%s",
			    d->p.cfg->name, d->p.cfg->uri.v[pick],
			    rc == LDAP_SUCCESS ? "" : ": ",
			    rc == LDAP_SUCCESS ? "" : (err ? err : "error"));
		} else {
			if (err != NULL) {
				free(s->error);
				s->error = err;
				err = NULL;
			}
			s->next_probe = clock_ms() + LDAPDIR_PROBE_MS;
			s->held_until = s->next_probe;
			pthread_mutex_unlock(&d->mu);
		}
		free(err);
		if (c != NULL) {
			ldapconn_close(c);
			free(c);
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* Stop and join the probe thread (close: no lookup runs any more). */
void
ldapdir_prober_stop(struct ldapdir *d)
{
	bool join;

	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	join = ldapdir_prober_alive(d);
	pthread_cond_broadcast(&d->probe_cv);
	pthread_mutex_unlock(&d->mu);
	/* At most one probe in progress: bounded by the timeout. */
	if (join)
		pthread_join(d->prober, NULL);
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
