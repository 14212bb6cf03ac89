/*
 * ldap_read.h - read a whole directory: every entry under its base and
 * scope that matches a filter, page by page (RFC 2696 simple paged
 * results), with the directory's servers, bind, TLS and timeout.
 *
 * For reports (nsmilter -r) and full refreshes of a mirror: memory use is
 * one page, whatever the size of the directory.
 */
#ifndef NSMILTER_LDAP_READ_H
#define NSMILTER_LDAP_READ_H

#include <ldap.h>

struct directory_config;

/* Entries asked for per page (Active Directory's MaxPageSize is 1000). */
#define LDAPREAD_PAGE_SIZE 500

/*
 * Called for every entry E (valid only during the call).  Non-zero stops
 * the read: ldapread_all then returns that value.
 */
typedef int (*ldapread_entry_fn)(void *ctx, LDAP *ld, LDAPMessage *e);

/*
 * Read every entry of CFG's base and scope that matches FILTER, with the
 * attributes ATTRS (NULL-terminated), through FN.  The first server of
 * CFG's uri list that can be reached is used (connect, StartTLS and bind
 * as for a lookup); each answer from the server is awaited at most the
 * directory's timeout.  Returns 0 when every entry was read, FN's non-zero
 * value when FN stopped it, or -1 with *ERR a new message (the server,
 * the bind or a page failed; entries may have been passed to FN).
 */
int ldapread_all(const struct directory_config *cfg, const char *filter,
    char *const *attrs, ldapread_entry_fn fn, void *ctx, char **err);

/*
 * The same on handle LD, connected and bound already (a mirror's
 * synchronisation connection).  The handle stays open.
 */
int ldapread_on(LDAP *ld, const struct directory_config *cfg,
    const char *filter, char *const *attrs, ldapread_entry_fn fn, void *ctx,
    char **err);

#endif
