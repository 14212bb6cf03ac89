/*
 * test_mirror_store.c - unit tests for the mirror's LMDB store
 * (mirror_store.c) and the address values it keeps (mirror_entry.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "directory/mirror/mirror_entry.h"
#include "directory/mirror/mirror_store.h"
#include "mirror_put.h"
#include "tmpdir.h"

static struct mirror_store *
open_rw(void)
{
	struct mirror_store *s = NULL;
	char *err = NULL;

	assert_int_equal(mirror_store_open(tmpdir, 0, &s, &err), 0);
	assert_null(err);
	return s;
}

static void
commit(struct mirror_wtxn *w)
{
	char *err = NULL;

	assert_int_equal(mirror_wtxn_commit(w, &err), 0);
	assert_null(err);
}

/* Entries found by hit count; *TARGET gets the target (or NULL). */
static unsigned
look(struct mirror_store *s, const char *addr, char **target, bool *amb)
{
	struct mirror_meta m;
	struct mirror_hit h;
	char *err = NULL;
	unsigned n;

	assert_int_equal(mirror_store_lookup(s, addr, &m, &h, &err), 0);
	n = h.entries;
	if (target != NULL)
		*target = h.target ? strdup(h.target) : NULL;
	if (amb != NULL)
		*amb = h.ambiguous;
	mirror_hit_clear(&h);
	return n;
}

static void
test_put_lookup_delete(void **state)
{
	struct mirror_store *s = open_rw();
	struct mirror_wtxn *w;
	struct mirror_meta m;
	char *err = NULL, *t = NULL;
	bool amb;

	(void)state;
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	put(w, "uuid-alice", NULL, "alice@corp.example", "alias@corp.example");
	put(w, "uuid-carol", "carol@other.example", "carol@corp.example",
	    NULL);
	commit(w);

	/* Case-insensitive: the index is lowercase, lookups any case. */
	assert_int_equal(look(s, "ALICE@Corp.Example", &t, &amb), 1);
	assert_null(t);
	assert_false(amb);
	assert_int_equal(look(s, "carol@corp.example", &t, NULL), 1);
	assert_string_equal(t, "carol@other.example");
	free(t);
	assert_int_equal(look(s, "nobody@corp.example", NULL, NULL), 0);
	assert_int_equal(mirror_store_meta(s, &m, &err), 0);
	assert_int_equal(m.entries, 2);
	assert_int_equal(m.addresses, 3);

	/* Replace alice: the old alias leaves the index. */
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	put(w, "uuid-alice", NULL, "alice@corp.example", "a.smith@corp.example");
	commit(w);
	assert_int_equal(look(s, "alias@corp.example", NULL, NULL), 0);
	assert_int_equal(look(s, "a.smith@corp.example", NULL, NULL), 1);

	/* Delete carol. */
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	assert_int_equal(mirror_wtxn_delete(w, "uuid-carol", 10), 0);
	assert_int_equal(mirror_wtxn_delete(w, "uuid-none", 9), 0);
	commit(w);
	assert_int_equal(look(s, "carol@corp.example", NULL, NULL), 0);
	assert_int_equal(mirror_store_meta(s, &m, &err), 0);
	assert_int_equal(m.entries, 1);
	mirror_store_close(s);
}

static void
test_duplicates_and_ambiguity(void **state)
{
	struct mirror_store *s = open_rw();
	struct mirror_wtxn *w;
	char *err = NULL;
	bool amb;

	(void)state;
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	put(w, "k1", NULL, "same@corp.example", "mbx@corp.example");
	put(w, "k2", NULL, "same@corp.example", "contact@corp.example");
	put(w, "k3", "x@other.example", "contact@corp.example", NULL);
	put(w, "k4", "y@other.example", "two@corp.example", NULL);
	put(w, "k5", "Y@Other.Example", "two@corp.example", NULL);
	commit(w);
	/* Two mailboxes: the same decision. */
	assert_int_equal(look(s, "same@corp.example", NULL, &amb), 2);
	assert_false(amb);
	/* A mailbox and a contact with a target: ambiguous. */
	assert_int_equal(look(s, "contact@corp.example", NULL, &amb), 2);
	assert_true(amb);
	/* Two targets differing only in case: the same. */
	assert_int_equal(look(s, "two@corp.example", NULL, &amb), 2);
	assert_false(amb);
	mirror_store_close(s);
}

