/*
 * ldap_cert.h - the few facts of a server's X.509 certificate that explain
 * a failed TLS connection to an admin: whom it names, who issued it, when
 * it is valid.  Read with GnuTLS from the DER that libldap hands out
 * (LDAP_OPT_X_TLS_PEERCERT).
 */
#ifndef NSMILTER_LDAP_CERT_H
#define NSMILTER_LDAP_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <gnutls/x509.h>

struct ldap_cert {
	gnutls_x509_crt_t crt;  /* the certificate itself, or NULL */
	char *subject;      /* "cn=DC1.corp.example,o=...", or NULL */
	char *issuer;       /* the same for the issuer */
	char *cn;           /* the subject's (last) common name, or NULL */
	char **names;       /* subjectAltName: dNSName and iPAddress, as text */
	size_t n_names;
	time_t not_before;
	time_t not_after;
};

/*
 * Parse certificate DER (LEN bytes) into OUT.  False when GnuTLS does not
 * accept it as a certificate, or out of memory; OUT is then empty
 * (ldap_cert_free is still safe).
 */
bool ldap_cert_parse(const void *der, size_t len, struct ldap_cert *out);
void ldap_cert_free(struct ldap_cert *c);

/*
 * Whether the certificate names HOST (a DNS name or an IPv4/IPv6 address
 * as written in the URI), as GnuTLS checks it for a TLS client (RFC 6125):
 * a subjectAltName dNSName (a leading "*." matching one label) or
 * iPAddress; the common name only when there is no dNSName.
 */
bool ldap_cert_names_host(const struct ldap_cert *c, const char *host);

/* The names a host is matched against, comma-separated; a new string. */
char *ldap_cert_names_text(const struct ldap_cert *c);

#endif
