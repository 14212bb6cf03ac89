/*
 * mirror_entry.h - what a directory entry contributes to the mirror: its
 * addresses (address_attributes) and its target address
 * (target_attribute), read from an LDAP entry.
 */
#ifndef NSMILTER_MIRROR_ENTRY_H
#define NSMILTER_MIRROR_ENTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <ldap.h>

#include "directory/mirror/mirror_store.h"

/*
 * The address in attribute value V (LEN bytes), lowercased into OUT (at
 * least MIRROR_ADDRESS_MAX + 1 bytes): surrounding blanks ignored, a
 * leading "smtp:" (any case) stripped.  Returns false when the value is
 * not an SMTP address: another prefix ("X500:", "SIP:", "x400:"), no "@",
 * blanks or control characters, or longer than MIRROR_ADDRESS_MAX.
 */
bool mirror_address_value(const char *v, size_t len, char *out);

/*
 * The target address in attribute value V: as mirror_address_value, case
 * kept.  Returns a new string, or NULL with *BAD set when the value is not
 * an SMTP address (the entry then counts as found without a target), or
 * NULL without *BAD when out of memory.
 */
char *mirror_target_value(const char *v, size_t len, bool *bad);

/*
 * Fill OUT from entry E: the values of ATTRS (NULL-terminated) that are
 * addresses, without duplicates, and the first value of TARGET_ATTR
 * (NULL: none).  Returns 0, or -1 when out of memory.
 */
int mirror_entry_from_ldap(LDAP *ld, LDAPMessage *e, char *const *attrs,
    const char *target_attr, struct mirror_entry *out);
void mirror_entry_free(struct mirror_entry *e);

#endif
