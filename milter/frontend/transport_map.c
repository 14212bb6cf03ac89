/*
 * transport_map.c - answers for the MTA's transport lookups (socketmap).
 *
 * The same decision as at RCPT time: a foreign recipient gets its
 * directory's transport (or the domain's fallback_transport), everything
 * else NOTFOUND so the MTA's own tables apply, and a directory failure TEMP
 * so the MTA defers instead of delivering to the wrong place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "process/runtime.h"
#include "frontend/transport_map.h"

char *
transport_map_reply(const struct decision *d, bool observe)
{
	char *s = NULL;

	if (observe)
		return strdup("NOTFOUND ");
	switch (d->action) {
	case DECISION_ROUTE:
		if (d->transport != NULL &&
		    asprintf(&s, "OK %s", d->transport) >= 0)
			return s;
		return strdup("NOTFOUND ");
	case DECISION_TEMPFAIL:
		if (asprintf(&s, "TEMP %s", d->error ? d->error :
		    "directory unavailable") >= 0)
			return s;
		return NULL;
	default:
		return strdup("NOTFOUND ");
	}
}

char *
transport_map_lookup(void *ctx, const char *map, const char *key)
{
	struct runtime *rt;
	struct resolver_call call;
	struct decide_input in = { .rcpt = key, .client_addr = NULL };
	struct decision d;
	struct timespec t0, t1;
	char *res, *fields, *rcpt;
	const char *cache;
	bool observe;

	(void)ctx;
	if (strcmp(map, "transport") != 0) {
		if (asprintf(&res, "PERM unknown map name: %s", map) < 0)
			return NULL;
		return res;
	}
	if ((rt = runtime_acquire()) == NULL)
		return strdup("TEMP no configuration");
	call = (struct resolver_call){ .resolver = rt->resolver };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	decide_recipient(rt->cfg, &in, resolver_lookup, &call, &d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	observe = config_domain_mode(rt->cfg, d.domain) == CFG_MODE_OBSERVE;
	res = transport_map_reply(&d, observe);
	/* Same fields as the RCPT log line, so one grep finds both. */
	fields = decision_format_log(&d);
	cache = resolver_call_cache(&call);
	rcpt = log_escape(d.address ? d.address : key);
	/* Postfix also asks for domain keys: keep those skips out of info. */
	log_msg(d.action == DECISION_SKIP ? LOG_DEBUG : LOG_INFO,
	    "socketmap: rcpt=<%s> action=%s reply=\"%s\" ms=%.1f%s%s%s",
	    rcpt ? rcpt : "?", fields ? fields : "?",
	    res ? res : "TEMP internal error",
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	    observe ? " mode=observe" : "", cache ? " cache=" : "",
	    cache ? cache : "");
	free(fields);
	free(rcpt);
	decision_free(&d);
	runtime_release(rt);
	return res;
}
