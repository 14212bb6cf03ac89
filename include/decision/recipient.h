/*
 * recipient.h - the recipient step: decide one recipient with one
 * configuration snapshot.  The milter, the socketmap's transport map and
 * nsmilter -q all go through it, so the lookup (through the resolver and
 * its cache), the timing, the observe flag and the log fields are made in
 * one place.
 */
#ifndef NSMILTER_RECIPIENT_H
#define NSMILTER_RECIPIENT_H

#include <stdbool.h>

#include "config/config.h"
#include "decision/decide.h"
#include "directory/resolver.h"

struct recipient {
	struct decision d;
	double ms;            /* time the decision took */
	const char *cache;    /* "hit", "miss", or NULL: no directory asked */
	bool observe;         /* the decided domain (or [milter]) observes */
	char *rcpt;           /* the address, escaped for a log line */
	char *fields;         /* decision_format_log, or NULL (no memory) */
};

/*
 * Decide RCPT (as given in RCPT TO, or a socketmap key) from CLIENT (IP
 * address, or NULL) with CFG and its running directories R.  OUT is always
 * filled; release it with recipient_free.
 */
void recipient_decide(const struct config *cfg, struct resolver *r,
    const char *rcpt, const char *client, struct recipient *out);
/*
 * The same, knowing the address the MTA resolved RCPT to (its {rcpt_addr}
 * macro, NULL when not sent): see decide_input.mta_rcpt.
 */
void recipient_decide_mta(const struct config *cfg, struct resolver *r,
    const char *rcpt, const char *mta_rcpt, const char *client,
    struct recipient *out);
void recipient_free(struct recipient *rec);

#endif
