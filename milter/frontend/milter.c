/*
 * milter.c - libmilter callbacks.
 *
 * RCPT: decide (decide.c) and answer: continue, 550/501/554 reject or 451
 * tempfail with the replies of README ("Failure behaviour").  EOM: for each routed recipient, delete the
 * original and add the new one with ORCPT and the client's ESMTP arguments.
 * Everything a connection needs lives in its private context: libmilter may
 * run one connection's callbacks on different threads.  Callbacks that are
 * not needed are NULL, and negotiate tells the MTA to skip HELO, headers and
 * body.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "decision/address.h"
#include "decision/decide.h"
#include "decision/decision_metrics.h"
#include "decision/recipient.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "frontend/milter.h"
#include "frontend/msglog.h"
#include "decision/runtime.h"

#define HARVEST_TEXT "Too many unknown recipients, try again later"

struct route {
	char *orig;         /* as given in RCPT TO, brackets included */
	char *to;           /* new recipient, without brackets */
	char *args;         /* ESMTP arguments for smfi_addrcpt_par */
	char *header;       /* X-NSMilter-Route value, or NULL */
	struct route *next;
};

struct conn {
	unsigned long id;
	struct runtime *rt;     /* the snapshot this connection started with */
	char client[INET6_ADDRSTRLEN];
	bool have_client;
	unsigned unknowns;      /* harvest guard */
	struct route *routes, **tail;
	struct msglog msg;      /* the transaction's decided recipients */
};

static atomic_ulong conn_ids;
static atomic_uint conns_open, conns_max;   /* the connection cap */
static _Atomic uint64_t cap_logged_ms;      /* one cap log line per 10 s */

void
milter_set_max_connections(unsigned max)
{
	atomic_store(&conns_max, max);
}

/* Take a connection slot; false at the cap (logged at most every 10 s). */
static bool
conn_slot_take(void)
{
	unsigned max = atomic_load(&conns_max);
	uint64_t now, last;

	if (atomic_fetch_add(&conns_open, 1) < max || max == 0)
		return true;
	atomic_fetch_sub(&conns_open, 1);
	now = clock_ms();
	last = atomic_load(&cap_logged_ms);
	if ((last == 0 || now - last >= 10000) &&
	    atomic_compare_exchange_strong(&cap_logged_ms, &last, now))
		log_warning("%u milter connections open, the most the "
		    "descriptor limit allows: answering tempfail to new ones "
		    "until some close", max);
	return false;
}

static void
routes_clear(struct conn *c)
{
	struct route *r, *next;

	for (r = c->routes; r != NULL; r = next) {
		next = r->next;
		free(r->orig);
		free(r->to);
		free(r->args);
		free(r->header);
		free(r);
	}
	c->routes = NULL;
	c->tail = &c->routes;
	msglog_clear(&c->msg);	/* the rest of the transaction's state */
}

char *
milter_reply_escape(const char *text)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = text; *p; p++)
		n += *p == '%' ? 2 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '%') {
			*o++ = '%';
			*o++ = '%';
		} else if (*p < 0x20 || *p == 0x7f)
			*o++ = '?';
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

