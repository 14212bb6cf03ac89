/*
 * mirror_store.c - the LMDB copy of one mirrored directory (see
 * mirror_store.h for the layout and the transaction rules).
 *
 * The environment is opened with MDB_NOTLS (read transactions are tied to
 * the transaction, not to the thread: libmilter's worker pool may run one
 * lookup on any thread) and MDB_NOMETASYNC (a commit is durable once the
 * next one is; a kill -9 loses nothing, a power cut at most the last
 * batch, never the consistency of the copy).  The map is a sparse
 * MIRROR_MAP_SIZE: far more than a directory of millions of addresses
 * needs, costing only address space.  Write transactions are in
 * mirror_store_write.c.
 *
 * A lookup's read transaction is reset, not ended, and kept in a small
 * pool for the next lookup (mdb_txn_reset/mdb_txn_renew): it keeps its
 * slot in the reader table, so a lookup neither allocates nor takes the
 * reader table's lock, which every new transaction does under MDB_NOTLS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "directory/mirror/mirror_store_priv.h"

#define MIRROR_MAP_SIZE ((size_t)4 << 30)
#define MIRROR_MAX_READERS 1024

char *
mirror_store_errtext(const char *what, int rc)
{
	char *s;

	if (asprintf(&s, "%s: %s", what, mdb_strerror(rc)) < 0)
		return NULL;
	return s;
}

int
mirror_store_open(const char *dir, int flags, struct mirror_store **out,
    char **err)
{
	struct mirror_store *s;
	unsigned envflags = MDB_NOTLS | MDB_NOMETASYNC;
	unsigned dbflags = 0;
	MDB_txn *txn = NULL;
	struct stat st;
	int rc, dead;

	*out = NULL;
	*err = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	pthread_mutex_init(&s->pool_mu, NULL);
	s->rdonly = (flags & MIRROR_STORE_RDONLY) != 0;
	if (s->rdonly) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		if (stat(path, &st) != 0) {
			free(s);
			return -1;   /* absent: no message */
		}
		envflags |= MDB_RDONLY;
	} else {
		char parent[4096], *slash;

		/* state_dir itself, when it does not exist yet. */
		snprintf(parent, sizeof(parent), "%s", dir);
		if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
			*slash = '\0';
			(void)mkdir(parent, 0750);
		}
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			if (asprintf(err, "%s: %s", dir, strerror(errno)) < 0)
				*err = NULL;
			free(s);
			return -1;
		}
		dbflags = MDB_CREATE;
	}
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 4)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, MIRROR_MAX_READERS)) != 0 ||
	    (!s->rdonly &&
	    (rc = mdb_env_set_mapsize(s->env, MIRROR_MAP_SIZE)) != 0) ||
	    (rc = mdb_env_open(s->env, dir, envflags, 0640)) != 0) {
		char what[4200];

		snprintf(what, sizeof(what), "mirror %s", dir);
		*err = mirror_store_errtext(what, rc);
		goto fail;
	}
	/* Slots of readers that died (a killed nsmilter -q). */
	mdb_reader_check(s->env, &dead);
	if ((rc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0,
	    &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "entries", dbflags, &s->entries)) != 0 ||
	    (rc = mdb_dbi_open(txn, "addresses", dbflags | MDB_DUPSORT,
	    &s->addresses)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", dbflags, &s->meta)) != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		if (s->rdonly && rc == MDB_NOTFOUND) {
			/* Created, nothing committed yet: absent. */
			mdb_env_close(s->env);
			pthread_mutex_destroy(&s->pool_mu);
			free(s);
			return -1;
		}
		*err = mirror_store_errtext("mirror databases", rc);
		goto fail;
	}
	/* Read-only: the handles stay valid after the read txn ends. */
	if ((rc = mdb_txn_commit(txn)) != 0) {
		*err = mirror_store_errtext("mirror databases", rc);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (*err == NULL)
		*err = strdup("out of memory");
	mdb_env_close(s->env);
	pthread_mutex_destroy(&s->pool_mu);
	free(s);
	return -1;
}

