/*
 * mirror_dirsync.c - sync = dirsync: Active Directory's DirSync control
 * (1.2.840.113556.1.4.841, through libldap's ldap_create_dirsync_control
 * and ldap_parse_dirsync_control), every sync_interval.
 *
 * DirSync searches a whole naming context (the one that holds base, read
 * from the root DSE) and returns the objects changed since the cookie,
 * with the changed attributes only, deleted objects (isDeleted) included.
 * Because only changed attributes come back, whether an object belongs to
 * the copy (under base/scope, matching sync_filter: an account disabled
 * changes userAccountControl and leaves the filter) is decided again for
 * every changed object: a search under base/scope with
 * (&(objectGUID=GUID)SYNC_FILTER) reads it whole.  Found: it is written;
 * not found (deleted, disabled, moved out of base): it leaves the copy.
 * Entries are keyed by objectGUID, which a rename or a move keeps.
 *
 * The DirSync search asks for objectGUID, isDeleted, the address and
 * target attributes and the attributes sync_filter names, so a change to
 * any of them is seen.  Flags: LDAP_DIRSYNC_INCREMENTAL_VALUES (a changed
 * multi-valued attribute sends its changed values only: the object is read
 * whole anyway).  Without LDAP_DIRSYNC_OBJECT_SECURITY the account needs
 * "Replicating Directory Changes" on the naming context (README).
 *
 * Without a cookie (first start, changed parameters), DirSync is first
 * run to its end for the cookie alone, then the copy is read in full with
 * a paged search (ldap_read.c); changes in between come again with the
 * next DirSync.  Everything one run brings (all DirSync pages, the reads,
 * the final cookie) is one LMDB write transaction.  A cookie the server
 * refuses (another domain controller of the uri list, one restored from a
 * backup) is dropped and the copy read anew.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xfmt.h"
#include "directory/ldap/ldap_conn.h"
#include "directory/ldap/ldap_read.h"
#include "directory/mirror/mirror_engine.h"
#include "directory/mirror/mirror_entry.h"

#define GUID_LEN 16
/* DirSync pages of one run at most (a server that never ends). */
#define MAX_PAGES 100000

struct ds {
	struct mirror_session *s;
	struct mirror_wtxn *w;
	char **ds_attrs;            /* asked of DirSync */
	char **read_attrs;          /* asked when reading an entry */
	struct mirror_key *changed; /* objects DirSync named */
	size_t n_changed, cap_changed;
	unsigned long written, removed;
	char *error;
	struct timeval tv;
	int scope;
};

static char *
ld_error(LDAP *ld, int rc, const char *what)
{
	char *diag = NULL, *s;

	ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	s = xasprintf("%s: %s%s%s%s", what, ldap_err2string(rc),
	    diag && *diag ? " (" : "", diag && *diag ? diag : "",
	    diag && *diag ? ")" : "");
	if (diag != NULL)
		ldap_memfree(diag);
	return s;
}

/* ---- attribute lists ----------------------------------------------------- */

static bool
has_attr(char **v, size_t n, const char *a, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i]) == len && strncasecmp(v[i], a, len) == 0)
			return true;
	return false;
}

static int
add_attr(char ***v, size_t *n, const char *a, size_t len)
{
	char **nv;

	if (has_attr(*v, *n, a, len))
		return 0;
	if ((nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strndup(a, len)) == NULL)
		return -1;
	nv[++*n] = NULL;
	return 0;
}

static void
free_attrs(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * The attributes the DirSync search asks for: objectGUID, isDeleted, the
 * session's, and each attribute named in FILTER (the description of an
 * item: after "(", up to "=", "~=", "<=", ">=" or ":").
 */
