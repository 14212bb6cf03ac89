/*
 * daemon.h - running the milter: socket, privileges, signals, reload.
 */
#ifndef NSMILTER_DAEMON_H
#define NSMILTER_DAEMON_H

#include <stdbool.h>

struct daemon_options {
	const char *config_path;
	const char *socket;     /* -p: overrides [milter] socket */
	const char *user;       /* -u: overrides [milter] user */
	bool foreground;        /* -f */
};

/* Run until SIGTERM/SIGINT; returns the exit status. */
int daemon_run(const struct daemon_options *opt);

#endif
