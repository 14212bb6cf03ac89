/*
 * log.c - syslog with ident "nsmilter"; in the foreground also stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "config/config.h"
#include "base/log.h"

static bool log_stderr;
static int log_max = LOG_INFO;

void
log_open(int facility, bool to_stderr)
{
	log_stderr = to_stderr;
	openlog("nsmilter", LOG_PID | LOG_NDELAY, facility);
}

void
log_set_level(int level)
{
	switch (level) {
	case CFG_LOG_ERROR:   log_max = LOG_ERR; break;
	case CFG_LOG_WARNING: log_max = LOG_WARNING; break;
	case CFG_LOG_INFO:    log_max = LOG_INFO; break;
	default:              log_max = LOG_DEBUG; break;
	}
}

void
log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (priority > log_max)
		return;
	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
	if (log_stderr) {
		char *line;

		va_start(ap, fmt);
		if (vasprintf(&line, fmt, ap) >= 0) {
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
