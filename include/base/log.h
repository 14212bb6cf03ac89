/*
 * log.h - syslog (ident "nsmilter"), and stderr as well in the foreground.
 */
#ifndef NSMILTER_LOG_H
#define NSMILTER_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_open(int facility, bool to_stderr);
/* Copy log lines to stderr (start-up, -f) or not (a detached daemon). */
void log_set_stderr(bool on);
/* Log PRIORITY (LOG_ERR ... LOG_DEBUG) and more urgent; thread-safe. */
void log_set_level(int priority);
void log_msg(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A copy of S safe for one log line: control characters and backslashes
 * as \xNN, so a hostile recipient cannot forge or split log lines.
 * Returns NULL only when out of memory.
 */
char *log_escape(const char *s);

#define log_err(...)     log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
