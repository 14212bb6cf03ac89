/*
 * ldap_filter.c - LDAP search filters from the filter templates of
 * nsmilter.ini (as Postfix ldap_table(5)): %s the whole address, %u the
 * local part, %d the domain, %% a percent sign, every value escaped by
 * libldap per RFC 4515, so no recipient can change what a filter means.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>

#include "directory/ldap/ldap_filter.h"

bool
ldapfilter_template_ok(const char *tmpl)
{
	for (const char *p = tmpl; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '\0' || strchr("sud%", *p) == NULL)
			return false;
	}
	return true;
}

/* Write VALUE (LEN bytes) RFC 4515-escaped to F. */
static int
put_escaped(FILE *f, const char *value, size_t len)
{
	struct berval in, out = { 0, NULL };
	int rc;

	in.bv_val = (char *)value;
	in.bv_len = len;
	if (ldap_bv2escaped_filter_value(&in, &out) != 0)
		return -1;
	rc = fwrite(out.bv_val, 1, out.bv_len, f) == out.bv_len ? 0 : -1;
	ber_memfree(out.bv_val);
	return rc;
}

char *
ldapfilter_expand(const char *tmpl, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t addr_len = strlen(addr);
	size_t local_len = at ? (size_t)(at - addr) : addr_len;
	const char *domain = at ? at + 1 : "";
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int rc = 0;

	if (!ldapfilter_template_ok(tmpl))
		return NULL;
	if ((f = open_memstream(&buf, &size)) == NULL)
		return NULL;
	for (const char *p = tmpl; *p && rc == 0; p++) {
		if (*p != '%') {
			rc = fputc(*p, f) == EOF ? -1 : 0;
			continue;
		}
		switch (*++p) {
		case 's':
			rc = put_escaped(f, addr, addr_len);
			break;
		case 'u':
			rc = put_escaped(f, addr, local_len);
			break;
		case 'd':
			rc = put_escaped(f, domain, strlen(domain));
			break;
		default: /* '%' */
			rc = fputc('%', f) == EOF ? -1 : 0;
			break;
		}
	}
	if (fclose(f) != 0 || rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
