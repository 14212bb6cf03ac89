/*
 * mirror_store_write.c - write transactions of the mirror store: one per
 * batch of changes, committed with the cookie that ends the batch (see
 * mirror_store.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "directory/mirror/mirror_store_priv.h"

struct mirror_wtxn {
	struct mirror_store *s;
	MDB_txn *txn;
	int rc;              /* first failure, MDB_SUCCESS while fine */
	char *error;
};

/* Record the first failure of W; returns -1. */
static int
wfail(struct mirror_wtxn *w, const char *what, int rc)
{
	if (w->rc == 0) {
		w->rc = rc;
		w->error = mirror_store_errtext(what, rc);
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
		*err = mirror_store_errtext("mirror write", rc);
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
	struct mirror_record r;
	const unsigned char *p;
	const char *a;
	size_t al;
	int rc, more;

	if (mirror_record_view(v, &r) != 0)
		return 0;   /* unreadable old record: nothing indexed */
	for (p = r.addrs; (more = mirror_record_next_addr(&r, &p, &a, &al)) == 1; ) {
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
	if ((rc = mirror_record_encode(e, &v)) != 0)
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
		*err = mirror_store_errtext("mirror commit", rc);
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

