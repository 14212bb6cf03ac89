/*
 * test_resolver.c - the resolver against a fake backend: what the cache
 * answers and what it does not (hits and misses of one call), directories
 * asked at once with each answer in its own directory's slot whatever
 * order they arrive in, one past its deadline abandoned, and a backend
 * without asynchronous operations asked one by one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "directory/resolver.h"
#include "fake_directory.h"

static const struct fake_entry table[] = {
	{ "hq", "alice@corp.example", DIRECTORY_FOUND, NULL },
	{ "hq", "carol@corp.example", DIRECTORY_FOUND, "carol@other.example" },
	{ "legacy", "bob@corp.example", DIRECTORY_FOUND, "bob@legacy.example" },
	{ "legacy", "down@corp.example", DIRECTORY_ERROR, NULL },
	{ NULL, NULL, 0, NULL },
};

/* Two directories, and corp.example decided by both, hq first. */
static struct directory_config dirs[2] = {
	{ .name = "hq", .index = 0, .timeout_ms = 2000 },
	{ .name = "legacy", .index = 1, .timeout_ms = 2000 },
};
static struct directory_config *both[2] = { &dirs[0], &dirs[1] };
static struct directory_config *legacy_first[2] = { &dirs[1], &dirs[0] };
static struct domain_config corp = {
	.name = "corp.example", .dirs = both, .n_dirs = 2,
};
static struct config cfg = {
	.directories = dirs, .n_directories = 2, .domains = &corp,
	.n_domains = 1,
};

static struct resolver *
open_resolver(const struct directory_ops *ops, unsigned cache_ttl_ms)
{
	struct resolver *r;

	fake_reset(table);
	cfg.milter.cache_ttl_ms = cache_ttl_ms;
	cfg.milter.negative_cache_ttl_ms = cache_ttl_ms;
	cfg.milter.cache_size = 100;
	corp.dirs = both;
	assert_non_null(r = resolver_open(&cfg, ops));
	assert_int_equal(fake_counts.opens, 2);
	return r;
}

static void
close_resolver(struct resolver *r)
{
	resolver_close(r);
	assert_int_equal(fake_counts.closes, 2);
}

/* Ask ADDRESS once; the answers go to ANSWERS, the accounting to CALL. */
static void
ask(struct resolver *r, const char *address, struct resolver_call *call,
    struct directory_answer answers[2])
{
	*call = (struct resolver_call){ .resolver = r };
	resolver_lookup(call, &corp, address, answers);
}

static void
clear(struct directory_answer answers[2])
{
	directory_answer_clear(&answers[0]);
	directory_answer_clear(&answers[1]);
}

static void
test_cache_miss_then_hit(void **state)
{
	struct resolver *r = open_resolver(&fake_ops, 60000);
	struct resolver_call call;
	struct directory_answer a[2];

	(void)state;
	assert_non_null(r->cache);
	ask(r, "carol@corp.example", &call, a);
	assert_int_equal(call.misses, 2);
	assert_int_equal(call.hits, 0);
	assert_string_equal(resolver_call_cache(&call), "miss");
	assert_int_equal(fake_counts.lookups, 2);
	assert_false(a[0].cached);
	clear(a);

	ask(r, "carol@corp.example", &call, a);
	assert_int_equal(call.misses, 0);
	assert_int_equal(call.hits, 2);
	assert_string_equal(resolver_call_cache(&call), "hit");
	assert_int_equal(fake_counts.lookups, 2);   /* nobody asked again */
	assert_true(a[0].cached && a[1].cached);
	assert_int_equal(a[0].status, DIRECTORY_FOUND);
	assert_string_equal(a[0].target, "carol@other.example");
	assert_int_equal(a[1].status, DIRECTORY_NOTFOUND);
	clear(a);

	/* An error is never cached: legacy is asked again, hq is not. */
	ask(r, "down@corp.example", &call, a);
	clear(a);
	ask(r, "down@corp.example", &call, a);
	assert_int_equal(call.hits, 1);
	assert_int_equal(call.misses, 1);
	assert_string_equal(resolver_call_cache(&call), "miss");
	assert_int_equal(a[1].status, DIRECTORY_ERROR);
	clear(a);
	close_resolver(r);
}