static char **
dirsync_attrs(char *const *base, const char *filter)
{
	char **v = NULL;
	size_t n = 0;

	if (add_attr(&v, &n, "objectGUID", 10) != 0 ||
	    add_attr(&v, &n, "isDeleted", 9) != 0)
		goto fail;
	for (size_t i = 0; base[i] != NULL; i++)
		if (add_attr(&v, &n, base[i], strlen(base[i])) != 0)
			goto fail;
	for (const char *p = filter; p != NULL && *p != '\0'; p++) {
		size_t len;

		if (*p != '(' || strchr("(&|!", p[1]) != NULL)
			continue;
		len = strcspn(p + 1, "=~<>:)");
		if (len > 0 && p[1 + len] != ')' &&
		    add_attr(&v, &n, p + 1, len) != 0)
			goto fail;
	}
	return v;
fail:
	free_attrs(v);
	return NULL;
}

/* ---- the naming context ------------------------------------------------- */

/* Whether DN ends with SUFFIX (case-insensitive, at a component edge). */
static bool
dn_under(const char *dn, const char *suffix)
{
	size_t a = strlen(dn), b = strlen(suffix);

	if (b == 0 || b > a || strcasecmp(dn + a - b, suffix) != 0)
		return false;
	return a == b || dn[a - b - 1] == ',';
}

/*
 * The naming context that holds BASE (root DSE namingContexts, the
 * longest that BASE is under), a new string; BASE itself when none is.
 */
static char *
naming_context(LDAP *ld, const char *base, struct timeval *tv)
{
	char *attrs[] = { "namingContexts", NULL }, *best = NULL;
	LDAPMessage *res = NULL, *e;
	struct berval **vals;

	if (ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, tv, 1, &res) == LDAP_SUCCESS &&
	    (e = ldap_first_entry(ld, res)) != NULL &&
	    (vals = ldap_get_values_len(ld, e, "namingContexts")) != NULL) {
		for (size_t i = 0; vals[i] != NULL; i++) {
			char *nc = strndup(vals[i]->bv_val, vals[i]->bv_len);

			if (nc != NULL && dn_under(base, nc) &&
			    (best == NULL || strlen(nc) > strlen(best))) {
				free(best);
				best = nc;
			} else {
				free(nc);
			}
		}
		ldap_value_free_len(vals);
	}
	if (res != NULL)
		ldap_msgfree(res);
	return best != NULL ? best : strdup(base);
}

/* ---- DirSync ---------------------------------------------------------- */

static void
changed_add(struct ds *d, const struct berval *guid)
{
	if (d->n_changed == d->cap_changed) {
		size_t cap = d->cap_changed ? d->cap_changed * 2 : 64;
		struct mirror_key *v = realloc(d->changed, cap * sizeof(*v));

		if (v == NULL)
			goto nomem;
		d->changed = v;
		d->cap_changed = cap;
	}
	if ((d->changed[d->n_changed].p = malloc(GUID_LEN)) == NULL)
		goto nomem;
	memcpy(d->changed[d->n_changed].p, guid->bv_val, GUID_LEN);
	d->changed[d->n_changed++].len = GUID_LEN;
	return;
nomem:
	if (d->error == NULL)
		d->error = strdup("out of memory");
}

/* An object DirSync returned: deleted, or to be read again (COLLECT). */
static void
dirsync_entry(struct ds *d, LDAP *ld, LDAPMessage *e, bool collect)
{
	struct berval **guid, **del;

	if (!collect)
		return;
	guid = ldap_get_values_len(ld, e, "objectGUID");
	if (guid == NULL || guid[0] == NULL || guid[0]->bv_len != GUID_LEN) {
		if (guid != NULL)
			ldap_value_free_len(guid);
		return;
	}
	del = ldap_get_values_len(ld, e, "isDeleted");
	if (del != NULL && del[0] != NULL && del[0]->bv_len == 4 &&
	    strncasecmp(del[0]->bv_val, "TRUE", 4) == 0) {
		mirror_wtxn_delete(d->w, guid[0]->bv_val, GUID_LEN);
		d->removed++;
	} else {
		changed_add(d, guid[0]);
	}
	if (del != NULL)
		ldap_value_free_len(del);
	ldap_value_free_len(guid);
}

/*
 * One DirSync page from *COOKIE (replaced by the next one); *MORE: the
 * server has more.  Returns LDAP_SUCCESS or an error (*ERR set).
 */
