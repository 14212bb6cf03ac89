/*
 * config_value.c - parse one configuration value into its typed form.
 *
 * Every parser returns true on success; on failure false with *WHY set to a
 * malloc'd "what is wrong" text that quotes the value (NULL when out of
 * memory).  No parser prints anything.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xfmt.h"
#include "config/config_priv.h"

/* Parse a plain decimal number: digits only, no sign, no white space. */
static bool
parse_decimal(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool
config_value_bool(const char *s, bool *out, char **why)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	*why = xasprintf("'%s' is not a boolean (use yes or no)", s);
	return false;
}

bool
config_value_unsigned(const char *s, unsigned long min, unsigned long max,
    unsigned *out, char **why)
{
	unsigned long v;

	if (!parse_decimal(s, strlen(s), &v)) {
		*why = xasprintf("'%s' is not a number", s);
		return false;
	}
	if (v < min || v > max || v > UINT_MAX) {
		*why = xasprintf("'%s' is out of range (%lu to %lu)", s,
		    min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

void
config_value_format_duration(unsigned long ms, char *buf, size_t size)
{
	if (ms == 0)
		snprintf(buf, size, "0");
	else if (ms % 3600000 == 0)
		snprintf(buf, size, "%luh", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, size, "%lum", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%lus", ms / 1000);
	else
		snprintf(buf, size, "%lums", ms);
}

bool
config_value_duration(const char *s, unsigned long min, unsigned long max,
    unsigned *out_ms, char **why)
{
	static const struct { const char *suffix; unsigned long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	size_t digits = strspn(s, "0123456789");
	const char *suffix = s + digits;
	unsigned long n, mult = 0;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(suffix, units[i].suffix) == 0) {
			mult = units[i].ms;
			break;
		}
	}
	if (mult == 0 || !parse_decimal(s, digits, &n)) {
		*why = xasprintf("'%s' is not a duration (use s, m, h or d)",
		    s);
		return false;
	}
	if (n > ULONG_MAX / mult || n * mult < min || n * mult > max ||
	    n * mult > UINT_MAX) {
		char lo[32], hi[32];

		config_value_format_duration(min, lo, sizeof(lo));
		config_value_format_duration(max, hi, sizeof(hi));
		*why = xasprintf("'%s' is out of range (%s to %s)", s, lo,
		    hi);
		return false;
	}
	*out_ms = (unsigned)(n * mult);
	return true;
}

bool
config_value_octal(const char *s, unsigned long min, unsigned long max,
    unsigned *out, char **why)
{
	unsigned long v = 0;
	size_t len = strlen(s);

	if (len == 0 || len > 6 || strspn(s, "01234567") != len) {
		*why = xasprintf("'%s' is not an octal mode (e.g. 0660)",
		    s);
		return false;
	}
	for (size_t i = 0; i < len; i++)
		v = v * 8 + (unsigned long)(s[i] - '0');
	if (v < min || v > max) {
		*why = xasprintf("'%s' is out of range (%#lo to %#lo)", s,
		    min, max);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

bool
config_value_enum(const char *s, const struct config_enum *names, int *out,
    char **why)
{
	char *choices = NULL;
	size_t len = 0;
	bool first = true;
	FILE *f;

	for (const struct config_enum *e = names; e->name != NULL; e++) {
		if (strcasecmp(s, e->name) == 0) {
			*out = e->value;
			return true;
		}
	}
	*why = NULL;
	if ((f = open_memstream(&choices, &len)) == NULL)
		return false;
	for (const struct config_enum *e = names; e->name != NULL; e++) {
		if (*e->name == '\0')
			continue;
		fprintf(f, "%s%s", first ? "" : ", ", e->name);
		first = false;
	}
	if (fclose(f) == 0)
		*why = xasprintf("'%s' is not one of %s", s, choices);
	free(choices);
	return false;
}

void
config_strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool
config_value_list(const char *s, struct strlist *out)
{
	static const char seps[] = ", \t";
	struct strlist l = { NULL, 0 };

	for (;;) {
		s += strspn(s, seps);
		if (*s == '\0')
			break;
		size_t len = strcspn(s, seps);
		char **v = realloc(l.v, (l.n + 1) * sizeof(*v));

		if (v == NULL)
			goto nomem;
		l.v = v;
		if ((l.v[l.n] = strndup(s, len)) == NULL)
			goto nomem;
		l.n++;
		s += len;
	}
	*out = l;
	return true;
nomem:
	config_strlist_free(&l);
	errno = ENOMEM;
	return false;
}
