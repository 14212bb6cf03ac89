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

#include "base/log.h"
#include "base/xfmt.h"
#include "decision/recipient.h"
#include "decision/runtime.h"
#include "frontend/transport_map.h"

char *
transport_map_reply(const struct decision *d, bool observe)
{
	if (observe)
		return strdup("NOTFOUND ");
	switch (d->action) {
	case DECISION_ROUTE:
		if (d->transport != NULL)
			return xasprintf("OK %s", d->transport);
		return strdup("NOTFOUND ");
	case DECISION_TEMPFAIL:
		return xasprintf("TEMP %s", d->error ? d->error :
		    "directory unavailable");
	default:
		return strdup("NOTFOUND ");
	}
}

char *
transport_map_lookup(void *ctx, const char *map, const char *key)
{
	struct runtime *rt;
	struct recipient rec;
	char *res;

	(void)ctx;
	if (strcmp(map, "transport") != 0)
		return xasprintf("PERM unknown map name: %s", map);
	if ((rt = runtime_acquire()) == NULL)
		return strdup("TEMP no configuration");
	recipient_decide(rt->cfg, rt->resolver, key, NULL, &rec);
	res = transport_map_reply(&rec.d, rec.observe);
	/* Same fields as the RCPT log line, so one grep finds both. */
	/* Postfix also asks for domain keys: keep those skips out of info. */
	log_msg(rec.d.action == DECISION_SKIP ? LOG_DEBUG : LOG_INFO,
	    "socketmap: rcpt=<%s> action=%s reply=\"%s\" ms=%.1f%s%s%s",
	    rec.rcpt ? rec.rcpt : "?", rec.fields ? rec.fields : "?",
	    res ? res : "TEMP internal error", rec.ms,
	    rec.observe ? " mode=observe" : "", rec.cache ? " cache=" : "",
	    rec.cache ? rec.cache : "");
	recipient_free(&rec);
	runtime_release(rt);
	return res;
}
