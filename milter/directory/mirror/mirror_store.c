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
 * needs, costing only address space.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "directory/mirror/mirror_store.h"

#define MIRROR_MAP_SIZE ((size_t)4 << 30)
#define MIRROR_MAX_READERS 1024
#define RECORD_VERSION 1

/* meta keys */
#define META_COOKIE "cookie"
#define META_PARAMS "params"
#define META_COMPLETE "complete"
#define META_CONTACT "contact"
#define META_SESSION "session"

struct mirror_store {
	MDB_env *env;
	MDB_dbi entries, addresses, meta;
	bool rdonly;
};

struct mirror_wtxn {
	struct mirror_store *s;
	MDB_txn *txn;
	int rc;              /* first failure, MDB_SUCCESS while fine */
	char *error;
};

static char *
errtext(const char *what, int rc)
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
		*err = errtext(what, rc);
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
			free(s);
			return -1;
		}
		*err = errtext("mirror databases", rc);
		goto fail;
	}
	/* Read-only: the handles stay valid after the read txn ends. */
	if ((rc = mdb_txn_commit(txn)) != 0) {
		*err = errtext("mirror databases", rc);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (*err == NULL)
		*err = strdup("out of memory");
	mdb_env_close(s->env);
	free(s);
	return -1;
}

void
mirror_store_close(struct mirror_store *s)
{
	if (s == NULL)
		return;
	mdb_env_close(s->env);
	free(s);
}

/* ---- records ------------------------------------------------------------ */

/*
 * Entry record: version, flags (1: has target), u16 target length, target,
 * u16 address count, then each address as u16 length + bytes.
 */
static int
record_encode(const struct mirror_entry *e, MDB_val *v)
{
	size_t tl = e->target != NULL ? strlen(e->target) : 0, n = 6 + tl, i;
	unsigned char *p;
	uint16_t u;

	if (tl > UINT16_MAX || e->n_addrs > UINT16_MAX)
		return EINVAL;
	for (i = 0; i < e->n_addrs; i++)
		n += 2 + strlen(e->addrs[i]);
	if ((p = malloc(n)) == NULL)
		return ENOMEM;
	v->mv_data = p;
	v->mv_size = n;
	*p++ = RECORD_VERSION;
	*p++ = e->has_target ? 1 : 0;
	u = (uint16_t)tl;
	memcpy(p, &u, 2);
	p += 2;
	if (tl > 0)
		memcpy(p, e->target, tl);
	p += tl;
	u = (uint16_t)e->n_addrs;
	memcpy(p, &u, 2);
	p += 2;
	for (i = 0; i < e->n_addrs; i++) {
		size_t l = strlen(e->addrs[i]);

		u = (uint16_t)l;
		memcpy(p, &u, 2);
		memcpy(p + 2, e->addrs[i], l);
		p += 2 + l;
	}
	return 0;
}

/* A view into a record: pointers into V (valid inside its txn). */
struct record_view {
	bool has_target;
	const char *target;
	size_t target_len;
	size_t n_addrs;
	const unsigned char *addrs;   /* u16 len + bytes, n_addrs times */
	const unsigned char *end;
};

static int
record_view(const MDB_val *v, struct record_view *r)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;
	uint16_t u;

	if (v->mv_size < 6 || p[0] != RECORD_VERSION)
		return -1;
	r->has_target = (p[1] & 1) != 0;
	memcpy(&u, p + 2, 2);
	r->target = (const char *)p + 4;
	r->target_len = u;
	p += 4 + u;
	if (p + 2 > end)
		return -1;
	memcpy(&u, p, 2);
	r->n_addrs = u;
	r->addrs = p + 2;
	r->end = end;
	return 0;
}

/* The next address of R at *P: 1 with A/LEN, 0 at the end, -1 corrupt. */
static int
record_next_addr(const struct record_view *r, const unsigned char **p,
    const char **a, size_t *len)
{
	uint16_t u;

	if (*p + 2 > r->end)
		return *p == r->end ? 0 : -1;
	memcpy(&u, *p, 2);
	if (*p + 2 + u > r->end)
		return -1;
	*a = (const char *)*p + 2;
	*len = u;
	*p += 2 + u;
	return 1;
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
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);

	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size, retry. */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0) {
		*err = errtext("mirror read", rc);
		return -1;
	}
	return 0;
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
	mdb_txn_abort(txn);
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
		*err = errtext("mirror lookup", rc);
		mdb_txn_abort(txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		MDB_val ev;
		struct record_view r;

		if (mdb_get(txn, s->entries, &v, &ev) != 0 ||
		    record_view(&ev, &r) != 0)
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
			mdb_txn_abort(txn);
			return -1;
		}
	}
	mdb_cursor_close(cur);
