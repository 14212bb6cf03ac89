/*
 * mirror_store_priv.h - what the parts of the mirror store share
 * (mirror_store.c: open and read; mirror_store_write.c: write
 * transactions; mirror_record.c: the entry records).  Nothing outside
 * milter/directory/mirror/mirror_store*.c and mirror_record.c uses it.
 */
#ifndef NSMILTER_MIRROR_STORE_PRIV_H
#define NSMILTER_MIRROR_STORE_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <lmdb.h>
#include <pthread.h>

#include "directory/mirror/mirror_store.h"

/* meta keys */
/* meta keys */
#define META_COOKIE "cookie"
#define META_PARAMS "params"
#define META_COMPLETE "complete"
#define META_CONTACT "contact"
#define META_SESSION "session"

/* Read transactions kept for reuse (mirror_store.c). */
#define MIRROR_TXN_POOL 32

struct mirror_store {
	MDB_env *env;
	MDB_dbi entries, addresses, meta;
	bool rdonly;
	pthread_mutex_t pool_mu;        /* pool, n_pool */
	MDB_txn *pool[MIRROR_TXN_POOL]; /* reset read transactions */
	unsigned n_pool;
};

/* The text "WHAT: <LMDB message for RC>" (new string, or NULL). */
char *mirror_store_errtext(const char *what, int rc);

/*
 * Entry records (mirror_record.c).  Encode E into V (V->mv_data malloc'd);
 * 0 or an errno value.
 */
int mirror_record_encode(const struct mirror_entry *e, MDB_val *v);

/* A view into a record: pointers into the value (valid inside its txn). */
struct mirror_record {
	bool has_target;
	const char *target;
	size_t target_len;
	size_t n_addrs;
	const unsigned char *addrs;   /* u16 len + bytes, n_addrs times */
	const unsigned char *end;
};

/* 0, or -1 when V is not a record of this version. */
int mirror_record_view(const MDB_val *v, struct mirror_record *r);
/* The next address of R at *P: 1 with A/LEN, 0 at the end, -1 corrupt. */
int mirror_record_next_addr(const struct mirror_record *r,
    const unsigned char **p, const char **a, size_t *len);

#endif
