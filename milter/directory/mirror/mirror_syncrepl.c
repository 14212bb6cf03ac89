/*
 * mirror_syncrepl.c - sync = syncrepl: RFC 4533 content synchronisation in
 * refreshAndPersist mode, through libldap's ldap_sync_* API.
 *
 * ldap_sync_init() sends the search with the Sync Request control (the
 * stored cookie when there is one) and returns once the refresh is done;
 * ldap_sync_poll() then delivers the persist phase.  The callbacks below
 * write into one LMDB write transaction:
 *   - the whole refresh is one transaction, committed with the cookie that
 *     ends it: readers see the old copy until then, never half a refresh;
 *   - in the persist phase, the changes that one ldap_sync_poll() call
 *     delivers are one transaction, committed with the cookie they bring.
 * A copy without a usable cookie (first start, changed parameters, the
 * server asked for a full refresh) is cleared in the refresh transaction.
 *
 * Refresh phases (RFC 4533 3.4): in a present phase the server names every
 * entry that is still there (state "present", "add", or a syncIdSet of
 * present UUIDs); the entries it did not name are deleted when the phase
 * ends (the refreshPresent message).  In a delete phase it names the
 * deleted ones (state "delete", or a syncIdSet with refreshDeletes).  An
 * entry that stops matching sync_filter (an account disabled) comes as a
 * delete; a renamed entry keeps its entryUUID, the key of the copy.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lber.h>
#include <ldap.h>

#include "directory/ldap/ldap_conn.h"
#include "directory/mirror/mirror_engine.h"
#include "directory/mirror/mirror_entry.h"
#include "base/clock.h"
#include "base/log.h"

/* How long one ldap_sync_poll() waits for a change, in seconds. */
#define POLL_SECONDS 1

struct sr {
	struct mirror_session *s;
	struct mirror_wtxn *w;      /* the batch being written, or NULL */
	bool clear;                 /* the next batch starts by clearing */
	bool refreshing;            /* before refreshDone */
	bool cleared;               /* this refresh started from nothing */
	struct mirror_key *seen;    /* present phase: entries named */
	size_t n_seen, cap_seen;
	bool ended;                 /* the server ended the search */
	int result;                 /* its result code */
	char *error;                /* first failure of the store */
	unsigned long changes;      /* in the current batch */
	uint64_t contact;           /* unix time of the last contact */
};

static void
set_error(struct sr *r, const char *msg)
{
	if (r->error == NULL)
		r->error = strdup(msg != NULL ? msg : "mirror write failed");
}

/* The open batch, begun (and cleared when due) if needed; NULL: failed. */
static struct mirror_wtxn *
batch(struct sr *r)
{
	char *err = NULL;

	if (r->w != NULL)
		return r->w;
	if (mirror_wtxn_begin(r->s->store, &r->w, &err) != 0) {
		set_error(r, err);
		free(err);
		return NULL;
	}
	if (r->clear) {
		r->clear = false;
		r->cleared = true;
		mirror_wtxn_clear(r->w);
	}
	return r->w;
}

static void
seen_free(struct sr *r)
{
	for (size_t i = 0; i < r->n_seen; i++)
		free(r->seen[i].p);
	free(r->seen);
	r->seen = NULL;
	r->n_seen = r->cap_seen = 0;
}

/* Remember that the present phase named UUID. */
static void
seen_add(struct sr *r, const struct berval *uuid)
{
	if (!r->refreshing || r->cleared)
		return;   /* nothing old to sweep */
	if (r->n_seen == r->cap_seen) {
		size_t cap = r->cap_seen ? r->cap_seen * 2 : 256;
		struct mirror_key *v = realloc(r->seen, cap * sizeof(*v));

		if (v == NULL) {
			set_error(r, "out of memory");
			return;
		}
		r->seen = v;
		r->cap_seen = cap;
	}
	if ((r->seen[r->n_seen].p = malloc(uuid->bv_len)) == NULL) {
		set_error(r, "out of memory");
		return;
	}
	memcpy(r->seen[r->n_seen].p, uuid->bv_val, uuid->bv_len);
	r->seen[r->n_seen++].len = uuid->bv_len;
}

static int
on_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid,
    ldap_sync_refresh_t phase)
{
	struct sr *r = ls->ls_private;
	struct mirror_wtxn *w;
	struct mirror_entry e;

	if ((w = batch(r)) == NULL)
		return LDAP_OTHER;
	r->changes++;
	switch (phase) {
	case LDAP_SYNC_CAPI_PRESENT:
		seen_add(r, uuid);
		break;
	case LDAP_SYNC_CAPI_ADD:
	case LDAP_SYNC_CAPI_MODIFY:
		if (mirror_entry_from_ldap(ls->ls_ld, msg, r->s->attrs,
		    r->s->cfg->target_attribute, &e) != 0) {
			set_error(r, "out of memory");
			return LDAP_NO_MEMORY;
		}
		mirror_wtxn_put(w, uuid->bv_val, uuid->bv_len, &e);
		mirror_entry_free(&e);
		seen_add(r, uuid);
		break;
	case LDAP_SYNC_CAPI_DELETE:
		mirror_wtxn_delete(w, uuid->bv_val, uuid->bv_len);
		break;
	default:
		break;
	}
	if (mirror_wtxn_error(w) != NULL) {
		set_error(r, mirror_wtxn_error(w));
		return LDAP_OTHER;
	}
	return LDAP_SUCCESS;
}

