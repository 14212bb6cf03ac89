/*
 * ldap_conn.h - one connection of the LDAP backend (private to
 * milter/directory/ldap/).
 *
 * A connection is a small struct around an LDAP handle, open to one server
 * of the directory's URI list.  It is used by one thread at a time (the
 * pool in ldap_pool.c hands it out), so handle-wide options and error codes
 * are safe to use on it.
 */
#ifndef NSMILTER_LDAP_CONN_H
#define NSMILTER_LDAP_CONN_H

#include <stdbool.h>
#include <sys/time.h>

#include <ldap.h>

#include "config/config.h"

/* Entries read for one address at most (see ldapconn_search_send). */
#define LDAPCONN_MAX_ENTRIES 16
/* ldap_result() calls for one answer in one zero-timeout collect at most. */
#define LDAPCONN_MAX_READS (4 * LDAPCONN_MAX_ENTRIES)

struct directory_config;
struct directory_answer;

/* What every connection of one directory shares; built once at open. */
struct ldapdir_params {
	const struct directory_config *cfg;
	bool tls;            /* StartTLS or an ldaps:// URI: set TLS options */
	int scope;           /* LDAP_SCOPE_* */
	char *attrs[2];      /* target_attribute or "1.1", NULL */
	struct timeval tv;   /* timeout_ms: each connect, StartTLS, bind, search */
};

/*
 * Fill P from CFG with the timeout TIMEOUT_MS: TLS when StartTLS or an
 * ldaps:// URI, the search scope; no attributes (attrs[0] NULL).
 */
void ldapconn_params_fill(struct ldapdir_params *p,
    const struct directory_config *cfg, unsigned timeout_ms);

struct ldapconn {
	LDAP *ld;               /* NULL: not connected */
	size_t server;          /* index in cfg->uri of the server it is on */
	unsigned long uses;     /* searches answered on this handle */
	struct ldapconn *next;  /* the pool's idle list */
};

/*
 * A new handle in *LDP connected to server SERVER (index in cfg->uri):
 * connect (ldaps: TLS handshake included), StartTLS when configured, each
 * bounded by the timeout, the server's certificate checked as REQ says
 * (LDAP_OPT_X_TLS_DEMAND, _ALLOW, _NEVER).  No bind.  Returns LDAP_SUCCESS,
 * or an LDAP error code with *ERR set to a new message; a TLS step that
 * failed on the certificate says what is wrong with it (ldap_tls.h).
 */
int ldapconn_connect(LDAP **ldp, const struct ldapdir_params *p,
    size_t server, int req, char **err);

/*
 * Connect C to server SERVER (index in cfg->uri): connect, StartTLS, bind,
 * each bounded by the timeout.  Returns LDAP_SUCCESS (C->server set), or an
 * LDAP error code with *ERR set to a new message (ldap_err2string, plus the
 * diagnostic when there is one); C is then left unconnected.
 */
int ldapconn_open_one(struct ldapconn *c, const struct ldapdir_params *p,
    size_t server, char **err);

/*
 * Whether failure RC (of ldapconn_open_one, or of a search on a
 * connection) means the server is unreachable, hung or refusing service:
 * worth trying the next URI for, and holding the server down.
 */
bool ldapconn_try_next(int rc);

/*
 * Send the search for FILTER on connected C; *MSGID is its message id.
 * Returns LDAP_SUCCESS, or an LDAP error code with *ERR set to a new
 * message: the caller must then close C.
 */
int ldapconn_search_send(struct ldapconn *c, const struct ldapdir_params *p,
    const char *filter, int *msgid, char **err);

/*
 * Collect the answer to search MSGID on C, waiting at most TV (zero: only
 * read what has arrived, all of it: every message buffered or readable).
 * LDAP_TIMEOUT: no complete answer yet, OUT and *ERR untouched apart from
 * OUT being DIRECTORY_ERROR.  Otherwise OUT is filled: DIRECTORY_FOUND
 * (OUT->target set when the entry has a target attribute),
 * DIRECTORY_NOTFOUND, or DIRECTORY_ERROR with *ERR set to a new message;
 * the return is LDAP_SUCCESS when the connection is still usable (the
 * server answered, even with an error such as "No such object"), else the
 * LDAP error code (LDAP_SERVER_DOWN, ...): the caller must then close C.
 */
int ldapconn_search_wait(struct ldapconn *c, const struct ldapdir_params *p,
    int msgid, const struct timeval *tv, struct directory_answer *out,
    char **err);

/*
 * Whether the server behind connected C answers LDAP: read its root DSE
 * (base "", scope base, (objectClass=*), no attributes) within the
 * timeout.  A frozen server still completes the TCP handshake, so an
 * anonymous connection proves nothing until an operation is answered.
 * Returns the LDAP code; any answer, even a refusal, is not
 * ldapconn_try_next().  *ERR is set (new) when it is.
 */
int ldapconn_probe(struct ldapconn *c, const struct ldapdir_params *p,
    char **err);

/* The connection's socket (LDAP_OPT_DESC), for poll(); -1 if none. */
int ldapconn_fd(struct ldapconn *c);

/* Abandon search MSGID (a timeout) and close C. */
void ldapconn_abandon(struct ldapconn *c, int msgid);

/* Unbind and forget the handle; C can be opened again. */
void ldapconn_close(struct ldapconn *c);
/* Close and free LIST, chained by next (outside the directory's lock). */
void ldapconn_free_list(struct ldapconn *list);

/* The LDAP_SCOPE_* of a configured scope. */
int ldapconn_scope(enum config_scope scope);

/* Message for RC, with LD's diagnostic message if it has one (new). */
char *ldapconn_handle_error(LDAP *ld, int rc);

/* A new message "TEXT" or "TEXT (DIAG)"; NULL only when out of memory. */
char *ldapconn_errtext(const char *text, const char *diag);

#endif
