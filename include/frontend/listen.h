/*
 * listen.h - listening sockets for nsmilter's own servers (the socketmap,
 * the metrics endpoint), from a socket specification (base/sockspec.h).
 */
#ifndef NSMILTER_LISTEN_H
#define NSMILTER_LISTEN_H

#include <sys/types.h>

struct listener {
	int fd;            /* non-blocking, close-on-exec; -1: none */
	char *path;        /* unix socket to remove at close, or NULL */
	dev_t dev;         /* ... if it is still the one made here */
	ino_t ino;
};

/*
 * Bind and listen on SPEC; a unix socket is created with MODE after a
 * stale one is removed (never a live one, nor another kind of file).
 * WHAT names the server in errors ("socketmap"): *ERR is then a new
 * "WHAT SPEC: reason".  Returns 0 or -1.
 */
int listen_open(const char *what, const char *spec, unsigned mode,
    struct listener *out, char **err);
/* Close L; remove its unix socket unless another process replaced it. */
void listen_close(struct listener *l);
/* FD_CLOEXEC, and O_NONBLOCK when NONBLOCK; 0 or -1. */
int listen_fd_flags(int fd, int nonblock);

#endif
