/*
 * addrlist.c - the address list file of the benchmark tools (addrlist.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"

int
addrlist_load(struct addrlist *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t len;

	l->v = NULL;
	l->n = 0;
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r' || line[len - 1] == ' '))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (l->n == alloc) {
			size_t na = alloc ? alloc * 2 : 1024;
			char **nv = realloc(l->v, na * sizeof(*nv));
			if (nv == NULL)
				goto oom;
			l->v = nv;
			alloc = na;
		}
		if ((l->v[l->n] = strdup(line)) == NULL)
			goto oom;
		l->n++;
	}
	free(line);
	fclose(f);
	if (l->n == 0) {
		fprintf(stderr, "%s: no addresses\n", path);
		return -1;
	}
	return 0;
oom:
	fprintf(stderr, "%s: out of memory\n", path);
	free(line);
	fclose(f);
	addrlist_free(l);
	return -1;
}

void
addrlist_free(struct addrlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
