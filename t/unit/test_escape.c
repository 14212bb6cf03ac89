/*
 * test_escape.c - what a hostile recipient can put into a log line or an
 * SMTP reply: nothing that splits, forges or reformats them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/log.h"
#include "frontend/milter.h"

static const char *log_cases[][2] = {
	{ "bob@corp.example", "bob@corp.example" },
	{ "a\nb@corp.example", "a\\x0ab@corp.example" },
	{ "a\r\nnsmilter: forged", "a\\x0d\\x0ansmilter: forged" },
	{ "back\\slash", "back\\x5cslash" },
	{ "del\x7f", "del\\x7f" },
	{ "", "" },
};

static void
test_log_escape(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(log_cases) / sizeof(log_cases[0]); i++) {
		char *got = log_escape(log_cases[i][0]);
		if (got == NULL || strcmp(got, log_cases[i][1]) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i,
			    got ? got : "(null)", log_cases[i][1]);
		free(got);
	}
}

static const char *reply_cases[][2] = {
	{ "<bob@corp.example>: User unknown", "<bob@corp.example>: User unknown" },
	/* smfi_setreply treats a single '%' as a format error */
	{ "<a%b@corp.example>: x", "<a%%b@corp.example>: x" },
	{ "<a\r\n250 ok@corp.example>", "<a??250 ok@corp.example>" },
	{ "%%", "%%%%" },
};

static void
test_reply_escape(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		char *got = milter_reply_escape(reply_cases[i][0]);
		if (got == NULL || strcmp(got, reply_cases[i][1]) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i,
			    got ? got : "(null)", reply_cases[i][1]);
		free(got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_reply_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
