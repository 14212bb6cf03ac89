/*
 * decide_format.c - a decision as text: the nsmilter -q line, the fields of
 * the log line, and the SMTP reply text.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xfmt.h"
#include "decision/decide.h"

const char *
decision_action_name(enum decision_action a)
{
	switch (a) {
	case DECISION_SKIP:     return "skip";
	case DECISION_ACCEPT:   return "accept";
	case DECISION_ROUTE:    return "route";
	case DECISION_REJECT:   return "reject";
	case DECISION_TEMPFAIL: return "tempfail";
	}
	return "unknown";
}

/* Print V to F, double-quoted when it holds a space, quote or control. */
static void
put_value(FILE *f, const char *v)
{
	bool quote = v[0] == '\0' || strpbrk(v, " \t\"\\") != NULL;

	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			quote = true;
	if (quote)
		xfputquoted(f, v);
	else
		fputs(v, f);
}

static void
put_fields(FILE *f, const struct decision *d, bool brackets)
{
	fputs(decision_action_name(d->action), f);
	if (d->action == DECISION_ROUTE) {
		fputs(" to=", f);
		if (brackets)
			fputc('<', f);
		put_value(f, d->to);
		if (brackets)
			fputc('>', f);
	}
	if (d->code != NULL)
		fprintf(f, " code=%s dsn=%s", d->code, d->dsn);
	if (d->directory != NULL)
		fprintf(f, " directory=%s", d->directory->name);
	if (d->target)
		fputs(" target=yes", f);
	if (d->action == DECISION_ROUTE && !d->target &&
	    (d->directory == NULL || d->directory->route == NULL))
		fputs(" fallback=yes", f);
	if (d->reason == REASON_LOOP)
		fputs(" loop=yes", f);
	if (d->hops > 0)
		fprintf(f, " hops=%u", d->hops);
	if (d->reason == REASON_AMBIGUOUS)
		fprintf(f, " reason=ambiguous ambiguous=%u", d->entries);
	else if (d->entries > 1)
		fprintf(f, " duplicate=%u", d->entries);
	if (d->conflict != NULL) {
		fputs(" conflict=", f);
		put_value(f, d->conflict);
	}
	if (d->source != NULL)
		fprintf(f, " source=%s", d->source);
	if (d->error != NULL) {
		fputs(d->reason == REASON_SYNTAX ? " reason=" : " error=", f);
		put_value(f, d->error);
	}
	if (d->given != NULL) {
		fputs(" given=", f);
		if (brackets)
			fputc('<', f);
		put_value(f, d->given);
		if (brackets)
			fputc('>', f);
	}
}

static char *
format(const struct decision *d, bool query)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	if (query) {
		put_value(f, d->address ? d->address : "");
		fputc(' ', f);
	}
	put_fields(f, d, !query);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *
decision_format_query(const struct decision *d)
{
	return format(d, true);
}

char *
decision_format_log(const struct decision *d)
{
	return format(d, false);
}

char *
decision_reply_text(const struct decision *d)
{
	return xasprintf("<%s>: %s", d->address ? d->address : "",
	    d->text ? d->text : "");
}
