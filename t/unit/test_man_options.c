/*
 * test_man_options.c - every command-line option is documented.
 *
 * The option letters are read from the program's own getopt() string in
 * its source file (NSMILTER_MAIN_SOURCE, set by t/CMakeLists.txt from the
 * nsmilter target), so a new option without documentation fails here.
 * Each letter must have an entry in the OPTIONS section of doc/nsmilter.8:
 * a ".TP" line followed by ".B \-X" (or ".BI \-X ..." for one with an
 * argument).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The contents of NAME (relative to NSMILTER_SRCDIR), NUL-terminated. */
static char *
slurp(const char *name)
{
	const char *srcdir = getenv("NSMILTER_SRCDIR");
	char path[4096], *buf = NULL;
	size_t len = 0;
	FILE *f, *m;
	int c;

	snprintf(path, sizeof(path), "%s/%s", srcdir ? srcdir : ".", name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s (set NSMILTER_SRCDIR)", path);
	assert_non_null(m = open_memstream(&buf, &len));
	while ((c = getc(f)) != EOF)
		putc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* The option letters of the getopt() call in SRC, without ':'. */
static char *
getopt_letters(const char *src)
{
	static const char call[] = "getopt(argc, argv, \"";
	const char *p = strstr(src, call), *end;
	char *out, *o;

	if (p == NULL)
		fail_msg("no 'getopt(argc, argv, \"' in the program's source");
	p += sizeof(call) - 1;
	if ((end = strchr(p, '"')) == NULL)
		fail_msg("unterminated getopt string");
	assert_non_null(out = malloc((size_t)(end - p) + 1));
	for (o = out; p < end; p++)
		if (*p != ':' && *p != '+' && *p != '-')
			*o++ = *p;
	*o = '\0';
	return out;
}

/* Whether the OPTIONS section of MAN has an entry for -LETTER. */
static bool
man_documents(const char *man, char letter)
{
	const char *sect = strstr(man, "\n.SH OPTIONS\n"), *end;
	char b[16], bi[16];

	if (sect == NULL)
		fail_msg("doc/nsmilter.8 has no OPTIONS section");
	end = strstr(sect + 1, "\n.SH ");
	snprintf(b, sizeof(b), ".TP\n.B \\-%c\n", letter);
	snprintf(bi, sizeof(bi), ".TP\n.BI \\-%c ", letter);
	for (const char *p = sect; (p = strstr(p, ".TP\n")) != NULL &&
	    (end == NULL || p < end); p++)
		if (strncmp(p, b, strlen(b)) == 0 ||
		    strncmp(p, bi, strlen(bi)) == 0)
			return true;
	return false;
}

static void
test_every_option_documented(void **state)
{
	const char *main_src = getenv("NSMILTER_MAIN_SOURCE");
	char *src, *man, *letters;
	int missing = 0;

	(void)state;
	if (main_src == NULL)
		fail_msg("NSMILTER_MAIN_SOURCE is not set (t/CMakeLists.txt)");
	src = slurp(main_src);
	man = slurp("doc/nsmilter.8");
	letters = getopt_letters(src);
	assert_true(strlen(letters) >= 8);
	for (const char *l = letters; *l; l++)
		if (!man_documents(man, *l)) {
			print_message("# -%c: no entry under OPTIONS in "
			    "doc/nsmilter.8\n", *l);
			missing++;
		}
	free(letters);
	free(man);
	free(src);
	if (missing > 0)
		fail_msg("got %d undocumented options, want 0", missing);
}

/* The checker itself: it must see a missing entry. */
static void
test_checker_sees_missing(void **state)
{
	const char *man = ".TH X 8\n.SH OPTIONS\n.TP\n.B \\-n\nCheck.\n"
	    ".TP\n.BI \\-c \" file\"\nRead.\n.SH SIGNALS\n.TP\n.B \\-x\n";
	char *l = getopt_letters("x = getopt(argc, argv, \"c:nxq\");");

	(void)state;
	assert_string_equal(l, "cnxq");
	free(l);
	assert_true(man_documents(man, 'n'));
	assert_true(man_documents(man, 'c'));
	assert_false(man_documents(man, 'q'));
	assert_false(man_documents(man, 'x'));	/* not under OPTIONS */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_option_documented),
		cmocka_unit_test(test_checker_sees_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
