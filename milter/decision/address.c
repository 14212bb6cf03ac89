/*
 * address.c - envelope recipient parsing, normalisation and encodings.
 *
 * Parsing is deliberately split in two: find the domain first (so that an
 * address outside every shared domain is skipped whatever it looks like),
 * then judge the syntax (so that a malformed address of a shared domain is
 * rejected 501 5.1.3 before it gets anywhere near an LDAP filter).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decision/address.h"

#define LOCAL_MAX 64     /* RFC 5321 4.5.3.1.1 */
#define ADDRESS_MAX 254  /* RFC 5321 4.5.3.1.3 path minus the brackets */

void
address_free(struct address *a)
{
	if (a == NULL)
		return;
	free(a->full);
	free(a->local);
	free(a->domain);
	memset(a, 0, sizeof(*a));
}

static int
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1;	/* SMTPUTF8: left to the MTA */
	if (isalnum(c))
		return 1;
	return strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* Why LOCAL (length LEN) is not a valid local part, or NULL. */
static const char *
local_part_problem(const char *local, size_t len)
{
	size_t i;

	if (len == 0)
		return "empty local part";
	if (len > LOCAL_MAX)
		return "local part over 64 octets";
	if (local[0] == '"') {
		if (len < 2 || local[len - 1] != '"')
			return "unbalanced quotes";
		for (i = 1; i < len - 1; i++) {
			unsigned char c = (unsigned char)local[i];
			if (c == '\\') {
				i++;
				if (i >= len - 1)
					return "unbalanced quotes";
				continue;
			}
			if (c == '"')
				return "unbalanced quotes";
		}
		return NULL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c == '"')
			return "unbalanced quotes";
		if (!is_atext(c))
			return "invalid character in local part";
	}
	return NULL;
}

static const char *
domain_problem(const char *domain)
{
	size_t len = strlen(domain), label = 0, i;

	if (len == 0)
		return "empty domain";
	if (domain[0] == '[') {
		if (domain[len - 1] != ']')
			return "invalid address literal";
		for (i = 1; i < len - 1; i++)
			if (!isalnum((unsigned char)domain[i]) &&
			    strchr(".:-", domain[i]) == NULL)
				return "invalid address literal";
		return NULL;
	}
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63)
				return "invalid domain";
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_' || c >= 0x80))
			return "invalid domain";
		label++;
	}
	return NULL;
}

int
address_parse(const char *raw, struct address *out)
{
	const char *p, *end, *at = NULL, *any_at = NULL;
	int quoted = 0, balanced;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (raw == NULL)
		return ADDRESS_NODOMAIN;

	p = raw;
	end = raw + strlen(raw);
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p < end && *p == '<')
		p++;
	if (end > p && end[-1] == '>')
		end--;
	/* A trailing dot is no part of the domain (as the MTAs resolve it):
	 * "user@corp.example." is user@corp.example; ".." stays invalid. */
	if (end - p >= 3 && end[-1] == '.' && end[-2] != '.' && end[-2] != '@')
		end--;
	/* Source route: <@a,@b:user@domain> */
	if (p < end && *p == '@') {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon != NULL)
			p = colon + 1;
	}
	/* The domain starts after the last '@' outside quotes. */
	for (i = 0; p + i < end; i++) {
		char c = p[i];
		if (quoted && c == '\\' && p + i + 1 < end) {
			i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == '@') {
			any_at = p + i;
			if (!quoted)
				at = p + i;
		}
	}
	balanced = !quoted;
	if (at == NULL)
		at = any_at;
	if (at == NULL || at + 1 >= end)
		return ADDRESS_NODOMAIN;

	out->local = strndup(p, (size_t)(at - p));
	out->domain = strndup(at + 1, (size_t)(end - at - 1));
	if (out->local == NULL || out->domain == NULL)
		goto nomem;
	for (char *d = out->domain; *d; d++)
		*d = (char)tolower((unsigned char)*d);
	if (asprintf(&out->full, "%s@%s", out->local, out->domain) < 0) {
		out->full = NULL;
		goto nomem;
	}

	for (const char *q = p; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20 || c == 0x7f) {
			out->why = "control character";
			return ADDRESS_INVALID;
		}
	}
	if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
		out->why = "control character";
		return ADDRESS_INVALID;
	}
	if (!balanced) {
		out->why = "unbalanced quotes";
		return ADDRESS_INVALID;
	}
	if (strlen(out->full) > ADDRESS_MAX) {
		out->why = "address over 254 octets";
		return ADDRESS_INVALID;
	}
	if ((out->why = local_part_problem(out->local, strlen(out->local))) != NULL)
		return ADDRESS_INVALID;
	if ((out->why = domain_problem(out->domain)) != NULL)
		return ADDRESS_INVALID;
	return ADDRESS_OK;

nomem:
	address_free(out);
	return -1;
}

int
address_unhack(const char *raw, char **out)
{
	const char *p, *end, *at = NULL, *bang, *pct = NULL;
	size_t len;
	int quoted = 0;

	*out = NULL;
	if (raw == NULL)
		return 0;
	p = raw;
	end = raw + strlen(raw);
	if (p < end && *p == '<')
		p++;
	if (end > p && end[-1] == '>')
		end--;
	if (p < end && *p == '"')
		return 0;	/* a quoted local part is one word to the MTA */
	for (const char *q = p; q < end; q++)
		if (*q == '"')
			quoted = !quoted;
		else if (*q == '@' && !quoted)
			at = q;
	len = (size_t)((at != NULL ? at : end) - p);
	if ((bang = memchr(p, '!', len)) != NULL) {
		/* site!user -> user@site */
		if (bang == p || bang + 1 == p + len)
			return 0;
		if (asprintf(out, "%.*s@%.*s", (int)(p + len - bang - 1),
		    bang + 1, (int)(bang - p), p) < 0) {
			*out = NULL;
			return -1;
		}
		return 1;
	}
	for (const char *q = p; q < p + len; q++)
		if (*q == '%')
			pct = q;
	if (pct == NULL || pct == p || pct + 1 == p + len)
		return 0;
	/* user%domain -> user@domain */
	if (asprintf(out, "%.*s@%.*s", (int)(pct - p), p,
	    (int)(p + len - pct - 1), pct + 1) < 0) {
		*out = NULL;
		return -1;
	}
	return 2;
}

char *
address_strip_extension(const struct address *a, const char *delims)
{
	size_t n;
	char *res;

	if (delims == NULL || *delims == '\0' || a->local == NULL ||
	    a->domain == NULL || a->local[0] == '"')
		return NULL;
	n = strcspn(a->local, delims);
	if (n == 0 || a->local[n] == '\0')
		return NULL;	/* no extension, or the delimiter comes first */
	if (asprintf(&res, "%.*s@%s", (int)n, a->local, a->domain) < 0)
		return NULL;
	return res;
}

char *
address_xtext(const char *s)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 33 && *p <= 126 && *p != '+' && *p != '=')
			fputc(*p, f);
		else
			fprintf(f, "+%02X", *p);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
