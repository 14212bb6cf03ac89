/*
 * decide_priv.h - the parts of the decision shared by decide.c and
 * decide_targets.c (private to milter/decision/).
 */
#ifndef NSMILTER_DECIDE_PRIV_H
#define NSMILTER_DECIDE_PRIV_H

#include "decision/decide.h"

#define TEXT_LOOP "Recipient address rejected: Routing loop detected"

/* Target addresses (or MTA spellings) followed, at most. */
#define DECIDE_MAX_HOPS 4

/* One decision, without following target addresses. */
void decide_one(const struct config *cfg, const struct decide_input *in,
    decide_lookup_fn lookup, void *lookup_ctx, struct decision *out);
/* Set OUT's action, reason, code, DSN and reply text. */
void decide_set_reply(struct decision *out, enum decision_action action,
    enum decision_reason reason, const char *code, const char *dsn,
    const char *text);
/*
 * OUT routes to a target address inside a shared domain: decide that
 * address and the next ones (at most 4), or answer a routing loop.
 */
void decide_follow_targets(const struct config *cfg,
    const struct decide_input *in, decide_lookup_fn lookup,
    void *lookup_ctx, struct decision *out);

#endif