static int
dirsync_page(struct ds *d, LDAP *ld, const char *nc, struct berval *cookie,
    bool collect, bool *more, char **err)
{
	LDAPControl *ctrl = NULL, *ctrls[2], **rctrls = NULL, *rc_ds;
	struct berval none = { 0, (char *)"" };
	int rc, msgid, result = LDAP_OTHER, cont = 0;

	*more = false;
	/* No cookie yet: an empty one (libldap wants one). */
	rc = ldap_create_dirsync_control(ld,
	    (int)LDAP_CONTROL_X_DIRSYNC_INCREMENTAL_VALUES, 0,
	    cookie->bv_len > 0 ? cookie : &none, &ctrl);
	if (rc != LDAP_SUCCESS) {
		*err = ld_error(ld, rc, "dirsync control");
		return rc;
	}
	ctrls[0] = ctrl;
	ctrls[1] = NULL;
	rc = ldap_search_ext(ld, nc, LDAP_SCOPE_SUBTREE, "(objectClass=*)",
	    d->ds_attrs, 0, ctrls, NULL, NULL, LDAP_NO_LIMIT, &msgid);
	ldap_control_free(ctrl);
	if (rc != LDAP_SUCCESS) {
		*err = ld_error(ld, rc, "dirsync");
		return rc;
	}
	for (;;) {
		struct timeval tv = d->tv;
		LDAPMessage *msg = NULL;
		int type = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg);

		if (type <= 0 || msg == NULL) {
			rc = type == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN;
			if (type == 0)
				ldap_abandon_ext(ld, msgid, NULL, NULL);
			if (msg != NULL)
				ldap_msgfree(msg);
			*err = ld_error(ld, rc, "dirsync");
			return rc;
		}
		if (type == LDAP_RES_SEARCH_ENTRY) {
			dirsync_entry(d, ld, ldap_first_entry(ld, msg),
			    collect);
			ldap_msgfree(msg);
			continue;
		}
		if (type != LDAP_RES_SEARCH_RESULT) {
			ldap_msgfree(msg);	/* references: not followed */
			continue;
		}
		rc = ldap_parse_result(ld, msg, &result, NULL, NULL, NULL,
		    &rctrls, 1);
		break;
	}
	if (rc == LDAP_SUCCESS)
		rc = result;
	if (rc != LDAP_SUCCESS) {
		*err = ld_error(ld, rc, "dirsync");
	} else if ((rc_ds = ldap_control_find(LDAP_CONTROL_X_DIRSYNC, rctrls,
	    NULL)) == NULL) {
		*err = strdup("dirsync: the server sent no DirSync control "
		    "(not Active Directory?)");
		rc = LDAP_PROTOCOL_ERROR;
	} else {
		ber_memfree(cookie->bv_val);
		cookie->bv_val = NULL;
		cookie->bv_len = 0;
		if (ldap_parse_dirsync_control(ld, rc_ds, &cont, cookie)
		    != LDAP_SUCCESS) {
			*err = strdup("dirsync: bad DirSync control");
			rc = LDAP_PROTOCOL_ERROR;
		}
		*more = cont != 0;
	}
	if (rctrls != NULL)
		ldap_controls_free(rctrls);
	return rc;
}

/* ---- reading the objects --------------------------------------------- */

/* Write entry E (keyed by its objectGUID); 0, or non-zero to stop. */
static int
put_entry(void *arg, LDAP *ld, LDAPMessage *e)
{
	struct ds *d = arg;
	struct berval **guid;
	struct mirror_entry me;

	if (atomic_load(d->s->stop))
		return 1;
	if (e == NULL)
		return 0;
	guid = ldap_get_values_len(ld, e, "objectGUID");
	if (guid == NULL || guid[0] == NULL || guid[0]->bv_len != GUID_LEN) {
		if (guid != NULL)
			ldap_value_free_len(guid);
		return 0;
	}
	if (mirror_entry_from_ldap(ld, e, d->s->attrs,
	    d->s->cfg->target_attribute, &me) != 0) {
		ldap_value_free_len(guid);
		d->error = strdup("out of memory");
		return 2;
	}
	mirror_wtxn_put(d->w, guid[0]->bv_val, GUID_LEN, &me);
	mirror_entry_free(&me);
	ldap_value_free_len(guid);
	if (mirror_wtxn_error(d->w) != NULL) {
		d->error = strdup(mirror_wtxn_error(d->w));
		return 2;
	}
	d->written++;
	return 0;
}

