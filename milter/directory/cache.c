/*
 * cache.c - bounded, sharded cache of directory answers.
 *
 * The key (directory index, address) is hashed with a per-cache random seed;
 * the top bits pick a shard, the low bits a bucket inside it.  Each shard
 * has its own mutex, chained hash table and LRU list, and a share of
 * max_entries, so eviction is exact LRU within a shard and approximately
 * LRU overall.  Small caches (under 2 * MIN_PER_SHARD entries) use a single
 * shard and are therefore exactly LRU.
 *
 * One slot per entry: the header below followed by the address and, for
 * found answers with a target, the target, both NUL-terminated.  Expired
 * entries are dropped when a lookup meets them, or when the LRU reaches
 * them.
 *
 * Memory: entries live in per-shard slabs taken from mmap and cut into a
 * few size classes, never in malloc's arenas.  Cache entries live for
 * minutes while libldap and libmilter allocate and free small blocks per
 * request on the same threads: mixed in one arena, every long-lived entry
 * pinned a page of otherwise free memory (about 1 KB lost per entry,
 * measured with bench/run.sh: 99 MB RSS at 100k entries).  A freed slot
 * goes back to its shard's free list for the next entry of its class; the
 * slabs go back to the system with the cache (cache_free, on reload).
 */
#include <sys/mman.h>

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "directory/cache.h"

#define MAX_SHARDS	32	/* power of two */
#define MIN_PER_SHARD	64	/* fewer shards than that for small caches */
#define MIN_BUCKETS	16	/* power of two */
#define SLAB_BYTES	(16 * 1024)
#define SLAB_HEADER	64	/* keeps slots 16-byte aligned */

/* Slot sizes; an entry larger than the last (over 500 octets of address
 * and target) is not cached. */
static const uint16_t slot_sizes[] = { 64, 96, 128, 192, 256, 384, 576 };
#define NCLASSES (sizeof(slot_sizes) / sizeof(slot_sizes[0]))

struct slot {
	struct slot *next;
};

struct slab {
	struct slab *next;
};

struct link {
	struct link *prev, *next;
};

struct entry {
	struct link lru;	/* first member: (struct entry *)link */
	struct entry *hnext;	/* hash chain */
	uint64_t expires;	/* monotonic ms; fresh while now < expires */
	uint32_t hash;		/* low 32 bits of the key hash */
	uint32_t dir;
	uint16_t alen;		/* strlen(address) */
	uint8_t status;		/* DIRECTORY_FOUND or _NOTFOUND */
	uint8_t has_target;	/* target follows the address's NUL */
	uint8_t cls;		/* slot size class */
	uint8_t entries;	/* directory_answer.entries, at most 255 */
	uint8_t ambiguous;	/* directory_answer.ambiguous */
	char data[];		/* address NUL [target NUL] */
};

struct shard {
	alignas(64) pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets;	/* power of two */
	size_t count, max;
	struct link lru;	/* sentinel: next = most recent */
	struct slot *free[NCLASSES];
	struct slab *slabs;
};

/* A slot of at least SIZE bytes from S (locked), or NULL. */
static struct entry *
slot_take(struct shard *s, size_t size)
{
	unsigned k;
	struct slot *sl;

	for (k = 0; k < NCLASSES && slot_sizes[k] < size; k++)
		;
	if (k == NCLASSES)
		return NULL;
	if (s->free[k] == NULL) {
		char *m = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t off;

		if (m == MAP_FAILED)
			return NULL;
		((struct slab *)(void *)m)->next = s->slabs;
		s->slabs = (struct slab *)(void *)m;
		for (off = SLAB_HEADER; off + slot_sizes[k] <= SLAB_BYTES;
		    off += slot_sizes[k]) {
			sl = (struct slot *)(void *)(m + off);
			sl->next = s->free[k];
			s->free[k] = sl;
		}
	}
	sl = s->free[k];
	s->free[k] = sl->next;
	((struct entry *)(void *)sl)->cls = (uint8_t)k;
	return (struct entry *)(void *)sl;
}

/* Give E's slot back to S (locked). */
static void
slot_give(struct shard *s, struct entry *e)
{
	unsigned k = e->cls;
	struct slot *sl = (struct slot *)(void *)e;

	sl->next = s->free[k];
	s->free[k] = sl;
}

struct cache {
	struct shard *shards;
	unsigned nshards;	/* power of two */
	unsigned shard_shift;	/* 64 - log2(nshards); 64 when one shard */
	uint64_t seed;
	unsigned ttl_ms, negative_ttl_ms;
};

static uint64_t (*cache_now)(void) = clock_ms;

