/*
 * address.h - envelope recipient parsing, normalisation and encodings.
 *
 * Pure string functions: no configuration, no I/O, no libldap.
 */
#ifndef NSMILTER_ADDRESS_H
#define NSMILTER_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

enum address_status {
	ADDRESS_OK,        /* local@domain, syntactically valid */
	ADDRESS_NODOMAIN,  /* empty (<>) or no domain: nsmilter skips it */
	ADDRESS_INVALID    /* has a domain, but the address is malformed */
};

struct address {
	char *full;    /* local@domain, local part as given, domain lowercased */
	char *local;   /* local part exactly as given (quotes kept) */
	char *domain;  /* lowercased; set for ADDRESS_OK and ADDRESS_INVALID */
	const char *why; /* ADDRESS_INVALID: static reason text */
};

/*
 * Parse RAW as given in RCPT TO: strip <>, any source route (@a,@b:), a
 * trailing dot of the domain, lowercase the domain.  Returns the status; OUT is filled for every status
 * (fields may be NULL) and must be released with address_free().
 * Returns -1 (and OUT zeroed) only when out of memory.
 */
int address_parse(const char *raw, struct address *out);
void address_free(struct address *a);

/*
 * What an MTA's percent hack or bang path makes of RAW's local part, one
 * step, in Postfix's order (README "Address spellings"): "site!user@host"
 * -> "user@site" (the leftmost '!'), else "user%domain@host" ->
 * "user@domain" (the rightmost '%').  The "@host" is dropped as the MTA
 * does when host is its own.  Returns 1 (bang path) or 2 (percent hack)
 * with *OUT a new string, 0 when RAW has neither (or a quoted local part),
 * -1 when out of memory.
 */
int address_unhack(const char *raw, char **out);

/*
 * Without its extension: "bob+news@d" -> "bob@d" for DELIMS "+".  Returns a
 * new string, or NULL when there is no extension (or DELIMS is NULL/empty).
 */
char *address_strip_extension(const struct address *a, const char *delims);

/* RFC 3461 xtext encoding ('+', '=', and bytes outside 33..126 as +XX). */
char *address_xtext(const char *s);

#endif
