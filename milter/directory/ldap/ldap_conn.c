/*
 * ldap_conn.c - one LDAP connection: open (failover, StartTLS, bind) and
 * close; its searches are in ldap_search.c.
 *
 * Every network step is bounded by the directory's timeout: connecting to
 * one server, TLS handshake included (LDAP_OPT_NETWORK_TIMEOUT), StartTLS
 * and bind (LDAP_OPT_TIMEOUT for synchronous operations), and the search
 * (its caller waits at most that long for the answer).  A server that
 * accepts the TCP connection but never answers (stopped, overloaded) gives
 * LDAP_TIMEOUT, never a hang.  Which server of the URI list to open, and
 * which to skip because it is held down, is decided by ldap_pool.c and ldap_holddown.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/xfmt.h"
#include "config/config.h"
#include "directory/directory.h"
#include "directory/ldap/ldap_conn.h"
#include "directory/ldap/ldap_tls.h"

char *
ldapconn_errtext(const char *text, const char *diag)
{
	/* libldap's "(unknown error code)" for TLS failures tells nothing. */
	if (diag != NULL && *diag != '\0' && strcmp(diag, text) != 0 &&
	    strcmp(diag, "(unknown error code)") != 0)
		return xasprintf("%s (%s)", text, diag);
	return strdup(text);
}

/* Message for RC, with the handle's diagnostic message if it has one. */
char *
ldapconn_handle_error(LDAP *ld, int rc)
{
	char *diag = NULL;
	char *s;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	s = ldapconn_errtext(ldap_err2string(rc), diag);
	if (diag != NULL)
		ldap_memfree(diag);
	return s;
}

/*
 * Set the handle's options, checking the server's certificate as REQ says
 * (LDAP_OPT_X_TLS_*); returns an LDAP code.
 */
static int
set_options(LDAP *ld, const struct ldapdir_params *p, int req)
{
	const struct directory_config *cfg = p->cfg;
	int version = LDAP_VERSION3;
	struct timeval tv = p->tv;
	int rc;

	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version))
	    != LDAP_OPT_SUCCESS)
		return rc;
	/* Active Directory returns referrals at the domain root: ignore. */
	if ((rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF))
	    != LDAP_OPT_SUCCESS)
		return rc;
	if ((rc = ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON))
	    != LDAP_OPT_SUCCESS)
		return rc;
	if ((rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv))
	    != LDAP_OPT_SUCCESS)
		return rc;
	if ((rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv))
	    != LDAP_OPT_SUCCESS)
		return rc;
	if (p->tls) {
		int server = 0;

		/*
		 * libldap 2.5 bounds a TLS handshake by the network timeout
		 * only in asynchronous connect mode; otherwise it spins
		 * forever on a server that accepts and never answers.
		 */
		if ((rc = ldap_set_option(ld, LDAP_OPT_CONNECT_ASYNC,
		    LDAP_OPT_ON)) != LDAP_OPT_SUCCESS)
			return rc;
		if ((rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT,
		    &req)) != LDAP_OPT_SUCCESS)
			return rc;
		if (cfg->tls_ca_file != NULL && *cfg->tls_ca_file != '\0' &&
		    (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
		    cfg->tls_ca_file)) != LDAP_OPT_SUCCESS)
			return rc;
		/* The options above take effect in a new TLS context. */
		if ((rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &server))
		    != LDAP_OPT_SUCCESS)
			return rc;
	}
	return LDAP_SUCCESS;
}

/*
 * In asynchronous connect mode (TLS), ldap_connect() may return while the
 * TCP connection is still being established: wait for it here, on the
 * network timeout, so that a server that does not answer SYNs is a
 * timeout of this step (and the next URI is tried), not of the next one.
 */
static int
wait_connected(LDAP *ld, const struct ldapdir_params *p)
{
	struct pollfd pfd;
	int fd = -1, soerr = 0, n;
	socklen_t len = sizeof(soerr);
	long ms = (long)p->tv.tv_sec * 1000 + (long)p->tv.tv_usec / 1000;

	if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS ||
	    fd < 0)
		return LDAP_SUCCESS;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	do
		n = poll(&pfd, 1, (int)ms);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return LDAP_TIMEOUT;
	if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
	    soerr != 0)
		return LDAP_SERVER_DOWN;
	return LDAP_SUCCESS;
}

/*
 * Whether failure RC of a TLS step may be the server's certificate:
 * libldap then has no reason of its own to give (with GnuTLS, a refused
 * certificate is "(unknown error code)"), while network failures come
 * with one ("Error in the push function.") or as a timeout.
 */
static bool
maybe_certificate(LDAP *ld, int rc)
{
	char *diag = NULL;
	bool maybe;

	if (rc == LDAP_TIMEOUT)
		return false;
	ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	maybe = diag == NULL || *diag == '\0' ||
	    strcmp(diag, "(unknown error code)") == 0 ||
	    strncmp(diag, "TLS:", 4) == 0;
	if (diag != NULL)
		ldap_memfree(diag);
	return maybe;
}

/*
 * Why SERVER's certificate fails verification (ldap_tls.h): connect once
 * more without checking it, and read it.  NULL when that connection fails
 * too (then the certificate is not the reason) or it cannot be read.
 */
static char *
explain_certificate(const struct ldapdir_params *p, size_t server)
{
	LDAP *ld = NULL;
	char *err = NULL, *why;

	if (ldapconn_connect(&ld, p, server, LDAP_OPT_X_TLS_ALLOW, &err) !=
	    LDAP_SUCCESS) {
		free(err);
		return NULL;
	}
	why = ldap_tls_explain(ld, p->cfg->uri.v[server], p->cfg->tls_ca_file);
	ldap_unbind_ext(ld, NULL, NULL);
	return why;
}

