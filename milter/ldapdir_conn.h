/*
 * ldapdir_conn.h - one connection of the LDAP backend (private to ldapdir*.c).
 *
 * A connection is a small struct around an LDAP handle.  It is used by one
 * thread at a time (the pool in ldapdir.c hands it out), so handle-wide
 * options and error codes are safe to use on it.
 */
#ifndef NSMILTER_LDAPDIR_CONN_H
#define NSMILTER_LDAPDIR_CONN_H

#include <stdbool.h>
#include <sys/time.h>

#include <ldap.h>

struct directory_config;
struct dir_answer;

/* What every connection of one directory shares; built once at open. */
struct ldapdir_params {
	const struct directory_config *cfg;
	bool tls;            /* StartTLS or an ldaps:// URI: set TLS options */
	int scope;           /* LDAP_SCOPE_* */
	char *attrs[2];      /* target_attribute or "1.1", NULL */
	struct timeval tv;   /* timeout_ms: each connect, StartTLS, bind, search */
};

struct ldapconn {
	LDAP *ld;               /* NULL: not connected */
	size_t server;          /* index in cfg->uri of the server it is on */
	unsigned long uses;     /* searches answered on this handle */
	struct ldapconn *next;  /* the pool's idle list */
};

/*
 * Connect C to the first server of the URI list that answers (each tried
 * in order: connect, StartTLS, bind).  Returns LDAP_SUCCESS, or an LDAP error code with *ERR set to a new
 * message (ldap_err2string, plus the diagnostic when there is one); C is
 * then left unconnected.
 */
int ldapconn_open(struct ldapconn *c, const struct ldapdir_params *p,
    char **err);

/*
 * Search FILTER on connected C and put the answer in OUT: DIR_FOUND
 * (OUT->target set when the entry has a target attribute), DIR_NOTFOUND, or
 * DIR_ERROR with *ERR set to a new message.  Returns LDAP_SUCCESS when the
 * connection is still usable (the server answered, even with an error such
 * as "No such object"), else the LDAP error code (LDAP_SERVER_DOWN,
 * LDAP_TIMEOUT, ...): the caller must then close C.
 */
int ldapconn_search(struct ldapconn *c, const struct ldapdir_params *p,
    const char *filter, struct dir_answer *out, char **err);

/* Unbind and forget the handle; C can be opened again. */
void ldapconn_close(struct ldapconn *c);

/* A new message "TEXT" or "TEXT (DIAG)"; NULL only when out of memory. */
char *ldapconn_errtext(const char *text, const char *diag);

#endif
