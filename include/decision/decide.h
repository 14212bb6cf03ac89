/*
 * decide.h - the recipient decision: a pure function.
 *
 * Address + configuration + directory answers in, decision out.  No
 * libmilter, no sockets, no globals.  The milter callbacks, the socketmap and
 * nsmilter -q all call decide_recipient(); unit tests call it with a fake
 * lookup function.
 */
#ifndef NSMILTER_DECIDE_H
#define NSMILTER_DECIDE_H

#include <stdbool.h>
#include "config/config.h"
#include "directory/directory.h"

/*
 * How the engine asks the directories: look ADDRESS up in every directory
 * of DOM (dom->dirs[0..n_dirs-1]) and fill ANSWERS[i] for dom->dirs[i].
 * An implementation may query them in parallel and may answer from a cache.
 */
typedef void (*decide_lookup_fn)(void *ctx, const struct domain_config *dom,
    const char *address, struct directory_answer *answers);

enum decision_action {
	DECISION_SKIP,
	DECISION_ACCEPT,
	DECISION_ROUTE,
	DECISION_REJECT,
	DECISION_TEMPFAIL
};

enum decision_reason {
	REASON_NONE,
	REASON_FOUND,      /* accept/route: found in a directory */
	REASON_FALLBACK,   /* route: fallback_route (not found, or external) */
	REASON_UNKNOWN,    /* reject 550 5.1.1 */
	REASON_SYNTAX,     /* reject 501 5.1.3 */
	REASON_LOOP,       /* reject 554 5.4.6 */
	REASON_DIRECTORY,  /* tempfail 451 4.4.3, or accept by on_directory_error */
	REASON_NOMEM,      /* tempfail 451 4.3.0: out of memory */
	REASON_AMBIGUOUS,  /* tempfail 451 4.1.4: entries of one directory
			      lead to different decisions */
	REASON_NOT_SHARED  /* skip: no domain, or not a shared domain */
};

struct decide_input {
	const char *rcpt;         /* as given in RCPT TO */
	const char *client_addr;  /* connecting client's IP, or NULL */
	const char *mta_rcpt;     /* the address the MTA resolved RCPT to (its
				     {rcpt_addr} macro), or NULL: unknown */
};

struct decision {
	enum decision_action action;
	enum decision_reason reason;
	const char *code;         /* "550" ... for reject/tempfail, else NULL */
	const char *dsn;          /* "5.1.1" ... */
	char *address;            /* normalised recipient, or the raw one */
	char *to;                 /* DECISION_ROUTE: new recipient */
	const char *transport;    /* DECISION_ROUTE: socketmap answer or NULL */
	const struct domain_config *domain;       /* NULL for skip */
	const struct directory_config *directory; /* the one that found it */
	bool target;              /* routed to the entry's target address */
	char *conflict;           /* other directories that also found it */
	unsigned entries;         /* entries of the winning directory (>1:
				     duplicate=, or ambiguous=) */
	const char *source;       /* static: "mirror" when the answers that
				     decided came from directory mirrors */
	unsigned hops;            /* target addresses followed inside the
				     shared domains (0: none) */
	char *error;              /* directory failure text(s) */
	char *given;              /* RCPT as given, when the decision is for
				     the address the MTA resolved it to */
	const char *text;         /* reply text after "<R>: " */
};

void decide_recipient(const struct config *cfg, const struct decide_input *in,
    decide_lookup_fn lookup, void *lookup_ctx, struct decision *out);
void decision_free(struct decision *d);

const char *decision_action_name(enum decision_action a);

/*
 * The "nsmilter -q" line for D, without newline:
 *   ADDRESS ACTION [key=value ...]
 * Returns a new string (NULL on out of memory).
 */
char *decision_format_query(const struct decision *d);

/*
 * The same fields for the log line, without the address and with the new
 * recipient in brackets: "route to=<bob@legacy.corp.example> directory=legacy"
 */
char *decision_format_log(const struct decision *d);

/* The SMTP reply text for a reject/tempfail: "<R>: ..." (new string). */
char *decision_reply_text(const struct decision *d);

#endif
