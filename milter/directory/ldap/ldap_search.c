/*
 * ldap_search.c - the searches of one LDAP connection (ldap_conn.c opens
 * it): a lookup's search, its answer, the hold-down probe.
 *
 * The search is split into send (ldapconn_search_send) and collect
 * (ldapconn_search_wait), so that the asynchronous lookups (several
 * directories asked at once) and the synchronous one share the parsing.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config/config.h"
#include "directory/directory.h"
#include "directory/ldap/ldap_conn.h"

/*
 * The target address in value V: a leading "smtp:" (any case) stripped,
 * surrounding blanks ignored.  Returns a new string, or NULL with *BAD set
 * when the value is not an SMTP address (e.g. an "X400:" address).
 */
static char *
target_value(const struct berval *v, bool *bad)
{
	const char *s = v->bv_val;
	size_t n = v->bv_len;
	char *t;
	size_t i;

	*bad = false;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 5 && strncasecmp(s, "smtp:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n == 0 || memchr(s, '@', n) == NULL) {
		*bad = true;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>') {
			*bad = true;
			return NULL;
		}
	}
	if ((t = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

/*
 * The target of entry E: a new string, or NULL (no target, or a value
 * that is not an SMTP address: an Exchange contact's "X400:..."
 * targetAddress is not ours to follow, so the entry counts as found
 * without a target and its own system keeps it).  -1 when out of memory.
 */
static int
entry_target(LDAP *ld, LDAPMessage *e, const struct ldapdir_params *p,
    char **target)
{
	const char *attr = p->cfg->target_attribute;
	struct berval **vals;
	bool bad = false;

	*target = NULL;
	if (attr == NULL || *attr == '\0')
		return 0;
	vals = ldap_get_values_len(ld, e, attr);
	if (vals == NULL || vals[0] == NULL) {
		if (vals != NULL)
			ldap_value_free_len(vals);
		return 0;
	}
	*target = target_value(vals[0], &bad);
	ldap_value_free_len(vals);
	return *target != NULL || bad ? 0 : -1;
}

static bool
same_target(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcasecmp(a, b) == 0;
}

/*
 * Fill OUT from every entry of RES.  Entries that lead to the same
 * decision (the same target, or none) are one answer with entries = N;
 * entries that do not make the answer ambiguous.
 */
static void
read_entries(LDAP *ld, LDAPMessage *res, const struct ldapdir_params *p,
    struct directory_answer *out, char **err)
{
	out->status = DIRECTORY_FOUND;
	out->target = NULL;
	out->entries = 0;
	out->ambiguous = 0;
	for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL;
	    e = ldap_next_entry(ld, e)) {
		char *t;

		if (entry_target(ld, e, p, &t) < 0) {
			free(out->target);
			out->target = NULL;
			out->status = DIRECTORY_ERROR;
			*err = strdup("out of memory");
			return;
		}
		if (out->entries++ == 0)
			out->target = t;
		else {
			if (!same_target(out->target, t))
				out->ambiguous = 1;
			free(t);
		}
	}
}

int
ldapconn_search_send(struct ldapconn *c, const struct ldapdir_params *p,
    const char *filter, int *msgid, char **err)
{
	char *attrs[2] = { p->attrs[0], NULL };
	int rc;

	*err = NULL;
	*msgid = -1;
	/*
	 * Every matching entry is read (two entries that disagree make the
	 * address ambiguous), up to LDAPCONN_MAX_ENTRIES: a filter template
	 * that matches a whole directory must not read it at each RCPT.
	 */
	rc = ldap_search_ext(c->ld, p->cfg->base, p->scope, filter, attrs, 0,
	    NULL, NULL, NULL, LDAPCONN_MAX_ENTRIES, msgid);
	if (rc != LDAP_SUCCESS) {
		*err = ldapconn_handle_error(c->ld, rc);
		if (*err == NULL)
			*err = strdup("out of memory");
	}
	return rc;
}

/* Fill OUT from the complete answer RES; see ldapconn_search_wait. */
static int
parse_answer(struct ldapconn *c, const struct ldapdir_params *p,
    LDAPMessage *res, struct directory_answer *out, char **err)
{
	LDAPMessage *e;
	char *diag = NULL;
	int rc, result;

	e = ldap_first_entry(c->ld, res);
	/* The final result (a size limit with entries read is fine). */
	rc = ldap_parse_result(c->ld, res, &result, NULL, &diag, NULL, NULL,
	    0);
	if (rc != LDAP_SUCCESS) {
		*err = ldapconn_handle_error(c->ld, rc);
		goto done;
	}
	if (e != NULL && (result == LDAP_SUCCESS ||
	    result == LDAP_SIZELIMIT_EXCEEDED)) {
		read_entries(c->ld, res, p, out, err);
	} else if (result == LDAP_SUCCESS) {
		out->status = DIRECTORY_NOTFOUND;
	} else {
		/* E.g. no such object: a wrong base is an error, not a 5xx. */
		*err = ldapconn_errtext(ldap_err2string(result), diag);
		/* A server going away or overloaded: reconnect next time. */
		if (result == LDAP_UNAVAILABLE || result == LDAP_BUSY)
			rc = result;
	}
	c->uses++;
done:
	if (diag != NULL)
		ldap_memfree(diag);
	return rc;
}

/*
 * Whether C has data to read now: buffered by libldap, or on its socket.
 * poll() alone cannot see what libldap has already read into its buffer.
 */
static bool
data_ready(struct ldapconn *c)
{
	Sockbuf *sb = NULL;
	struct pollfd pfd;

	if (ldap_get_option(c->ld, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS &&
	    sb != NULL && ber_sockbuf_ctrl(sb, LBER_SB_OPT_DATA_READY, NULL))
		return true;
	if ((pfd.fd = ldapconn_fd(c)) < 0)
		return false;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) > 0;
}

int
ldapconn_search_wait(struct ldapconn *c, const struct ldapdir_params *p,
    int msgid, const struct timeval *tv, struct directory_answer *out,
    char **err)
{
	LDAPMessage *res = NULL;
	struct timeval t = *tv;
	int rc, type;

	*err = NULL;
	out->status = DIRECTORY_ERROR;
	out->target = NULL;
	type = ldap_result(c->ld, msgid, LDAP_MSG_ALL, &t, &res);
	/*
	 * With a zero timeout, one ldap_result() call reads one message: an
	 * answer with entries needs one call per entry plus one for the final
	 * result, even when all of it has arrived.  Read on while there is
	 * something to read, so that an answer that is here is seen now.
	 */
	for (int reads = 1; type == 0 && tv->tv_sec == 0 &&
	    tv->tv_usec == 0 && reads < LDAPCONN_MAX_READS &&
	    data_ready(c); reads++) {
		t = *tv;
		type = ldap_result(c->ld, msgid, LDAP_MSG_ALL, &t, &res);
	}
	if (type == 0)
		return LDAP_TIMEOUT;   /* not yet: nothing to report */
	if (type < 0 || res == NULL) {
		/* The connection failed: no result to parse. */
		rc = LDAP_OTHER;
		ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &rc);
		if (rc == LDAP_SUCCESS || rc == LDAP_TIMEOUT)
			rc = LDAP_SERVER_DOWN;
		*err = ldapconn_handle_error(c->ld, rc);
	} else {
		rc = parse_answer(c, p, res, out, err);
	}
	if (res != NULL)
		ldap_msgfree(res);
	if (out->status == DIRECTORY_ERROR && *err == NULL)
		*err = strdup("out of memory");
	return rc;
}

int
ldapconn_probe(struct ldapconn *c, const struct ldapdir_params *p, char **err)
{
	char none[] = "1.1";
	char *attrs[2] = { none, NULL };
	char filter[] = "(objectClass=*)";
	LDAPMessage *res = NULL;
	struct timeval tv = p->tv;
	int rc;

	*err = NULL;
	rc = ldap_search_ext_s(c->ld, "", LDAP_SCOPE_BASE, filter, attrs, 0,
	    NULL, NULL, &tv, 1, &res);
	if (res != NULL)
		ldap_msgfree(res);
	if (ldapconn_try_next(rc) && (*err = ldapconn_handle_error(c->ld, rc)) == NULL)
		*err = strdup("out of memory");
	return rc;
}

int
ldapconn_fd(struct ldapconn *c)
{
	int fd = -1;

	if (c->ld == NULL ||
	    ldap_get_option(c->ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS)
		return -1;
	return fd;
}

void
ldapconn_abandon(struct ldapconn *c, int msgid)
{
	if (c->ld != NULL && msgid >= 0)
		ldap_abandon_ext(c->ld, msgid, NULL, NULL);
	ldapconn_close(c);
}
