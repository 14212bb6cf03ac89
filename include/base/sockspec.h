/*
 * sockspec.h - the socket specifications of nsmilter.ini and -p, parsed in
 * one place: "unix:/path" (or "local:/path"), "inet:PORT@HOST" and
 * "inet6:PORT@HOST", HOST a name or an address ("[v6addr]" allowed).
 * The prefixes are case-insensitive, as libmilter's.
 */
#ifndef NSMILTER_SOCKSPEC_H
#define NSMILTER_SOCKSPEC_H

#include <sys/un.h>

enum sockspec_family { SOCKSPEC_UNIX, SOCKSPEC_INET, SOCKSPEC_INET6 };

struct sockspec {
	enum sockspec_family family;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* UNIX */
	char host[256];    /* INET, INET6: brackets removed */
	char port[6];      /* INET, INET6: 1-65535 */
};

/*
 * Parse SPEC into OUT.  Returns 0, or -1 with *WHY set to a new string
 * ("expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST", ...).
 */
int sockspec_parse(const char *spec, struct sockspec *out, char **why);

/* The file behind a unix/local spec, or NULL for inet/inet6 and bad specs. */
const char *sockspec_path(const char *spec);

#endif
