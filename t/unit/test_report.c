/*
 * test_report.c - nsmilter -r (report*.c) over directories read from
 * their mirrors: the findings as decide_recipient() makes them
 * (precedence, recipient delimiter, subdomains, target chains), the
 * table's lookups, and that an incomplete mirror is not used.  The live,
 * paged read is tested against slapd in t/integration/report*.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "directory/mirror/mirror_store.h"
#include "frontend/report.h"
#include "frontend/report_table.h"
#include "mirror_put.h"
#include "tmpdir.h"

/*
 * Two mirrored directories whose servers cannot be reached: whatever is
 * reported was read from the mirrors.
 */
static struct config *
load_config(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nsmilter.ini", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f,
	    "[milter]\nstate_dir = %s\n\n"
	    "[directory hq]\nuri = ldap://127.0.0.1:1\nbase = dc=corp\n"
	    "filter = (mail=%%s)\ntarget_attribute = targetAddress\n"
	    "sync = syncrepl\ntimeout = 1s\n\n"
	    "[directory legacy]\nuri = ldap://127.0.0.1:1\nbase = dc=legacy\n"
	    "filter = (mail=%%s)\ntarget_attribute = mailRoutingAddress\n"
	    "sync = syncrepl\nroute = legacy.corp.example\ntimeout = 1s\n\n"
	    "[domain corp.example]\ntype = internal-relay\n"
	    "directories = hq, legacy\nsubdomains = yes\n"
	    "recipient_delimiter = +\n\n"
	    "[domain sales.corp.example]\ndirectories = hq\n", tmpdir);
	fclose(f);
	cfg = config_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.lines[i]);
	config_errors_free(&errs);
	assert_non_null(cfg);
	return cfg;
}

static struct mirror_wtxn *
mirror_begin(const char *name, struct mirror_store **s)
{
	struct mirror_wtxn *w = NULL;
	char dir[128], *err = NULL;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	assert_int_equal(mirror_store_open(dir, 0, s, &err), 0);
	assert_int_equal(mirror_wtxn_begin(*s, &w, &err), 0);
	return w;
}

static void
mirror_end(struct mirror_store *s, struct mirror_wtxn *w, bool complete)
{
	char *err = NULL;

	assert_int_equal(mirror_wtxn_set_complete(w, complete), 0);
	assert_int_equal(mirror_wtxn_set_contact(w, (uint64_t)time(NULL),
	    true), 0);
	assert_int_equal(mirror_wtxn_commit(w, &err), 0);
	mirror_store_close(s);
}

static void
make_mirrors(bool legacy_complete)
{
	struct mirror_store *s;
	struct mirror_wtxn *w;

	w = mirror_begin("hq", &s);
	put(w, "alice", NULL, "alice@corp.example", "a.smith@corp.example");
	put(w, "both", NULL, "both@corp.example", NULL);
	/* Its target falls back on itself through the delimiter. */
	put(w, "self", "self+ext@corp.example", "self@corp.example", NULL);
	/* A target followed to a mailbox of the other directory. */
	put(w, "fwd", "bob+x@corp.example", "fwd@corp.example", NULL);
	put(w, "eve", NULL, "eve@sales.corp.example", NULL);
	mirror_end(s, w, true);

	w = mirror_begin("legacy", &s);
	put(w, "bob", NULL, "bob@corp.example", NULL);
	put(w, "both", NULL, "both@corp.example", NULL);
	put(w, "both2", NULL, "both@corp.example", NULL);
	/* sales.corp.example is decided by its own domain, hq only. */
	put(w, "tom", NULL, "tom@sales.corp.example", NULL);
	mirror_end(s, w, legacy_complete);
}

static char *
run(const struct config *cfg, int *status)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*status = report_run(cfg, f);
	fclose(f);
	return buf;
}

static void
test_from_mirrors(void **state)
{
	struct config *cfg;
	char *out;
	int status;

	(void)state;
	make_mirrors(true);
	cfg = load_config();
	out = run(cfg, &status);
	assert_string_equal(out,
	    "conflict both@corp.example domain=corp.example "
	    "directories=hq,legacy winner=hq\n"
	    "duplicate both@corp.example directory=legacy entries=2\n"
	    "loop self@corp.example directory=hq "
	    "target=self+ext@corp.example\n"
	    "outside tom@sales.corp.example directory=legacy\n"
	    "directory hq entries=5 addresses=6\n"
	    "directory legacy entries=4 addresses=4\n");
	assert_int_equal(status, 1);
	free(out);
	config_free(cfg);
}

/* An incomplete mirror is not answered from: read live (down here). */
static void
test_incomplete_mirror(void **state)
{
	struct config *cfg;
	char *out;
	int status;

	(void)state;
	make_mirrors(false);
	cfg = load_config();
	out = run(cfg, &status);
	assert_non_null(strstr(out, "directory hq entries=5 addresses=6\n"));
	assert_non_null(strstr(out, "directory legacy skipped reason="));
	assert_null(strstr(out, "conflict"));
	assert_int_equal(status, 75);
	free(out);
	config_free(cfg);
}

/* The table: case-folded keys, sorted, grouped, answered. */
static void
test_table(void **state)
{
	struct report_table t;
	const struct report_tuple *g;
	struct directory_answer a;
	char *x[] = { "b@d", "a@d" }, *y[] = { "b@d" };
	struct mirror_entry e1 = { .addrs = x, .n_addrs = 2,
	    .target = "t@x", .has_target = true };
	struct mirror_entry e2 = { .addrs = y, .n_addrs = 1 };
	size_t n;

	(void)state;
	report_table_init(&t);
	assert_int_equal(report_table_add(&t, 0, &e1), 0);
	assert_int_equal(report_table_add(&t, 0, &e2), 0);
	assert_int_equal(report_table_add(&t, 1, &e2), 0);
	report_table_sort(&t);
	assert_null(report_table_find(&t, "c@d", &n));
	assert_int_equal(n, 0);
	g = report_table_find(&t, "a@d", &n);
	assert_int_equal(n, 1);
	assert_string_equal(g->target, "t@x");
	g = report_table_find(&t, "b@d", &n);
	assert_int_equal(n, 3);
	assert_int_equal(report_table_answer(g, n, 0, &a), 0);
	assert_int_equal(a.status, DIRECTORY_FOUND);
	assert_int_equal(a.entries, 2);
	assert_true(a.ambiguous);	/* a target and none */
	directory_answer_clear(&a);
	assert_int_equal(report_table_answer(g, n, 1, &a), 0);
	assert_int_equal(a.entries, 1);
	assert_false(a.ambiguous);
	assert_null(a.target);
	directory_answer_clear(&a);
	assert_int_equal(report_table_answer(g, n, 2, &a), 0);
	assert_int_equal(a.status, DIRECTORY_NOTFOUND);
	report_table_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_from_mirrors, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_incomplete_mirror,
		    setup_dir, teardown_dir),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
