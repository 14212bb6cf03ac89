/*
 * ldap_tls.c - why a directory's certificate was refused (see ldap_tls.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "base/xfmt.h"
#include "directory/ldap/ldap_cert.h"
#include "directory/ldap/ldap_tls.h"

/* "2026-12-01 23:59:59 UTC" */
static void
format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

char *
ldap_tls_explain_cert(const void *der, size_t len, const char *host,
    const char *ca_file, time_t now)
{
	struct ldap_cert c;
	char *names, *msg;
	char when[64];

	if (!ldap_cert_parse(der, len, &c))
		return NULL;
	if ((names = ldap_cert_names_text(&c)) == NULL) {
		ldap_cert_free(&c);
		return NULL;
	}
	if (!ldap_cert_names_host(&c, host)) {
		msg = xasprintf("host name %s does not match certificate %s",
		    host, names);
	} else if (now > c.not_after) {
		format_time(c.not_after, when, sizeof(when));
		msg = xasprintf("certificate %s expired %s", names, when);
	} else if (now < c.not_before) {
		format_time(c.not_before, when, sizeof(when));
		msg = xasprintf("certificate %s not valid before %s", names,
		    when);
	} else if (ca_file != NULL && *ca_file != '\0') {
		msg = xasprintf("certificate not trusted (tls_ca_file %s; "
		    "issued by %s)", ca_file,
		    c.issuer != NULL ? c.issuer : "?");
	} else {
		msg = xasprintf("certificate not trusted (no tls_ca_file, the "
		    "system's CA certificates; issued by %s)",
		    c.issuer != NULL ? c.issuer : "?");
	}
	free(names);
	ldap_cert_free(&c);
	return msg;
}

/* The host of URI, as the certificate must name it. */
static char *
uri_host(const char *uri)
{
	LDAPURLDesc *lud = NULL;
	char *host;

	if (ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS)
		return NULL;
	host = strdup(lud->lud_host != NULL && *lud->lud_host != '\0' ?
	    lud->lud_host : "localhost");
	ldap_free_urldesc(lud);
	return host;
}

char *
ldap_tls_explain(LDAP *ld, const char *uri, const char *ca_file)
{
	struct berval der = { 0, NULL };
	char *host, *msg = NULL;

	if ((host = uri_host(uri)) == NULL)
		return NULL;
	if (ldap_get_option(ld, LDAP_OPT_X_TLS_PEERCERT, &der) ==
	    LDAP_OPT_SUCCESS && der.bv_val != NULL)
		msg = ldap_tls_explain_cert(der.bv_val, der.bv_len, host,
		    ca_file, time(NULL));
	ber_memfree(der.bv_val);
	free(host);
	return msg;
}
