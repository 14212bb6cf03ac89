/*
 * ldap_tls.h - why a directory's certificate was refused, in words an
 * admin can act on.
 *
 * libldap (with GnuTLS) reports a refused certificate as a network failure
 * ("Can't contact LDAP server", "Connect error") with no reason.  After
 * such a failure, ldap_tls_explain() connects once more to the same server
 * without checking the certificate, reads it, and tells which check it
 * fails: the host name of the URI, its validity dates, or its issuer
 * (then it is not trusted by tls_ca_file).  That second connection only
 * reads the certificate; it is closed without a bind or a search.
 */
#ifndef NSMILTER_LDAP_TLS_H
#define NSMILTER_LDAP_TLS_H

#include <stddef.h>
#include <time.h>

struct ldapdir_params;

/*
 * Why server SERVER (index in the directory's uri list) has a certificate
 * that fails verification, e.g. "host name 127.0.0.10 does not match
 * certificate dc1.corp.example", or "certificate not trusted (tls_ca_file
 * /etc/nsmilter/ca.pem; issued by CN=Corp CA)".  A new string, or NULL
 * when the certificate is not the reason (the server cannot be reached
 * either way) or could not be read.
 */
char *ldap_tls_explain(const struct ldapdir_params *p, size_t server);

/*
 * The same from the certificate's DER (LEN bytes) and the URI's HOST; NULL
 * when the DER cannot be read.  CA_FILE is tls_ca_file (NULL: the
 * system's CA certificates), NOW the time to check the dates against.
 */
char *ldap_tls_explain_cert(const void *der, size_t len, const char *host,
    const char *ca_file, time_t now);

#endif
