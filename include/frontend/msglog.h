/*
 * msglog.h - the recipients of one message, for the line logged at end of
 * message with the MTA's queue id (README "A first day in production"):
 *
 *   QUEUEID: message rcpts=3 accept=<alice@corp.example>
 *       route=<bob@corp.example> to=<bob@legacy.corp.example>
 *       reject=<nobody@corp.example> conn=12
 *
 * Postfix has no queue id before the first recipient is accepted, so the
 * first RCPT's line cannot carry it; this line joins Postfix's log to
 * nsmilter's for every message.
 */
#ifndef NSMILTER_FRONTEND_MSGLOG_H
#define NSMILTER_FRONTEND_MSGLOG_H

#include <stdbool.h>
#include <stddef.h>

/* Past this many characters further recipients are only counted. */
#define MSGLOG_MAX_CHARS 2000

struct msglog {
	char *buf;        /* " action=<address> [to=<new>] [mode=observe]"... */
	size_t len;
	unsigned n;       /* recipients decided */
	unsigned omitted; /* ... of which not in buf (MSGLOG_MAX_CHARS) */
};

/*
 * One decided recipient: ACTION as decision_action_name() names it,
 * ADDRESS without brackets, TO the new recipient of a route (or NULL),
 * OBSERVE when the decision was only logged (mode = observe).
 */
void msglog_add(struct msglog *m, const char *action, const char *address,
    const char *to, bool observe);
/*
 * "rcpts=N action=<address> ... [more=K]" as a new string (escaped for a
 * log line), or NULL when out of memory.
 */
char *msglog_fields(const struct msglog *m);
/* Forget the recipients: a new transaction starts. */
void msglog_clear(struct msglog *m);

#endif
