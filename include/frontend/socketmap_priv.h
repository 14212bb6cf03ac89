/*
 * socketmap_priv.h - the socketmap server's insides, shared by its two
 * files: socketmap.c (listening, accepting, capacity) and
 * socketmap_client.c (one connection's requests and replies).
 */
#ifndef NSMILTER_SOCKETMAP_PRIV_H
#define NSMILTER_SOCKETMAP_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frontend/listen.h"
#include "frontend/socketmap.h"

#define SOCKETMAP_REFUSED_MS  1000
#define SOCKETMAP_BUSY_REPLY  "TEMP socketmap: all connections busy, try again"
/* At most one "all busy" log line per this many ms. */
#define SOCKETMAP_BUSY_LOG_MS 10000

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* then SO_NOSIGPIPE is set per socket */
#endif

struct client {
	struct socketmap_server *srv;
	int fd;
	pthread_t thread;
	/* under srv->lock: */
	int64_t idle_since; /* clock_us() waiting for a request; 0: busy */
	bool closing;       /* fd is being closed: nobody else touches it */
	bool dropped;       /* shut down to make room for a newcomer */
	bool done;          /* thread finished */
	struct client *next;
};

struct refused {
	int fd;
	int64_t deadline;
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
	unsigned ndropped;  /* dropped, not yet reaped */
	/* the acceptor's own: */
	struct refused refused[SOCKETMAP_MAX_REFUSED];
	unsigned nrefused;
	int64_t busy_logged;
};

/* Threads of one client connection (socketmap_client.c). */
void *socketmap_client_main(void *arg);
/* No SIGPIPE from FD where MSG_NOSIGNAL does not exist. */
void socketmap_fd_no_sigpipe(int fd);

#endif
