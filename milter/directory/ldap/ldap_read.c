/*
 * ldap_read.c - a whole directory, page by page (RFC 2696 simple paged
 * results, through libldap's ldap_create_page_control).
 *
 * One connection, made as a lookup makes it (ldap_conn.c: the uri list in
 * order, StartTLS, bind, each step bounded by the timeout).  Each page is
 * one search carrying the cookie of the previous page; the entries are
 * taken one message at a time, so a page is never held whole and a server
 * that stops answering is a timeout, never a hang.  The control is not
 * critical: a server without paged results answers in one go, and one
 * that would cut the answer short (a size limit) is an error, never a
 * silently partial read.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xfmt.h"
#include "config/config.h"
#include "directory/ldap/ldap_conn.h"
#include "directory/ldap/ldap_dir.h"
#include "directory/ldap/ldap_read.h"

/* "TEXT" or "TEXT (DIAG)" for RC on LD. */
static char *
read_error(LDAP *ld, int rc, const char *what)
{
	char *diag = NULL, *text, *s;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	text = ldapconn_errtext(ldap_err2string(rc), diag);
	if (diag != NULL)
		ldap_memfree(diag);
	if (text == NULL)
		return NULL;
	s = xasprintf("%s: %s", what, text);
	free(text);
	return s;
}

static void
params_fill(struct ldapdir_params *p, const struct directory_config *cfg)
{
	unsigned ms = cfg->timeout_ms > 0 ? cfg->timeout_ms
	    : LDAPDIR_DEFAULT_TIMEOUT_MS;

	ldapconn_params_fill(p, cfg, ms);
}

/* Connect C to the first server of the uri list that can be reached. */
static int
connect_any(struct ldapconn *c, const struct ldapdir_params *p, char **err)
{
	int rc = LDAP_SERVER_DOWN;

	*err = NULL;
	for (size_t i = 0; i < p->cfg->uri.n; i++) {
		free(*err);
		*err = NULL;
		rc = ldapconn_open_one(c, p, i, err);
		if (rc == LDAP_SUCCESS || !ldapconn_try_next(rc))
			break;
	}
	if (rc != LDAP_SUCCESS && *err == NULL)
		*err = strdup(ldap_err2string(rc));
	return rc;
}

/*
 * The end of one page: RES is its search result (freed here).  *COOKIE
 * becomes the cookie of the next page (empty: the last page was read).
 * Returns 0, or -1 with *ERR set.
 */
static int
page_end(LDAP *ld, LDAPMessage *res, struct berval *cookie, char **err)
{
	LDAPControl **ctrls = NULL, *pc;
	char *diag = NULL;
	int rc, result = LDAP_OTHER;
	ber_int_t estimate = 0;

	rc = ldap_parse_result(ld, res, &result, NULL, &diag, NULL, &ctrls, 1);
	if (rc != LDAP_SUCCESS) {
		*err = read_error(ld, rc, "search");
		goto out;
	}
	if (result != LDAP_SUCCESS) {
		char *text = ldapconn_errtext(ldap_err2string(result), diag);

		*err = text != NULL ? xasprintf("search: %s", text) : NULL;
		free(text);
		rc = -1;
		goto out;
	}
	ber_memfree(cookie->bv_val);
	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	pc = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL);
	/* No control: the server sent everything at once. */
	if (pc != NULL && ldap_parse_pageresponse_control(ld, pc, &estimate,
	    cookie) != LDAP_SUCCESS) {
		*err = strdup("search: bad paged results control");
		rc = -1;
	}
out:
	if (diag != NULL)
		ldap_memfree(diag);
	if (ctrls != NULL)
		ldap_controls_free(ctrls);
	if (rc != LDAP_SUCCESS && *err == NULL)
		*err = strdup("out of memory");
	return rc == LDAP_SUCCESS ? 0 : -1;
}

/* One page: send the search with COOKIE, pass its entries to FN. */
static int
read_page(LDAP *ld, const struct ldapdir_params *p, const char *filter,
    char *const *attrs, struct berval *cookie, ldapread_entry_fn fn,
    void *ctx, char **err)
{
	LDAPControl *pc = NULL, *ctrls[2];
	int rc, msgid = -1;

	rc = ldap_create_page_control(ld, LDAPREAD_PAGE_SIZE,
	    cookie->bv_len > 0 ? cookie : NULL, 0, &pc);
	if (rc != LDAP_SUCCESS) {
		*err = read_error(ld, rc, "paged results control");
		return -1;
	}
	ctrls[0] = pc;
	ctrls[1] = NULL;
	rc = ldap_search_ext(ld, p->cfg->base, p->scope, filter,
	    (char **)attrs, 0, ctrls, NULL, NULL, LDAP_NO_LIMIT, &msgid);
	ldap_control_free(pc);
	if (rc != LDAP_SUCCESS) {
		*err = read_error(ld, rc, "search");
		return -1;
	}
	for (;;) {
		struct timeval tv = p->tv;
		LDAPMessage *msg = NULL;
		int type = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg);

		if (type == 0 || type < 0 || msg == NULL) {
			if (type == 0)
				ldap_abandon_ext(ld, msgid, NULL, NULL);
			rc = LDAP_TIMEOUT;
			if (type != 0) {
				ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
				if (rc == LDAP_SUCCESS)
					rc = LDAP_SERVER_DOWN;
			}
			if (msg != NULL)
				ldap_msgfree(msg);
			*err = read_error(ld, rc, "search");
			return -1;
		}
		if (type == LDAP_RES_SEARCH_ENTRY) {
			int stop = fn(ctx, ld, ldap_first_entry(ld, msg));

			ldap_msgfree(msg);
			if (stop != 0) {
				ldap_abandon_ext(ld, msgid, NULL, NULL);
				return stop;
			}
		} else if (type == LDAP_RES_SEARCH_RESULT) {
			return page_end(ld, msg, cookie, err);
		} else {
			ldap_msgfree(msg);	/* references: not followed */
		}
	}
}

int
ldapread_on(LDAP *ld, const struct directory_config *cfg, const char *filter,
    char *const *attrs, ldapread_entry_fn fn, void *ctx, char **err)
{
	struct ldapdir_params p;
	struct berval cookie = { 0, NULL };
	int rc;

	*err = NULL;
	params_fill(&p, cfg);
	do
		rc = read_page(ld, &p, filter, attrs, &cookie, fn, ctx, err);
	while (rc == 0 && cookie.bv_len > 0);
	ber_memfree(cookie.bv_val);
	if (rc == -1 && *err == NULL)
		*err = strdup("out of memory");
	return rc;
}

int
ldapread_all(const struct directory_config *cfg, const char *filter,
    char *const *attrs, ldapread_entry_fn fn, void *ctx, char **err)
{
	struct ldapdir_params p;
	struct ldapconn c = { 0 };
	int rc;

	*err = NULL;
	if (cfg->uri.n == 0 || cfg->base == NULL) {
		*err = strdup("no uri or base");
		return -1;
	}
	params_fill(&p, cfg);
	if (connect_any(&c, &p, err) != LDAP_SUCCESS)
		return -1;
	rc = ldapread_on(c.ld, cfg, filter, attrs, fn, ctx, err);
	ldapconn_close(&c);
	return rc;
}
