/*
 * ldap_cert.c - a directory server's certificate as GnuTLS reads it: its
 * names, issuer and validity, to tell an admin why the certificate was
 * refused.  The names are shown to the admin, never trusted for anything:
 * the TLS library has already made the security decision.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>
#include <ldap.h>

#include "directory/ldap/ldap_cert.h"

/*
 * The DER Name RAW as an LDAPv3 DN string, as libldap writes it
 * ("cn=Test CA,o=nsmilter tests"), so that it reads like the DNs of the
 * directory itself.
 */
static char *
dn_text(const gnutls_datum_t *raw)
{
	struct berval der, dn = { 0, NULL };
	char *s;

	der.bv_val = (char *)raw->data;
	der.bv_len = (ber_len_t)raw->size;
	if (ldap_X509dn2bv(&der, &dn, NULL, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS)
		return NULL;
	s = dn.bv_val != NULL ? strdup(dn.bv_val) : NULL;
	ldap_memfree(dn.bv_val);
	return s;
}

/* The subject's DN, or with ISSUER the issuer's, as dn_text writes it. */
static char *
name_text(gnutls_x509_crt_t crt, bool issuer)
{
	gnutls_datum_t raw = { NULL, 0 };
	char *s = NULL;
	int rc;

	rc = issuer ? gnutls_x509_crt_get_raw_issuer_dn(crt, &raw) :
	    gnutls_x509_crt_get_raw_dn(crt, &raw);
	if (rc == GNUTLS_E_SUCCESS)
		s = dn_text(&raw);
	gnutls_free(raw.data);
	return s;
}

/* The subject's last common name, or NULL. */
static char *
last_cn(gnutls_x509_crt_t crt)
{
	char *cn = NULL, *s;
	size_t size;
	int rc;

	for (unsigned i = 0;; i++) {
		size = 0;
		rc = gnutls_x509_crt_get_dn_by_oid(crt,
		    GNUTLS_OID_X520_COMMON_NAME, i, 0, NULL, &size);
		if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER)
			break;
		if ((s = calloc(1, size + 1)) == NULL)
			break;
		if (gnutls_x509_crt_get_dn_by_oid(crt,
		    GNUTLS_OID_X520_COMMON_NAME, i, 0, s, &size) !=
		    GNUTLS_E_SUCCESS || memchr(s, '\0', size) != NULL) {
			free(s);
			s = NULL;
		}
		free(cn);
		cn = s;
	}
	return cn;
}

static bool
add_name(struct ldap_cert *c, char *name)
{
	char **v;

	if (name == NULL)
		return false;
	if ((v = realloc(c->names, (c->n_names + 1) * sizeof(*v))) == NULL) {
		free(name);
		return false;
	}
	c->names = v;
	c->names[c->n_names++] = name;
	return true;
}

/* One subjectAltName entry: dNSName and iPAddress are kept, as text. */
static bool
add_san(struct ldap_cert *c, unsigned type, const gnutls_datum_t *san)
{
	char buf[INET6_ADDRSTRLEN];
	int af;

	if (type == GNUTLS_SAN_DNSNAME) {
		if (memchr(san->data, '\0', san->size) != NULL)
			return false;
		return add_name(c, strndup((const char *)san->data,
		    san->size));
	}
	if (type != GNUTLS_SAN_IPADDRESS)
		return true;
	af = san->size == 4 ? AF_INET : san->size == 16 ? AF_INET6 : 0;
	if (af == 0 || inet_ntop(af, san->data, buf, sizeof(buf)) == NULL)
		return true;
	return add_name(c, strdup(buf));
}

/* The subjectAltName extension, when there is one. */
static bool
read_san(gnutls_x509_crt_t crt, struct ldap_cert *c)
{
	gnutls_subject_alt_names_t sans = NULL;
	gnutls_datum_t ext = { NULL, 0 }, san;
	unsigned type;
	bool ok = false;
	int rc;

	rc = gnutls_x509_crt_get_extension_by_oid2(crt, GNUTLS_X509EXT_OID_SAN,
	    0, &ext, NULL);
	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return true;
	if (rc != GNUTLS_E_SUCCESS ||
	    gnutls_subject_alt_names_init(&sans) != GNUTLS_E_SUCCESS ||
	    gnutls_x509_ext_import_subject_alt_names(&ext, sans, 0) !=
	    GNUTLS_E_SUCCESS)
		goto out;
	for (unsigned i = 0;; i++) {
		rc = gnutls_subject_alt_names_get(sans, i, &type, &san, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc != GNUTLS_E_SUCCESS || !add_san(c, type, &san))
			goto out;
	}
	ok = true;
out:
	if (sans != NULL)
		gnutls_subject_alt_names_deinit(sans);
	gnutls_free(ext.data);
	return ok;
}

bool
ldap_cert_parse(const void *der, size_t len, struct ldap_cert *out)
{
	gnutls_datum_t d;

	memset(out, 0, sizeof(*out));
	if (der == NULL || len == 0 || len > UINT32_MAX ||
	    gnutls_x509_crt_init(&out->crt) != GNUTLS_E_SUCCESS)
		return false;
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_import(out->crt, &d, GNUTLS_X509_FMT_DER) !=
	    GNUTLS_E_SUCCESS)
		goto bad;
	out->not_before = gnutls_x509_crt_get_activation_time(out->crt);
	out->not_after = gnutls_x509_crt_get_expiration_time(out->crt);
	if (out->not_before == (time_t)-1 || out->not_after == (time_t)-1 ||
	    !read_san(out->crt, out))
		goto bad;
	out->subject = name_text(out->crt, false);
	out->issuer = name_text(out->crt, true);
	out->cn = last_cn(out->crt);
	return true;
bad:
	ldap_cert_free(out);
	return false;
}

void
ldap_cert_free(struct ldap_cert *c)
{
	if (c == NULL)
		return;
	if (c->crt != NULL)
		gnutls_x509_crt_deinit(c->crt);
	free(c->subject);
	free(c->issuer);
	free(c->cn);
	for (size_t i = 0; i < c->n_names; i++)
		free(c->names[i]);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

bool
ldap_cert_names_host(const struct ldap_cert *c, const char *host)
{
	size_t n = strlen(host);
	char *name;
	bool match;

	if (c->crt == NULL || n == 0)
		return false;
	/* "dc1.corp.example." is the same host as "dc1.corp.example" */
	if (n > 1 && host[n - 1] == '.') {
		if ((name = strndup(host, n - 1)) == NULL)
			return false;
		match = gnutls_x509_crt_check_hostname2(c->crt, name, 0) != 0;
		free(name);
		return match;
	}
	return gnutls_x509_crt_check_hostname2(c->crt, host, 0) != 0;
}

char *
ldap_cert_names_text(const struct ldap_cert *c)
{
	size_t len = 1;
	char *s;

	if (c->n_names == 0)
		return strdup(c->cn != NULL ? c->cn : c->subject != NULL ?
		    c->subject : "(no name)");
	for (size_t i = 0; i < c->n_names; i++)
		len += strlen(c->names[i]) + 2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < c->n_names; i++) {
		if (i > 0)
			strcat(s, ", ");
		strcat(s, c->names[i]);
	}
	return s;
}
