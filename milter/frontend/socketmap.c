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
#include "base/xfmt.h"
#include "frontend/listen.h"
#include "frontend/netstring.h"

/* *err (when wanted) becomes a new formatted message. */
#define SET_ERR(...) \
	do { \
		if (err != NULL) \
			*err = xasprintf(__VA_ARGS__); \
	} while (0)

/* Connections beyond this are accepted and closed at once: the MTA gets a
 * prompt temporary lookup error instead of waiting in the backlog. */
#define SOCKETMAP_MAX_CLIENTS 256
/* Idle time allowed between requests; Postfix reconnects after a close. */
#define SOCKETMAP_IDLE_MS (300 * 1000)
/* Time allowed to finish sending a started request, and to take a reply. */
#define SOCKETMAP_IO_MS (60 * 1000)
/* Postfix's default socketmap reply limit. */
#define SOCKETMAP_MAX_REPLY 100000
/* After a fatal protocol error: how long and how much to drain before the
 * close, so the PERM reply is not destroyed by a TCP reset. */
#define SOCKETMAP_LINGER_MS    1000
#define SOCKETMAP_LINGER_BYTES (64 * 1024)
/* Room for the largest acceptable netstring: "10000:" payload ",". */
#define SOCKETMAP_BUF_SIZE (SOCKETMAP_MAX_REQUEST + 32)

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* then SO_NOSIGPIPE is set per socket */
#endif

struct client {
	struct socketmap_server *srv;
	int fd;
	pthread_t thread;
	bool done; /* thread finished; under srv->lock */
	struct client *next;
};

struct socketmap_server {
	struct listener l; /* the listening socket */
	int wake[2];       /* readable once stopping */
	int reap[2];       /* readable when a client thread finished */
	socketmap_lookup_fn fn;
	void *ctx;
	pthread_t acceptor;
	pthread_mutex_t lock; /* protects clients and nclients */
	struct client *clients;
	unsigned nclients;
};

static void
fd_no_sigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
	int one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#else
	(void)fd;
#endif
}

/*
 * Wait until FD is ready for EVENTS.  Returns 1 when ready (or in error:
 * the next recv/send says which), 0 at DEADLINE, -1 when stopping.
 */
static int
wait_ready(
    const struct socketmap_server *s, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {
		    {.fd = fd, .events = events},
		    {.fd = s->wake[0], .events = POLLIN},
		};
		int64_t left = deadline - (int64_t)clock_ms();
		int n;

		if (left < 0)
			left = 0;
		n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[1].revents != 0)
			return -1;
		if (p[0].revents != 0)
			return 1;
		if (n == 0 && left == 0)
			return 0;
	}
}

/* Send all of BUF, coping with partial writes.  0 or -1. */
static int
send_all(const struct socketmap_server *s, int fd, const char *buf, size_t len)
{
	int64_t deadline = (int64_t)clock_ms() + SOCKETMAP_IO_MS;

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_ready(s, fd, POLLOUT, deadline) <= 0)
				return -1;
		} else {
			return -1; /* EPIPE, ECONNRESET, ... */
		}
	}
	return 0;
}

static int
send_reply(const struct socketmap_server *s, int fd, const char *reply)
{
	size_t len;
	char *ns = netstring_encode(reply, strlen(reply), &len);
	int rc;

	if (ns == NULL)
		return -1;
	rc = send_all(s, fd, ns, len);
	free(ns);
	return rc;
}

/* Does REPLY start with a status word the MTA understands? */
static bool
reply_valid(const char *reply)
{
	static const char *const words[] = {
	    "OK",
	    "NOTFOUND",
	    "TEMP",
	    "TIMEOUT",
	    "PERM",
	};
	size_t n = strcspn(reply, " ");

	if (strlen(reply) > SOCKETMAP_MAX_REPLY)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && memcmp(reply, words[i], n) == 0)
			return true;
	return false;
}

/*
 * Answer one request, REQ (LEN bytes, followed by one byte that may be
 * overwritten).  Returns -1 when the reply could not be sent.
 */
