/*
 * recipient.c - the recipient step (see recipient.h): one decision through
 * the resolver, timed, with what its log line needs.
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "decision/recipient.h"

void
recipient_decide(const struct config *cfg, struct resolver *r,
    const char *rcpt, const char *client, struct recipient *out)
{
	recipient_decide_mta(cfg, r, rcpt, NULL, client, out);
}

void
recipient_decide_mta(const struct config *cfg, struct resolver *r,
    const char *rcpt, const char *mta_rcpt, const char *client,
    struct recipient *out)
{
	struct decide_input in = { .rcpt = rcpt, .client_addr = client,
	    .mta_rcpt = mta_rcpt };
	struct resolver_call call = { .resolver = r };
	uint64_t t0 = clock_us();

	memset(out, 0, sizeof(*out));
	decide_recipient(cfg, &in, resolver_lookup, &call, &out->d);
	out->ms = clock_ms_since(t0);
	out->cache = resolver_call_cache(&call);
	out->observe = config_domain_mode(cfg, out->d.domain) ==
	    CONFIG_MODE_OBSERVE;
	out->rcpt = log_escape(out->d.address ? out->d.address :
	    (rcpt ? rcpt : ""));
	out->fields = decision_format_log(&out->d);
}

void
recipient_free(struct recipient *rec)
{
	if (rec == NULL)
		return;
	decision_free(&rec->d);
	free(rec->rcpt);
	free(rec->fields);
	memset(rec, 0, sizeof(*rec));
}