/*
 * The message for failure RC of TLS step STEP ("TLS" on an ldaps://
 * connection, "StartTLS") to server SERVER: what is wrong with the
 * certificate when that is the reason (ldap_tls.h), else libldap's
 * message (after "StartTLS: " for that step).
 */
static char *
tls_error(LDAP *ld, int rc, const struct ldapdir_params *p, size_t server,
    int req, const char *step)
{
	char *why = NULL, *e;

	if (req == LDAP_OPT_X_TLS_DEMAND && maybe_certificate(ld, rc))
		why = explain_certificate(p, server);
	if (why != NULL) {
		e = xasprintf("%s: %s", step, why);
		free(why);
		return e;
	}
	e = ldapconn_handle_error(ld, rc);
	if (e != NULL && strcmp(step, "StartTLS") == 0) {
		why = e;
		e = xasprintf("StartTLS: %s", why);
		free(why);
	}
	return e;
}

int
ldapconn_scope(enum config_scope scope)
{
	switch (scope) {
	case CONFIG_SCOPE_BASE:
		return LDAP_SCOPE_BASE;
	case CONFIG_SCOPE_ONE:
		return LDAP_SCOPE_ONELEVEL;
	default:
		return LDAP_SCOPE_SUBTREE;
	}
}

void
ldapconn_params_fill(struct ldapdir_params *p,
    const struct directory_config *cfg, unsigned timeout_ms)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->tls = cfg->starttls;
	for (size_t i = 0; i < cfg->uri.n; i++)
		if (strncasecmp(cfg->uri.v[i], "ldaps://", 8) == 0)
			p->tls = true;
	p->scope = ldapconn_scope(cfg->scope);
	p->tv.tv_sec = (time_t)(timeout_ms / 1000);
	p->tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
}

int
ldapconn_connect(LDAP **ldp, const struct ldapdir_params *p, size_t server,
    int req, char **err)
{
	const struct directory_config *cfg = p->cfg;
	LDAP *ld = NULL;
	int rc;

	*ldp = NULL;
	*err = NULL;
	if (server >= cfg->uri.n) {
		*err = strdup(ldap_err2string(LDAP_PARAM_ERROR));
		return LDAP_PARAM_ERROR;
	}
	rc = ldap_initialize(&ld, cfg->uri.v[server]);
	if (rc != LDAP_SUCCESS) {
		*err = ldapconn_handle_error(NULL, rc);
		return rc;
	}
	if ((rc = set_options(ld, p, req)) != LDAP_SUCCESS) {
		if (p->tls && cfg->tls_ca_file != NULL)
			*err = xasprintf("%s (TLS setup, tls_ca_file %s)",
			    ldap_err2string(rc), cfg->tls_ca_file);
		else
			*err = ldapconn_handle_error(ld, rc);
		goto fail;
	}
	/*
	 * Connect now, on its own timeout.  With ldaps:// the TLS handshake
	 * is part of it (libldap completes it even in asynchronous mode).
	 */
	if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
		if (strncasecmp(cfg->uri.v[server], "ldaps:", 6) == 0)
			*err = tls_error(ld, rc, p, server, req, "TLS");
		else
			*err = ldapconn_handle_error(ld, rc);
		goto fail;
	}
	if (p->tls && (rc = wait_connected(ld, p)) != LDAP_SUCCESS) {
		*err = ldapconn_handle_error(ld, rc);
		goto fail;
	}
	if (cfg->starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) !=
	    LDAP_SUCCESS) {
		*err = tls_error(ld, rc, p, server, req, "StartTLS");
		goto fail;
	}
	*ldp = ld;
	return LDAP_SUCCESS;
fail:
	if (*err == NULL)
		*err = strdup("out of memory");
	ldap_unbind_ext(ld, NULL, NULL);
	if (rc == LDAP_SUCCESS)
		rc = LDAP_OTHER;
	return rc;
}

int
ldapconn_open_one(struct ldapconn *c, const struct ldapdir_params *p,
    size_t server, char **err)
{
	const struct directory_config *cfg = p->cfg;
	LDAP *ld = NULL;
	int rc;

	c->ld = NULL;
	c->uses = 0;
	c->server = server;
	rc = ldapconn_connect(&ld, p, server, cfg->tls_verify ?
	    LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER, err);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (cfg->bind_dn != NULL && *cfg->bind_dn != '\0') {
		struct berval cred;
		const char *pw = cfg->bind_password != NULL ?
		    cfg->bind_password : "";

		cred.bv_val = (char *)pw;
		cred.bv_len = strlen(pw);
		rc = ldap_sasl_bind_s(ld, cfg->bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			/* The diagnostic comes from the server: no password. */
			*err = ldapconn_handle_error(ld, rc);
			if (*err == NULL)
				*err = strdup("out of memory");
			ldap_unbind_ext(ld, NULL, NULL);
			return rc;
		}
	}
	c->ld = ld;
	return LDAP_SUCCESS;
}

/*
 * Whether a failure to open a connection to one server is worth trying
 * the next one for (and holding that server down): it could not be
 * reached, timed out or failed TLS.  A refused bind would be refused by its
 * replicas too.
 */
bool
ldapconn_try_next(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT ||
	    rc == LDAP_CONNECT_ERROR || rc == LDAP_UNAVAILABLE ||
	    rc == LDAP_BUSY;
}

void
ldapconn_close(struct ldapconn *c)
{
	if (c->ld != NULL)
		ldap_unbind_ext(c->ld, NULL, NULL);
	c->ld = NULL;
	c->uses = 0;
}

void
ldapconn_free_list(struct ldapconn *list)
{
	struct ldapconn *c;

	while ((c = list) != NULL) {
		list = c->next;
		ldapconn_close(c);
		free(c);
	}
}
