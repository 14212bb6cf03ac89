/*
 * log.c - syslog with ident "nsmilter"; in the foreground also stderr.
 *
 * The level and the stderr switch are atomics: SIGHUP sets the level in
 * the main thread while milter threads log.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "base/log.h"
#include "base/xfmt.h"

static atomic_bool log_stderr;
static atomic_int log_max = LOG_INFO;

void
log_open(int facility, bool to_stderr)
{
	atomic_store(&log_stderr, to_stderr);
	openlog("nsmilter", LOG_PID | LOG_NDELAY, facility);
}

void
log_set_stderr(bool on)
{
	atomic_store(&log_stderr, on);
}

void
log_set_level(int priority)
{
	atomic_store(&log_max, priority);
}

void
log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority > atomic_load_explicit(&log_max, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
	if (atomic_load_explicit(&log_stderr, memory_order_relaxed)) {
		char *line;

		va_start(ap, fmt);
		if ((line = xvasprintf(fmt, ap)) != NULL) {
			/* one write per line: threads don't interleave */
			fprintf(stderr, "nsmilter: %s\n", line);
			free(line);
		}
		va_end(ap);
	}
}

char *
log_escape(const char *s)
{
	size_t n = 0;
	char *out, *o;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p < 0x20 || *p == 0x7f || *p == '\\') ? 4 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}
