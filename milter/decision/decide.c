/*
 * decide.c - the decision for one recipient (README, the
 * table at the top, and nsmilter.ini(5) [domain NAME]): a pure function of the address, the
 * configuration and the directories' answers, obtained through the lookup
 * callback.  Target addresses inside a shared domain are followed by
 * decide_targets.c; the output formats are in decide_format.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decision/address.h"
#include "decision/decide.h"
#include "decision/decide_priv.h"

#define TEXT_UNKNOWN  "Recipient address rejected: User unknown"
#define TEXT_SYNTAX   "Bad recipient address syntax"
#define TEXT_TEMPFAIL "Directory unavailable, try again later"
#define TEXT_NOMEM    "Out of memory, try again later"
#define TEXT_AMBIGUOUS "Destination address ambiguous, try again later"

void
decision_free(struct decision *d)
{
	if (d == NULL)
		return;
	free(d->address);
	free(d->to);
	free(d->conflict);
	free(d->error);
	free(d->given);
	memset(d, 0, sizeof(*d));
}

/* Same IP address, whatever its spelling (inet_pton on both sides). */
static bool
ip_equal(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
	return strcmp(a, b) == 0;
}

static bool
client_is_one_of(const char *client, const struct strlist *hosts)
{
	if (client == NULL)
		return false;
	for (size_t i = 0; i < hosts->n; i++)
		if (ip_equal(client, hosts->v[i]))
			return true;
	return false;
}

void
decide_set_reply(struct decision *out, enum decision_action action,
    enum decision_reason reason, const char *code, const char *dsn,
    const char *text)
{
	out->action = action;
	out->reason = reason;
	out->code = code;
	out->dsn = dsn;
	out->text = text;
}

static void
reject_unknown(struct decision *out, const struct domain_config *dom)
{
	decide_set_reply(out, DECISION_REJECT, REASON_UNKNOWN, "550", "5.1.1",
	    dom->reject_text ? dom->reject_text : TEXT_UNKNOWN);
}

static void
on_error(const struct config *cfg, const struct domain_config *dom,
    struct decision *out)
{
	if (cfg->milter.on_directory_error == CONFIG_ON_ERROR_ACCEPT) {
		out->action = DECISION_ACCEPT;
		out->reason = REASON_DIRECTORY;
		return;
	}
	decide_set_reply(out, DECISION_TEMPFAIL, REASON_DIRECTORY, "451", "4.4.3",
	    dom->tempfail_text ? dom->tempfail_text : TEXT_TEMPFAIL);
}

/* Route OUT to LOCAL@DOMAIN, or to a complete address when DOMAIN is NULL. */
static int
route_to(struct decision *out, const char *local, const char *domain,
    const char *transport, const struct strlist *hosts,
    const char *client)
{
	if (domain != NULL) {
		if (asprintf(&out->to, "%s@%s", local, domain) < 0) {
			out->to = NULL;
			return -1;
		}
	} else if ((out->to = strdup(local)) == NULL)
		return -1;
	out->action = DECISION_ROUTE;
	out->transport = transport;
	if (hosts != NULL && client_is_one_of(client, hosts))
		decide_set_reply(out, DECISION_REJECT, REASON_LOOP, "554", "5.4.6",
		    TEXT_LOOP);
	return 0;
}

/* Append "A" or "A: B" to the comma-separated list *LIST. */
static int
list_append(char **list, const char *a, const char *b)
{
	char *item, *joined;

	if ((b ? asprintf(&item, "%s: %s", a, b) : asprintf(&item, "%s", a)) < 0)
		return -1;
	if (*list == NULL) {
		*list = item;
		return 0;
	}
	if (asprintf(&joined, "%s, %s", *list, item) < 0) {
		free(item);
		return -1;
	}
	free(item);
	free(*list);
	*list = joined;
	return 0;
}

