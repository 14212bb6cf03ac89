/*
 * mirror_store.h - the on-disk copy of one mirrored directory (LMDB).
 *
 * One LMDB environment per directory, in [milter] state_dir/NAME/, with
 * three databases:
 *   entries    entry key (entryUUID, objectGUID or DN) -> the entry's
 *              addresses and target address
 *   addresses  lowercased address -> entry keys (duplicates sorted)
 *   meta       the synchronisation state: cookie, whether the first
 *              complete refresh is done, last contact with the directory,
 *              whether a persist session is up, the parameters the copy
 *              was made with
 * A batch of changes and the cookie that ends it are written in one write
 * transaction (struct mirror_wtxn), so a crash or kill -9 leaves either
 * the state before the batch or after it.  A whole refresh is one
 * transaction too.  Lookups are read-only transactions: they never wait
 * for the writer, and other processes (nsmilter -q, -m) open the same
 * files read-only while the daemon writes.
 */
#ifndef NSMILTER_MIRROR_STORE_H
#define NSMILTER_MIRROR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mirror_store;
struct mirror_wtxn;

/* Longest address kept (RFC 5321 path limit), and longest entry key. */
#define MIRROR_ADDRESS_MAX 254
#define MIRROR_KEY_MAX 400

/* One entry as stored: its addresses (lowercased) and its target. */
struct mirror_entry {
	char **addrs;
	size_t n_addrs;
	char *target;     /* target address (prefix stripped), or NULL */
	bool has_target;  /* the entry has a target attribute value, even one
			     that is not an SMTP address (then target NULL) */
};

/* The synchronisation state, as last committed. */
struct mirror_meta {
	bool present;        /* a synchronisation has started on this copy */
	bool complete;       /* the first complete refresh is done */
	bool session;        /* a persist session was up at the last write */
	uint64_t contact;    /* unix time of the last contact, 0: never */
	uint64_t entries;    /* number of entries */
	uint64_t addresses;  /* number of (address, entry) pairs */
};

/* What a lookup found. */
struct mirror_hit {
	unsigned entries;    /* entries that have the address */
	bool ambiguous;      /* they lead to different decisions */
	char *target;        /* the first entry's target, or NULL (malloc'd) */
};

/* Open flags. */
#define MIRROR_STORE_RDONLY 0x1  /* read-only: -q, -m (must exist) */

/*
 * Open (creating it unless read-only) the store in directory DIR.
 * Returns 0, or -1 with *ERR a new message; for a read-only store that
 * does not exist yet, *ERR is NULL and the return -1 (the mirror is
 * absent).
 */
int mirror_store_open(const char *dir, int flags, struct mirror_store **out,
    char **err);
void mirror_store_close(struct mirror_store *s);

/*
 * Look ADDRESS (any case) up; META gets the state of the same snapshot.
 * Returns 0 (HIT filled; hit->entries 0: not in the copy) or -1 with *ERR.
 */
int mirror_store_lookup(struct mirror_store *s, const char *address,
    struct mirror_meta *meta, struct mirror_hit *hit, char **err);
void mirror_hit_clear(struct mirror_hit *hit);

/* The state alone.  Returns 0 or -1 with *ERR. */
int mirror_store_meta(struct mirror_store *s, struct mirror_meta *meta,
    char **err);

/*
 * The stored cookie (*COOKIE malloc'd, *LEN bytes and a NUL; NULL/0 when
 * none) and
 * the parameters the copy was made with (*PARAMS malloc'd, or NULL).
 */
int mirror_store_sync_state(struct mirror_store *s, void **cookie,
    size_t *len, char **params, char **err);

/*
 * Call FN for every entry (for reports and tests), in key order, inside
 * one read transaction.  FN returning non-zero stops the walk.
 */
typedef int (*mirror_walk_fn)(void *ctx, const void *key, size_t klen,
    const struct mirror_entry *e);
int mirror_store_walk(struct mirror_store *s, mirror_walk_fn fn, void *ctx,
    char **err);

/* ---- writing: one transaction per batch ------------------------------ */

int mirror_wtxn_begin(struct mirror_store *s, struct mirror_wtxn **out,
    char **err);
/* Forget every entry (a full refresh follows in the same transaction). */
int mirror_wtxn_clear(struct mirror_wtxn *w);
/* Add or replace the entry KEY. */
int mirror_wtxn_put(struct mirror_wtxn *w, const void *key, size_t klen,
    const struct mirror_entry *e);
/* Remove the entry KEY (absent: nothing to do). */
int mirror_wtxn_delete(struct mirror_wtxn *w, const void *key, size_t klen);
/* An entry key. */
struct mirror_key {
	unsigned char *p;
	size_t len;
};

/*
 * Remove every entry whose key is not among KEEP (N keys sorted with
 * mirror_keys_sort).  Returns the number removed, or -1.
 */
long mirror_wtxn_sweep(struct mirror_wtxn *w, const struct mirror_key *keep,
    size_t n);
int mirror_wtxn_set_cookie(struct mirror_wtxn *w, const void *cookie,
    size_t len);
int mirror_wtxn_set_params(struct mirror_wtxn *w, const char *params);
int mirror_wtxn_set_complete(struct mirror_wtxn *w, bool complete);
/* Last contact now (unix time T) and whether a persist session is up. */
int mirror_wtxn_set_contact(struct mirror_wtxn *w, uint64_t t, bool session);
/* Commit (0) or -1 with *ERR; W is freed either way. */
int mirror_wtxn_commit(struct mirror_wtxn *w, char **err);
void mirror_wtxn_abort(struct mirror_wtxn *w);
/* The first error a write step met (an LMDB message), or NULL. */
const char *mirror_wtxn_error(const struct mirror_wtxn *w);

/* Sort N keys for mirror_wtxn_sweep. */
void mirror_keys_sort(struct mirror_key *keys, size_t n);

#endif
