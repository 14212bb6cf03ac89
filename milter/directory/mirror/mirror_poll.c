/*
 * mirror_poll.c - sync = poll: the whole directory read page by page
 * (RFC 2696 simple paged results, ldap_read.c) and swapped in whole, for
 * any LDAP server.
 *
 * One fetch is one LMDB write transaction: the copy is cleared and every
 * entry under base/scope that matches sync_filter is written, then the
 * transaction commits with the contact time.  Readers see the previous
 * copy until the commit, and a crash or kill -9 during a fetch leaves the
 * previous copy whole.  A fetch that fails (the server went away, a page
 * timed out) is aborted: the previous copy stays, and the engine connects
 * again.  Entries are keyed by their DN (lowercased): nothing else is
 * common to every server, and a renamed entry is simply a new one in the
 * next fetch.
 *
 * The engine connects for every fetch (the uri list in order, so a
 * fail-over ends as soon as the first server is back) and waits
 * sync_interval after a fetch that worked.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xfmt.h"
#include "directory/ldap/ldap_read.h"
#include "directory/mirror/mirror_engine.h"
#include "directory/mirror/mirror_entry.h"

struct poll_ctx {
	struct mirror_session *s;
	struct mirror_wtxn *w;
	unsigned long entries;
	char *error;
};

static int
poll_entry(void *arg, LDAP *ld, LDAPMessage *e)
{
	struct poll_ctx *c = arg;
	struct mirror_entry me;
	char *dn;
	size_t len;

	if (atomic_load(c->s->stop))
		return 1;
	if (e == NULL || (dn = ldap_get_dn(ld, e)) == NULL)
		return 0;
	len = strlen(dn);
	for (size_t i = 0; i < len; i++)
		dn[i] = (char)tolower((unsigned char)dn[i]);
	if (len > MIRROR_KEY_MAX) {
		log_warning("directory %s: mirror: DN longer than %d bytes "
		    "skipped: %.60s...", c->s->cfg->name, MIRROR_KEY_MAX, dn);
		ldap_memfree(dn);
		return 0;
	}
	if (mirror_entry_from_ldap(ld, e, c->s->attrs,
	    c->s->cfg->target_attribute, &me) != 0) {
		ldap_memfree(dn);
		c->error = strdup("out of memory");
		return 2;
	}
	mirror_wtxn_put(c->w, dn, len, &me);
	mirror_entry_free(&me);
	ldap_memfree(dn);
	if (mirror_wtxn_error(c->w) != NULL) {
		c->error = strdup(mirror_wtxn_error(c->w));
		return 2;
	}
	c->entries++;
	return 0;
}

int
mirror_poll_run(struct mirror_session *s, char **err)
{
	struct poll_ctx c = { .s = s };
	struct mirror_meta m = { 0 };
	bool first;
	uint64_t t0 = clock_ms();
	char *e2 = NULL;
	int rc;

	*err = NULL;
	first = mirror_store_meta(s->store, &m, &e2) != 0 || !m.complete;
	free(e2);
	e2 = NULL;
	if (mirror_wtxn_begin(s->store, &c.w, err) != 0)
		return LDAP_OTHER;
	mirror_wtxn_clear(c.w);
	rc = ldapread_on(s->ld, s->cfg, s->cfg->sync_filter, s->attrs,
	    poll_entry, &c, err);
	if (atomic_load(s->stop)) {
		mirror_wtxn_abort(c.w);
		free(*err);
		free(c.error);
		*err = NULL;
		return LDAP_SUCCESS;
	}
	if (rc != 0) {
		mirror_wtxn_abort(c.w);
		if (c.error != NULL) {
			free(*err);
			*err = c.error;
		}
		return LDAP_OTHER;
	}
	mirror_wtxn_set_cookie(c.w, NULL, 0);
	mirror_wtxn_set_params(c.w, s->params);
	mirror_wtxn_set_complete(c.w, true);
	mirror_wtxn_set_contact(c.w, (uint64_t)time(NULL), false);
	if (mirror_wtxn_commit(c.w, err) != 0)
		return LDAP_OTHER;
	s->worked = true;
	s->pause_ms = s->cfg->sync_interval_ms;
	if (mirror_store_meta(s->store, &m, &e2) == 0)
		log_msg(first ? LOG_INFO : LOG_DEBUG, "directory %s: mirror %s: "
		    "%llu entries, %llu addresses, in %llu ms", s->cfg->name,
		    first ? "loaded" : "read again",
		    (unsigned long long)m.entries,
		    (unsigned long long)m.addresses,
		    (unsigned long long)(clock_ms() - t0));
	free(e2);
	return LDAP_SUCCESS;
}
