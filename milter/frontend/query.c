/*
 * query.c - nsmilter -q: the milter's decision path, printed for scripts.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "decision/decide.h"
#include "decision/recipient.h"
#include "frontend/query.h"

static int
query_one(struct runtime *rt, const char *address, FILE *out)
{
	struct recipient rec;
	char *line;
	int tempfail;

	recipient_decide(rt->cfg, rt->resolver, address, NULL, &rec);
	tempfail = rec.d.action == DECISION_TEMPFAIL;
	line = decision_format_query(&rec.d);
	fprintf(out, "%s\n", line ? line : "? tempfail error=\"out of memory\"");
	fflush(out);
	free(line);
	recipient_free(&rec);
	return tempfail;
}

int
query_run(struct runtime *rt, char *const *addrs, int n, FILE *in, FILE *out)
{
	int tempfail = 0;

	for (int i = 0; i < n; i++) {
		if (strcmp(addrs[i], "-") != 0) {
			tempfail |= query_one(rt, addrs[i], out);
			continue;
		}
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;

		while ((len = getline(&line, &cap, in)) >= 0) {
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				line[--len] = '\0';
			if (len == 0)
				continue;
			tempfail |= query_one(rt, line, out);
		}
		free(line);
	}
	return tempfail ? EX_TEMPFAIL : 0;
}
