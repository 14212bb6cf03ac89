/*
 * milter.h - the libmilter callbacks: decisions at RCPT, envelope changes
 * at end of message.
 */
#ifndef NSMILTER_MILTER_H
#define NSMILTER_MILTER_H

/* smfi_register() nsmilter's callbacks; returns MI_SUCCESS/MI_FAILURE. */
int milter_register(void);

/*
 * At most MAX milter connections at once (0: no cap).  Beyond, a new
 * connection is answered tempfail at connect, so the MTA defers instead of
 * waiting, and nsmilter keeps descriptors for the sessions it serves.
 */
void milter_set_max_connections(unsigned max);

/* Sanitise TEXT for smfi_setreply: '%' doubled, controls as '?' (new string). */
char *milter_reply_escape(const char *text);

#endif
