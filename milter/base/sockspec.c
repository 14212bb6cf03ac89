/*
 * sockspec.c - parse "unix:/path", "local:/path", "inet:PORT@HOST",
 * "inet6:PORT@HOST": the one parser behind the configuration check, the
 * daemon (which unix socket to chmod) and every listening front end.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/sockspec.h"
#include "base/xfmt.h"

static const char *
after_prefix(const char *spec, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncasecmp(spec, prefix, n) == 0 ? spec + n : NULL;
}

const char *
sockspec_path(const char *spec)
{
	const char *p;

	if (spec == NULL)
		return NULL;
	if ((p = after_prefix(spec, "unix:")) == NULL)
		p = after_prefix(spec, "local:");
	return p;
}

static int
parse_inet(const char *spec, const char *rest, struct sockspec *out,
    char **why)
{
	const char *at = strchr(rest, '@');
	size_t plen, hlen;
	long port = 0;

	if (at == NULL || at == rest || at[1] == '\0') {
		*why = xasprintf("'%s': expected inet:PORT@HOST", spec);
		return -1;
	}
	plen = (size_t)(at - rest);
	for (size_t i = 0; i < plen; i++) {
		if (!isdigit((unsigned char)rest[i]) || port > 65535) {
			port = -1;
			break;
		}
		port = port * 10 + (rest[i] - '0');
	}
	if (port < 1 || port > 65535) {
		*why = xasprintf("'%s': port must be 1-65535", spec);
		return -1;
	}
	memcpy(out->port, rest, plen);
	out->port[plen] = '\0';
	at++;
	hlen = strlen(at);
	if (at[0] == '[' && hlen > 2 && at[hlen - 1] == ']') {
		at++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(out->host)) {
		*why = xasprintf("'%s': bad host", spec);
		return -1;
	}
	memcpy(out->host, at, hlen);
	out->host[hlen] = '\0';
	return 0;
}

int
sockspec_parse(const char *spec, struct sockspec *out, char **why)
{
	const char *rest;

	*why = NULL;
	memset(out, 0, sizeof(*out));
	if ((rest = sockspec_path(spec)) != NULL) {
		out->family = SOCKSPEC_UNIX;
		if (rest[0] != '/' || strlen(rest) >= sizeof(out->path)) {
			*why = xasprintf("'%s': socket path must be absolute "
			    "and at most %zu bytes", spec, sizeof(out->path) - 1);
			return -1;
		}
		memcpy(out->path, rest, strlen(rest) + 1);
		return 0;
	}
	if ((rest = after_prefix(spec, "inet:")) != NULL) {
		out->family = SOCKSPEC_INET;
		return parse_inet(spec, rest, out, why);
	}
	if ((rest = after_prefix(spec, "inet6:")) != NULL) {
		out->family = SOCKSPEC_INET6;
		return parse_inet(spec, rest, out, why);
	}
	*why = xasprintf("'%s' is not unix:/path, inet:port@host or "
	    "inet6:port@host", spec);
	return -1;
}
