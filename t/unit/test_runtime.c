/*
 * test_runtime.c - the configuration snapshot in force: loaded from a file
 * with a fake backend, installed, acquired and released; a snapshot's
 * directories are closed when its last reference goes, not before, and a
 * bad file installs nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "decision/runtime.h"
#include "fake_directory.h"

static char tmpdir[] = "/tmp/nsmilter-test-runtime.XXXXXX";
static char *good, *bad;

static const char good_ini[] =
    "[directory hq]\n"
    "uri = ldap://127.0.0.1:9\n"
    "base = dc=corp,dc=example\n"
    "filter = (mail=%s)\n"
    "\n"
    "[directory legacy]\n"
    "uri = ldap://127.0.0.1:9\n"
    "base = dc=legacy,dc=example\n"
    "filter = (mail=%s)\n"
    "route = legacy.corp.example\n"
    "\n"
    "[domain corp.example]\n"
    "type = internal-relay\n"
    "directories = hq, legacy\n";

static char *
write_ini(const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

static struct runtime *
load(void)
{
	struct config_errors errs;
	struct runtime *rt = runtime_load(good, &fake_ops, &errs);

	assert_non_null(rt);
	assert_int_equal(errs.n, 0);
	config_errors_free(&errs);
	assert_int_equal(rt->refs, 1);
	assert_non_null(rt->resolver);
	assert_int_equal(rt->cfg->n_directories, 2);
	return rt;
}

static void
test_nothing_installed(void **state)
{
	(void)state;
	assert_null(runtime_acquire());
	runtime_release(NULL);
}

static void
test_bad_file(void **state)
{
	struct config_errors errs;

	(void)state;
	fake_reset(NULL);
	assert_null(runtime_load(bad, &fake_ops, &errs));
	assert_true(errs.n > 0);
	config_errors_free(&errs);
	assert_int_equal(fake_counts.opens, 0);
	assert_null(runtime_acquire());
}

static void
test_refcounts(void **state)
{
	struct runtime *first, *second, *held, *got;
	unsigned long gen;

	(void)state;
	fake_reset(NULL);
	first = load();
	assert_int_equal(fake_counts.opens, 2);
	runtime_install(first);
	gen = first->generation;

	/* A connection holds the snapshot it started with. */
	assert_ptr_equal(held = runtime_acquire(), first);
	assert_int_equal(first->refs, 2);
	assert_ptr_equal(got = runtime_acquire(), first);
	assert_int_equal(first->refs, 3);
	runtime_release(got);
	assert_int_equal(first->refs, 2);

	/* A reload installs a new one; the old one lives while held. */
	second = load();
	runtime_install(second);
	assert_true(second->generation > gen);
	assert_int_equal(first->refs, 1);
	assert_int_equal(fake_counts.closes, 0);
	assert_ptr_equal(got = runtime_acquire(), second);
	runtime_release(got);

	/* The last reference closes its directories. */
	runtime_release(held);
	assert_int_equal(fake_counts.closes, 2);

	/* Shutdown drops the one in force. */
	runtime_shutdown();
	assert_int_equal(fake_counts.closes, 4);
	assert_null(runtime_acquire());
}

static void
test_shutdown_while_held(void **state)
{
	struct runtime *rt, *held;

	(void)state;
	fake_reset(NULL);
	rt = load();
	runtime_install(rt);
	held = runtime_acquire();
	runtime_shutdown();
	assert_null(runtime_acquire());
	assert_int_equal(fake_counts.closes, 0);
	runtime_release(held);
	assert_int_equal(fake_counts.closes, 2);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	good = write_ini("good.ini", good_ini);
	bad = write_ini("bad.ini", "[domain corp.example]\ndirectories = nosuch\n");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(good);
	unlink(bad);
	free(good);
	free(bad);
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_installed),
		cmocka_unit_test(test_bad_file),
		cmocka_unit_test(test_refcounts),
		cmocka_unit_test(test_shutdown_while_held),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
