/*
 * netstring.h - D. J. Bernstein's netstrings: "LEN:DATA,", LEN in decimal
 * ASCII without leading zeros ("0:," is the empty string).
 *
 * The decoder works on a buffer that may hold a partial netstring (as read
 * from a socket) and tells "need more bytes" from "this can never be valid",
 * so a caller can answer an error before reading an oversized payload.
 */
#ifndef NSMILTER_NETSTRING_H
#define NSMILTER_NETSTRING_H

#include <stddef.h>

enum netstring_status {
	NETSTRING_OK,         /* one complete netstring decoded */
	NETSTRING_INCOMPLETE, /* valid so far; more bytes needed */
	NETSTRING_BAD_FORMAT, /* non-digit length, leading zero, no ':' or ',' */
	NETSTRING_TOO_LONG,   /* declared length exceeds the caller's maximum */
};

/*
 * Decode the netstring at the start of BUF (LEN bytes), accepting payloads
 * of at most MAX bytes.  On NETSTRING_OK, *DATA points into BUF at the
 * payload (not NUL-terminated), *DATA_LEN is its length and *CONSUMED the
 * size of the whole netstring; otherwise the outputs are left untouched.
 * Never reads past BUF + LEN.
 */
enum netstring_status netstring_decode(const char *buf, size_t len, size_t max,
    const char **data, size_t *data_len, size_t *consumed);

/*
 * Encode LEN bytes of DATA.  Returns a new NUL-terminated string (the NUL
 * is not part of the netstring) and its length in *OUT_LEN, or NULL when
 * out of memory.
 */
char *netstring_encode(const char *data, size_t len, size_t *out_len);

/* Human-readable name of a status, for error messages. */
const char *netstring_strerror(enum netstring_status st);

#endif