done:
	mdb_txn_abort(txn);
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
	mdb_txn_abort(txn);
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
		*err = errtext("mirror walk", rc);
		mdb_txn_abort(txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !stop;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct record_view r;
		struct mirror_entry e = { 0 };
		const unsigned char *p;
		const char *a;
		size_t al, i = 0;

		if (record_view(&v, &r) != 0)
			continue;
		e.addrs = calloc(r.n_addrs + 1, sizeof(*e.addrs));
		e.has_target = r.has_target;
		e.target = r.target_len > 0 ? strndup(r.target, r.target_len)
		    : NULL;
		for (p = r.addrs; e.addrs != NULL && i < r.n_addrs &&
		    record_next_addr(&r, &p, &a, &al) == 1; i++)
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
	mdb_txn_abort(txn);
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

/* Record the first failure of W; returns -1. */
static int
wfail(struct mirror_wtxn *w, const char *what, int rc)
{
	if (w->rc == 0) {
		w->rc = rc;
		w->error = errtext(what, rc);
	}
	return -1;
}

int
mirror_wtxn_begin(struct mirror_store *s, struct mirror_wtxn **out,
    char **err)
{
	struct mirror_wtxn *w;
	int rc;

	*out = NULL;
	*err = NULL;
	if (s->rdonly) {
		*err = strdup("mirror opened read-only");
		return -1;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	w->s = s;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &w->txn)) != 0) {
		*err = errtext("mirror write", rc);
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

const char *
mirror_wtxn_error(const struct mirror_wtxn *w)
{
	return w->error;
}

int
mirror_wtxn_clear(struct mirror_wtxn *w)
{
	int rc;

	if (w->rc != 0)
		return -1;
	if ((rc = mdb_drop(w->txn, w->s->entries, 0)) != 0 ||
	    (rc = mdb_drop(w->txn, w->s->addresses, 0)) != 0)
		return wfail(w, "mirror clear", rc);
	return 0;
}

/* Remove the index rows of the record V of entry K. */
static int
unindex(struct mirror_wtxn *w, MDB_val *k, const MDB_val *v)
{
	struct record_view r;
	const unsigned char *p;
	const char *a;
	size_t al;
	int rc, more;

	if (record_view(v, &r) != 0)
		return 0;   /* unreadable old record: nothing indexed */
	for (p = r.addrs; (more = record_next_addr(&r, &p, &a, &al)) == 1; ) {
		MDB_val ak = { al, (void *)a };

		rc = mdb_del(w->txn, w->s->addresses, &ak, k);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return wfail(w, "mirror index", rc);
	}
	return 0;
}

int
mirror_wtxn_delete(struct mirror_wtxn *w, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if (w->rc != 0)
		return -1;
	if (klen == 0 || klen > MIRROR_KEY_MAX)
		return 0;
	rc = mdb_get(w->txn, w->s->entries, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return wfail(w, "mirror delete", rc);
	if (unindex(w, &k, &v) != 0)
		return -1;
	if ((rc = mdb_del(w->txn, w->s->entries, &k, NULL)) != 0)
		return wfail(w, "mirror delete", rc);
	return 0;
}

int
mirror_wtxn_put(struct mirror_wtxn *w, const void *key, size_t klen,
    const struct mirror_entry *e)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if (w->rc != 0)
		return -1;
	if (klen == 0 || klen > MIRROR_KEY_MAX)
		return wfail(w, "mirror entry key", MDB_BAD_VALSIZE);
	if (mirror_wtxn_delete(w, key, klen) != 0)
		return -1;
	if ((rc = record_encode(e, &v)) != 0)
		return wfail(w, "mirror entry", rc);
	rc = mdb_put(w->txn, w->s->entries, &k, &v, 0);
	free(v.mv_data);
	if (rc != 0)
		return wfail(w, "mirror entry", rc);
	for (size_t i = 0; i < e->n_addrs; i++) {
		size_t al = strlen(e->addrs[i]);
		MDB_val ak = { al, e->addrs[i] };

		if (al == 0 || al > MIRROR_ADDRESS_MAX)
			continue;
		rc = mdb_put(w->txn, w->s->addresses, &ak, &k,
		    MDB_NODUPDATA);
		if (rc != 0 && rc != MDB_KEYEXIST)
			return wfail(w, "mirror index", rc);
	}
	return 0;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct mirror_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

void
mirror_keys_sort(struct mirror_key *keys, size_t n)
{
	if (n > 1)
		qsort(keys, n, sizeof(*keys), key_cmp);
}

long
mirror_wtxn_sweep(struct mirror_wtxn *w, const struct mirror_key *keep,
    size_t n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct mirror_key *gone = NULL;
	size_t n_gone = 0, cap = 0, i;
	long removed = 0;
	int rc;

	if (w->rc != 0)
		return -1;
	if ((rc = mdb_cursor_open(w->txn, w->s->entries, &cur)) != 0)
		return wfail(w, "mirror sweep", rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct mirror_key probe = { k.mv_data, k.mv_size };

		if (n > 0 && bsearch(&probe, keep, n, sizeof(*keep),
		    key_cmp) != NULL)
			continue;
		if (n_gone == cap) {
			struct mirror_key *g;

			cap = cap ? cap * 2 : 64;
			if ((g = realloc(gone, cap * sizeof(*g))) == NULL) {
				rc = ENOMEM;
				break;
			}
			gone = g;
		}
		if ((gone[n_gone].p = malloc(k.mv_size)) == NULL) {
			rc = ENOMEM;
			break;
		}
		memcpy(gone[n_gone].p, k.mv_data, k.mv_size);
		gone[n_gone++].len = k.mv_size;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		wfail(w, "mirror sweep", rc);
	for (i = 0; i < n_gone; i++) {
		if (w->rc == 0 &&
		    mirror_wtxn_delete(w, gone[i].p, gone[i].len) == 0)
			removed++;
		free(gone[i].p);
	}
	free(gone);
	return w->rc == 0 ? removed : -1;
}

static int
meta_put(struct mirror_wtxn *w, const char *key, const void *val, size_t len)
{
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };
	int rc;

	if (w->rc != 0)
		return -1;
	if (val == NULL) {
		rc = mdb_del(w->txn, w->s->meta, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	} else {
		rc = mdb_put(w->txn, w->s->meta, &k, &v, 0);
	}
	return rc != 0 ? wfail(w, "mirror state", rc) : 0;
}

static int
meta_put_u64(struct mirror_wtxn *w, const char *key, uint64_t x)
{
	return meta_put(w, key, &x, sizeof(x));
}

int
mirror_wtxn_set_cookie(struct mirror_wtxn *w, const void *cookie, size_t len)
{
	return meta_put(w, META_COOKIE, len > 0 ? cookie : NULL, len);
}

int
mirror_wtxn_set_params(struct mirror_wtxn *w, const char *params)
{
	return meta_put(w, META_PARAMS, params, strlen(params));
}

int
mirror_wtxn_set_complete(struct mirror_wtxn *w, bool complete)
{
	return meta_put_u64(w, META_COMPLETE, complete ? 1 : 0);
}

int
mirror_wtxn_set_contact(struct mirror_wtxn *w, uint64_t t, bool session)
{
	if (meta_put_u64(w, META_CONTACT, t) != 0)
		return -1;
	return meta_put_u64(w, META_SESSION, session ? 1 : 0);
}

int
mirror_wtxn_commit(struct mirror_wtxn *w, char **err)
{
	int rc;

	*err = NULL;
	if (w->rc != 0) {
		*err = w->error != NULL ? w->error : strdup("mirror write");
		w->error = NULL;
		mdb_txn_abort(w->txn);
		free(w);
		return -1;
	}
	rc = mdb_txn_commit(w->txn);
	free(w->error);
	free(w);
	if (rc != 0) {
		*err = errtext("mirror commit", rc);
		return -1;
	}
	return 0;
}

void
mirror_wtxn_abort(struct mirror_wtxn *w)
{
	if (w == NULL)
		return;
	mdb_txn_abort(w->txn);
	free(w->error);
	free(w);
}
