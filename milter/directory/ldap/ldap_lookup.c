/*
 * ldap_lookup.c - one lookup: take a connection, send the search,
 * collect the answer; synchronous, or asynchronous so that one thread can
 * ask several directories at once.
 *
 * Asynchronous lookups (start/fd/poll/abandon) share all of this.  start
 * never waits for a free connection: it takes one that is free now and
 * sends the search, or queues the lookup, whose descriptor is then the
 * pool's (readable when a connection comes back) and whose poll takes the
 * connection and sends.  So one directory with every connection stuck on
 * a hung server delays nobody else's lookups.  Opening a new connection
 * (connect, StartTLS, bind) is still synchronous, bounded by the timeout;
 * a hung server is held down after that, and later lookups skip it.  poll
 * collects the answer with a zero timeout, every message that has arrived;
 * abandon (the deadline passed) abandons the search, closes the connection
 * and holds the server, or fails a queued lookup without holding anything.
 */
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
#include "directory/ldap/ldap_filter.h"

static void
op_free(struct ldapdir_op *op)
{
	if (op->c != NULL)
		ldapdir_pool_put(op->d, op->c);
	free(op->filter);
	free(op);
}

/* Finish OP with an error: OUT gets ERR (taken), OP is freed. */
static void
op_fail(struct ldapdir_op *op, struct directory_answer *out, char *err)
{
	free(out->target);
	out->target = NULL;
	out->status = DIRECTORY_ERROR;
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
		ldapdir_server_hold(op->d, server, err);
}

/*
 * Send OP's search, connecting first when needed, with the one
 * reconnect-and-retry of a stale pooled connection.  Returns 0 (sent,
 * deadline set) or -1 (OUT answered, OP freed).
 */
static int
op_send(struct ldapdir_op *op, struct directory_answer *out)
{
	char *err = NULL;
	int rc;

	for (;;) {
		op->reused = op->c->ld != NULL && op->c->uses > 0;
		if (op->c->ld == NULL) {
			/* ldapdir_connect_any holds what it could not reach. */
			rc = ldapdir_connect_any(op->d, op->c, &err);
			if (rc != LDAP_SUCCESS) {
				op_fail(op, out, err);
				return -1;
			}
		}
		rc = ldapconn_search_send(op->c, &op->d->p, op->filter,
		    &op->msgid, &err);
		if (rc == LDAP_SUCCESS) {
			op->hdr.deadline_ms = clock_ms() + op->d->timeout_ms;
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
    struct directory_answer *out)
{
	char *err = NULL;
	int rc;

	rc = ldapconn_search_wait(op->c, &op->d->p, op->msgid, tv, out, &err);
	if (rc == LDAP_TIMEOUT && err == NULL)
		return 0;
	if (rc == LDAP_SUCCESS) {
		if (out->status == DIRECTORY_ERROR)
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
		out->status = DIRECTORY_ERROR;
		return op_send(op, out) == 0 ? 0 : 1;
	}
	op_conn_failed(op, rc, err);
	op_fail(op, out, err);
	return 1;
}

/* No connection came free within the timeout. */
static char *
no_conn_message(const struct ldapdir *d)
{
	char buf[96];

	snprintf(buf, sizeof(buf),
	    "no free connection within %u ms (pool_size %u)",
	    d->timeout_ms, d->max_conns);
	return strdup(buf);
}

/*
 * The deadline passed: abandon the search and hold the server; or, for a
 * lookup still waiting for a connection, fail it (no server was asked, so
 * none is held: the directory's own searches decide about its servers).
 */
static void
op_timeout(struct ldapdir_op *op, struct directory_answer *out)
{
	const char *text = ldap_err2string(LDAP_TIMEOUT);
	size_t server;

	if (op->c == NULL) {
		op_fail(op, out, no_conn_message(op->d));
		return;
	}
	server = op->c->server;
	ldapconn_abandon(op->c, op->msgid);
	ldapdir_server_hold(op->d, server, text);
	op_fail(op, out, strdup(text));
}

/*
 * A queued lookup: take a connection if one is free now and send.
 * 1: done (OUT answered, OP freed: every server held down, or the send
 * failed); 0: sent, or still waiting.
 */
static int
op_dequeue(struct ldapdir_op *op, struct directory_answer *out)
{
	char *msg;

	/* Every server held meanwhile: answer now, not at the deadline. */
	if ((msg = ldapdir_all_held(op->d)) != NULL) {
		op_fail(op, out, msg);
		return 1;
	}
	if ((op->c = ldapdir_pool_try_take(op->d)) == NULL)
		return 0;
	op->queued = false;
	return op_send(op, out) == 0 ? 0 : 1;
}

/*
 * Begin a lookup: NULL when OUT was answered at once.  ASYNC: never wait
 * for a free connection; without one the lookup is queued (op->queued,
 * deadline one timeout from now) and op_dequeue takes one later.
 */
static struct ldapdir_op *
op_begin(struct ldapdir *d, const char *address, struct directory_answer *out,
    bool async)
{
	struct ldapdir_op *op;
	char *msg;

	out->status = DIRECTORY_ERROR;
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
	if ((op->filter = ldapfilter_expand(d->p.cfg->filter, address))
	    == NULL) {
		op_fail(op, out, strdup("cannot expand the filter"));
		return NULL;
	}
	/* Every server held: answer now, without waiting for a connection. */
	if ((msg = ldapdir_all_held(d)) != NULL) {
		op_fail(op, out, msg);
		return NULL;
	}
	if (async) {
		if ((op->c = ldapdir_pool_try_take(d)) == NULL) {
			op->queued = true;
			op->hdr.deadline_ms = clock_ms() + d->timeout_ms;
			return op;
		}
	} else if ((op->c = ldapdir_pool_take(d)) == NULL) {
		op_fail(op, out, no_conn_message(d));
		return NULL;
	}
	if (op_send(op, out) != 0)
		return NULL;
	return op;
}

void
ldapdir_lookup(struct directory *dd, const char *address,
    struct directory_answer *out)
{
	struct ldapdir *d = (struct ldapdir *)dd;
	struct ldapdir_op *op;

	if ((op = op_begin(d, address, out, false)) == NULL)
		return;
	for (;;) {
		uint64_t now = clock_ms(), left;
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

struct directory_op *
ldapdir_start(struct directory *dd, const char *address,
    struct directory_answer *out)
{
	struct ldapdir_op *op = op_begin((struct ldapdir *)dd, address, out,
	    true);

	return op != NULL ? &op->hdr : NULL;
}

int
ldapdir_op_fd(struct directory_op *o)
{
	struct ldapdir_op *op = (struct ldapdir_op *)o;

	if (op->queued)
		return op->d->avail_fd;
	return ldapconn_fd(op->c);
}

int
ldapdir_op_poll(struct directory_op *o, struct directory_answer *out)
{
	static const struct timeval zero = { 0, 0 };
	struct ldapdir_op *op = (struct ldapdir_op *)o;

	if (op->queued)
		return op_dequeue(op, out);
	return op_collect(op, &zero, out);
}

void
ldapdir_op_abandon(struct directory_op *o, struct directory_answer *out)
{
	op_timeout((struct ldapdir_op *)o, out);
}
