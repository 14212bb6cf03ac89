/*
 * decide_targets.c - target addresses that lead back into a shared domain
 * are decided again, so that mail never loops between the mail systems of
 * a shared domain (see decide_follow_targets below).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decision/decide.h"
#include "decision/decide_priv.h"

/* The domain part of ADDRESS (after the last '@'), or "". */
static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

/*
 * Whether a target address is decided again: it falls into a shared
 * domain, and not into a routing domain (a directory's route or a
 * fallback_route, which may be a subdomain of a shared domain).
 */
static bool
target_is_shared(const struct config *cfg, const char *target)
{
	const char *dom = domain_of(target);

	for (size_t i = 0; i < cfg->n_directories; i++)
		if (cfg->directories[i].route != NULL &&
		    strcasecmp(cfg->directories[i].route, dom) == 0)
			return false;
	for (size_t i = 0; i < cfg->n_domains; i++)
		if (cfg->domains[i].fallback_route != NULL &&
		    strcasecmp(cfg->domains[i].fallback_route, dom) == 0)
			return false;
	return config_find_domain(cfg, dom) != NULL;
}

static void
routing_loop(struct decision *out)
{
	free(out->to);
	out->to = NULL;
	out->transport = NULL;
	decide_set_reply(out, DECISION_REJECT, REASON_LOOP, "554", "5.4.6",
	    TEXT_LOOP);
}

/*
 * OUT routes to a target address inside a shared domain: decide that
 * address, and the next, up to DECIDE_MAX_HOPS, so that mail is never
 * sent back into the shared domain to loop between the mail systems.  The
 * end of the chain decides: a mailbox (accept) or a foreign recipient
 * (route) is where the mail goes; unknown, ambiguous or unavailable is
 * answered for the original recipient; a cycle or a longer chain is a
 * routing loop.
 */
void
decide_follow_targets(const struct config *cfg, const struct decide_input *in,
    decide_lookup_fn lookup, void *lookup_ctx, struct decision *out)
{
	char *seen[DECIDE_MAX_HOPS + 1];
	size_t n_seen = 0;

	seen[n_seen++] = out->address;
	while (out->action == DECISION_ROUTE && out->target &&
	    out->to != NULL && target_is_shared(cfg, out->to)) {
		struct decide_input next = { .rcpt = out->to,
		    .client_addr = in->client_addr };
		struct decision d;
		bool cycle = false, done = true;

		for (size_t i = 0; i < n_seen; i++)
			if (strcasecmp(seen[i], out->to) == 0)
				cycle = true;
		if (cycle || out->hops >= DECIDE_MAX_HOPS) {
			routing_loop(out);
			break;
		}
		out->hops++;
		decide_one(cfg, &next, lookup, lookup_ctx, &d);
		switch (d.action) {
		case DECISION_ACCEPT:
		case DECISION_SKIP:
			/* The target is a mailbox here: deliver to it. */
			break;
		case DECISION_ROUTE:
			/* Go on from the new address; seen[] owns the old. */
			seen[n_seen++] = out->to;
			out->to = d.to;
			d.to = NULL;
			out->transport = d.transport;
			done = false;
			break;
		default:
			/* reject (unknown, loop) or tempfail: as answered. */
			free(out->to);
			out->to = NULL;
			out->transport = NULL;
			decide_set_reply(out, d.action, d.reason, d.code, d.dsn,
			    d.text);
			if (d.error != NULL && out->error == NULL) {
				out->error = d.error;
				d.error = NULL;
			}
			break;
		}
		decision_free(&d);
		if (done)
			break;
	}
	for (size_t i = 1; i < n_seen; i++)
		free(seen[i]);
}
