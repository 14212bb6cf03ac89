/*
 * listen.c - bind the listening socket of one of nsmilter's servers.
 * The specification is parsed by base/sockspec.c, like everywhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sockspec.h"
#include "base/xfmt.h"
#include "frontend/listen.h"

int
listen_fd_flags(int fd, int nonblock)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	if (!nonblock)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* Remove a stale socket at SA's path; -1 (with *ERR) for a live one. */
static int
remove_stale(const char *what, const char *spec,
    const struct sockaddr_un *sa, char **err)
{
	const char *path = sa->sun_path;
	struct stat st;
	int probe, rc;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		*err = xasprintf("%s %s: %s", what, spec, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*err = xasprintf("%s %s: %s exists and is not a socket", what,
		    spec, path);
		return -1;
	}
	if ((probe = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		*err = xasprintf("%s %s: socket: %s", what, spec,
		    strerror(errno));
		return -1;
	}
	(void)listen_fd_flags(probe, 1);
	rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc == 0 || errno != ECONNREFUSED) {
		int e = errno;

		close(probe);
		*err = xasprintf("%s %s: %s", what, spec, rc == 0 ||
		    e == EAGAIN || e == EINPROGRESS ?
		    "socket in use by another process" : strerror(e));
		return -1;
	}
	close(probe);
	if (unlink(path) < 0 && errno != ENOENT) {
		*err = xasprintf("%s %s: unlink stale socket: %s", what, spec,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
open_unix(const char *what, const char *spec, const struct sockspec *sp,
    unsigned mode, struct listener *out, char **err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sp->path, strlen(sp->path) + 1);
	if (remove_stale(what, spec, &sa, err) < 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		*err = xasprintf("%s %s: socket: %s", what, spec,
		    strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*err = xasprintf("%s %s: bind: %s", what, spec,
		    strerror(errno));
		close(fd);
		return -1;
	}
	/* Nobody can connect before listen(), so chmod after bind is safe. */
	if (chmod(sp->path, (mode_t)mode) < 0 || lstat(sp->path, &st) < 0 ||
	    listen(fd, SOMAXCONN) < 0 || listen_fd_flags(fd, 1) < 0) {
		*err = xasprintf("%s %s: %s", what, spec, strerror(errno));
		close(fd);
		unlink(sp->path);
		return -1;
	}
	if ((out->path = strdup(sp->path)) == NULL) {
		*err = xasprintf("%s %s: out of memory", what, spec);
		close(fd);
		unlink(sp->path);
		return -1;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	out->fd = fd;
	return 0;
}

static int
open_inet(const char *what, const char *spec, const struct sockspec *sp,
    struct listener *out, char **err)
{
	struct addrinfo hints, *res, *ai;
	int rc, fd = -1, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = sp->family == SOCKSPEC_INET6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(sp->host, sp->port, &hints, &res)) != 0) {
		*err = xasprintf("%s %s: %s", what, spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0 && listen_fd_flags(fd, 1) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*err = xasprintf("%s %s: %s", what, spec, strerror(e));
		return -1;
	}
	out->fd = fd;
	return 0;
}

int
listen_open(const char *what, const char *spec, unsigned mode,
    struct listener *out, char **err)
{
	struct sockspec sp;
	char *why = NULL;

	*err = NULL;
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (sockspec_parse(spec, &sp, &why) < 0) {
		*err = xasprintf("%s %s", what, why ? why : "bad socket");
		free(why);
		return -1;
	}
	if (sp.family == SOCKSPEC_UNIX)
		return open_unix(what, spec, &sp, mode, out, err);
	return open_inet(what, spec, &sp, out, err);
}

void
listen_close(struct listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->path != NULL && lstat(l->path, &st) == 0 &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	free(l->path);
	l->path = NULL;
}
