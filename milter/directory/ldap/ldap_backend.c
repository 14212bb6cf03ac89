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
 * Failover.  A new connection goes to the first server of the uri list
 * that is not held down; connect, StartTLS and bind each have the timeout.
 * The URIs are tried here one by one rather than by handing the whole list
 * to ldap_initialize: libldap fails over only within one connect and only
 * for plain connections, while TLS needs the asynchronous connect mode (see
 * ldapdir_conn.c); and it lets the directory keep state per server.
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
 * Success (or an answer that is not a reachability failure, such as a
 * refused bind) ends the hold, and the fresh connection joins the pool if
 * it has room.  A restarted server is used again within about 1-2 s.  Were
 * the thread impossible to start, a hold lapses after LDAPDIR_PROBE_MS and
 * the next lookup tries the server itself.
 *
 * Asynchronous lookups (start/fd/poll/abandon) share all of this: start
 * takes a connection (opening it synchronously when needed) and sends the
 * search; poll collects the answer with a zero timeout; abandon (the
 * deadline passed) abandons the search, closes the connection and holds
 * the server.
 *
 * Locking: d->mu protects the idle list, the connection count and the
 * per-server state; no network I/O happens under it.  A connection belongs
 * to one thread at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "decision/address.h"
#include "config/config.h"
#include "directory/directory.h"
#include "directory/ldap/ldap_conn.h"
#include "base/log.h"

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
	struct dir_op hdr;          /* first */
	struct ldapdir *d;
	struct ldapconn *c;
	char *filter;
	int msgid;
	bool reused;                /* C had answered before this search */
	bool retried;               /* the reconnect-and-retry was used */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timespec
ms_to_timespec(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000u);
	ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
	return ts;
}

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
	d->hdr.ops = &ldapdir_ops;
	d->hdr.cfg = cfg;
	return &d->hdr;
fail:
	free(d->servers);
	params_free(&d->p);
	free(d);
	return NULL;
}

/* ---- per-server state (hold-down), under d->mu ------------------------- */

/* Whether the probe thread runs in this process (not just in a parent). */
static bool
prober_alive(const struct ldapdir *d)
{
	return d->prober_pid != 0 && d->prober_pid == getpid();
}

static bool
server_skipped(const struct ldapdir *d, size_t i, uint64_t now)
{
	const struct ldapdir_server *s = &d->servers[i];

	return s->held && (prober_alive(d) || now < s->held_until);
}

/* "all servers held down: <last error>" (new string), under d->mu. */
static char *
held_message(const struct ldapdir *d)
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
static char *
all_held(struct ldapdir *d)
{
	uint64_t now = now_ms();
	char *msg = NULL;
	size_t i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->n_servers; i++)
		if (!server_skipped(d, i, now))
			break;
	if (i == d->n_servers && (msg = held_message(d)) == NULL)
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

	if (prober_alive(d) || d->stopping)
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

/* Close and free a list of connections (outside d->mu). */
static void
conns_free(struct ldapconn *list)
{
	struct ldapconn *c;

	while ((c = list) != NULL) {
		list = c->next;
		ldapconn_close(c);
		free(c);
	}
}

/*
 * Hold server I down after failure ERR: lookups skip it until the probe
 * thread gets an answer from it; its idle connections are closed.
 */
