/*
 * report_table.c - the (address, directory, entry, target) tuples of
 * nsmilter -r: an arena for the strings, one array of tuples, sorted once.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/report_table.h"

/* Arena blocks: 1 MiB, or one string when it is larger (never: <= 255). */
#define BLOCK_SIZE (1024 * 1024)

struct report_block {
	struct report_block *next;
	size_t used, size;
	char data[];
};

void
report_table_init(struct report_table *t)
{
	memset(t, 0, sizeof(*t));
}

void
report_table_free(struct report_table *t)
{
	struct report_block *b, *next;

	for (b = t->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* A copy of S in the arena, or NULL when out of memory. */
static const char *
arena_strdup(struct report_table *t, const char *s)
{
	size_t len = strlen(s) + 1;
	struct report_block *b = t->blocks;
	char *p;

	if (b == NULL || b->size - b->used < len) {
		size_t size = len > BLOCK_SIZE ? len : BLOCK_SIZE;

		if ((b = malloc(sizeof(*b) + size)) == NULL)
			return NULL;
		b->next = t->blocks;
		b->used = 0;
		b->size = size;
		t->blocks = b;
	}
	p = b->data + b->used;
	memcpy(p, s, len);
	b->used += len;
	return p;
}

int
report_table_add(struct report_table *t, uint32_t dir,
    const struct mirror_entry *e)
{
	const char *target = NULL;
	uint32_t entry = t->entries++;

	if (e->target != NULL && (target = arena_strdup(t, e->target)) == NULL)
		return -1;
	for (size_t i = 0; i < e->n_addrs; i++) {
		struct report_tuple *tp;

		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 4096;
			struct report_tuple *v = realloc(t->v,
			    cap * sizeof(*v));

			if (v == NULL)
				return -1;
			t->v = v;
			t->cap = cap;
		}
		tp = &t->v[t->n];
		if ((tp->addr = arena_strdup(t, e->addrs[i])) == NULL)
			return -1;
		tp->target = target;
		tp->dir = dir;
		tp->entry = entry;
		t->n++;
	}
	return 0;
}

static int
tuple_cmp(const void *a, const void *b)
{
	const struct report_tuple *x = a, *y = b;
	int c = strcmp(x->addr, y->addr);

	if (c != 0)
		return c;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return 0;
}

void
report_table_sort(struct report_table *t)
{
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), tuple_cmp);
}

const struct report_tuple *
report_table_find(const struct report_table *t, const char *address,
    size_t *n)
{
	size_t lo = 0, hi = t->n, end;

	*n = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->v[mid].addr, address) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < t->n && strcmp(t->v[end].addr, address) == 0;
	    end++)
		;
	*n = end - lo;
	return *n > 0 ? &t->v[lo] : NULL;
}

static bool
same_target(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcasecmp(a, b) == 0;
}

int
report_table_answer(const struct report_tuple *group, size_t n,
    uint32_t dir, struct directory_answer *out)
{
	const char *first = NULL;

	memset(out, 0, sizeof(*out));
	out->status = DIRECTORY_NOTFOUND;
	for (size_t i = 0; i < n; i++) {
		if (group[i].dir != dir)
			continue;
		/* An entry has each of its addresses once: a tuple each. */
		if (out->entries++ == 0)
			first = group[i].target;
		else if (!same_target(first, group[i].target))
			out->ambiguous = 1;
	}
	if (out->entries == 0)
		return 0;
	out->status = DIRECTORY_FOUND;
	if (first != NULL && (out->target = strdup(first)) == NULL) {
		out->status = DIRECTORY_NOTFOUND;
		out->entries = 0;
		return -1;
	}
	return 0;
}
