/*
 * socketmap.c - a server for Postfix socketmap_table(5) and Sendmail
 * "socket" maps (see socketmap.h).
 *
 * One acceptor thread, and one thread per client connection: Postfix keeps
 * its connections open and idle between lookups, and the lookup callback may
 * wait on a directory, so a slow client or a slow lookup never holds up
 * another client.  Every wait is a poll() on the client socket and the
 * server's wake pipe; socketmap_stop() writes one byte into that pipe, which
 * then stays readable, so every thread sees it, returns, and is joined.
 *
 * Capacity: at most SOCKETMAP_MAX_CLIENTS connections are served.  When a
 * new one arrives at the cap (or accept() runs out of descriptors), the
 * client idle the longest is closed to make room: Postfix reconnects
 * when it needs the map again, so idle connections never lock anyone out.
 * When every slot is busy in a lookup, the newcomer gets "TEMP" (the MTA
 * retries later) instead of a reset.
 *
 * Protocol errors: a well-formed netstring that is not "NAME KEY" gets a
 * PERM reply and the connection stays usable; a malformed or oversized
 * netstring gets a PERM reply and the connection is closed, since the byte
 * stream can no longer be trusted.  The oversized payload is not read.
 */
#include "frontend/socketmap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xfmt.h"
#include "frontend/listen.h"
#include "frontend/netstring.h"
#include "frontend/socketmap_priv.h"

/* *err (when wanted) becomes a new formatted message. */
#define SET_ERR(...) \
	do { \
		if (err != NULL) \
			*err = xasprintf(__VA_ARGS__); \
	} while (0)

/* Join finished client threads (all of them when ALL: after the acceptor
 * has stopped and the wake pipe is readable, they all finish). */
static void
reap_clients(struct socketmap_server *s, bool all)
{
	struct client *gone = NULL;
	struct client **pp;

	pthread_mutex_lock(&s->lock);
	pp = &s->clients;
	while (*pp != NULL) {
		struct client *c = *pp;

		if (all || c->done) {
			*pp = c->next;
			c->next = gone;
			gone = c;
			s->nclients--;
			if (c->dropped)
				s->ndropped--;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&s->lock);
	while (gone != NULL) {
		struct client *c = gone;

		gone = c->next;
		pthread_join(c->thread, NULL);
		free(c);
	}
}

/*
 * Close the connection idle the longest (its thread sees EOF and goes), to
 * make room.  Under s->lock.  Returns false when none is idle.
 */
static bool
drop_oldest_idle(struct socketmap_server *s)
{
	struct client *oldest = NULL;

	for (struct client *c = s->clients; c != NULL; c = c->next)
		if (!c->closing && !c->dropped && c->idle_since != 0 &&
		    (oldest == NULL || c->idle_since < oldest->idle_since))
			oldest = c;
	if (oldest == NULL)
		return false;
	(void)shutdown(oldest->fd, SHUT_RDWR);
	oldest->dropped = true;
	s->ndropped++;
	return true;
}

/* Close the refused connections that are done or due (all when ALL). */
static void
refused_sweep(struct socketmap_server *s, bool all)
{
	int64_t now = (int64_t)clock_ms();
	unsigned j = 0;

	for (unsigned i = 0; i < s->nrefused; i++) {
		struct refused *r = &s->refused[i];
		bool gone = all || now >= r->deadline;
		char junk[4096];

		/* Read what the client sent, so that the close is no reset. */
		while (!gone) {
			ssize_t n = recv(r->fd, junk, sizeof(junk), 0);

			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			gone = n == 0 || (errno != EAGAIN &&
			    errno != EWOULDBLOCK);
			break;
		}
		if (gone)
			close(r->fd);
		else
			s->refused[j++] = *r;
	}
	s->nrefused = j;
}

/* Every slot busy: answer TEMP, let it drain, close (refused_sweep). */
static void
refuse_busy(struct socketmap_server *s, int fd)
{
	int64_t now = (int64_t)clock_ms();
	size_t len;
	char *ns = netstring_encode(SOCKETMAP_BUSY_REPLY,
	    strlen(SOCKETMAP_BUSY_REPLY), &len);

	if (s->busy_logged == 0 ||
	    now - s->busy_logged >= SOCKETMAP_BUSY_LOG_MS) {
		log_warning("socketmap: all %d connections busy in lookups: "
		    "answering TEMP", SOCKETMAP_MAX_CLIENTS);
		s->busy_logged = now;
	}
	if (ns != NULL)	/* a new socket's buffer takes it whole */
		(void)send(fd, ns, len, MSG_NOSIGNAL);
	free(ns);
	(void)shutdown(fd, SHUT_WR);
	if (s->nrefused == SOCKETMAP_MAX_REFUSED) {
		close(fd);
		return;
	}
	s->refused[s->nrefused++] = (struct refused){ .fd = fd,
	    .deadline = now + SOCKETMAP_REFUSED_MS };
}

static void
accept_one(struct socketmap_server *s)
{
	struct client *c;
	int fd = accept(s->l.fd, NULL, NULL);
	bool room;

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of descriptors: free the longest idle one.  The
			 * connection stays queued; do not spin on it. */
			struct timespec ts = {
			    .tv_sec = 0, .tv_nsec = 100 * 1000000};

			pthread_mutex_lock(&s->lock);
			room = drop_oldest_idle(s);
			pthread_mutex_unlock(&s->lock);
			if (!room)
				nanosleep(&ts, NULL);
		}
		return;
	}
	if (listen_fd_flags(fd, true) < 0) {
		close(fd);
		return;
	}
	socketmap_fd_no_sigpipe(fd);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		refuse_busy(s, fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	pthread_mutex_lock(&s->lock);
	room = s->nclients - s->ndropped < SOCKETMAP_MAX_CLIENTS ||
	    drop_oldest_idle(s);
	if (!room || pthread_create(&c->thread, NULL, socketmap_client_main, c) != 0) {
		pthread_mutex_unlock(&s->lock);
		refuse_busy(s, fd);
		free(c);
		return;
	}
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
	pthread_mutex_unlock(&s->lock);
}