/* Object GUID again, whole: written when it belongs, else removed. */
static int
reread(struct ds *d, LDAP *ld, const unsigned char *guid, char **err)
{
	char esc[GUID_LEN * 3 + 1], *filter;
	LDAPMessage *res = NULL, *e;
	int rc;

	for (size_t i = 0; i < GUID_LEN; i++)
		snprintf(esc + 3 * i, 4, "\\%02x", guid[i]);
	if ((filter = xasprintf("(&(objectGUID=%s)%s)", esc,
	    d->s->cfg->sync_filter ? d->s->cfg->sync_filter : "")) == NULL) {
		*err = strdup("out of memory");
		return LDAP_NO_MEMORY;
	}
	rc = ldap_search_ext_s(ld, d->s->cfg->base, d->scope, filter,
	    d->read_attrs, 0, NULL, NULL, &d->tv, 2, &res);
	free(filter);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		*err = ld_error(ld, rc, "reading a changed entry");
		if (res != NULL)
			ldap_msgfree(res);
		return rc;
	}
	e = res != NULL ? ldap_first_entry(ld, res) : NULL;
	if (e != NULL) {
		if (put_entry(d, ld, e) != 0) {
			ldap_msgfree(res);
			*err = d->error ? strdup(d->error) : NULL;
			return LDAP_OTHER;
		}
	} else {
		mirror_wtxn_delete(d->w, guid, GUID_LEN);
		d->removed++;
	}
	if (res != NULL)
		ldap_msgfree(res);
	return LDAP_SUCCESS;
}

static void
ds_free(struct ds *d)
{
	for (size_t i = 0; i < d->n_changed; i++)
		free(d->changed[i].p);
	free(d->changed);
	free_attrs(d->ds_attrs);
	free_attrs(d->read_attrs);
	free(d->error);
	if (d->w != NULL)
		mirror_wtxn_abort(d->w);
}

/* Every DirSync page from COOKIE to the end; LDAP_SUCCESS or an error. */
static int
dirsync_all(struct ds *d, LDAP *ld, const char *nc, struct berval *cookie,
    bool collect, char **err)
{
	bool more = true;
	int rc = LDAP_SUCCESS;

	for (unsigned pages = 0; more && rc == LDAP_SUCCESS; pages++) {
		if (atomic_load(d->s->stop) || pages >= MAX_PAGES) {
			*err = pages >= MAX_PAGES ? strdup("dirsync: no end")
			    : NULL;
			return LDAP_OTHER;
		}
		rc = dirsync_page(d, ld, nc, cookie, collect, &more, err);
		if (rc == LDAP_SUCCESS && d->error != NULL) {
			*err = strdup(d->error);
			rc = LDAP_OTHER;
		}
	}
	return rc;
}