/* An aborted transaction leaves nothing; a cleared refresh is atomic. */
static void
test_abort_and_refresh(void **state)
{
	struct mirror_store *s = open_rw(), *r = NULL;
	struct mirror_wtxn *w;
	struct mirror_meta m;
	char *err = NULL;

	(void)state;
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	put(w, "old", NULL, "old@corp.example", NULL);
	assert_int_equal(mirror_wtxn_set_cookie(w, "c1", 2), 0);
	assert_int_equal(mirror_wtxn_set_complete(w, true), 0);
	assert_int_equal(mirror_wtxn_set_params(w, "p"), 0);
	commit(w);

	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	put(w, "lost", NULL, "lost@corp.example", NULL);
	mirror_wtxn_abort(w);
	assert_int_equal(look(s, "lost@corp.example", NULL, NULL), 0);

	/* A refresh in progress: a second (read-only) opener sees the old. */
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	assert_int_equal(mirror_wtxn_clear(w), 0);
	put(w, "new", NULL, "new@corp.example", NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* Another process, as nsmilter -q would be. */
		int ok = mirror_store_open(tmpdir, MIRROR_STORE_RDONLY, &r,
		    &err) == 0 && look(r, "old@corp.example", NULL, NULL) == 1
		    && look(r, "new@corp.example", NULL, NULL) == 0;
		_exit(ok ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(mirror_wtxn_set_cookie(w, "c2", 2), 0);
	commit(w);
	assert_int_equal(look(s, "old@corp.example", NULL, NULL), 0);
	assert_int_equal(look(s, "new@corp.example", NULL, NULL), 1);

	void *cookie;
	size_t len;
	char *params;
	assert_int_equal(mirror_store_sync_state(s, &cookie, &len, &params,
	    &err), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(cookie, "c2", 2);
	assert_string_equal(params, "p");
	free(cookie);
	free(params);
	assert_int_equal(mirror_store_meta(s, &m, &err), 0);
	assert_true(m.present);
	assert_true(m.complete);
	assert_int_equal(m.entries, 1);
	mirror_store_close(s);
}

/* Entries not presented in a refresh are swept. */
static void
test_sweep(void **state)
{
	struct mirror_store *s = open_rw();
	struct mirror_wtxn *w;
	char *err = NULL;
	struct mirror_key keep[2] = {
		{ (unsigned char *)"k3", 2 }, { (unsigned char *)"k1", 2 },
	};

	(void)state;
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	put(w, "k1", NULL, "one@corp.example", NULL);
	put(w, "k2", NULL, "two@corp.example", NULL);
	put(w, "k3", NULL, "three@corp.example", NULL);
	commit(w);
	mirror_keys_sort(keep, 2);
	assert_int_equal(mirror_wtxn_begin(s, &w, &err), 0);
	assert_int_equal(mirror_wtxn_sweep(w, keep, 2), 1);
	commit(w);
	assert_int_equal(look(s, "one@corp.example", NULL, NULL), 1);
	assert_int_equal(look(s, "two@corp.example", NULL, NULL), 0);
	assert_int_equal(look(s, "three@corp.example", NULL, NULL), 1);
	mirror_store_close(s);
}

static void
test_absent_readonly(void **state)
{
	struct mirror_store *s = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(mirror_store_open(tmpdir, MIRROR_STORE_RDONLY, &s,
	    &err), -1);
	assert_null(err);
	assert_null(s);
}

static void
test_address_values(void **state)
{
	char out[MIRROR_ADDRESS_MAX + 1], big[300];
	bool bad;
	char *t;

	(void)state;
	assert_true(mirror_address_value("SMTP:Alice@Corp.Example", 23, out));
	assert_string_equal(out, "alice@corp.example");
	assert_true(mirror_address_value(" smtp:a@b.example ", 18, out));
	assert_string_equal(out, "a@b.example");
	assert_true(mirror_address_value("Bob@Legacy.Example", 18, out));
	assert_string_equal(out, "bob@legacy.example");
	assert_false(mirror_address_value("X500:/o=Corp/cn=alice", 21, out));
	assert_false(mirror_address_value("SIP:alice@corp.example", 22, out));
	assert_false(mirror_address_value("x400:c=US;a= ;p=Corp", 20, out));
	assert_false(mirror_address_value("no-at-sign", 10, out));
	assert_false(mirror_address_value("a b@corp.example", 16, out));
	assert_false(mirror_address_value("a\n@corp.example", 15, out));
	memset(big, 'a', sizeof(big));
	memcpy(big + 250, "@x.ex", 5);
	assert_false(mirror_address_value(big, 255, out));
	t = mirror_target_value("SMTP:Carol@Other.Example", 24, &bad);
	assert_string_equal(t, "Carol@Other.Example");
	free(t);
	assert_null(mirror_target_value("X400:c=US;a= ;", 14, &bad));
	assert_true(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_lookup_delete,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_duplicates_and_ambiguity,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_abort_and_refresh,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_sweep, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_absent_readonly,
		    setup_dir, teardown_dir),
		cmocka_unit_test(test_address_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