static sfsistat
reply(SMFICTX *ctx, const char *code, const char *dsn, const char *text)
{
	char *safe = milter_reply_escape(text);

	if (safe == NULL || smfi_setreply(ctx, (char *)code, (char *)dsn,
	    safe) != MI_SUCCESS)
		log_warning("smfi_setreply %s %s failed", code, dsn);
	free(safe);
	return code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

/* Strip the angle brackets of an RCPT TO argument (new string). */
static char *
unbracket(const char *rcpt)
{
	size_t len = strlen(rcpt);

	if (len >= 2 && rcpt[0] == '<' && rcpt[len - 1] == '>')
		return strndup(rcpt + 1, len - 2);
	return strdup(rcpt);
}

/* ESMTP arguments for the new recipient: the client's, plus our ORCPT. */
static char *
route_args(char **argv, const char *orig)
{
	char *buf = NULL, *x;
	size_t size = 0;
	bool have_orcpt = false;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	for (int i = 1; argv[i] != NULL; i++) {
		if (strncasecmp(argv[i], "ORCPT=", 6) == 0)
			have_orcpt = true;
		fprintf(f, "%s%s", i > 1 ? " " : "", argv[i]);
	}
	if (!have_orcpt && (x = address_xtext(orig)) != NULL) {
		fprintf(f, "%sORCPT=rfc822;%s", argv[1] ? " " : "", x);
		free(x);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
log_decision(SMFICTX *ctx, struct conn *c, const struct recipient *rec)
{
	const struct decision *d = &rec->d;
	const char *qid = smfi_getsymval(ctx, "i");

	/* rewrite = no: the socketmap routes, the address stays as it is. */
	bool kept = d->action == DECISION_ROUTE && !d->target &&
	    d->domain != NULL && !d->domain->rewrite;

	log_info("%s%srcpt=<%s> action=%s%s%s ms=%.1f%s%s conn=%lu",
	    qid && *qid ? qid : "", qid && *qid ? ": " : "",
	    rec->rcpt ? rec->rcpt : "?",
	    rec->fields ? rec->fields : decision_action_name(d->action),
	    kept ? " rewrite=no" : "", rec->observe ? " mode=observe" : "",
	    rec->ms, rec->cache ? " cache=" : "", rec->cache ? rec->cache : "",
	    c->id);
}

/*
 * The address the MTA resolved this RCPT to ({rcpt_addr}: Postfix's
 * trivial-rewrite, Sendmail's ruleset 0), or NULL when it did not say or
 * rejects the recipient itself ({rcpt_mailer} "error").  README "Address
 * spellings".
 */
static const char *
mta_rcpt(SMFICTX *ctx)
{
	const char *mailer = smfi_getsymval(ctx, "{rcpt_mailer}");

	if (mailer != NULL && strcmp(mailer, "error") == 0)
		return NULL;
	return smfi_getsymval(ctx, "{rcpt_addr}");
}

static sfsistat
nsm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR;
	static atomic_bool told_plain, told_none;
	struct runtime *rt = runtime_acquire();
	unsigned long skip = SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH |
	    SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA;

	(void)f2;
	(void)f3;
	/* Headers only when trace_header = yes: ask for what is used. */
	if (rt != NULL && rt->cfg->milter.trace_header)
		want |= SMFIF_ADDHDRS;
	runtime_release(rt);
	/*
	 * Without add-recipient-with-parameters (an older MTA), routed
	 * recipients are added with plain smfi_addrcpt: the MTA then makes
	 * up ORCPT from the new address and the client's NOTIFY is lost,
	 * but the mail goes where it belongs instead of waiting.
	 */
	if (!(f0 & SMFIF_ADDRCPT_PAR) && (f0 & SMFIF_ADDRCPT)) {
		want |= SMFIF_ADDRCPT;
		if (!atomic_exchange(&told_plain, true))
			log_warning("MTA does not offer add-recipient-with-"
			    "parameters (actions 0x%lx): routed recipients "
			    "are added without ESMTP parameters", f0);
	}
	if (!(f0 & SMFIF_DELRCPT) ||
	    !(f0 & (SMFIF_ADDRCPT_PAR | SMFIF_ADDRCPT))) {
		if (!atomic_exchange(&told_none, true))
			log_warning("MTA does not offer recipient changes "
			    "(actions 0x%lx): routed recipients cannot be "
			    "rewritten", f0);
	}
	*pf0 = want & f0;
	*pf1 = skip & f1;
	*pf2 = 0;
	*pf3 = 0;
	/* The queue id at RCPT, where the MTA has one already, and where
	 * the MTA resolved the recipient to (mta_rcpt). */
	smfi_setsymlist(ctx, SMFIM_ENVRCPT,
	    "i {rcpt_addr} {rcpt_host} {rcpt_mailer}");
	smfi_setsymlist(ctx, SMFIM_EOM, "i");
	return SMFIS_CONTINUE;
}

static sfsistat
nsm_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct conn *c = calloc(1, sizeof(*c));

	(void)hostname;
	if (!conn_slot_take()) {
		free(c);
		return SMFIS_TEMPFAIL;
	}
	if (c == NULL || (c->rt = runtime_acquire()) == NULL) {
		free(c);
		atomic_fetch_sub(&conns_open, 1);
		log_err("cannot accept connection: %s",
		    c ? "no configuration" : "out of memory");
		return SMFIS_TEMPFAIL;
	}
	c->id = atomic_fetch_add(&conn_ids, 1) + 1;
	c->tail = &c->routes;
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		c->have_client = inet_ntop(AF_INET, &in->sin_addr, c->client,
		    sizeof(c->client)) != NULL;
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			c->have_client = inet_ntop(AF_INET,
			    &in6->sin6_addr.s6_addr[12], c->client,
			    sizeof(c->client)) != NULL;
		else
			c->have_client = inet_ntop(AF_INET6, &in6->sin6_addr,
			    c->client, sizeof(c->client)) != NULL;
	}
	smfi_setpriv(ctx, c);
	log_debug("conn=%lu connect from %s [%s]", c->id,
	    hostname ? hostname : "unknown",
	    c->have_client ? c->client : "local");
	return SMFIS_CONTINUE;
}