static int
on_reference(ldap_sync_t *ls, LDAPMessage *msg)
{
	(void)ls;
	(void)msg;
	return LDAP_SUCCESS;   /* referrals are not followed */
}

/* Whether intermediate MSG is a refreshPresent (end of a present phase). */
static bool
is_refresh_present(LDAP *ld, LDAPMessage *msg)
{
	struct berval *data = NULL;
	char *oid = NULL;
	BerElement *ber;
	ber_len_t len;
	bool present = false;

	if (ldap_parse_intermediate(ld, msg, &oid, &data, NULL, 0) !=
	    LDAP_SUCCESS)
		return false;
	if (data != NULL && (ber = ber_init(data)) != NULL) {
		present = ber_peek_tag(ber, &len) ==
		    LDAP_TAG_SYNC_REFRESH_PRESENT;
		ber_free(ber, 1);
	}
	ldap_memfree(oid);
	ber_bvfree(data);
	return present;
}

/* End of a present phase: entries it did not name are gone. */
static void
sweep(struct sr *r)
{
	struct mirror_wtxn *w;
	long n;

	if (r->cleared || (w = batch(r)) == NULL) {
		seen_free(r);
		return;
	}
	mirror_keys_sort(r->seen, r->n_seen);
	if ((n = mirror_wtxn_sweep(w, r->seen, r->n_seen)) < 0)
		set_error(r, mirror_wtxn_error(w));
	else
		r->changes += (unsigned long)n;
	seen_free(r);
}

static int
on_intermediate(ldap_sync_t *ls, LDAPMessage *msg, BerVarray uuids,
    ldap_sync_refresh_t phase)
{
	struct sr *r = ls->ls_private;
	struct mirror_wtxn *w;

	switch (phase) {
	case LDAP_SYNC_CAPI_PRESENTS_IDSET:
		for (size_t i = 0; uuids != NULL && uuids[i].bv_val != NULL;
		    i++)
			seen_add(r, &uuids[i]);
		break;
	case LDAP_SYNC_CAPI_DELETES_IDSET:
		if ((w = batch(r)) == NULL)
			return LDAP_OTHER;
		for (size_t i = 0; uuids != NULL && uuids[i].bv_val != NULL;
		    i++) {
			mirror_wtxn_delete(w, uuids[i].bv_val, uuids[i].bv_len);
			r->changes++;
		}
		break;
	case LDAP_SYNC_CAPI_PRESENTS:
	case LDAP_SYNC_CAPI_DELETES:
	case LDAP_SYNC_CAPI_DONE:
		if (r->refreshing && is_refresh_present(ls->ls_ld, msg))
			sweep(r);
		if (phase == LDAP_SYNC_CAPI_DONE)
			r->refreshing = false;
		break;
	default:
		break;
	}
	return r->error != NULL ? LDAP_OTHER : LDAP_SUCCESS;
}

static int
on_result(ldap_sync_t *ls, LDAPMessage *msg, int refresh_deletes)
{
	struct sr *r = ls->ls_private;
	int code = LDAP_OTHER;

	(void)refresh_deletes;
	if (ldap_parse_result(ls->ls_ld, msg, &code, NULL, NULL, NULL, NULL,
	    0) != LDAP_SUCCESS)
		code = LDAP_OTHER;
	r->ended = true;
	r->result = code;
	return LDAP_SUCCESS;
}

/* Commit the batch with the cookie and the contact; -1 on failure. */
static int
commit(struct sr *r, ldap_sync_t *ls, bool complete)
{
	struct mirror_wtxn *w = batch(r);
	uint64_t now = (uint64_t)time(NULL);
	char *err = NULL;

	if (w == NULL)
		return -1;
	mirror_wtxn_set_cookie(w, ls->ls_cookie.bv_val, ls->ls_cookie.bv_len);
	if (complete) {
		mirror_wtxn_set_params(w, r->s->params);
		mirror_wtxn_set_complete(w, true);
	}
	mirror_wtxn_set_contact(w, now, true);
	r->w = NULL;
	if (mirror_wtxn_commit(w, &err) != 0) {
		set_error(r, err);
		free(err);
		return -1;
	}
	r->contact = now;
	r->changes = 0;
	return 0;
}

int
mirror_session_contact(struct mirror_session *s, bool up, char **err)
{
	struct mirror_wtxn *w;

	if (mirror_wtxn_begin(s->store, &w, err) != 0)
		return -1;
	mirror_wtxn_set_contact(w, (uint64_t)time(NULL), up);
	return mirror_wtxn_commit(w, err);
}

