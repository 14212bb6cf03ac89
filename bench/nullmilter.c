/*
 * nullmilter.c - the protocol ceiling for bench/: a libmilter milter that
 * does nothing.
 *
 * Same callbacks and the same negotiation as nsmilter (milter/frontend/milter.c:
 * actions DELRCPT|ADDRCPT_PAR, as nsmilter with its default trace_header =
 * no; skip HELO, headers, EOH, body, unknown and DATA; macro "i" at RCPT
 * and EOM), a private context per
 * connection, and every callback answers continue.  What nsmilter adds on
 * top of this is its own work: parsing, deciding, the cache, the directories
 * and the envelope changes.
 *
 *   nullmilter SOCKET     (unix:/path or inet:PORT@127.0.0.1), foreground;
 *                         SIGTERM/SIGINT stop it (libmilter's handler)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libmilter/mfapi.h>

struct nconn {
	unsigned long rcpts;
};

static sfsistat
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR;
	unsigned long skip = SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH |
	    SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA;

	(void)f2;
	(void)f3;
	*pf0 = want & f0;
	*pf1 = skip & f1;
	*pf2 = 0;
	*pf3 = 0;
	smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
	smfi_setsymlist(ctx, SMFIM_EOM, "i");
	return SMFIS_CONTINUE;
}

static sfsistat
null_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct nconn *c = calloc(1, sizeof(*c));

	(void)hostname;
	(void)sa;
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

static sfsistat
null_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
null_envrcpt(SMFICTX *ctx, char **argv)
{
	struct nconn *c = smfi_getpriv(ctx);

	(void)argv;
	(void)smfi_getsymval(ctx, "i");
	if (c != NULL)
		c->rcpts++;
	return SMFIS_CONTINUE;
}

static sfsistat
null_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
null_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
null_close(SMFICTX *ctx)
{
	struct nconn *c = smfi_getpriv(ctx);

	if (c != NULL) {
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
	.xxfi_name = "nullmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR | SMFIF_ADDHDRS,
	.xxfi_connect = null_connect,
	.xxfi_envfrom = null_envfrom,
	.xxfi_envrcpt = null_envrcpt,
	.xxfi_eom = null_eom,
	.xxfi_abort = null_abort,
	.xxfi_close = null_close,
	.xxfi_negotiate = null_negotiate,
};

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: nullmilter unix:/path | "
		    "inet:PORT@127.0.0.1\n");
		return 64;
	}
	umask(0);	/* Postfix (user postfix) must be able to connect */
	if (smfi_register(null_desc) != MI_SUCCESS ||
	    smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
		return 69;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
