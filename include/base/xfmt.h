/*
 * xfmt.h - formatted strings on the heap, the one way the tree makes them.
 */
#ifndef NSMILTER_XFMT_H
#define NSMILTER_XFMT_H

#include <stdarg.h>
#include <stdio.h>

/* A new formatted string, or NULL when out of memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
/*
 * Write V to F double-quoted, '"' and '\' escaped with '\', control
 * characters as \xNN: a value of a log or report line.
 */
void xfputquoted(FILE *f, const char *v);

#endif
