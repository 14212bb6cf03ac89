/*
 * mirror_entry.c - the addresses and the target of a directory entry, as
 * the mirror keeps them (see nsmilter.ini(5), "address_attributes").
 *
 * Exchange and Active Directory keep every address of a recipient in
 * proxyAddresses with a type prefix: "SMTP:" for the primary address,
 * "smtp:" for the others, "X500:", "SIP:", "x400:" ... for addresses of
 * other kinds.  Only SMTP addresses are mail addresses; a value without a
 * prefix (mail, mailAlternateAddress) is one as it is.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/mirror/mirror_entry.h"

/* Trim V/LEN; strip "smtp:".  False when another prefix is present. */
static bool
strip(const char **v, size_t *len)
{
	const char *s = *v;
	size_t n = *len, i;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	/* A type prefix: letters/digits then ':' before any '@'. */
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')))
			break;
	}
	if (i < n && s[i] == ':') {
		if (i != 4 || strncasecmp(s, "smtp", 4) != 0)
			return false;
		s += 5;
		n -= 5;
	}
	*v = s;
	*len = n;
	return true;
}

/* Plausible as an address: one "@" not at either end, nothing unsafe. */
static bool
plausible(const char *s, size_t n)
{
	const char *at;

	if (n == 0 || n > MIRROR_ADDRESS_MAX)
		return false;
	if ((at = memchr(s, '@', n)) == NULL || at == s || at == s + n - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
			return false;
	}
	return true;
}

bool
mirror_address_value(const char *v, size_t len, char *out)
{
	if (!strip(&v, &len) || !plausible(v, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return true;
}

char *
mirror_target_value(const char *v, size_t len, bool *bad)
{
	*bad = false;
	if (!strip(&v, &len) || !plausible(v, len)) {
		*bad = true;
		return NULL;
	}
	return strndup(v, len);
}

void
mirror_entry_free(struct mirror_entry *e)
{
	for (size_t i = 0; i < e->n_addrs; i++)
		free(e->addrs[i]);
	free(e->addrs);
	free(e->target);
	memset(e, 0, sizeof(*e));
}

/* Append address A unless the entry has it already; -1 out of memory. */
static int
add_address(struct mirror_entry *e, size_t *cap, const char *a)
{
	for (size_t i = 0; i < e->n_addrs; i++)
		if (strcmp(e->addrs[i], a) == 0)
			return 0;
	if (e->n_addrs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		char **v = realloc(e->addrs, ncap * sizeof(*v));

		if (v == NULL)
			return -1;
		e->addrs = v;
		*cap = ncap;
	}
	if ((e->addrs[e->n_addrs] = strdup(a)) == NULL)
		return -1;
	e->n_addrs++;
	return 0;
}

int
mirror_entry_from_ldap(LDAP *ld, LDAPMessage *msg, char *const *attrs,
    const char *target_attr, struct mirror_entry *out)
{
	char buf[MIRROR_ADDRESS_MAX + 1];
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; attrs != NULL && attrs[i] != NULL; i++) {
		struct berval **vals = ldap_get_values_len(ld, msg, attrs[i]);

		for (size_t j = 0; vals != NULL && vals[j] != NULL; j++) {
			if (!mirror_address_value(vals[j]->bv_val,
			    vals[j]->bv_len, buf))
				continue;
			if (add_address(out, &cap, buf) != 0) {
				ldap_value_free_len(vals);
				goto nomem;
			}
		}
		if (vals != NULL)
			ldap_value_free_len(vals);
	}
	if (target_attr != NULL && *target_attr != '\0') {
		struct berval **vals = ldap_get_values_len(ld, msg,
		    target_attr);
		bool bad = false;

		if (vals != NULL && vals[0] != NULL) {
			out->has_target = true;
			out->target = mirror_target_value(vals[0]->bv_val,
			    vals[0]->bv_len, &bad);
			if (out->target == NULL && !bad) {
				ldap_value_free_len(vals);
				goto nomem;
			}
		}
		if (vals != NULL)
			ldap_value_free_len(vals);
	}
	return 0;
nomem:
	mirror_entry_free(out);
	return -1;
}
