/*
 * ldap_filter.h - LDAP search filters from nsmilter.ini filter templates.
 */
#ifndef NSMILTER_LDAP_FILTER_H
#define NSMILTER_LDAP_FILTER_H

#include <stdbool.h>

/*
 * Expand a filter template: %s the whole address, %u the local part, %d
 * the domain, %% a percent sign.  Every expanded value is escaped per
 * RFC 4515 (libldap's ldap_bv2escaped_filter_value).  ADDR is
 * "local@domain" (split at the last '@').  Returns a new string, or NULL
 * for an invalid template (a '%' followed by anything else) or out of
 * memory.
 */
char *ldapfilter_expand(const char *tmpl, const char *addr);

/* Whether TMPL is a valid filter template. */
bool ldapfilter_template_ok(const char *tmpl);

#endif
