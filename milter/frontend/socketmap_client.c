/*
 * socketmap_client.c - one socketmap connection (see socketmap.c): read
 * netstring requests, answer each through the lookup callback, mark the
 * connection idle between requests so that the acceptor may close the
 * longest idle one to make room.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "frontend/netstring.h"
#include "frontend/socketmap_priv.h"

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

void
socketmap_fd_no_sigpipe(int fd)
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

char *
socketmap_answer(socketmap_lookup_fn fn, void *ctx, char *req, size_t len)
{
	char *space;
	char *reply;

	if (memchr(req, '\0', len) != NULL)
		return strdup("PERM invalid request: NUL byte");
	req[len] = '\0';
	space = strchr(req, ' ');
	if (space == NULL || space == req)
		return strdup("PERM invalid request: expected \"name key\"");
	*space = '\0';
	/* The key is passed exactly as received: no case folding. */
	reply = fn(ctx, req, space + 1);
	if (reply == NULL || !reply_valid(reply)) {
		free(reply);
		return strdup("TEMP internal error");
	}
	return reply;
}

/*
 * Answer one request, REQ (LEN bytes, followed by one byte that may be
 * overwritten).  Returns -1 when the reply could not be sent.
 */
static int
answer(const struct socketmap_server *s, int fd, char *req, size_t len)
{
	char *reply = socketmap_answer(s->fn, s->ctx, req, len);
	int rc;

	rc = send_reply(s, fd, reply ? reply : "TEMP internal error");
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
set_idle(struct client *c, bool idle)
{
	pthread_mutex_lock(&c->srv->lock);
	c->idle_since = idle ? (int64_t)clock_us() | 1 : 0;
	pthread_mutex_unlock(&c->srv->lock);
}

static void
serve(struct client *c)
{
	struct socketmap_server *s = c->srv;
	int fd = c->fd;
	int ready;
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
		if (have == 0)
			set_idle(c, true);
		ready = wait_ready(s, fd, POLLIN, deadline);
		if (have == 0)
			set_idle(c, false);
		if (ready <= 0)
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

void *
socketmap_client_main(void *arg)
{
	struct client *c = arg;
	struct socketmap_server *s = c->srv;
	ssize_t n;

	serve(c);
	pthread_mutex_lock(&s->lock);
	c->closing = true;
	pthread_mutex_unlock(&s->lock);
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

