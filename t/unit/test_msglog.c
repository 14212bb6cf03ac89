/*
 * test_msglog.c - the end-of-message recipient list (frontend/msglog.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frontend/msglog.h"

static void
expect_fields(const struct msglog *m, const char *want)
{
	char *got = msglog_fields(m);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("got  '%s'\nwant '%s'", got, want);
	free(got);
}

static void
test_recipients_in_order(void **state)
{
	struct msglog m = { 0 };

	(void)state;
	expect_fields(&m, "rcpts=0");
	msglog_add(&m, "accept", "alice@corp.example", NULL, false);
	msglog_add(&m, "route", "bob@corp.example", "bob@legacy.corp.example",
	    false);
	msglog_add(&m, "reject", "nobody@corp.example", NULL, true);
	msglog_add(&m, "skip", "x@example.org", NULL, false);
	expect_fields(&m, "rcpts=4 accept=<alice@corp.example> "
	    "route=<bob@corp.example> to=<bob@legacy.corp.example> "
	    "reject=<nobody@corp.example> mode=observe skip=<x@example.org>");
	/* A new transaction starts empty. */
	msglog_clear(&m);
	expect_fields(&m, "rcpts=0");
	msglog_add(&m, "tempfail", "carol@corp.example", NULL, false);
	expect_fields(&m, "rcpts=1 tempfail=<carol@corp.example>");
	msglog_clear(&m);
}

/* A hostile address cannot split or forge the log line. */
static void
test_escaped(void **state)
{
	struct msglog m = { 0 };

	(void)state;
	msglog_add(&m, "reject", "a\nb\\c@corp.example", "x\ry", false);
	expect_fields(&m, "rcpts=1 reject=<a\\x0ab\\x5cc@corp.example> "
	    "to=<x\\x0dy>");
	msglog_clear(&m);
}

/* Thousands of recipients: a bounded line, the rest counted. */
static void
test_bounded(void **state)
{
	struct msglog m = { 0 };
	char addr[64], *line;
	unsigned listed = 0;

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "user%u@corp.example", i);
		msglog_add(&m, "accept", addr, NULL, false);
	}
	line = msglog_fields(&m);
	assert_non_null(line);
	assert_true(strlen(line) < MSGLOG_MAX_CHARS + 100);
	for (const char *p = line; (p = strstr(p, " accept=<")) != NULL; p++)
		listed++;
	assert_true(listed > 10);
	assert_int_equal(m.n, 1000);
	assert_int_equal(m.omitted, 1000 - listed);
	snprintf(addr, sizeof(addr), " more=%u", 1000 - listed);
	assert_non_null(strstr(line, addr));
	assert_true(strncmp(line, "rcpts=1000 accept=<user0@corp.example> "
	    "accept=<user1@", 52) == 0);
	free(line);
	msglog_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recipients_in_order),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
