/*
 * fuzz_socketmap.c - the socketmap request path: the input is a client's
 * byte stream, split into netstrings as the server does, each request
 * answered by socketmap_answer through the transport map's decision (a
 * fixed configuration, directories faked from the address's bytes: found,
 * not found, down, or a target address).  Every reply is a valid one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "decision/decide.h"
#include "frontend/netstring.h"
#include "frontend/socketmap.h"
#include "frontend/transport_map.h"
#include "fuzz.h"

static struct config *cfg;

static const char ini[] =
    "[milter]\n"
    "socket = unix:/tmp/nsmilter-fuzz.sock\n"
    "[directory hq]\n"
    "uri = ldap://127.0.0.1:1\n"
    "base = dc=corp,dc=example\n"
    "target_attribute = targetAddress\n"
    "[directory legacy]\n"
    "uri = ldap://127.0.0.1:1\n"
    "base = dc=legacy,dc=example\n"
    "route = legacy.corp.example\n"
    "transport = smtp:[10.8.0.25]\n"
    "hosts = 10.8.0.25\n"
    "[domain corp.example]\n"
    "type = internal-relay\n"
    "directories = hq, legacy\n"
    "subdomains = yes\n"
    "recipient_delimiter = +\n"
    "[domain relay.example]\n"
    "type = internal-relay\n"
    "directories = hq\n"
    "unknown = route\n"
    "fallback_route = old.relay.example\n"
    "fallback_transport = smtp:[10.9.0.1]\n"
    "[domain ext.example]\n"
    "type = external-relay\n"
    "fallback_route = ext.route.example\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config_errors errs = { 0 };
	char path[] = "/tmp/nsmilter-fuzz-XXXXXX";
	int fd = mkstemp(path);

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, ini, sizeof(ini) - 1) != sizeof(ini) - 1)
		abort();
	close(fd);
	cfg = config_load(path, &errs);
	unlink(path);
	if (cfg == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		abort();
	}
	return 0;
}

/* A directory answer made from the address: the same address, the same
 * answer; a target is another address of the shared domain or outside. */
static void
fake_lookup(void *ctx, const struct domain_config *dom, const char *address,
    struct directory_answer *answers)
{
	unsigned h = 0;

	(void)ctx;
	for (const unsigned char *p = (const unsigned char *)address; *p; p++)
		h = h * 31 + *p;
	for (size_t i = 0; i < dom->n_dirs; i++) {
		unsigned v = (h >> (3 * i)) & 7;

		memset(&answers[i], 0, sizeof(answers[i]));
		answers[i].status = v < 3 ? DIRECTORY_NOTFOUND : v < 4 ? DIRECTORY_ERROR :
		    DIRECTORY_FOUND;
		if (v == 3)
			answers[i].error = strdup("fake: down");
		if (v == 5)
			answers[i].target = strdup(h & 64 ?
			    "next@corp.example" : "away@other.example");
		if (v == 6)
			answers[i].entries = 2;
		if (v == 7) {
			answers[i].entries = 2;
			answers[i].ambiguous = 1;
		}
	}
}

static char *
lookup(void *ctx, const char *map, const char *key)
{
	struct decide_input in = { .rcpt = key, .client_addr = "10.8.0.25",
	    .mta_rcpt = strchr(key, '%') ? strchr(key, '%') + 1 : NULL };
	struct decision d;
	char *reply, *s;

	(void)ctx;
	if (strcmp(map, "transport") != 0)
		return strdup("PERM unknown map name");
	decide_recipient(cfg, &in, fake_lookup, NULL, &d);
	reply = transport_map_reply(&d, false);
	free(decision_format_query(&d));
	free(decision_format_log(&d));
	if ((s = decision_reply_text(&d)) != NULL &&
	    (d.action == DECISION_REJECT || d.action == DECISION_TEMPFAIL) &&
	    d.code == NULL)
		abort();
	free(s);
	decision_free(&d);
	return reply;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	const char *payload;
	size_t have = size, plen, used, off = 0;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	while (have > 0) {
		enum netstring_status st = netstring_decode(buf + off, have,
		    SOCKETMAP_MAX_REQUEST, &payload, &plen, &used);
		char *reply;

		if (st != NETSTRING_OK)
			break;
		reply = socketmap_answer(lookup, NULL, (char *)payload, plen);
		if (reply == NULL || (strncmp(reply, "OK ", 3) != 0 &&
		    strncmp(reply, "NOTFOUND ", 9) != 0 &&
		    strncmp(reply, "TEMP ", 5) != 0 &&
		    strncmp(reply, "PERM ", 5) != 0))
			abort();
		free(reply);
		off += used;
		have -= used;
	}
	free(buf);
	return 0;
}