static sfsistat
nsm_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);

	(void)argv;
	if (c != NULL)
		routes_clear(c);	/* a new transaction */
	return SMFIS_CONTINUE;
}

static sfsistat
nsm_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = smfi_getpriv(ctx);
	const struct config *cfg;
	struct recipient rec;
	const struct decision *d;
	sfsistat rc = SMFIS_CONTINUE;
	bool observe;

	if (c == NULL || argv == NULL || argv[0] == NULL)
		return SMFIS_CONTINUE;
	cfg = c->rt->cfg;

	/* Harvest guard: after max_unknown unknowns, slow the client down. */
	if (cfg->milter.max_unknown > 0 &&
	    c->unknowns >= cfg->milter.max_unknown) {
		const char *qid = smfi_getsymval(ctx, "i");
		char *raw = log_escape(argv[0]);

		observe = cfg->milter.mode == CONFIG_MODE_OBSERVE;
		log_info("%s%srcpt=%s action=tempfail code=451 dsn=4.7.1 "
		    "reason=harvest unknowns=%u%s conn=%lu",
		    qid && *qid ? qid : "", qid && *qid ? ": " : "",
		    raw ? raw : "?", c->unknowns,
		    observe ? " mode=observe" : "", c->id);
		free(raw);
		metrics_guard(METRICS_GUARD_HARVEST);
		if (!observe) {
			char *r = unbracket(argv[0]), *text = NULL;

			msglog_add(&c->msg, "tempfail", r ? r : argv[0], NULL,
			    false);
			if (r == NULL || asprintf(&text, "<%s>: %s", r,
			    HARVEST_TEXT) < 0)
				text = NULL;
			rc = reply(ctx, "451", "4.7.1",
			    text ? text : HARVEST_TEXT);
			free(r);
			free(text);
			return rc;
		}
	}

	recipient_decide_mta(cfg, c->rt->resolver, argv[0], mta_rcpt(ctx),
	    c->have_client ? c->client : NULL, &rec);
	log_decision(ctx, c, &rec);
	decision_count(&rec.d);
	msglog_add(&c->msg, decision_action_name(rec.d.action),
	    rec.d.address ? rec.d.address : argv[0],
	    rec.d.action == DECISION_ROUTE ? rec.d.to : NULL, rec.observe);

	if (rec.d.action == DECISION_REJECT && rec.d.reason == REASON_UNKNOWN)
		c->unknowns++;
	if (rec.observe) {
		recipient_free(&rec);
		return SMFIS_CONTINUE;
	}
	d = &rec.d;
	switch (d->action) {
	case DECISION_ROUTE:
		if ((d->domain->rewrite || d->target) &&
		    strcasecmp(d->to, d->address) != 0) {
			struct route *r = calloc(1, sizeof(*r));
			char *orig = unbracket(argv[0]);

			if (r == NULL || orig == NULL ||
			    (r->orig = strdup(argv[0])) == NULL ||
			    (r->to = strdup(d->to)) == NULL ||
			    (r->args = route_args(argv, orig)) == NULL) {
				if (r != NULL) {
					free(r->orig);
					free(r->to);
					free(r);
				}
				free(orig);
				rc = reply(ctx, "451", "4.3.0",
				    "Out of memory, try again later");
				break;
			}
			if (cfg->milter.trace_header &&
			    asprintf(&r->header, "<%s> -> <%s>%s%s", orig,
			    d->to, d->directory ? " directory=" : "",
			    d->directory ? d->directory->name : "") < 0)
				r->header = NULL;
			free(orig);
			*c->tail = r;
			c->tail = &r->next;
		}
		break;
	case DECISION_REJECT:
	case DECISION_TEMPFAIL: {
		char *text = decision_reply_text(d);
		rc = reply(ctx, d->code, d->dsn, text ? text : "");
		free(text);
		break;
	}
	default:
		break;
	}
	recipient_free(&rec);
	return rc;
}

