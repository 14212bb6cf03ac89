/*
 * report_read.c - one directory's addresses for nsmilter -r.
 *
 * A directory with a mirror (sync set, state_dir/NAME holding a complete
 * copy that is not past max_staleness) is read from it, in one read
 * transaction, as the milter answers from it.  Any other directory is
 * read live: every entry under base/scope matching sync_filter, with the
 * address_attributes and the target_attribute, page by page.  Either way
 * an entry's addresses are the values mirror_entry.c accepts (smtp:
 * stripped, lowercased, X500:/SIP:/... values left out), so the report
 * and the mirror see the same addresses.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xfmt.h"
#include "directory/ldap/ldap_read.h"
#include "directory/mirror/mirror_entry.h"
#include "directory/mirror/mirror_engine.h"
#include "directory/mirror/mirror_store.h"
#include "frontend/report_read.h"

struct read_ctx {
	struct report_table *t;
	struct report_dir *rd;
	char **attrs;          /* address_attributes, NULL-terminated */
	bool nomem;
};

static int
add_entry(struct read_ctx *c, const struct mirror_entry *e)
{
	if (report_table_add(c->t, (uint32_t)c->rd->cfg->index, e) != 0) {
		c->nomem = true;
		return 1;
	}
	c->rd->entries++;
	c->rd->addresses += e->n_addrs;
	return 0;
}

static int
walk_entry(void *ctx, const void *key, size_t klen,
    const struct mirror_entry *e)
{
	(void)key;
	(void)klen;
	return add_entry(ctx, e);
}

static int
ldap_entry(void *ctx, LDAP *ld, LDAPMessage *msg)
{
	struct read_ctx *c = ctx;
	struct mirror_entry e = { 0 };
	int rc;

	if (mirror_entry_from_ldap(ld, msg, c->attrs,
	    c->rd->cfg->target_attribute, &e) != 0) {
		c->nomem = true;
		return 1;
	}
	rc = add_entry(c, &e);
	mirror_entry_free(&e);
	return rc;
}

/*
 * The directory's mirror, when it has one that the milter answers from:
 * complete and not past max_staleness.  NULL otherwise (read it live).
 *
 * The folder is [milter] state_dir/NAME, where the synchronisation keeps
 * it (nsmilter.ini(5), "Directory mirror").
 */
static struct mirror_store *
open_mirror(const struct config *cfg, const struct directory_config *dir)
{
	struct mirror_store *s = NULL;
	struct mirror_meta meta;
	char *path, *err = NULL;
	uint64_t now = (uint64_t)time(NULL);

	if (dir->sync == CONFIG_SYNC_NONE || cfg->milter.state_dir == NULL)
		return NULL;
	if ((path = mirror_state_path(cfg->milter.state_dir, dir->name))
	    == NULL)
		return NULL;
	if (mirror_store_open(path, MIRROR_STORE_RDONLY, &s, &err) != 0) {
		free(err);
		free(path);
		return NULL;
	}
	free(path);
	if (mirror_store_meta(s, &meta, &err) != 0 || !meta.complete ||
	    meta.contact == 0 || (now > meta.contact &&
	    (now - meta.contact) * 1000 > dir->max_staleness_ms)) {
		free(err);
		mirror_store_close(s);
		return NULL;
	}
	return s;
}

/* address_attributes and target_attribute, NULL-terminated. */
static char **
read_attrs(const struct directory_config *dir, bool with_target)
{
	size_t n = dir->address_attributes.n, i;
	char **v = calloc(n + 2, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		v[i] = dir->address_attributes.v[i];
	if (with_target && dir->target_attribute != NULL &&
	    *dir->target_attribute != '\0')
		v[i++] = dir->target_attribute;
	v[i] = NULL;
	return v;
}

static void
skip(struct report_dir *rd, char *reason)
{
	rd->skipped = true;
	rd->reason = reason;
}

int
report_read_directory(const struct config *cfg, struct report_table *t,
    struct report_dir *rd)
{
	const struct directory_config *dir = rd->cfg;
	struct read_ctx c = { .t = t, .rd = rd };
	struct mirror_store *s;
	size_t n0 = t->n;
	char **all = NULL, *err = NULL;
	int rc;

	if (dir->address_attributes.n == 0) {
		skip(rd, strdup("no address_attributes"));
		return rd->reason != NULL ? 0 : -1;
	}
	if ((c.attrs = read_attrs(dir, false)) == NULL)
		return -1;
	if ((s = open_mirror(cfg, dir)) != NULL) {
		rd->source = "mirror";
		rc = mirror_store_walk(s, walk_entry, &c, &err);
		mirror_store_close(s);
	} else {
		rd->source = "ldap";
		if ((all = read_attrs(dir, true)) == NULL) {
			free(c.attrs);
			return -1;
		}
		rc = ldapread_all(dir, dir->sync_filter != NULL ?
		    dir->sync_filter : "(objectClass=*)", all, ldap_entry, &c,
		    &err);
	}
	free(all);
	free(c.attrs);
	if (c.nomem) {
		free(err);
		return -1;
	}
	if (rc != 0) {
		/* Reported whole or not at all. */
		t->n = n0;
		rd->entries = rd->addresses = 0;
		skip(rd, err != NULL ? err : strdup("read failed"));
		return rd->reason != NULL ? 0 : -1;
	}
	free(err);
	return 0;
}
