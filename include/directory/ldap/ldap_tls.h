/*
 * ldap_tls.h - why a directory's certificate was refused, in words an
 * admin can act on.
 *
 * libldap (with GnuTLS) reports a refused certificate as a network failure
 * ("Can't contact LDAP server", "Connect error") with no reason.  After
 * such a failure, ldap_conn.c connects once more to the same server
 * without checking the certificate; ldap_tls_explain() reads the
 * certificate from that connection and tells which check it fails: the
 * host name of the URI, its validity dates, or its issuer (then it is not
 * trusted by tls_ca_file).  That second connection only reads the
 * certificate; it is closed without a bind or a search.
 */
#ifndef NSMILTER_LDAP_TLS_H
#define NSMILTER_LDAP_TLS_H

#include <stddef.h>
#include <time.h>

#include <ldap.h>

/*
 * Why the certificate of the server at URI, read from LD (connected to it
 * without checking the certificate), fails verification, e.g. "host name
 * 127.0.0.10 does not match certificate dc1.corp.example", or "certificate
 * not trusted (tls_ca_file /etc/nsmilter/ca.pem; issued by CN=Corp CA)".
 * CA_FILE is tls_ca_file (NULL: the system's CA certificates).  A new
 * string, or NULL when the certificate could not be read.
 */
char *ldap_tls_explain(LDAP *ld, const char *uri, const char *ca_file);

/*
 * The same from the certificate's DER (LEN bytes) and the URI's HOST; NULL
 * when the DER cannot be read.  CA_FILE is tls_ca_file (NULL: the
 * system's CA certificates), NOW the time to check the dates against.
 */
char *ldap_tls_explain_cert(const void *der, size_t len, const char *host,
    const char *ca_file, time_t now);

#endif