static int
answer(const struct socketmap_server *s, int fd, char *req, size_t len)
{
	char *space;
	char *reply;
	int rc;

	if (memchr(req, '\0', len) != NULL)
		return send_reply(s, fd, "PERM invalid request: NUL byte");
	req[len] = '\0';
	space = strchr(req, ' ');
	if (space == NULL || space == req)
		return send_reply(
		    s, fd, "PERM invalid request: expected \"name key\"");
	*space = '\0';
	/* The key is passed exactly as received: no case folding. */
	reply = s->fn(s->ctx, req, space + 1);
	if (reply == NULL || !reply_valid(reply))
		rc = send_reply(s, fd, "TEMP internal error");
	else
		rc = send_reply(s, fd, reply);
	free(reply);
	return rc;
}

/* After a fatal protocol error: let the reply reach the client, then go. */
static void
linger(const struct socketmap_server *s, int fd)
{
	int64_t deadline = (int64_t)clock_ms() + SOCKETMAP_LINGER_MS;
	size_t drained = 0;
	char junk[4096];

	(void)shutdown(fd, SHUT_WR);
	while (drained < SOCKETMAP_LINGER_BYTES &&
	    wait_ready(s, fd, POLLIN, deadline) > 0) {
		ssize_t n = recv(fd, junk, sizeof(junk), 0);

		if (n == 0 ||
		    (n < 0 && errno != EINTR && errno != EAGAIN &&
		        errno != EWOULDBLOCK))
			break;
		if (n > 0)
			drained += (size_t)n;
	}
}

static void
serve(struct socketmap_server *s, int fd)
{
	char *buf = malloc(SOCKETMAP_BUF_SIZE);
	size_t have = 0;
	bool in_request = false;
	int64_t deadline = 0;

	if (buf == NULL)
		return;
	for (;;) {
		const char *data;
		size_t dlen, used;
		enum netstring_status st;
		ssize_t n;

		st = netstring_decode(
		    buf, have, SOCKETMAP_MAX_REQUEST, &data, &dlen, &used);
		if (st == NETSTRING_OK) {
			/* data points into buf, followed by the ',' we may overwrite */
			if (answer(s, fd, buf + (data - buf), dlen) < 0)
				break;
			memmove(buf, buf + used, have - used);
			have -= used;
			in_request = false;
			continue;
		}
		if (st != NETSTRING_INCOMPLETE || have == SOCKETMAP_BUF_SIZE) {
			if (send_reply(s, fd,
			        st == NETSTRING_BAD_FORMAT
			            ? "PERM malformed request"
			            : "PERM request too long") == 0)
				linger(s, fd);
			break;
		}
		if (have == 0) {
			deadline = (int64_t)clock_ms() + SOCKETMAP_IDLE_MS;
		} else if (!in_request) {
			in_request = true;
			deadline = (int64_t)clock_ms() + SOCKETMAP_IO_MS;
		}
		if (wait_ready(s, fd, POLLIN, deadline) <= 0)
			break;
		n = recv(fd, buf + have, SOCKETMAP_BUF_SIZE - have, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			break;
		}
		have += (size_t)n;
	}
	free(buf);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct socketmap_server *s = c->srv;
	ssize_t n;

	serve(s, c->fd);
	close(c->fd);
	pthread_mutex_lock(&s->lock);
	c->done = true;
	pthread_mutex_unlock(&s->lock);
	/* A full pipe already says "reap"; nothing else can go wrong here. */
	do
		n = write(s->reap[1], "r", 1);
	while (n < 0 && errno == EINTR);
	return NULL;
}

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

static void
accept_one(struct socketmap_server *s)
{
	struct client *c;
	int fd = accept(s->l.fd, NULL, NULL);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* The connection stays queued; do not spin on it. */
			struct timespec ts = {
			    .tv_sec = 0, .tv_nsec = 100 * 1000000};

			nanosleep(&ts, NULL);
		}
		return;
	}
	if (listen_fd_flags(fd, true) < 0 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	fd_no_sigpipe(fd);
	c->srv = s;
	c->fd = fd;
	pthread_mutex_lock(&s->lock);
	if (s->nclients >= SOCKETMAP_MAX_CLIENTS ||
	    pthread_create(&c->thread, NULL, client_main, c) != 0) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
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

		if (poll(p, 3, -1) < 0)
			continue; /* EINTR; ENOMEM passes */
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
	/* No new connections from here on; close and unlink before draining. */
	server_unlisten(s);
	reap_clients(s, true);
	server_free(s);
}