enum scan_result { SCAN_NONE, SCAN_FOUND, SCAN_ERROR, SCAN_NOMEM };

/*
 * Apply the precedence to one round of answers: the first directory (in the
 * domain's order) that found the key wins, unless one before it failed.
 */
static enum scan_result
scan_answers(const struct domain_config *dom, struct directory_answer *answers,
    struct decision *out, size_t *winner)
{
	enum scan_result res = SCAN_NONE;

	for (size_t i = 0; i < dom->n_dirs; i++) {
		const char *name = dom->dirs[i]->name;

		switch (answers[i].status) {
		case DIRECTORY_FOUND:
			if (res == SCAN_NONE) {
				res = SCAN_FOUND;
				*winner = i;
			} else if (res == SCAN_FOUND &&
			    list_append(&out->conflict, name, NULL) < 0)
				return SCAN_NOMEM;
			break;
		case DIRECTORY_ERROR:
			if (res == SCAN_FOUND)
				break;	/* after the winner: irrelevant */
			if (list_append(&out->error, name,
			    answers[i].error ? answers[i].error : "error") < 0)
				return SCAN_NOMEM;
			if (res == SCAN_NONE)
				res = SCAN_ERROR;
			break;
		case DIRECTORY_NOTFOUND:
			break;
		}
	}
	return res;
}

static void
found(const struct domain_config *dom, const struct address *a,
    const struct decide_input *in, const struct directory_answer *ans,
    const struct directory_config *dir, struct decision *out)
{
	int rc = 0;

	out->directory = dir;
	out->reason = REASON_FOUND;
	out->entries = ans->entries;
	if (ans->ambiguous) {
		decide_set_reply(out, DECISION_TEMPFAIL, REASON_AMBIGUOUS, "451",
		    "4.1.4", TEXT_AMBIGUOUS);
		return;
	}
	if (ans->target != NULL && ans->target[0] != '\0') {
		out->target = true;
		rc = route_to(out, ans->target, NULL, dir->transport,
		    &dir->hosts, in->client_addr);
	} else if (dir->route != NULL)
		rc = route_to(out, a->local, dir->route, dir->transport,
		    &dir->hosts, in->client_addr);
	else if (dom->type == CONFIG_DOMAIN_EXTERNAL_RELAY)
		rc = route_to(out, a->local, dom->fallback_route,
		    dom->fallback_transport, &dom->fallback_hosts,
		    in->client_addr);
	else
		out->action = DECISION_ACCEPT;
	if (rc < 0)
		decide_set_reply(out, DECISION_TEMPFAIL, REASON_NOMEM, "451",
		    "4.3.0", TEXT_NOMEM);
}

static void
not_found(const struct domain_config *dom, const struct address *a,
    const struct decide_input *in, struct decision *out)
{
	if (dom->type == CONFIG_DOMAIN_INTERNAL_RELAY &&
	    dom->unknown == CONFIG_UNKNOWN_ROUTE) {
		out->reason = REASON_FALLBACK;
		if (route_to(out, a->local, dom->fallback_route,
		    dom->fallback_transport, &dom->fallback_hosts,
		    in->client_addr) < 0)
			decide_set_reply(out, DECISION_TEMPFAIL, REASON_NOMEM,
			    "451", "4.3.0", TEXT_NOMEM);
		return;
	}
	reject_unknown(out, dom);
}

