/*
 * config_syntax.c - syntax checks of single configuration values.
 *
 * Each check returns true when the value is fine, else false with *WHY a
 * malloc'd text quoting the value (NULL when out of memory).  They look at
 * the text only, except config_syntax_readable() which asks the file system.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ldap.h>

#include "base/sockspec.h"
#include "base/xfmt.h"
#include "config/config_priv.h"

#define TEXT_MAX 400    /* reject_text, tempfail_text: fits one reply line */

static bool
valid_domain(const char *s)
{
	size_t total = strlen(s), label = 0;

	if (total == 0 || total > 253)
		return false;
	for (const char *p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		if (label == 0 && *p == '-')
			return false;
		label++;
	}
}

static bool
valid_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

bool
config_syntax_socket(const char *value, char **why)
{
	struct sockspec sp;
	char *detail = NULL;

	if (sockspec_parse(value, &sp, &detail) == 0 &&
	    (sp.family == SOCKSPEC_UNIX || valid_ip(sp.host) ||
	    valid_domain(sp.host))) {
		free(detail);
		return true;
	}
	free(detail);
	*why = xasprintf("'%s' is not unix:/path or inet:port@host",
	    value);
	return false;
}

/* inet: or inet6: only: a TCP endpoint (the metrics, for Prometheus). */
bool
config_syntax_inet_socket(const char *value, char **why)
{
	struct sockspec sp;
	char *detail = NULL;

	if (sockspec_parse(value, &sp, &detail) == 0 &&
	    sp.family != SOCKSPEC_UNIX && (valid_ip(sp.host) ||
	    valid_domain(sp.host))) {
		free(detail);
		return true;
	}
	free(detail);
	*why = xasprintf("'%s' is not inet:port@address", value);
	return false;
}

bool
config_syntax_ldap_uri(const char *value, char **why)
{
	LDAPURLDesc *lud = NULL;

	if ((strncasecmp(value, "ldap://", 7) == 0 ||
	    strncasecmp(value, "ldaps://", 8) == 0 ||
	    strncasecmp(value, "ldapi://", 8) == 0) &&
	    ldap_url_parse(value, &lud) == LDAP_URL_SUCCESS) {
		ldap_free_urldesc(lud);
		return true;
	}
	*why = xasprintf("'%s' is not an ldap://, ldaps:// or ldapi:// URI",
	    value);
	return false;
}

bool
config_syntax_ip(const char *value, char **why)
{
	if (valid_ip(value))
		return true;
	*why = xasprintf("'%s' is not an IP address", value);
	return false;
}

bool
config_syntax_domain(const char *value, char **why)
{
	if (valid_domain(value))
		return true;
	*why = xasprintf("'%s' is not a domain name", value);
	return false;
}

bool
config_syntax_filter(const char *value, char **why)
{
	int depth = 0;
	bool expands = false;

	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '%' && (p[1] == '\0' || strchr("sud%", p[1]) == NULL)) {
			*why = xasprintf("'%s' is not a filter template "
			    "(%% must be followed by s, u, d or %%)", value);
			return false;
		}
	}
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			break;
		else if (*p == '%' && p[1] != '\0') {
			p++;
			expands |= *p == 's' || *p == 'u' || *p == 'd';
		}
	}
	if (value[0] != '(' || depth != 0) {
		*why = xasprintf("'%s' is not an LDAP filter "
		    "(unbalanced parentheses)", value);
		return false;
	}
	if (!expands) {
		*why = xasprintf("'%s' does not use %%s, %%u or %%d", value);
		return false;
	}
	return true;
}

bool
config_syntax_ldap_filter(const char *value, char **why)
{
	int depth = 0;
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			break;
		else if (*p == '\\' && p[1] != '\0')
			p++;
	}
	if (value[0] != '(' || depth != 0 || *p != '\0') {
		*why = xasprintf("'%s' is not an LDAP filter "
		    "(unbalanced parentheses)", value);
		return false;
	}
	return true;
}

bool
config_syntax_delimiter(const char *value, char **why)
{
	for (const char *p = value; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c >= 127 || isalnum(c) ||
		    strchr("@\"\\()<>[],;:", c) != NULL) {
			*why = xasprintf("'%s' is not a set of delimiter "
			    "characters (e.g. + or +-)", value);
			return false;
		}
	}
	return true;
}

bool
config_syntax_text(const char *value, char **why)
{
	if (strlen(value) > TEXT_MAX) {
		*why = xasprintf("is longer than %d characters", TEXT_MAX);
		return false;
	}
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 127) {
			*why = xasprintf("'%s' contains a character that is "
			    "not printable ASCII", value);
			return false;
		}
	}
	return true;
}

bool
config_syntax_abs_path(const char *value, char **why)
{
	if (value[0] == '/')
		return true;
	*why = xasprintf("'%s' is not an absolute path", value);
	return false;
}

bool
config_syntax_readable(const char *value, char **why)
{
	if (!config_syntax_abs_path(value, why))
		return false;
	if (access(value, R_OK) == 0)
		return true;
	*why = xasprintf("cannot read '%s': %s", value, strerror(errno));
	return false;
}

bool
config_syntax_attribute(const char *value, char **why)
{
	const char *p = value;

	if (isalpha((unsigned char)*p)) {
		while (isalnum((unsigned char)*p) || *p == '-')
			p++;
	} else if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
	}
	if (p != value && *p == '\0')
		return true;
	*why = xasprintf("'%s' is not an LDAP attribute name", value);
	return false;
}

bool
config_syntax_word(const char *value, char **why)
{
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 127) {
			*why = xasprintf("'%s' contains white space or "
			    "control characters", value);
			return false;
		}
	}
	return true;
}

bool
config_syntax_section_name(const char *value)
{
	if (*value == '\0')
		return false;
	for (const char *p = value; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			return false;
	}
	return true;
}