void
mirror_store_close(struct mirror_store *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n_pool; i++)
		mdb_txn_abort(s->pool[i]);
	mdb_env_close(s->env);
	pthread_mutex_destroy(&s->pool_mu);
	free(s);
}

/* ---- reading ------------------------------------------------------------ */

static uint64_t
meta_u64(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	uint64_t x = 0;

	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof(x))
		memcpy(&x, v.mv_data, sizeof(x));
	return x;
}

static void
meta_read(struct mirror_store *s, MDB_txn *txn, struct mirror_meta *m)
{
	MDB_stat st;
	MDB_val k = { strlen(META_PARAMS), META_PARAMS }, v;

	memset(m, 0, sizeof(*m));
	m->present = mdb_get(txn, s->meta, &k, &v) == 0;
	m->complete = meta_u64(txn, s->meta, META_COMPLETE) != 0;
	m->session = meta_u64(txn, s->meta, META_SESSION) != 0;
	m->contact = meta_u64(txn, s->meta, META_CONTACT);
	if (mdb_stat(txn, s->entries, &st) == 0)
		m->entries = st.ms_entries;
	if (mdb_stat(txn, s->addresses, &st) == 0)
		m->addresses = st.ms_entries;
}

static int
read_begin(struct mirror_store *s, MDB_txn **txn, char **err)
{
	MDB_txn *t = NULL;
	int rc;

	pthread_mutex_lock(&s->pool_mu);
	if (s->n_pool > 0)
		t = s->pool[--s->n_pool];
	pthread_mutex_unlock(&s->pool_mu);
	if (t != NULL) {
		if (mdb_txn_renew(t) == 0) {
			*txn = t;
			return 0;
		}
		mdb_txn_abort(t);   /* e.g. the map grew: a new one below */
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size, retry. */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0) {
		*err = mirror_store_errtext("mirror read", rc);
		return -1;
	}
	return 0;
}

