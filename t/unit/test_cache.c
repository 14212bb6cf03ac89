/*
 * test_cache.c - unit tests for the directory answer cache (cache.c).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "directory/cache.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

static int
setup_fake_clock(void **state)
{
	(void)state;
	fake_now = 1000000;
	cache_set_clock(fake_clock);
	return 0;
}

static int
teardown_clock(void **state)
{
	(void)state;
	cache_set_clock(NULL);
	return 0;
}

static struct directory_answer
answer(enum directory_status status, const char *target)
{
	struct directory_answer a = { .status = status, .target = (char *)target };

	return a;
}

/* Fail unless (DIR, ADDR) is a hit with WANT_STATUS and WANT_TARGET. */
static void
expect_hit(struct cache *c, size_t dir, const char *addr,
    enum directory_status want_status, const char *want_target)
{
	struct directory_answer out = { .status = DIRECTORY_ERROR };

	if (!cache_get(c, dir, addr, &out))
		fail_msg("get(%zu, %s): got miss, want hit", dir, addr);
	if (out.status != want_status)
		fail_msg("get(%zu, %s): got status %d, want %d", dir, addr,
		    (int)out.status, (int)want_status);
	if (want_target == NULL && out.target != NULL)
		fail_msg("get(%zu, %s): got target %s, want NULL", dir, addr,
		    out.target);
	if (want_target != NULL &&
	    (out.target == NULL || strcmp(out.target, want_target) != 0))
		fail_msg("get(%zu, %s): got target %s, want %s", dir, addr,
		    out.target != NULL ? out.target : "NULL", want_target);
	if (out.cached != 1)
		fail_msg("get(%zu, %s): got cached %d, want 1", dir, addr,
		    out.cached);
	if (out.error != NULL)
		fail_msg("get(%zu, %s): got error %s, want NULL", dir, addr,
		    out.error);
	directory_answer_clear(&out);
}

/* Fail unless (DIR, ADDR) is a miss that leaves OUT untouched. */
static void
expect_miss(struct cache *c, size_t dir, const char *addr)
{
	struct directory_answer out = { .status = DIRECTORY_ERROR, .cached = 7 };

	if (cache_get(c, dir, addr, &out))
		fail_msg("get(%zu, %s): got hit (status %d), want miss", dir,
		    addr, (int)out.status);
	if (out.status != DIRECTORY_ERROR || out.target != NULL ||
	    out.error != NULL || out.cached != 7)
		fail_msg("get(%zu, %s): miss modified OUT", dir, addr);
}

/* One answer of a table: directory, address, what to store. */
struct cache_case {
	size_t dir;
	const char *addr;
	enum directory_status status;
	const char *target;
};

/* Store every answer of CASES, then find each of them again. */
static void
put_and_find_all(struct cache *c, const struct cache_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct directory_answer a = answer(cases[i].status,
		    cases[i].target);

		cache_put(c, cases[i].dir, cases[i].addr, &a);
	}
	for (size_t i = 0; i < n; i++)
		expect_hit(c, cases[i].dir, cases[i].addr, cases[i].status,
		    cases[i].target);
}

static void
test_hit_miss(void **state)
{
	static const struct cache_case cases[] = {
		{ 0, "bob@corp.example", DIRECTORY_FOUND, "bob@legacy.corp.example" },
		{ 0, "alice@corp.example", DIRECTORY_FOUND, NULL },
		{ 0, "nobody@corp.example", DIRECTORY_NOTFOUND, NULL },
		{ 3, "carol@other.example", DIRECTORY_FOUND, "carol@mx.example" },
		{ 0, "", DIRECTORY_NOTFOUND, NULL },
	};
	struct cache *c = cache_new(100, 60000, 60000);
	struct directory_answer a;
	size_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_miss(c, cases[i].dir, cases[i].addr);
	put_and_find_all(c, cases, sizeof(cases) / sizeof(cases[0]));
	if (cache_count(c) != 5)
		fail_msg("count: got %zu, want 5", cache_count(c));
	expect_miss(c, 0, "eve@corp.example");
	expect_miss(c, 1, "bob@corp.example");

	/* A newer answer replaces the old one. */
	a = answer(DIRECTORY_NOTFOUND, NULL);
	cache_put(c, 0, "bob@corp.example", &a);
	expect_hit(c, 0, "bob@corp.example", DIRECTORY_NOTFOUND, NULL);
	if (cache_count(c) != 5)
		fail_msg("count after replace: got %zu, want 5",
		    cache_count(c));

	/* Not-found answers carry no target even if the caller set one. */
	a = answer(DIRECTORY_NOTFOUND, "junk@example");
	cache_put(c, 0, "dave@corp.example", &a);
	expect_hit(c, 0, "dave@corp.example", DIRECTORY_NOTFOUND, NULL);
	cache_free(c);
}