static void *
acceptor_main(void *arg)
{
	struct socketmap_server *s = arg;

	for (;;) {
		struct pollfd p[3] = {
		    {.fd = s->l.fd, .events = POLLIN},
		    {.fd = s->wake[0], .events = POLLIN},
		    {.fd = s->reap[0], .events = POLLIN},
		};

		if (poll(p, 3, s->nrefused > 0 ? 50 : -1) < 0)
			continue; /* EINTR; ENOMEM passes */
		if (s->nrefused > 0)
			refused_sweep(s, false);
		if (p[1].revents != 0)
			break;
		if (p[2].revents != 0) {
			char junk[64];

			while (read(s->reap[0], junk, sizeof(junk)) > 0)
				;
			reap_clients(s, false);
		}
		if (p[0].revents != 0)
			accept_one(s);
	}
	return NULL;
}

static int
make_pipe(int p[2])
{
	if (pipe(p) < 0)
		return -1;
	if (listen_fd_flags(p[0], true) < 0 ||
	    listen_fd_flags(p[1], true) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	return 0;
}

/* Close the listening socket; remove a unix socket unless replaced since. */
static void
server_unlisten(struct socketmap_server *s)
{
	listen_close(&s->l);
}

static void
server_free(struct socketmap_server *s)
{
	server_unlisten(s);
	for (int i = 0; i < 2; i++) {
		if (s->wake[i] >= 0)
			close(s->wake[i]);
		if (s->reap[i] >= 0)
			close(s->reap[i]);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct socketmap_server *
socketmap_start(const char *spec, unsigned mode, socketmap_lookup_fn fn,
    void *ctx, char **err)
{
	struct socketmap_server *s;
	sigset_t all, old;
	int rc;

	if (err != NULL)
		*err = NULL;
	if (spec == NULL || fn == NULL || mode > 07777) {
		SET_ERR("socketmap: invalid arguments");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		SET_ERR("socketmap %s: out of memory", spec);
		return NULL;
	}
	s->l.fd = s->wake[0] = s->wake[1] = s->reap[0] = s->reap[1] = -1;
	s->fn = fn;
	s->ctx = ctx;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		SET_ERR("socketmap %s: out of memory", spec);
		return NULL;
	}
	if (make_pipe(s->wake) < 0 || make_pipe(s->reap) < 0) {
		SET_ERR("socketmap %s: pipe: %s", spec, strerror(errno));
		server_free(s);
		return NULL;
	}

	{
		char *lerr = NULL;

		rc = listen_open("socketmap", spec, mode, &s->l, &lerr);
		if (err != NULL)
			*err = lerr;
		else
			free(lerr);
	}
	if (rc < 0) {
		server_free(s);
		return NULL;
	}

	/*
     * Our threads take no asynchronous signals: the daemon handles SIGTERM
     * and SIGHUP in its own thread (libmilter does so with sigwait).
     */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->acceptor, NULL, acceptor_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		SET_ERR("socketmap %s: pthread_create: %s", spec, strerror(rc));
		server_free(s);
		return NULL;
	}
	return s;
}

void
socketmap_stop(struct socketmap_server *s)
{
	ssize_t n;

	if (s == NULL)
		return;
	do
		n = write(s->wake[1], "s", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(s->acceptor, NULL);
	refused_sweep(s, true);
	/* No new connections from here on; close and unlink before draining. */
	server_unlisten(s);
	reap_clients(s, true);
	server_free(s);
}