void
decide_one(const struct config *cfg, const struct decide_input *in,
    decide_lookup_fn lookup, void *lookup_ctx, struct decision *out)
{
	const struct domain_config *dom;
	struct directory_answer *answers = NULL;
	struct address a;
	char *keys[2] = { NULL, NULL };
	bool mirrored = true;
	int st;

	memset(out, 0, sizeof(*out));
	st = address_parse(in->rcpt, &a);
	if (st < 0)
		goto nomem;
	if (st == ADDRESS_NODOMAIN || (dom = config_find_domain(cfg,
	    a.domain)) == NULL) {
		out->action = DECISION_SKIP;
		out->reason = REASON_NOT_SHARED;
		out->address = strdup(a.full ? a.full : (in->rcpt ? in->rcpt : ""));
		address_free(&a);
		if (out->address == NULL)
			goto nomem;
		return;
	}
	out->domain = dom;
	if ((out->address = strdup(a.full)) == NULL)
		goto nomem;
	if (st == ADDRESS_INVALID) {
		decide_set_reply(out, DECISION_REJECT, REASON_SYNTAX, "501", "5.1.3",
		    TEXT_SYNTAX);
		out->error = strdup(a.why);
		address_free(&a);
		return;
	}

	/* external-relay without directories: everybody lives elsewhere. */
	if (dom->type == CONFIG_DOMAIN_EXTERNAL_RELAY && dom->n_dirs == 0) {
		out->reason = REASON_FALLBACK;
		if (route_to(out, a.local, dom->fallback_route,
		    dom->fallback_transport, &dom->fallback_hosts,
		    in->client_addr) < 0)
			goto nomem;
		address_free(&a);
		return;
	}

	/* The full address first, then without its extension (as Postfix). */
	keys[0] = a.full;
	keys[1] = address_strip_extension(&a, dom->recipient_delimiter);
	if ((answers = calloc(dom->n_dirs ? dom->n_dirs : 1,
	    sizeof(*answers))) == NULL)
		goto nomem;
	for (int k = 0; k < 2 && keys[k] != NULL; k++) {
		enum scan_result res;
		size_t winner = 0;

		lookup(lookup_ctx, dom, keys[k], answers);
		/* Every directory answered from its mirror: say so. */
		for (size_t i = 0; i < dom->n_dirs; i++)
			if (answers[i].source == NULL)
				mirrored = false;
		res = scan_answers(dom, answers, out, &winner);
		out->source = mirrored ? answers[0].source : NULL;
		if (res == SCAN_FOUND) {
			out->source = answers[winner].source;
			found(dom, &a, in, &answers[winner], dom->dirs[winner],
			    out);
		} else if (res == SCAN_ERROR)
			on_error(cfg, dom, out);
		for (size_t i = 0; i < dom->n_dirs; i++)
			directory_answer_clear(&answers[i]);
		if (res == SCAN_NOMEM)
			goto nomem;
		if (res != SCAN_NONE)
			goto done;
	}
	not_found(dom, &a, in, out);
done:
	free(answers);
	free(keys[1]);
	address_free(&a);
	return;

nomem:
	free(answers);
	free(keys[1]);
	address_free(&a);
	free(out->to);
	out->to = NULL;
	decide_set_reply(out, DECISION_TEMPFAIL, REASON_NOMEM, "451", "4.3.0",
	    TEXT_NOMEM);
}

/* The shared domain ADDRESS falls into, or NULL (also for no domain). */
static const struct domain_config *
shared_domain_of(const struct config *cfg, const char *address,
    struct address *a)
{
	int st = address_parse(address, a);

	if (st < 0 || st == ADDRESS_NODOMAIN)
		return NULL;
	return config_find_domain(cfg, a->domain);
}

enum spelling { SPELLING_AS_GIVEN, SPELLING_MTA, SPELLING_REFUSE,
	SPELLING_NOMEM };

/*
 * Which address to decide for IN (README "Address spellings"): RCPT as
 * given when its domain is shared; else the address the MTA resolved it to
 * when the MTA said and that one is shared (*AS, a new string); else, when
 * the MTA did not say, refuse a percent hack or bang path that lands in a
 * shared domain (*AS: that address, *WHY: the reason), because whether the
 * MTA applies it depends on settings nsmilter cannot see.
 */
