/*
 * test_directory.c - the generic side of the directory interface, with a
 * fake backend: clearing an answer, an answer always having an outcome and
 * a target only when found, directory_start falling back to the
 * synchronous lookup, and the backend registry by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_directory.h"

static const struct fake_entry table[] = {
	{ "hq", "found@corp.example", DIRECTORY_FOUND, "found@target.example" },
	{ "hq", "plain@corp.example", DIRECTORY_FOUND, NULL },
	/* a backend that sets a target it should not: dropped */
	{ "hq", "notfound@corp.example", DIRECTORY_NOTFOUND, "stray@x" },
	{ "hq", "error@corp.example", DIRECTORY_ERROR, "stray@x" },
	{ NULL, NULL, 0, NULL },
};

static const struct directory_config hq = { .name = "hq", .timeout_ms = 50 };

static struct directory *
open_hq(const struct directory_ops *ops)
{
	struct directory *d;

	fake_reset(table);
	assert_non_null(d = directory_open(ops, &hq));
	assert_ptr_equal(d->ops, ops);
	assert_ptr_equal(d->cfg, &hq);
	return d;
}

static void
test_answer_clear(void **state)
{
	struct directory_answer a = {
		.status = DIRECTORY_ERROR, .target = strdup("t@x"),
		.error = strdup("broken"), .cached = 1, .entries = 2,
		.ambiguous = 1, .source = "mirror",
	};

	(void)state;
	directory_answer_clear(&a);
	assert_int_equal(a.status, DIRECTORY_NOTFOUND);
	assert_null(a.target);
	assert_null(a.error);
	assert_int_equal(a.cached, 0);
	assert_int_equal(a.entries, 0);
	assert_int_equal(a.ambiguous, 0);
	assert_null(a.source);
	directory_answer_clear(&a);     /* again: nothing left to free */
	directory_answer_clear(NULL);
}

/* The outcome of ADDRESS through directory_lookup. */
static void
expect_lookup(struct directory *d, const char *address,
    enum directory_status status, const char *target)
{
	struct directory_answer a = { .cached = 1, .source = "mirror" };

	directory_lookup(d, address, &a);
	assert_int_equal(a.status, status);
	if (target == NULL)
		assert_null(a.target);
	else
		assert_string_equal(a.target, target);
	assert_int_equal(a.cached, 0);
	assert_null(a.source);
	directory_answer_clear(&a);
}

static void
test_lookup_target_only_when_found(void **state)
{
	struct directory *d = open_hq(&fake_ops);

	(void)state;
	expect_lookup(d, "found@corp.example", DIRECTORY_FOUND,
	    "found@target.example");
	expect_lookup(d, "plain@corp.example", DIRECTORY_FOUND, NULL);
	expect_lookup(d, "notfound@corp.example", DIRECTORY_NOTFOUND, NULL);
	expect_lookup(d, "error@corp.example", DIRECTORY_ERROR, NULL);
	assert_int_equal(fake_counts.lookups, 4);
	directory_close(d);
	assert_int_equal(fake_counts.closes, 1);
}

/* No directory, or a backend that sets no outcome: an error. */
static void
null_lookup(struct directory *d, const char *address,
    struct directory_answer *out)
{
	(void)d;
	(void)address;
	(void)out;
}

static const struct directory_ops silent_ops = {
	.kind = "silent", .open = fake_open, .lookup = null_lookup,
	.close = fake_close,
};

static void
test_lookup_always_has_outcome(void **state)
{
	struct directory *d = open_hq(&silent_ops);
	struct directory_answer a;

	(void)state;
	directory_lookup(d, "any@corp.example", &a);
	assert_int_equal(a.status, DIRECTORY_ERROR);
	directory_lookup(NULL, "any@corp.example", &a);
	assert_int_equal(a.status, DIRECTORY_ERROR);
	assert_null(directory_start(NULL, "any@corp.example", &a));
	assert_int_equal(a.status, DIRECTORY_ERROR);
	assert_null(directory_open(NULL, &hq));
	directory_close(d);
	directory_close(NULL);
}

static void
test_start_falls_back_to_lookup(void **state)
{
	struct directory *d = open_hq(&fake_ops);
	struct directory_answer a;

	(void)state;
	assert_null(directory_start(d, "found@corp.example", &a));
	assert_int_equal(fake_counts.lookups, 1);
	assert_int_equal(a.status, DIRECTORY_FOUND);
	assert_string_equal(a.target, "found@target.example");
	directory_answer_clear(&a);
	assert_null(directory_start(d, "notfound@corp.example", &a));
	assert_int_equal(a.status, DIRECTORY_NOTFOUND);
	assert_null(a.target);
	directory_close(d);
}

/* Answered at start, after polls, or abandoned: a target only if found. */
static void
test_async_answer_done(void **state)
{
	struct directory *d = open_hq(&fake_async_ops);
	struct directory_answer a;
	struct directory_op *op;

	(void)state;
	assert_null(directory_start(d, "notfound@corp.example", &a));
	assert_int_equal(fake_counts.starts, 1);
	assert_int_equal(a.status, DIRECTORY_NOTFOUND);
	assert_null(a.target);

	fake_delay[0] = 2;
	assert_non_null(op = directory_start(d, "error@corp.example", &a));
	assert_true(directory_op_fd(op) >= 0);
	assert_int_equal(directory_op_poll(op, &a), 0);
	assert_int_equal(directory_op_poll(op, &a), 1);
	assert_int_equal(a.status, DIRECTORY_ERROR);
	assert_null(a.target);
	assert_string_equal(a.error, "fake error");
	directory_answer_clear(&a);

	assert_non_null(op = directory_start(d, "found@corp.example", &a));
	assert_int_equal(directory_op_poll(op, &a), 0);
	assert_int_equal(directory_op_poll(op, &a), 1);
	assert_int_equal(a.status, DIRECTORY_FOUND);
	assert_string_equal(a.target, "found@target.example");
	directory_answer_clear(&a);

	assert_non_null(op = directory_start(d, "found@corp.example", &a));
	directory_op_abandon(op, &a);
	assert_int_equal(fake_counts.abandons, 1);
	assert_int_equal(a.status, DIRECTORY_ERROR);
	assert_null(a.target);
	directory_answer_clear(&a);
	assert_int_equal(fake_counts.lookups, 0);
	directory_close(d);
}

static void
test_registry(void **state)
{
	(void)state;
	assert_non_null(directory_backend_lookup("ldap"));
	assert_string_equal(directory_backend_lookup("ldap")->kind, "ldap");
	assert_string_equal(directory_backend_for(&hq), "ldap");
	assert_null(directory_backend_lookup("fake"));
	assert_int_equal(directory_backend_register(&fake_ops), 0);
	assert_ptr_equal(directory_backend_lookup("fake"), &fake_ops);
	assert_int_equal(directory_backend_register(&fake_ops), -1);
	assert_int_equal(directory_backend_register(NULL), -1);
	assert_null(directory_backend_lookup("nosuch"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_clear),
		cmocka_unit_test(test_lookup_target_only_when_found),
		cmocka_unit_test(test_lookup_always_has_outcome),
		cmocka_unit_test(test_start_falls_back_to_lookup),
		cmocka_unit_test(test_async_answer_done),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
