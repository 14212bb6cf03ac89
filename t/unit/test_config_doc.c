/*
 * test_config_doc.c - every key of the option table is documented.
 *
 * Like Postfix's mantools/check-postconf-undocumented: each option that
 * config_options() reports must appear
 * - in doc/nsmilter.ini.5, in its section (".SS [milter]", ".SS [directory
 *   NAME]", ".SS [domain NAME]"), as a ".B key" entry whose paragraph says
 *   "Default: \fBVALUE\fR." (or "Default: " and words for an empty one);
 * - in etc/nsmilter.ini, in a section of its kind, set or commented out.
 * And every ".B key" entry of the man page is a real option.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"

struct lines {
	char **v;
	size_t n;
};

static void
read_lines(const char *name, struct lines *out)
{
	const char *srcdir = getenv("NSMILTER_SRCDIR");
	char path[4096], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", srcdir ? srcdir : ".", name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s (set NSMILTER_SRCDIR)", path);
	out->v = NULL;
	out->n = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		out->v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
		assert_non_null(out->v);
		assert_non_null(out->v[out->n++] = strdup(line));
	}
	free(line);
	fclose(f);
}

static void
free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Whether man page line I starts the section of SECTION ("milter", ...). */
static bool
man_section_starts(const char *line, const char *section)
{
	size_t len = strlen(section);

	return strncmp(line, ".SS [", 5) == 0 &&
	    strncmp(line + 5, section, len) == 0 &&
	    (line[5 + len] == ']' || line[5 + len] == ' ');
}

/* The line index of ".B KEY" in SECTION's part of the man page, or -1. */
static long
man_entry(const struct lines *man, const char *section, const char *key)
{
	bool in = false;
	char want[256];

	snprintf(want, sizeof(want), ".B %s", key);
	for (size_t i = 0; i < man->n; i++) {
		if (strncmp(man->v[i], ".SS ", 4) == 0 ||
		    strncmp(man->v[i], ".SH ", 4) == 0)
			in = man_section_starts(man->v[i], section);
		else if (in && strcmp(man->v[i], want) == 0 && i > 0 &&
		    strcmp(man->v[i - 1], ".TP") == 0)
			return (long)i;
	}
	return -1;
}

static void
test_man_page(void **state)
{
	const struct config_option_info *opts;
	size_t n = config_options(&opts);
	struct lines man;
	int missing = 0;

	(void)state;
	read_lines("doc/nsmilter.ini.5", &man);
	assert_true(n > 40);
	for (size_t i = 0; i < n; i++) {
		long at = man_entry(&man, opts[i].section, opts[i].key);
		char want[512];
		bool found = false;

		if (at < 0) {
			print_message("# [%s] %s: not in doc/nsmilter.ini.5\n",
			    opts[i].section, opts[i].key);
			missing++;
			continue;
		}
		if (opts[i].default_value[0] != '\0')
			snprintf(want, sizeof(want), "Default: \\fB%s\\fR.",
			    opts[i].default_value);
		else
			snprintf(want, sizeof(want), "Default: empty");
		for (size_t j = (size_t)at + 1; j < man.n &&
		    strcmp(man.v[j], ".TP") != 0 &&
		    strncmp(man.v[j], ".S", 2) != 0; j++)
			found |= strstr(man.v[j], want) != NULL;
		if (!found) {
			print_message("# [%s] %s: got no '%s' in its paragraph\n",
			    opts[i].section, opts[i].key, want);
			missing++;
		}
	}

	/* The other way round: each entry of a section is an option. */
	for (size_t i = 1; i < man.n; i++) {
		const char *section = NULL;

		if (strcmp(man.v[i - 1], ".TP") != 0 ||
		    strncmp(man.v[i], ".B ", 3) != 0)
			continue;
		for (size_t j = i; j-- > 0; ) {
			if (strncmp(man.v[j], ".SS [", 5) == 0) {
				section = man.v[j] + 5;
				break;
			}
			if (strncmp(man.v[j], ".SH ", 4) == 0)
				break;
		}
		if (section == NULL)
			continue;
		bool known = false;

		for (size_t k = 0; k < n; k++) {
			size_t len = strlen(opts[k].section);

			known |= strcmp(opts[k].key, man.v[i] + 3) == 0 &&
			    strncmp(section, opts[k].section, len) == 0;
		}
		if (!known) {
			print_message("# man page documents '%s' in [%s, which "
			    "is not an option\n", man.v[i] + 3, section);
			missing++;
		}
	}
	free_lines(&man);
	if (missing > 0)
		fail_msg("got %d problems in doc/nsmilter.ini.5, want 0",
		    missing);
}

/* Whether LINE is "KEY = ..." or ";KEY = ..." (commented out). */
static bool
sample_sets(const char *line, const char *key)
{
	size_t len = strlen(key);

	line += strspn(line, " \t");
	if (*line == ';' || *line == '#')
		line++;
	line += strspn(line, " \t");
	if (strncmp(line, key, len) != 0)
		return false;
	line += len;
	line += strspn(line, " \t");
	return *line == '=';
}

static void
test_sample(void **state)
{
	const struct config_option_info *opts;
	size_t n = config_options(&opts);
	struct lines ini;
	int missing = 0;

	(void)state;
	read_lines("etc/nsmilter.ini", &ini);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(opts[i].section);
		bool in = false, found = false;

		for (size_t j = 0; j < ini.n; j++) {
			const char *s = ini.v[j] + strspn(ini.v[j], " \t");

			if (*s == '[')
				in = strncmp(s + 1, opts[i].section, len) == 0 &&
				    (s[1 + len] == ']' || s[1 + len] == ' ');
			else if (in)
				found |= sample_sets(s, opts[i].key);
		}
		if (!found) {
			print_message("# [%s] %s: not in etc/nsmilter.ini\n",
			    opts[i].section, opts[i].key);
			missing++;
		}
	}
	free_lines(&ini);
	if (missing > 0)
		fail_msg("got %d keys missing from etc/nsmilter.ini, want 0",
		    missing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_man_page),
		cmocka_unit_test(test_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