static enum spelling
choose_spelling(const struct config *cfg, const struct decide_input *in,
    char **as, const char **why)
{
	struct address a, m;
	const struct domain_config *dom;
	enum spelling res = SPELLING_AS_GIVEN;
	char *cur, *next;
	int rc, mst;

	*as = NULL;
	dom = shared_domain_of(cfg, in->rcpt, &a);
	if (dom != NULL) {
		address_free(&a);
		return SPELLING_AS_GIVEN;
	}
	if (in->mta_rcpt != NULL && *in->mta_rcpt != '\0') {
		mst = address_parse(in->mta_rcpt, &m);
		if (mst == ADDRESS_OK && config_find_domain(cfg, m.domain) &&
		    (a.full == NULL || strcasecmp(m.full, a.full) != 0)) {
			*as = strdup(m.full);
			res = *as != NULL ? SPELLING_MTA : SPELLING_NOMEM;
		}
		address_free(&m);
		if (mst != ADDRESS_NODOMAIN) {
			/* The MTA said where it delivers: believe it. */
			address_free(&a);
			return res;
		}
	}
	address_free(&a);
	/* Only the spelling: follow the hacks as far as an MTA might. */
	if ((cur = strdup(in->rcpt)) == NULL)
		return SPELLING_NOMEM;
	for (int step = 0; step < DECIDE_MAX_HOPS; step++) {
		if ((rc = address_unhack(cur, &next)) <= 0) {
			res = rc < 0 ? SPELLING_NOMEM : SPELLING_AS_GIVEN;
			break;
		}
		free(cur);
		cur = next;
		dom = shared_domain_of(cfg, cur, &a);
		address_free(&a);
		if (dom != NULL) {
			*why = rc == 1 ? "bang path into a shared domain" :
			    "percent hack into a shared domain";
			*as = cur;
			return SPELLING_REFUSE;
		}
	}
	free(cur);
	return res;
}

void
decide_recipient(const struct config *cfg, const struct decide_input *in,
    decide_lookup_fn lookup, void *lookup_ctx, struct decision *out)
{
	struct decide_input mta = *in;
	struct address a;
	const char *why = NULL;
	char *as = NULL, *given = NULL;

	switch (choose_spelling(cfg, in, &as, &why)) {
	case SPELLING_AS_GIVEN:
		break;
	case SPELLING_MTA:
		mta.rcpt = as;
		break;
	case SPELLING_REFUSE:
		memset(out, 0, sizeof(*out));
		out->domain = shared_domain_of(cfg, as, &a);
		address_free(&a);
		if (address_parse(in->rcpt, &a) >= 0 && a.full != NULL)
			out->address = strdup(a.full);
		else	/* no domain: the local part, without brackets */
			out->address = strndup(in->rcpt + (in->rcpt[0] == '<'),
			    strcspn(in->rcpt + (in->rcpt[0] == '<'), ">"));
		address_free(&a);
		out->error = strdup(why);
		free(as);
		if (out->address == NULL || out->error == NULL) {
			decision_free(out);
			decide_set_reply(out, DECISION_TEMPFAIL, REASON_NOMEM, "451",
			    "4.3.0", TEXT_NOMEM);
			return;
		}
		decide_set_reply(out, DECISION_REJECT, REASON_SYNTAX, "501", "5.1.3",
		    TEXT_SYNTAX);
		return;
	case SPELLING_NOMEM:
		memset(out, 0, sizeof(*out));
		decide_set_reply(out, DECISION_TEMPFAIL, REASON_NOMEM, "451", "4.3.0",
		    TEXT_NOMEM);
		return;
	}
	decide_one(cfg, &mta, lookup, lookup_ctx, out);
	decide_follow_targets(cfg, &mta, lookup, lookup_ctx, out);
	if (as != NULL) {
		/* Decided as the MTA's address: keep the spelling for the log. */
		if (address_parse(in->rcpt, &a) >= 0 && a.full != NULL)
			given = strdup(a.full);
		address_free(&a);
		out->given = given;
		free(as);
	}
}