/* The session is over: no session up, the last contact kept. */
static void
session_down(struct sr *r)
{
	struct mirror_wtxn *w;
	char *err = NULL;

	if (r->contact == 0)
		return;
	if (mirror_wtxn_begin(r->s->store, &w, &err) == 0) {
		mirror_wtxn_set_contact(w, r->contact, false);
		mirror_wtxn_commit(w, &err);
	}
	free(err);
}

/* Message for RC (the handle's diagnostic when it has one). */
static char *
ldap_error(LDAP *ld, int rc, const char *what)
{
	char *diag = NULL, *s;

	ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	if (asprintf(&s, "%s: %s%s%s%s", what, ldap_err2string(rc),
	    diag && *diag ? " (" : "", diag && *diag ? diag : "",
	    diag && *diag ? ")" : "") < 0)
		s = NULL;
	if (diag != NULL)
		ldap_memfree(diag);
	return s;
}

int
mirror_syncrepl_run(struct mirror_session *s, char **err)
{
	struct sr r = { .s = s, .refreshing = true };
	ldap_sync_t ls;
	uint64_t t0 = clock_ms(), last = 0;
	int rc;

	*err = NULL;
	ldap_sync_initialize(&ls);
	ls.ls_base = s->cfg->base;
	ls.ls_scope = ldapconn_scope(s->cfg->scope);
	ls.ls_filter = s->cfg->sync_filter;
	ls.ls_attrs = s->attrs;
	ls.ls_timeout = POLL_SECONDS;
	ls.ls_search_entry = on_entry;
	ls.ls_search_reference = on_reference;
	ls.ls_intermediate = on_intermediate;
	ls.ls_search_result = on_result;
	ls.ls_private = &r;
	ls.ls_ld = s->ld;
	if (!s->fresh && s->cookie != NULL) {
		struct berval c = { (ber_len_t)s->cookie_len, s->cookie };

		ber_bvreplace(&ls.ls_cookie, &c);
	}
	r.clear = s->fresh;

	rc = ldap_sync_init(&ls, LDAP_SYNC_REFRESH_AND_PERSIST);
	if (rc == LDAP_SUCCESS && r.ended && r.result != LDAP_SUCCESS)
		rc = r.result;
	if (rc == LDAP_SUCCESS && r.error == NULL && !r.refreshing &&
	    commit(&r, &ls, true) == 0) {
		struct mirror_meta m;
		char *e2 = NULL;

		s->worked = true;
		if (mirror_store_meta(s->store, &m, &e2) == 0)
			log_info("directory %s: mirror %s: %llu entries, "
			    "%llu addresses, in %llu ms", s->cfg->name,
			    r.cleared ? "loaded" : "resumed",
			    (unsigned long long)m.entries,
			    (unsigned long long)m.addresses,
			    (unsigned long long)(clock_ms() - t0));
		free(e2);
		last = clock_ms();
		/* The persist phase. */
		while (!atomic_load(s->stop)) {
			rc = ldap_sync_poll(&ls);
			if (rc != LDAP_SUCCESS || r.ended || r.error != NULL)
				break;
			if (r.w != NULL) {
				if (commit(&r, &ls, false) != 0)
					break;
				last = clock_ms();
			} else if (clock_ms() - last >= s->contact_ms) {
				char *e3 = NULL;

				if (mirror_session_contact(s, true, &e3) == 0)
					r.contact = (uint64_t)time(NULL);
				free(e3);
				last = clock_ms();
			}
		}
		if (r.ended && r.result != LDAP_SUCCESS)
			rc = r.result;
		else if (rc == LDAP_SUCCESS && r.ended)
			rc = LDAP_SERVER_DOWN;
	} else if (rc == LDAP_SUCCESS) {
		rc = r.ended ? LDAP_PROTOCOL_ERROR : LDAP_OTHER;
	}
	if (r.w != NULL)
		mirror_wtxn_abort(r.w);
	r.w = NULL;
	seen_free(&r);
	session_down(&r);
	if (atomic_load(s->stop))
		rc = LDAP_SUCCESS;
	else if (r.error != NULL)
		*err = strdup(r.error);
	else if (rc == LDAP_SYNC_REFRESH_REQUIRED)
		*err = NULL;
	else if (rc < 0 || rc != LDAP_SUCCESS)
		*err = ldap_error(s->ld, rc < 0 ? LDAP_SERVER_DOWN : rc,
		    r.refreshing ? "refresh" : "persist session");
	else
		*err = strdup("persist session ended");
	free(r.error);
	/* The handle and the strings are the caller's, not ldap_sync's. */
	ls.ls_ld = NULL;
	ls.ls_base = NULL;
	ls.ls_filter = NULL;
	ls.ls_attrs = NULL;
	ldap_sync_destroy(&ls, 0);
	return rc;
}