static void
server_hold(struct ldapdir *d, size_t i, const char *err)
{
	struct ldapdir_server *s = &d->servers[i];
	struct ldapconn **pp, *c, *drop = NULL;
	uint64_t now = now_ms();
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
	if (drop != NULL)
		pthread_cond_broadcast(&d->cv);   /* room for new ones */
	prober_start(d);
	pthread_cond_signal(&d->probe_cv);
	pthread_mutex_unlock(&d->mu);
	conns_free(drop);
	if (!was_held)
		log_warning("directory %s: server %s held down: %s",
		    d->p.cfg->name, d->p.cfg->uri.v[i], err ? err : "error");
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
		uint64_t now = now_ms(), wake = UINT64_MAX;
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
				struct timespec ts = ms_to_timespec(wake);

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
			s->next_probe = now_ms() + LDAPDIR_PROBE_MS;
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

/* ---- the pool -------------------------------------------------------- */

/*
 * Take a connection: an idle one, else a new (unconnected) one while the
 * pool is under its size, else wait up to the timeout for one.  NULL when
 * none came back in time or out of memory.
 */
static struct ldapconn *
pool_take(struct ldapdir *d)
{
	struct ldapconn *c = NULL;
	struct timespec deadline = ms_to_timespec(now_ms() + d->timeout_ms);

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

/* Give C back: kept when connected to a server not held down. */
static void
pool_put(struct ldapdir *d, struct ldapconn *c)
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
static int
connect_any(struct ldapdir *d, struct ldapconn *c, char **err)
{
	int rc = LDAP_SERVER_DOWN;
	bool tried = false;

	*err = NULL;
	for (size_t i = 0; i < d->n_servers; i++) {
		char *e = NULL;
		bool skip;

		pthread_mutex_lock(&d->mu);
		skip = server_skipped(d, i, now_ms());
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
		server_hold(d, i, e);
	}
	if (!tried) {
		pthread_mutex_lock(&d->mu);
		*err = held_message(d);
		pthread_mutex_unlock(&d->mu);
	}
	if (*err == NULL)
		*err = strdup(ldap_err2string(rc));
	return rc;
}

/* ---- one lookup ---------------------------------------------------------- */

static void
op_free(struct ldapdir_op *op)
{
	if (op->c != NULL)
		pool_put(op->d, op->c);
	free(op->filter);
	free(op);
}

/* Finish OP with an error: OUT gets ERR (taken), OP is freed. */
static void
op_fail(struct ldapdir_op *op, struct dir_answer *out, char *err)
{
	free(out->target);
	out->target = NULL;
	out->status = DIR_ERROR;
	out->error = err != NULL ? err : strdup("out of memory");
	op_free(op);
}

/*
 * The connection failed with RC (ERR, taken) after or while sending:
 * close it, and hold its server down when RC says it is unreachable.
 */
static void
op_conn_failed(struct ldapdir_op *op, int rc, const char *err)
{
	size_t server = op->c->server;

	ldapconn_close(op->c);
	if (ldapconn_try_next(rc))
		server_hold(op->d, server, err);
}

/*
 * Send OP's search, connecting first when needed, with the one
 * reconnect-and-retry of a stale pooled connection.  Returns 0 (sent,
 * deadline set) or -1 (OUT answered, OP freed).
 */
static int
op_send(struct ldapdir_op *op, struct dir_answer *out)
{
	char *err = NULL;
	int rc;

	for (;;) {
		op->reused = op->c->ld != NULL && op->c->uses > 0;
		if (op->c->ld == NULL) {
			/* connect_any holds what it could not reach. */
			rc = connect_any(op->d, op->c, &err);
			if (rc != LDAP_SUCCESS) {
				op_fail(op, out, err);
				return -1;
			}
		}
		rc = ldapconn_search_send(op->c, &op->d->p, op->filter,
		    &op->msgid, &err);
		if (rc == LDAP_SUCCESS) {
			op->hdr.deadline_ms = now_ms() + op->d->timeout_ms;
			return 0;
		}
		if (rc == LDAP_SERVER_DOWN && op->reused && !op->retried) {
			/* Stale connection (server restarted): reconnect. */
			ldapconn_close(op->c);
			op->retried = true;
			free(err);
			err = NULL;
			continue;
		}
		op_conn_failed(op, rc, err);
		op_fail(op, out, err);
		return -1;
	}
}

/*
 * Collect OP's answer, waiting at most TV.  1: done (OUT filled, OP freed);
 * 0: no answer yet.
 */
static int
op_collect(struct ldapdir_op *op, const struct timeval *tv,
    struct dir_answer *out)
{
	char *err = NULL;
	int rc;

	rc = ldapconn_search_wait(op->c, &op->d->p, op->msgid, tv, out, &err);
	if (rc == LDAP_TIMEOUT && err == NULL)
		return 0;
	if (rc == LDAP_SUCCESS) {
		if (out->status == DIR_ERROR)
			out->error = err != NULL ? err : strdup("out of memory");
		else
			free(err);
		op_free(op);
		return 1;
	}
	if (rc == LDAP_SERVER_DOWN && op->reused && !op->retried) {
		/* Stale connection (server restarted): reconnect, resend. */
		ldapconn_close(op->c);
		op->retried = true;
		free(err);
		free(out->target);
		out->target = NULL;
		out->status = DIR_ERROR;
		return op_send(op, out) == 0 ? 0 : 1;
	}
	op_conn_failed(op, rc, err);
	op_fail(op, out, err);
	return 1;
}

/* The deadline passed: abandon the search, hold the server. */
static void
op_timeout(struct ldapdir_op *op, struct dir_answer *out)
{
	const char *text = ldap_err2string(LDAP_TIMEOUT);
	size_t server = op->c->server;

	ldapconn_abandon(op->c, op->msgid);
	server_hold(op->d, server, text);
	op_fail(op, out, strdup(text));
}

/* Begin a lookup: NULL when OUT was answered at once. */
static struct ldapdir_op *
op_begin(struct ldapdir *d, const char *address, struct dir_answer *out)
{
	struct ldapdir_op *op;
	char *msg;

	out->status = DIR_ERROR;
	out->target = NULL;
	out->error = NULL;
	out->cached = 0;
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		out->error = strdup("out of memory");
		return NULL;
	}
	op->hdr.dir = &d->hdr;
	op->d = d;
	op->msgid = -1;
	if ((op->filter = address_expand_filter(d->p.cfg->filter, address))
	    == NULL) {
		op_fail(op, out, strdup("cannot expand the filter"));
		return NULL;
	}
	/* Every server held: answer now, without waiting for a connection. */
	if ((msg = all_held(d)) != NULL) {
		op_fail(op, out, msg);
		return NULL;
	}
	if ((op->c = pool_take(d)) == NULL) {
		char buf[96];

		snprintf(buf, sizeof(buf),
		    "no free connection within %u ms (pool_size %u)",
		    d->timeout_ms, d->max_conns);
		op_fail(op, out, strdup(buf));
		return NULL;
	}
	if (op_send(op, out) != 0)
		return NULL;
	return op;
}

static void
ldapdir_lookup(struct directory *dd, const char *address,
    struct dir_answer *out)
{
	struct ldapdir *d = (struct ldapdir *)dd;
	struct ldapdir_op *op;

	if ((op = op_begin(d, address, out)) == NULL)
		return;
	for (;;) {
		uint64_t now = now_ms(), left;
		struct timeval tv;

		if (now >= op->hdr.deadline_ms) {
			op_timeout(op, out);
			return;
		}
		left = op->hdr.deadline_ms - now;
		tv.tv_sec = (time_t)(left / 1000u);
		tv.tv_usec = (suseconds_t)(left % 1000u) * 1000;
		if (op_collect(op, &tv, out))
			return;
	}
}

static struct dir_op *
ldapdir_start(struct directory *dd, const char *address,
    struct dir_answer *out)
{
	struct ldapdir_op *op = op_begin((struct ldapdir *)dd, address, out);

	return op != NULL ? &op->hdr : NULL;
}

static int
ldapdir_op_fd(struct dir_op *o)
{
	return ldapconn_fd(((struct ldapdir_op *)o)->c);
}

static int
ldapdir_op_poll(struct dir_op *o, struct dir_answer *out)
{
	static const struct timeval zero = { 0, 0 };

	return op_collect((struct ldapdir_op *)o, &zero, out);
}

static void
ldapdir_op_abandon(struct dir_op *o, struct dir_answer *out)
{
	op_timeout((struct ldapdir_op *)o, out);
}

static void
ldapdir_close(struct directory *dd)
{
	struct ldapdir *d = (struct ldapdir *)dd;
	bool join;

	if (d == NULL)
		return;
	/* The caller guarantees no lookup is running any more. */
	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	join = prober_alive(d);
	pthread_cond_broadcast(&d->probe_cv);
	pthread_mutex_unlock(&d->mu);
	/* At most one probe in progress: bounded by the timeout. */
	if (join)
		pthread_join(d->prober, NULL);
	conns_free(d->idle);
	d->idle = NULL;
	for (size_t i = 0; i < d->n_servers; i++)
		free(d->servers[i].error);
	free(d->servers);
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
