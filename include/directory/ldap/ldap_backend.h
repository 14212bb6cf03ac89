/*
 * ldap_backend.h - the LDAP directory backend, registered as "ldap".
 */
#ifndef NSMILTER_LDAP_BACKEND_H
#define NSMILTER_LDAP_BACKEND_H

#include "directory/directory.h"

extern const struct directory_ops ldapdir_ops;

#endif