static void
test_ttl_expiry(void **state)
{
	static const struct {
		const char *name;
		enum directory_status status;
		uint64_t after;		/* ms after the put */
		int want_hit;
	} cases[] = {
		{ "found, immediately", DIRECTORY_FOUND, 0, 1 },
		{ "found, just before ttl", DIRECTORY_FOUND, 4999, 1 },
		{ "found, at ttl", DIRECTORY_FOUND, 5000, 0 },
		{ "found, long after", DIRECTORY_FOUND, 3600000, 0 },
		{ "notfound, just before ttl", DIRECTORY_NOTFOUND, 999, 1 },
		{ "notfound, at ttl", DIRECTORY_NOTFOUND, 1000, 0 },
		{ "notfound, before positive ttl", DIRECTORY_NOTFOUND, 4000, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cache *c = cache_new(100, 5000, 1000);
		struct directory_answer a = answer(cases[i].status,
		    cases[i].status == DIRECTORY_FOUND ? "t@example" : NULL);
		struct directory_answer out = { .status = DIRECTORY_ERROR };
		int got;

		assert_non_null(c);
		fake_now = 1000000;
		cache_put(c, 0, "bob@corp.example", &a);
		fake_now += cases[i].after;
		got = cache_get(c, 0, "bob@corp.example", &out);
		if (got != cases[i].want_hit)
			fail_msg("%s: got hit=%d, want %d", cases[i].name, got,
			    cases[i].want_hit);
		/* An expired entry is removed by the lookup that meets it. */
		if (cache_count(c) != (size_t)cases[i].want_hit)
			fail_msg("%s: count got %zu, want %d", cases[i].name,
			    cache_count(c), cases[i].want_hit);
		directory_answer_clear(&out);
		cache_free(c);
	}
}

static void
test_errors_not_stored(void **state)
{
	struct cache *c = cache_new(100, 60000, 60000);
	struct directory_answer a = answer(DIRECTORY_FOUND, "bob@legacy.example");

	(void)state;
	assert_non_null(c);
	a.status = DIRECTORY_ERROR;
	a.error = (char *)"ldap: timeout";
	cache_put(c, 0, "bob@corp.example", &a);
	expect_miss(c, 0, "bob@corp.example");
	if (cache_count(c) != 0)
		fail_msg("count: got %zu, want 0", cache_count(c));

	/* An error does not evict a good answer either. */
	a = answer(DIRECTORY_FOUND, "bob@legacy.example");
	cache_put(c, 0, "bob@corp.example", &a);
	a.status = DIRECTORY_ERROR;
	cache_put(c, 0, "bob@corp.example", &a);
	expect_hit(c, 0, "bob@corp.example", DIRECTORY_FOUND, "bob@legacy.example");
	cache_free(c);
}

/* ADDRESS of directory 0 is in C (WANT 1) or not (0). */
static void
expect_cached(struct cache *c, const char *address, int want,
    const char *name, const char *what)
{
	struct directory_answer out = { .status = DIRECTORY_ERROR };
	int got = cache_get(c, 0, address, &out);

	directory_answer_clear(&out);
	if (got != want)
		fail_msg("%s: %s: got hit=%d, want %d", name, what, got, want);
}

static void
test_ttl_zero(void **state)
{
	static const struct {
		const char *name;
		unsigned ttl, negative_ttl;
		int want_found, want_notfound;
	} cases[] = {
		{ "both on", 1000, 1000, 1, 1 },
		{ "positive off", 0, 1000, 0, 1 },
		{ "negative off", 1000, 0, 1, 0 },
		{ "both off", 0, 0, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cache *c = cache_new(100, cases[i].ttl,
		    cases[i].negative_ttl);
		struct directory_answer f = answer(DIRECTORY_FOUND, "t@example");
		struct directory_answer n = answer(DIRECTORY_NOTFOUND, NULL);

		assert_non_null(c);
		cache_put(c, 0, "found@example", &f);
		cache_put(c, 0, "notfound@example", &n);
		expect_cached(c, "found@example", cases[i].want_found,
		    cases[i].name, "found");
		expect_cached(c, "notfound@example", cases[i].want_notfound,
		    cases[i].name, "notfound");

		/* A newer answer of a kind not stored drops the old one. */
		cache_put(c, 0, "found@example", &n);
		cache_put(c, 0, "notfound@example", &f);
		expect_cached(c, "found@example", cases[i].want_notfound,
		    cases[i].name, "found->notfound");
		expect_cached(c, "notfound@example", cases[i].want_found,
		    cases[i].name, "notfound->found");
		cache_free(c);
	}
}

static void
test_bound(void **state)
{
	static const struct {
		size_t max;
		size_t want_recent;	/* last N inserts guaranteed present */
		size_t want_min;	/* count at least this after filling */
	} cases[] = {
		{ 0, 0, 0 },
		{ 1, 1, 1 },
		{ 8, 8, 8 },
		{ 100, 100, 100 },	/* single shard: exact LRU */
		{ 4096, 64, 3900 },	/* sharded: LRU per shard */
		{ 50000, 1000, 49000 },
	};
	size_t i, k;
	char addr[64];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t max = cases[i].max, n = max * 10 + 10, got;
		struct cache *c = cache_new(max, 60000, 60000);
		struct directory_answer a = answer(DIRECTORY_FOUND, "target@example");

		assert_non_null(c);
		for (k = 0; k < n; k++) {
			snprintf(addr, sizeof(addr), "user%zu@corp.example", k);
			cache_put(c, k % 3, addr, &a);
			if (k % 997 == 0 && (got = cache_count(c)) > max)
				fail_msg("max %zu, after %zu puts: count got "
				    "%zu, want <= %zu", max, k + 1, got, max);
		}
		got = cache_count(c);
		if (got > max)
			fail_msg("max %zu: count got %zu, want <= %zu", max,
			    got, max);
		if (got < cases[i].want_min)
			fail_msg("max %zu: count got %zu, want >= %zu", max,
			    got, cases[i].want_min);
		for (k = n - cases[i].want_recent; k < n; k++) {
			snprintf(addr, sizeof(addr), "user%zu@corp.example", k);
			expect_hit(c, k % 3, addr, DIRECTORY_FOUND, "target@example");
		}
		cache_free(c);
	}
}

static void
test_lru_order(void **state)
{
	struct cache *c = cache_new(4, 60000, 60000);
	struct directory_answer a = answer(DIRECTORY_FOUND, "t@example");
	struct directory_answer out = { .status = DIRECTORY_ERROR };

	(void)state;
	assert_non_null(c);
	cache_put(c, 0, "a@x", &a);
	cache_put(c, 0, "b@x", &a);
	cache_put(c, 0, "c@x", &a);
	cache_put(c, 0, "d@x", &a);
	/* Touch a: b is now the least recently used. */
	assert_int_equal(cache_get(c, 0, "a@x", &out), 1);
	directory_answer_clear(&out);
	cache_put(c, 0, "e@x", &a);
	expect_miss(c, 0, "b@x");
	expect_hit(c, 0, "a@x", DIRECTORY_FOUND, "t@example");
	/* Order now (old to new): c d e a.  Re-putting c refreshes it. */
	cache_put(c, 0, "c@x", &a);
	cache_put(c, 0, "f@x", &a);
	expect_miss(c, 0, "d@x");
	expect_hit(c, 0, "c@x", DIRECTORY_FOUND, "t@example");
	expect_hit(c, 0, "e@x", DIRECTORY_FOUND, "t@example");
	expect_hit(c, 0, "f@x", DIRECTORY_FOUND, "t@example");
	if (cache_count(c) != 4)
		fail_msg("count: got %zu, want 4", cache_count(c));
	cache_free(c);
}

static void
test_flush(void **state)
{
	struct cache *c = cache_new(10000, 60000, 60000);
	struct directory_answer a = answer(DIRECTORY_FOUND, "t@example");
	char addr[64];
	int k;

	(void)state;
	assert_non_null(c);
	for (k = 0; k < 5000; k++) {
		snprintf(addr, sizeof(addr), "u%d@corp.example", k);
		cache_put(c, 0, addr, &a);
	}
	if (cache_count(c) != 5000)
		fail_msg("count before flush: got %zu, want 5000",
		    cache_count(c));
	cache_flush(c);
	if (cache_count(c) != 0)
		fail_msg("count after flush: got %zu, want 0", cache_count(c));
	expect_miss(c, 0, "u0@corp.example");
	expect_miss(c, 0, "u4999@corp.example");
	/* Usable after a flush; flushing an empty cache is fine. */
	cache_put(c, 0, "u1@corp.example", &a);
	expect_hit(c, 0, "u1@corp.example", DIRECTORY_FOUND, "t@example");
	cache_flush(c);
	cache_flush(c);
	assert_int_equal(cache_count(c), 0);
	cache_free(c);
}

static void
test_target_copied(void **state)
{
	struct cache *c = cache_new(100, 60000, 60000);
	struct directory_answer a = { .status = DIRECTORY_FOUND };
	struct directory_answer out = { .status = DIRECTORY_ERROR };

	(void)state;
	assert_non_null(c);
	a.target = strdup("bob@legacy.corp.example");
	assert_non_null(a.target);
	cache_put(c, 0, "bob@corp.example", &a);
	/* The caller owns and frees its answer; the cache kept a copy. */
	memset(a.target, 'X', strlen(a.target));
	directory_answer_clear(&a);
	assert_int_equal(cache_get(c, 0, "bob@corp.example", &out), 1);
	assert_non_null(out.target);
	if (strcmp(out.target, "bob@legacy.corp.example") != 0)
		fail_msg("target: got %s, want bob@legacy.corp.example",
		    out.target);
	/* The result is the caller's own copy too. */
	out.target[0] = 'Z';
	directory_answer_clear(&out);
	expect_hit(c, 0, "bob@corp.example", DIRECTORY_FOUND,
	    "bob@legacy.corp.example");
	cache_free(c);
}

static void
test_keys_apart(void **state)
{
	static const struct cache_case cases[] = {
		{ 0, "bob@corp.example", DIRECTORY_FOUND, "bob@a.example" },
		{ 1, "bob@corp.example", DIRECTORY_NOTFOUND, NULL },
		{ 2, "bob@corp.example", DIRECTORY_FOUND, "bob@c.example" },
		/* The local part is case-preserved: distinct keys. */
		{ 0, "Bob@corp.example", DIRECTORY_FOUND, "Bob@b.example" },
		{ 0, "BOB@corp.example", DIRECTORY_NOTFOUND, NULL },
		/* Prefixes and extensions are distinct keys. */
		{ 0, "bob@corp.exampl", DIRECTORY_FOUND, "prefix@example" },
		{ 0, "bob+x@corp.example", DIRECTORY_FOUND, "ext@example" },
	};
	struct cache *c = cache_new(100, 60000, 60000);

	(void)state;
	assert_non_null(c);
	put_and_find_all(c, cases, sizeof(cases) / sizeof(cases[0]));
	expect_miss(c, 3, "bob@corp.example");
	expect_miss(c, 0, "bOb@corp.example");
	cache_free(c);
}

/* Concurrency: 8 threads, mixed put/get/count/flush on shared keys. */

#define NTHREADS	8
#define NKEYS		6000
#define NDIRS		2
#define NOPS		150000

struct worker {
	struct cache *c;
	unsigned id;
	unsigned long hits, misses, bad;
	char why[160];
};

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Every thread stores the same, deterministic answer for a key. */
static void
key_answer(unsigned dir, unsigned k, char *addr, size_t addrsz, char *target,
    size_t targetsz, enum directory_status *status)
{
	snprintf(addr, addrsz, "user%u@dom%u.example", k, k % 7);
	snprintf(target, targetsz, "u%u.d%u@legacy.example", k, dir);
	*status = (k + dir) % 3 == 0 ? DIRECTORY_NOTFOUND : DIRECTORY_FOUND;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	uint32_t seed = 2463534242u + w->id * 7919u;
	char addr[64], target[64];
	unsigned long i;

	for (i = 0; i < NOPS; i++) {
		uint32_t r = xorshift(&seed);
		unsigned k = r % NKEYS, dir = (r >> 16) % NDIRS, op = (r >> 20) % 1000;
		enum directory_status status;
		struct directory_answer out = { .status = DIRECTORY_ERROR };

		key_answer(dir, k, addr, sizeof(addr), target, sizeof(target),
		    &status);
		if (op < 500) {
			if (!cache_get(w->c, dir, addr, &out)) {
				w->misses++;
				continue;
			}
			w->hits++;
			if (out.status != status ||
			    (status == DIRECTORY_FOUND &&
			    (out.target == NULL ||
			    strcmp(out.target, target) != 0)) ||
			    (status == DIRECTORY_NOTFOUND && out.target != NULL)) {
				if (w->bad++ == 0)
					snprintf(w->why, sizeof(w->why),
					    "%s dir %u: got %d %s, want %d %s",
					    addr, dir, (int)out.status,
					    out.target ? out.target : "NULL",
					    (int)status,
					    status == DIRECTORY_FOUND ? target : "NULL");
			}
			directory_answer_clear(&out);
		} else if (op < 980) {
			struct directory_answer a = answer(status,
			    status == DIRECTORY_FOUND ? target : NULL);

			cache_put(w->c, dir, addr, &a);
		} else if (op < 999) {
			struct directory_answer a = { .status = DIRECTORY_ERROR,
			    .error = (char *)"timeout" };

			cache_put(w->c, dir, addr, &a);
		} else if (w->id == 0 && (r & 0x0f) == 0) {
			cache_flush(w->c);
		} else {
			(void)cache_count(w->c);
		}
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	const size_t max = 4096;
	struct cache *c = cache_new(max, 600000, 600000);
	struct worker w[NTHREADS];
	pthread_t tid[NTHREADS];
	unsigned long hits = 0, bad = 0;
	unsigned i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].c = c;
		w[i].id = i;
		if (pthread_create(&tid[i], NULL, worker_run, &w[i]) != 0)
			fail_msg("pthread_create %u failed", i);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < NTHREADS; i++) {
		hits += w[i].hits;
		bad += w[i].bad;
		if (w[i].bad != 0)
			print_error("thread %u: %s\n", i, w[i].why);
	}
	if (bad != 0)
		fail_msg("inconsistent results: got %lu, want 0", bad);
	if (hits == 0)
		fail_msg("hits: got 0, want > 0");
	if (cache_count(c) > max)
		fail_msg("count: got %zu, want <= %zu", cache_count(c), max);
	cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hit_miss,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_ttl_expiry,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_errors_not_stored,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_ttl_zero,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_bound,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_lru_order,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_flush,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_target_copied,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test_setup_teardown(test_keys_apart,
		    setup_fake_clock, teardown_clock),
		cmocka_unit_test(test_concurrent),	/* real clock */
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