static sfsistat
nsm_eom(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);
	const char *qid;
	char *to, *rcpts;

	if (c == NULL)
		return SMFIS_CONTINUE;
	qid = smfi_getsymval(ctx, "i");
	/* The queue id with every recipient: Postfix's log meets ours. */
	rcpts = msglog_fields(&c->msg);
	log_info("%s%smessage %s conn=%lu", qid && *qid ? qid : "",
	    qid && *qid ? ": " : "", rcpts ? rcpts : "rcpts=?", c->id);
	free(rcpts);
	if (c->routes == NULL) {
		routes_clear(c);
		return SMFIS_CONTINUE;
	}
	for (struct route *r = c->routes; r != NULL; r = r->next) {
		if (asprintf(&to, "<%s>", r->to) < 0)
			return SMFIS_TEMPFAIL;
		bool plain = false;
		int added = smfi_addrcpt_par(ctx, to, r->args);

		/* Not negotiated (see nsm_negotiate): add it without them. */
		if (added != MI_SUCCESS &&
		    (added = smfi_addrcpt(ctx, to)) == MI_SUCCESS)
			plain = true;
		if (added != MI_SUCCESS ||
		    smfi_delrcpt(ctx, r->orig) != MI_SUCCESS) {
			/* Better to defer than to deliver to the wrong place. */
			log_err("%s%sconn=%lu cannot rewrite %s to %s: "
			    "MTA refused the change", qid ? qid : "",
			    qid ? ": " : "", c->id, r->orig, to);
			free(to);
			routes_clear(c);
			return SMFIS_TEMPFAIL;
		}
		if (r->header != NULL &&
		    smfi_addheader(ctx, "X-NSMilter-Route", r->header) !=
		    MI_SUCCESS)
			log_warning("%s%sconn=%lu cannot add X-NSMilter-Route",
			    qid ? qid : "", qid ? ": " : "", c->id);
		if (plain)
			log_info("%s%sconn=%lu rewrote %s to %s without ESMTP "
			    "parameters (the MTA does not offer them; not "
			    "passed on: %s)", qid ? qid : "", qid ? ": " : "",
			    c->id, r->orig, to, r->args);
		else
			log_debug("%s%sconn=%lu rewrote %s to %s %s",
			    qid ? qid : "", qid ? ": " : "", c->id, r->orig,
			    to, r->args);
		free(to);
	}
	routes_clear(c);
	return SMFIS_CONTINUE;
}

static sfsistat
nsm_abort(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		routes_clear(c);
	return SMFIS_CONTINUE;
}

static sfsistat
nsm_close(SMFICTX *ctx)
{
	struct conn *c = smfi_getpriv(ctx);

	/* xxfi_close may come without a context (libmilter docs). */
	if (c == NULL)
		return SMFIS_CONTINUE;
	routes_clear(c);
	runtime_release(c->rt);
	free(c);
	smfi_setpriv(ctx, NULL);
	atomic_fetch_sub(&conns_open, 1);
	return SMFIS_CONTINUE;
}

static struct smfiDesc nsmilter_desc = {
	.xxfi_name = "nsmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR | SMFIF_ADDRCPT |
	    SMFIF_ADDHDRS,
	.xxfi_connect = nsm_connect,
	.xxfi_helo = NULL,
	.xxfi_envfrom = nsm_envfrom,
	.xxfi_envrcpt = nsm_envrcpt,
	.xxfi_header = NULL,
	.xxfi_eoh = NULL,
	.xxfi_body = NULL,
	.xxfi_eom = nsm_eom,
	.xxfi_abort = nsm_abort,
	.xxfi_close = nsm_close,
	.xxfi_unknown = NULL,
	.xxfi_data = NULL,
	.xxfi_negotiate = nsm_negotiate,
};

int
milter_register(void)
{
	return smfi_register(nsmilter_desc);
}
