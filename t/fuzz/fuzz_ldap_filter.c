/*
 * fuzz_ldap_filter.c - filter expansion (directory/ldap/ldap_filter.c):
 * the first line of the input is the template, the rest the address.
 * Whatever the address, it cannot add an unescaped filter special to an
 * expansion: the parentheses of the result are those of the template.
 */
#include <stdlib.h>
#include <string.h>

#include "directory/ldap/ldap_filter.h"
#include "fuzz.h"

static size_t
count(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size), *nl, *res;
	const char *tmpl, *addr;

	if (in == NULL)
		return 0;
	if ((nl = strchr(in, '\n')) != NULL) {
		*nl = '\0';
		tmpl = in;
		addr = nl + 1;
	} else {
		tmpl = "(|(mail=%s)(uid=%u)(dc=%d))";
		addr = in;
	}
	if (ldapfilter_template_ok(tmpl)) {
		res = ldapfilter_expand(tmpl, addr);
		if (res != NULL && (count(res, '(') != count(tmpl, '(') ||
		    count(res, ')') != count(tmpl, ')')))
			abort();
		free(res);
	}
	free(in);
	return 0;
}