/* Not synchronised: call before threads use any cache (tests only). */
void
cache_set_clock(uint64_t (*now_ms)(void))
{
	cache_now = now_ms != NULL ? now_ms : clock_ms;
}

static uint64_t
cache_mix(uint64_t h)
{
	/* MurmurHash3 fmix64 finaliser. */
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/* Seeded FNV-1a over the address, finalised; also returns strlen. */
static uint64_t
cache_hash(const struct cache *c, uint32_t dir, const char *addr,
    size_t *lenp)
{
	uint64_t h = c->seed ^ (dir * UINT64_C(0x9e3779b97f4a7c15));
	const unsigned char *p;

	for (p = (const unsigned char *)addr; *p != '\0'; p++) {
		h ^= *p;
		h *= UINT64_C(0x100000001b3);
	}
	*lenp = (size_t)(p - (const unsigned char *)addr);
	return cache_mix(h ^ *lenp);
}

static struct shard *
cache_shard(const struct cache *c, uint64_t h)
{
	if (c->shard_shift >= 64)
		return &c->shards[0];
	return &c->shards[h >> c->shard_shift];
}

static uint64_t
cache_seed(const void *salt)
{
	uint64_t seed = 0;

	if (getentropy(&seed, sizeof(seed)) != 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 20) ^
		    (uint64_t)(uintptr_t)salt ^ ((uint64_t)getpid() << 40);
	}
	return cache_mix(seed);
}

struct cache *
cache_new(size_t max_entries, unsigned ttl_ms, unsigned negative_ttl_ms)
{
	struct cache *c;
	unsigned i, bits = 0;
	size_t per, extra;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ttl_ms = ttl_ms;
	c->negative_ttl_ms = negative_ttl_ms;
	c->seed = cache_seed(c);
	c->nshards = 1;
	while (c->nshards < MAX_SHARDS &&
	    max_entries / (c->nshards * 2u) >= MIN_PER_SHARD) {
		c->nshards *= 2;
		bits++;
	}
	c->shard_shift = 64 - bits;
	c->shards = aligned_alloc(alignof(struct shard),
	    c->nshards * sizeof(struct shard));
	if (c->shards == NULL) {
		free(c);
		return NULL;
	}
	per = max_entries / c->nshards;
	extra = max_entries % c->nshards;
	for (i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];

		memset(s, 0, sizeof(*s));
		s->max = per + (i < extra ? 1 : 0);
		s->lru.prev = s->lru.next = &s->lru;
		s->nbuckets = MIN_BUCKETS;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (s->buckets == NULL ||
		    pthread_mutex_init(&s->lock, NULL) != 0) {
			free(s->buckets);
			while (i-- > 0) {
				pthread_mutex_destroy(&c->shards[i].lock);
				free(c->shards[i].buckets);
			}
			free(c->shards);
			free(c);
			return NULL;
		}
	}
	return c;
}

/* Drop every entry of S (locked); their slots stay with S. */
static void
shard_clear(struct shard *s)
{
	struct link *l, *next;

	for (l = s->lru.next; l != &s->lru; l = next) {
		next = l->next;
		slot_give(s, (struct entry *)l);
	}
	s->lru.prev = s->lru.next = &s->lru;
	memset(s->buckets, 0, s->nbuckets * sizeof(*s->buckets));
	s->count = 0;
}

void
cache_free(struct cache *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];
		struct slab *sl, *next;

		for (sl = s->slabs; sl != NULL; sl = next) {
			next = sl->next;
			munmap(sl, SLAB_BYTES);
		}
		pthread_mutex_destroy(&s->lock);
		free(s->buckets);
	}
	free(c->shards);
	free(c);
}