/* End read transaction TXN: reset into the pool, or ended when it is full. */
static void
read_end(struct mirror_store *s, MDB_txn *txn)
{
	mdb_txn_reset(txn);
	pthread_mutex_lock(&s->pool_mu);
	if (s->n_pool < MIRROR_TXN_POOL) {
		s->pool[s->n_pool++] = txn;
		txn = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (txn != NULL)
		mdb_txn_abort(txn);
}

int
mirror_store_meta(struct mirror_store *s, struct mirror_meta *meta,
    char **err)
{
	MDB_txn *txn;

	*err = NULL;
	if (read_begin(s, &txn, err) != 0)
		return -1;
	meta_read(s, txn, meta);
	read_end(s, txn);
	return 0;
}

void
mirror_hit_clear(struct mirror_hit *hit)
{
	free(hit->target);
	memset(hit, 0, sizeof(*hit));
}

/* Lowercase copy of ADDRESS in BUF (BUFLEN); its length, or 0 if too long. */
static size_t
lower_key(const char *address, char *buf, size_t buflen)
{
	size_t n = strlen(address);

	if (n == 0 || n >= buflen || n > MIRROR_ADDRESS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = address[i];

		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	buf[n] = '\0';
	return n;
}

/* Whether two targets differ (NULL = none), ignoring case. */
static bool
targets_differ(const char *a, size_t al, bool ha, const char *b, size_t bl,
    bool hb)
{
	if (ha != hb || al != bl)
		return true;
	return al > 0 && strncasecmp(a, b, al) != 0;
}

int
mirror_store_lookup(struct mirror_store *s, const char *address,
    struct mirror_meta *meta, struct mirror_hit *hit, char **err)
{
	char buf[MIRROR_ADDRESS_MAX + 1];
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t n;
	int rc;
	const char *t0 = NULL;
	size_t t0len = 0;
	bool h0 = false;

	*err = NULL;
	memset(hit, 0, sizeof(*hit));
	if (read_begin(s, &txn, err) != 0)
		return -1;
	meta_read(s, txn, meta);
	if ((n = lower_key(address, buf, sizeof(buf))) == 0)
		goto done;   /* longer than any stored address */
	k.mv_size = n;
	k.mv_data = buf;
	if ((rc = mdb_cursor_open(txn, s->addresses, &cur)) != 0) {
		*err = mirror_store_errtext("mirror lookup", rc);
		read_end(s, txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		MDB_val ev;
		struct mirror_record r;

		if (mdb_get(txn, s->entries, &v, &ev) != 0 ||
		    mirror_record_view(&ev, &r) != 0)
			continue;   /* index row of a vanished entry: ignore */
		if (hit->entries++ == 0) {
			t0 = r.target;
			t0len = r.target_len;
			h0 = r.has_target;
			continue;
		}
		/* A mailbox and a contact, or two different targets. */
		if (targets_differ(t0, t0len, h0 && t0len > 0, r.target,
		    r.target_len, r.has_target && r.target_len > 0))
			hit->ambiguous = true;
	}
	if (hit->entries > 0 && t0len > 0) {
		if ((hit->target = strndup(t0, t0len)) == NULL) {
			*err = strdup("out of memory");
			mdb_cursor_close(cur);
			read_end(s, txn);
			return -1;
		}
	}
	mdb_cursor_close(cur);
done:
	read_end(s, txn);
	return 0;
}

int
mirror_store_sync_state(struct mirror_store *s, void **cookie, size_t *len,
    char **params, char **err)
{
	MDB_txn *txn;
	MDB_val k, v;

	*cookie = NULL;
	*len = 0;
	*params = NULL;
	*err = NULL;
	if (read_begin(s, &txn, err) != 0)
		return -1;
	k.mv_size = strlen(META_COOKIE);
	k.mv_data = META_COOKIE;
	if (mdb_get(txn, s->meta, &k, &v) == 0 && v.mv_size > 0) {
		/* NUL-terminated too: libldap copies cookies as strings. */
		if ((*cookie = malloc(v.mv_size + 1)) != NULL) {
			memcpy(*cookie, v.mv_data, v.mv_size);
			((char *)*cookie)[v.mv_size] = '\0';
			*len = v.mv_size;
		}
	}
	k.mv_size = strlen(META_PARAMS);
	k.mv_data = META_PARAMS;
	if (mdb_get(txn, s->meta, &k, &v) == 0)
		*params = strndup(v.mv_data, v.mv_size);
	read_end(s, txn);
	return 0;
}

int
mirror_store_walk(struct mirror_store *s, mirror_walk_fn fn, void *ctx,
    char **err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, stop = 0;

	*err = NULL;
	if (read_begin(s, &txn, err) != 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, s->entries, &cur)) != 0) {
		*err = mirror_store_errtext("mirror walk", rc);
		read_end(s, txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct mirror_record r;
		struct mirror_entry e = { 0 };
		const unsigned char *p;
		const char *a;
		size_t al, i = 0;

		if (mirror_record_view(&v, &r) != 0)
			continue;
		e.addrs = calloc(r.n_addrs + 1, sizeof(*e.addrs));
		e.has_target = r.has_target;
		e.target = r.target_len > 0 ? strndup(r.target, r.target_len)
		    : NULL;
		for (p = r.addrs; e.addrs != NULL && i < r.n_addrs &&
		    mirror_record_next_addr(&r, &p, &a, &al) == 1; i++)
			e.addrs[i] = strndup(a, al);
		e.n_addrs = i;
		if (e.addrs != NULL)
			stop = fn(ctx, k.mv_data, k.mv_size, &e);
		for (i = 0; i < e.n_addrs; i++)
			free(e.addrs[i]);
		free(e.addrs);
		free(e.target);
	}
	mdb_cursor_close(cur);
	read_end(s, txn);
	return 0;
}
