/*
 * milter.h - the libmilter callbacks: decisions at RCPT, envelope changes
 * at end of message.
 */
#ifndef NSMILTER_MILTER_H
#define NSMILTER_MILTER_H

/* smfi_register() nsmilter's callbacks; returns MI_SUCCESS/MI_FAILURE. */
int milter_register(void);

/* Sanitise TEXT for smfi_setreply: '%' doubled, controls as '?' (new string). */
char *milter_reply_escape(const char *text);

#endif