int
mirror_dirsync_run(struct mirror_session *s, char **err)
{
	struct ds d = { .s = s };
	struct berval cookie = { 0, NULL };
	struct mirror_meta m;
	uint64_t t0 = clock_ms();
	char *nc = NULL, *e2 = NULL;
	size_t n = 0;
	int rc = LDAP_NO_MEMORY;

	*err = NULL;
	d.scope = ldapconn_scope(s->cfg->scope);
	d.tv.tv_sec = (time_t)(s->cfg->timeout_ms / 1000);
	d.tv.tv_usec = (suseconds_t)(s->cfg->timeout_ms % 1000) * 1000;
	if ((d.ds_attrs = dirsync_attrs(s->attrs, s->cfg->sync_filter)) ==
	    NULL)
		goto nomem;
	if (add_attr(&d.read_attrs, &n, "objectGUID", 10) != 0)
		goto nomem;
	for (size_t i = 0; s->attrs[i] != NULL; i++)
		if (add_attr(&d.read_attrs, &n, s->attrs[i],
		    strlen(s->attrs[i])) != 0)
			goto nomem;
	if ((nc = naming_context(s->ld, s->cfg->base, &d.tv)) == NULL)
		goto nomem;
	if (mirror_wtxn_begin(s->store, &d.w, err) != 0) {
		rc = LDAP_OTHER;
		goto out;
	}
	if (s->fresh) {
		/* The cookie first, then everything: nothing is missed. */
		rc = dirsync_all(&d, s->ld, nc, &cookie, false, err);
		if (rc != LDAP_SUCCESS)
			goto out;
		mirror_wtxn_clear(d.w);
		if (ldapread_on(s->ld, s->cfg, s->cfg->sync_filter,
		    d.read_attrs, put_entry, &d, err) != 0) {
			if (d.error != NULL) {
				free(*err);
				*err = strdup(d.error);
			}
			rc = LDAP_OTHER;
			goto out;
		}
	} else {
		if ((cookie.bv_val = ber_memalloc(s->cookie_len + 1)) == NULL)
			goto nomem;
		memcpy(cookie.bv_val, s->cookie, s->cookie_len);
		cookie.bv_len = s->cookie_len;
		rc = dirsync_all(&d, s->ld, nc, &cookie, true, err);
		if (rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION ||
		    rc == LDAP_PROTOCOL_ERROR) {
			/* The server will not take this cookie (another
			 * domain controller, a restored one): read anew. */
			log_info("directory %s: mirror: %s; reading it in "
			    "full", s->cfg->name, *err ? *err : "cookie refused");
			free(*err);
			*err = NULL;
			rc = LDAP_SYNC_REFRESH_REQUIRED;
			goto out;
		}
		if (rc != LDAP_SUCCESS)
			goto out;
		/* Each changed object once, whole. */
		mirror_keys_sort(d.changed, d.n_changed);
		for (size_t i = 0; i < d.n_changed; i++) {
			if (i > 0 && memcmp(d.changed[i].p,
			    d.changed[i - 1].p, GUID_LEN) == 0)
				continue;
			if (atomic_load(s->stop)) {
				rc = LDAP_OTHER;
				goto out;
			}
			if ((rc = reread(&d, s->ld, d.changed[i].p, err)) !=
			    LDAP_SUCCESS)
				goto out;
		}
	}
	mirror_wtxn_set_cookie(d.w, cookie.bv_val, cookie.bv_len);
	mirror_wtxn_set_params(d.w, s->params);
	mirror_wtxn_set_complete(d.w, true);
	mirror_wtxn_set_contact(d.w, (uint64_t)time(NULL), false);
	rc = mirror_wtxn_commit(d.w, err) == 0 ? LDAP_SUCCESS : LDAP_OTHER;
	d.w = NULL;
	if (rc != LDAP_SUCCESS)
		goto out;
	s->worked = true;
	s->pause_ms = s->cfg->sync_interval_ms;
	if (mirror_store_meta(s->store, &m, &e2) == 0 &&
	    (s->fresh || d.written + d.removed > 0))
		log_msg(s->fresh ? LOG_INFO : LOG_DEBUG, "directory %s: mirror "
		    "%s: %lu written, %lu removed; %llu entries, %llu "
		    "addresses, in %llu ms", s->cfg->name, s->fresh ? "loaded" :
		    "changes", d.written, d.removed,
		    (unsigned long long)m.entries,
		    (unsigned long long)m.addresses,
		    (unsigned long long)(clock_ms() - t0));
	free(e2);
	goto out;
nomem:
	free(*err);
	*err = strdup("out of memory");
	rc = LDAP_NO_MEMORY;
out:
	if (atomic_load(s->stop)) {
		free(*err);
		*err = NULL;
		rc = LDAP_SUCCESS;
	} else if (rc != LDAP_SUCCESS && rc != LDAP_SYNC_REFRESH_REQUIRED &&
	    *err == NULL) {
		*err = strdup("dirsync failed");
	}
	ber_memfree(cookie.bv_val);
	free(nc);
	ds_free(&d);
	return rc;
}
