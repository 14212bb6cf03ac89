/*
 * addrlist.h - the address list file of the benchmark tools: one address a
 * line, blank lines and lines starting with '#' ignored.
 */
#ifndef NSMILTER_BENCH_ADDRLIST_H
#define NSMILTER_BENCH_ADDRLIST_H

#include <stddef.h>

struct addrlist {
	char **v;
	size_t n;
};

/* 0, or -1 with a message on stderr (unreadable, empty, out of memory). */
int addrlist_load(struct addrlist *l, const char *path);
void addrlist_free(struct addrlist *l);

#endif
