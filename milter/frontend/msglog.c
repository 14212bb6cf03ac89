/*
 * msglog.c - one message's decided recipients (see frontend/msglog.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xfmt.h"
#include "frontend/msglog.h"

static void
append(struct msglog *m, const char *s)
{
	size_t n = strlen(s);
	char *b = realloc(m->buf, m->len + n + 1);

	if (b == NULL)
		return;	/* the line loses a field, the mail nothing */
	memcpy(b + m->len, s, n + 1);
	m->buf = b;
	m->len += n;
}

void
msglog_add(struct msglog *m, const char *action, const char *address,
    const char *to, bool observe)
{
	char *a, *t = NULL, *field;

	m->n++;
	if (m->len >= MSGLOG_MAX_CHARS) {
		m->omitted++;
		return;
	}
	a = log_escape(address != NULL ? address : "");
	if (to != NULL)
		t = log_escape(to);
	field = xasprintf(" %s=<%s>%s%s%s%s", action, a ? a : "?",
	    t ? " to=<" : "", t ? t : "", t ? ">" : "",
	    observe ? " mode=observe" : "");
	if (field != NULL)
		append(m, field);
	else
		m->omitted++;
	free(field);
	free(a);
	free(t);
}

char *
msglog_fields(const struct msglog *m)
{
	char more[32] = "";

	if (m->omitted > 0)
		snprintf(more, sizeof(more), " more=%u", m->omitted);
	return xasprintf("rcpts=%u%s%s", m->n, m->buf ? m->buf : "", more);
}

void
msglog_clear(struct msglog *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}