static void
lru_unlink(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static void
lru_push_front(struct shard *s, struct link *l)
{
	l->prev = &s->lru;
	l->next = s->lru.next;
	s->lru.next->prev = l;
	s->lru.next = l;
}

/* Find the key in S (locked); *PREVP is the chain pointer to the entry. */
static struct entry *
shard_find(struct shard *s, uint32_t hash, uint32_t dir, const char *addr,
    size_t alen, struct entry ***prevp)
{
	struct entry **pp = &s->buckets[hash & (s->nbuckets - 1)];
	struct entry *e;

	for (; (e = *pp) != NULL; pp = &e->hnext) {
		if (e->hash == hash && e->dir == dir && e->alen == alen &&
		    memcmp(e->data, addr, alen) == 0) {
			*prevp = pp;
			return e;
		}
	}
	return NULL;
}

/* Remove E from the chain at PP, the LRU list and the count of S. */
static void
shard_remove(struct shard *s, struct entry **pp, struct entry *e)
{
	*pp = e->hnext;
	lru_unlink(&e->lru);
	s->count--;
}

/* Remove E found by walking its chain (used for the LRU tail). */
static void
shard_remove_entry(struct shard *s, struct entry *e)
{
	struct entry **pp = &s->buckets[e->hash & (s->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	shard_remove(s, pp, e);
}

/* Double the bucket array of S (locked); on failure keep longer chains. */
static void
shard_grow(struct shard *s)
{
	size_t n = s->nbuckets * 2, i;
	struct entry **b;

	if ((b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		struct entry *e, *next;

		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

int
cache_get(struct cache *c, size_t dir_index, const char *address,
    struct directory_answer *out)
{
	struct shard *s;
	struct entry *e, **pp;
	char *target = NULL;
	uint64_t h, now;
	size_t alen;
	int hit = 0;
	enum directory_status status = DIRECTORY_NOTFOUND;
	unsigned entries = 0;
	int ambiguous = 0;

	if (c == NULL || address == NULL || dir_index > UINT32_MAX)
		return 0;
	h = cache_hash(c, (uint32_t)dir_index, address, &alen);
	if (alen > UINT16_MAX)
		return 0;
	now = cache_now();
	s = cache_shard(c, h);
	pthread_mutex_lock(&s->lock);
	e = shard_find(s, (uint32_t)h, (uint32_t)dir_index, address, alen,
	    &pp);
	if (e != NULL && now >= e->expires) {
		shard_remove(s, pp, e);
		slot_give(s, e);
	} else if (e != NULL) {
		lru_unlink(&e->lru);
		lru_push_front(s, &e->lru);
		status = (enum directory_status)e->status;
		entries = e->entries;
		ambiguous = e->ambiguous;
		hit = 1;
		if (e->has_target &&
		    (target = strdup(e->data + e->alen + 1)) == NULL)
			hit = 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (!hit)
		return 0;
	out->status = status;
	out->target = target;
	out->error = NULL;
	out->cached = 1;
	out->entries = entries;
	out->ambiguous = ambiguous;
	out->source = NULL;
	return 1;
}

void
cache_put(struct cache *c, size_t dir_index, const char *address,
    const struct directory_answer *a)
{
	struct shard *s;
	struct entry *e = NULL, *old, **pp;
	bool has_target;
	unsigned ttl;
	uint64_t h, expires;
	size_t alen, tlen = 0;

	if (c == NULL || address == NULL || a == NULL ||
	    dir_index > UINT32_MAX)
		return;
	if (a->status == DIRECTORY_FOUND)
		ttl = c->ttl_ms;
	else if (a->status == DIRECTORY_NOTFOUND)
		ttl = c->negative_ttl_ms;
	else
		return;		/* errors are never cached */
	h = cache_hash(c, (uint32_t)dir_index, address, &alen);
	if (alen > UINT16_MAX)
		return;
	has_target = a->status == DIRECTORY_FOUND && a->target != NULL;
	if (has_target)
		tlen = strlen(a->target) + 1;
	expires = cache_now() + ttl;
	s = cache_shard(c, h);
	pthread_mutex_lock(&s->lock);
	/* A newer answer replaces, or (kind not stored) removes, the old. */
	old = shard_find(s, (uint32_t)h, (uint32_t)dir_index, address, alen,
	    &pp);
	if (old != NULL) {
		shard_remove(s, pp, old);
		slot_give(s, old);
	}
	if (ttl != 0 && s->max != 0 &&
	    (e = slot_take(s, sizeof(*e) + alen + 1 + tlen)) != NULL) {
		struct entry **b;

		e->hash = (uint32_t)h;
		e->dir = (uint32_t)dir_index;
		e->alen = (uint16_t)alen;
		e->status = (uint8_t)a->status;
		e->has_target = has_target;
		e->entries = (uint8_t)(a->entries > 255 ? 255 : a->entries);
		e->ambiguous = a->ambiguous != 0;
		memcpy(e->data, address, alen + 1);
		if (has_target)
			memcpy(e->data + alen + 1, a->target, tlen);
		e->expires = expires;
		if (s->count >= s->nbuckets && s->nbuckets < s->max)
			shard_grow(s);
		b = &s->buckets[e->hash & (s->nbuckets - 1)];
		e->hnext = *b;
		*b = e;
		lru_push_front(s, &e->lru);
		s->count++;
		while (s->count > s->max) {
			old = (struct entry *)s->lru.prev;
			shard_remove_entry(s, old);
			slot_give(s, old);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void
cache_flush(struct cache *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		shard_clear(s);
		pthread_mutex_unlock(&s->lock);
	}
}

size_t
cache_count(struct cache *c)
{
	size_t n = 0;
	unsigned i;

	if (c == NULL)
		return 0;
	for (i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		n += s->count;
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}
