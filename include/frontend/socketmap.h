/*
 * socketmap.h - a server for Postfix socketmap_table(5) / Sendmail "socket"
 * maps: netstring requests "NAME KEY", netstring replies "OK value",
 * "NOTFOUND ", "TEMP reason", "TIMEOUT reason", "PERM reason".
 *
 * The protocol lives here; what a key means is decided by the callback.
 */
#ifndef NSMILTER_SOCKETMAP_H
#define NSMILTER_SOCKETMAP_H

#include <stddef.h>

/* Largest request accepted (netstring payload); larger gets PERM + close. */
#define SOCKETMAP_MAX_REQUEST 10000
/* Connections served at once; beyond, the longest idle one is dropped, or
 * with none idle the newcomer gets TEMP at once (not a wait in the
 * backlog). */
#define SOCKETMAP_MAX_CLIENTS 256
/* Refused connections kept while their TEMP reply drains, at most (and
 * SOCKETMAP_REFUSED_MS, socketmap_priv.h).  With the clients, the most
 * descriptors a socketmap server holds. */
#define SOCKETMAP_MAX_REFUSED 32

/*
 * Answer one request.  MAP and KEY are NUL-terminated.  Returns a new
 * string holding the whole reply payload ("OK smtp:[10.8.0.25]",
 * "NOTFOUND ", "TEMP ...", "PERM ..."), or NULL (answered "TEMP internal error").
 * Called from several threads at once.
 */
typedef char *(*socketmap_lookup_fn)(
    void *ctx, const char *map, const char *key);

struct socketmap_server;

/*
 * Bind SPEC ("unix:/path" or "inet:port@host"), unix sockets created with
 * MODE, and start serving in background threads.  Returns NULL with *ERR set
 * (a new string) on failure.
 */
struct socketmap_server *socketmap_start(const char *spec, unsigned mode,
    socketmap_lookup_fn fn, void *ctx, char **err);
/*
 * The reply payload for one request REQ of LEN bytes (the netstring's
 * payload, followed by one byte that may be overwritten): "PERM ..." for a
 * malformed request, else FN's answer, "TEMP internal error" for none or
 * an invalid one.  A new string, NULL when out of memory.
 */
char *socketmap_answer(socketmap_lookup_fn fn, void *ctx, char *req,
    size_t len);

/* Stop accepting, close every client, join the threads, remove the socket. */
void socketmap_stop(struct socketmap_server *s);

#endif