static void
test_no_cache(void **state)
{
	struct resolver *r = open_resolver(&fake_ops, 0);
	struct resolver_call call;
	struct directory_answer a[2];

	(void)state;
	assert_null(r->cache);
	for (int i = 0; i < 2; i++) {
		ask(r, "alice@corp.example", &call, a);
		assert_int_equal(call.misses, 2);
		assert_int_equal(call.hits, 0);
		clear(a);
	}
	assert_int_equal(fake_counts.lookups, 4);
	close_resolver(r);
}

static void
test_no_directory_asked(void **state)
{
	struct resolver_call call = { 0 };

	(void)state;
	assert_null(resolver_call_cache(&call));
}

/* hq answers after legacy: each answer still lands in its own slot. */
static void
test_parallel_by_position(void **state)
{
	struct resolver *r = open_resolver(&fake_async_ops, 0);
	struct resolver_call call;
	struct directory_answer a[2];

	(void)state;
	fake_delay[0] = 3;
	fake_delay[1] = 1;
	ask(r, "bob@corp.example", &call, a);
	assert_int_equal(fake_counts.starts, 2);
	assert_int_equal(fake_counts.lookups, 0);
	assert_int_equal(fake_counts.n_done, 2);
	assert_int_equal(fake_counts.done[0], 1);   /* legacy first */
	assert_int_equal(fake_counts.done[1], 0);
	assert_int_equal(a[0].status, DIRECTORY_NOTFOUND);
	assert_null(a[0].target);
	assert_int_equal(a[1].status, DIRECTORY_FOUND);
	assert_string_equal(a[1].target, "bob@legacy.example");
	clear(a);

	/* The domain's order, not the configuration's, places the answers. */
	corp.dirs = legacy_first;
	ask(r, "bob@corp.example", &call, a);
	assert_int_equal(a[0].status, DIRECTORY_FOUND);
	assert_string_equal(a[0].target, "bob@legacy.example");
	assert_int_equal(a[1].status, DIRECTORY_NOTFOUND);
	clear(a);
	corp.dirs = both;
	close_resolver(r);
}

/* A directory that never answers is abandoned at its deadline. */
static void
test_parallel_deadline(void **state)
{
	struct resolver *r = open_resolver(&fake_async_ops, 0);
	struct resolver_call call;
	struct directory_answer a[2];

	(void)state;
	dirs[1].timeout_ms = 50;
	fake_delay[0] = 2;
	fake_delay[1] = FAKE_NEVER;
	ask(r, "alice@corp.example", &call, a);
	dirs[1].timeout_ms = 2000;
	assert_int_equal(fake_counts.abandons, 1);
	assert_int_equal(a[0].status, DIRECTORY_FOUND);
	assert_int_equal(a[1].status, DIRECTORY_ERROR);
	assert_string_equal(a[1].error, "timed out");
	clear(a);
	close_resolver(r);
}

/* A backend without start/poll: the directories are asked in turn. */
static void
test_without_async(void **state)
{
	struct resolver *r = open_resolver(&fake_ops, 0);
	struct resolver_call call;
	struct directory_answer a[2];

	(void)state;
	ask(r, "bob@corp.example", &call, a);
	assert_int_equal(fake_counts.starts, 0);
	assert_int_equal(fake_counts.lookups, 2);
	assert_int_equal(fake_counts.done[0], 0);
	assert_int_equal(fake_counts.done[1], 1);
	assert_int_equal(a[0].status, DIRECTORY_NOTFOUND);
	assert_int_equal(a[1].status, DIRECTORY_FOUND);
	assert_string_equal(a[1].target, "bob@legacy.example");
	clear(a);
	close_resolver(r);
}

/* One directory left to ask (the other cached): a plain lookup. */
static void
test_one_missing_is_synchronous(void **state)
{
	struct resolver *r = open_resolver(&fake_async_ops, 60000);
	struct resolver_call call;
	struct directory_answer a[2];

	(void)state;
	ask(r, "down@corp.example", &call, a);
	assert_int_equal(fake_counts.starts, 2);
	clear(a);
	ask(r, "down@corp.example", &call, a);
	assert_int_equal(call.hits, 1);
	assert_int_equal(fake_counts.starts, 2);
	assert_int_equal(fake_counts.lookups, 1);
	clear(a);
	close_resolver(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_miss_then_hit),
		cmocka_unit_test(test_no_cache),
		cmocka_unit_test(test_no_directory_asked),
		cmocka_unit_test(test_parallel_by_position),
		cmocka_unit_test(test_parallel_deadline),
		cmocka_unit_test(test_without_async),
		cmocka_unit_test(test_one_missing_is_synchronous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
