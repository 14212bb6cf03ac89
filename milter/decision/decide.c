/*
 * decide.c - the decision for one recipient (SPEC "Decision for one
 * recipient"): a pure function of the address, the configuration and the
 * directories' answers, obtained through the lookup callback.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decision/address.h"
#include "decision/decide.h"

#define TEXT_UNKNOWN  "Recipient address rejected: User unknown"
#define TEXT_SYNTAX   "Bad recipient address syntax"
#define TEXT_LOOP     "Recipient address rejected: Routing loop detected"
#define TEXT_TEMPFAIL "Directory unavailable, try again later"

const char *
decision_action_name(enum decision_action a)
{
	switch (a) {
	case DECISION_SKIP:     return "skip";
	case DECISION_ACCEPT:   return "accept";
	case DECISION_ROUTE:    return "route";
	case DECISION_REJECT:   return "reject";
	case DECISION_TEMPFAIL: return "tempfail";
	}
	return "unknown";
}

void
decision_free(struct decision *d)
{
	if (d == NULL)
		return;
	free(d->address);
	free(d->to);
	free(d->conflict);
	free(d->error);
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

static void
set_reply(struct decision *out, enum decision_action action,
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
	set_reply(out, DECISION_REJECT, REASON_UNKNOWN, "550", "5.1.1",
	    dom->reject_text ? dom->reject_text : TEXT_UNKNOWN);
}

static void
on_error(const struct config *cfg, const struct domain_config *dom,
    struct decision *out)
{
	if (cfg->milter.on_directory_error == CFG_ON_ERROR_ACCEPT) {
		out->action = DECISION_ACCEPT;
		out->reason = REASON_DIRECTORY;
		return;
	}
	set_reply(out, DECISION_TEMPFAIL, REASON_DIRECTORY, "451", "4.4.3",
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
		set_reply(out, DECISION_REJECT, REASON_LOOP, "554", "5.4.6",
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
scan_answers(const struct domain_config *dom, struct dir_answer *answers,
    struct decision *out, size_t *winner)
{
	enum scan_result res = SCAN_NONE;

	for (size_t i = 0; i < dom->n_dirs; i++) {
		const char *name = dom->dirs[i]->name;

		switch (answers[i].status) {
		case DIR_FOUND:
			if (res == SCAN_NONE) {
				res = SCAN_FOUND;
				*winner = i;
			} else if (res == SCAN_FOUND &&
			    list_append(&out->conflict, name, NULL) < 0)
				return SCAN_NOMEM;
			break;
		case DIR_ERROR:
			if (res == SCAN_FOUND)
				break;	/* after the winner: irrelevant */
			if (list_append(&out->error, name,
			    answers[i].error ? answers[i].error : "error") < 0)
				return SCAN_NOMEM;
			if (res == SCAN_NONE)
				res = SCAN_ERROR;
			break;
		case DIR_NOTFOUND:
			break;
		}
	}
	return res;
}

static void
found(const struct domain_config *dom, const struct address *a,
    const struct decide_input *in, const struct dir_answer *ans,
    const struct directory_config *dir, struct decision *out)
{
	int rc = 0;

	out->directory = dir;
	out->reason = REASON_FOUND;
	if (ans->target != NULL && ans->target[0] != '\0') {
		out->target = true;
		rc = route_to(out, ans->target, NULL, dir->transport,
		    &dir->hosts, in->client_addr);
	} else if (dir->route != NULL)
		rc = route_to(out, a->local, dir->route, dir->transport,
		    &dir->hosts, in->client_addr);
	else if (dom->type == CFG_DOMAIN_EXTERNAL_RELAY)
		rc = route_to(out, a->local, dom->fallback_route,
		    dom->fallback_transport, &dom->fallback_hosts,
		    in->client_addr);
	else
		out->action = DECISION_ACCEPT;
	if (rc < 0)
		set_reply(out, DECISION_TEMPFAIL, REASON_DIRECTORY, "451",
		    "4.3.0", "Out of memory, try again later");
}

static void
not_found(const struct domain_config *dom, const struct address *a,
    const struct decide_input *in, struct decision *out)
{
	if (dom->type == CFG_DOMAIN_INTERNAL_RELAY &&
	    dom->unknown == CFG_UNKNOWN_ROUTE) {
		out->reason = REASON_FALLBACK;
		if (route_to(out, a->local, dom->fallback_route,
		    dom->fallback_transport, &dom->fallback_hosts,
		    in->client_addr) < 0)
			set_reply(out, DECISION_TEMPFAIL, REASON_DIRECTORY,
			    "451", "4.3.0", "Out of memory, try again later");
		return;
	}
	reject_unknown(out, dom);
}

void
decide_recipient(const struct config *cfg, const struct decide_input *in,
    decide_lookup_fn lookup, void *lookup_ctx, struct decision *out)
{
	const struct domain_config *dom;
	struct dir_answer *answers = NULL;
	struct address a;
	char *keys[2] = { NULL, NULL };
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
		set_reply(out, DECISION_REJECT, REASON_SYNTAX, "501", "5.1.3",
		    TEXT_SYNTAX);
		out->error = strdup(a.why);
		address_free(&a);
		return;
	}

	/* external-relay without directories: everybody lives elsewhere. */
	if (dom->type == CFG_DOMAIN_EXTERNAL_RELAY && dom->n_dirs == 0) {
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
		res = scan_answers(dom, answers, out, &winner);
		if (res == SCAN_FOUND)
			found(dom, &a, in, &answers[winner], dom->dirs[winner],
			    out);
		else if (res == SCAN_ERROR)
			on_error(cfg, dom, out);
		for (size_t i = 0; i < dom->n_dirs; i++)
			dir_answer_clear(&answers[i]);
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
	out->action = DECISION_TEMPFAIL;
	out->reason = REASON_DIRECTORY;
	out->code = "451";
	out->dsn = "4.3.0";
	out->text = "Out of memory, try again later";
}

/* Print V to F, double-quoted when it holds a space, quote or control. */
static void
put_value(FILE *f, const char *v)
{
	bool quote = v[0] == '\0' || strpbrk(v, " \t\"\\") != NULL;

	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			quote = true;
	if (!quote) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void
put_fields(FILE *f, const struct decision *d, bool brackets)
{
	fputs(decision_action_name(d->action), f);
	if (d->action == DECISION_ROUTE) {
		fputs(" to=", f);
		if (brackets)
			fputc('<', f);
		put_value(f, d->to);
		if (brackets)
			fputc('>', f);
	}
	if (d->code != NULL)
		fprintf(f, " code=%s dsn=%s", d->code, d->dsn);
	if (d->directory != NULL)
		fprintf(f, " directory=%s", d->directory->name);
	if (d->target)
		fputs(" target=yes", f);
	if (d->action == DECISION_ROUTE && !d->target &&
	    (d->directory == NULL || d->directory->route == NULL))
		fputs(" fallback=yes", f);
	if (d->reason == REASON_LOOP)
		fputs(" loop=yes", f);
	if (d->conflict != NULL) {
		fputs(" conflict=", f);
		put_value(f, d->conflict);
	}
	if (d->error != NULL) {
		fputs(d->reason == REASON_SYNTAX ? " reason=" : " error=", f);
		put_value(f, d->error);
	}
}

static char *
format(const struct decision *d, bool query)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	if (query) {
		put_value(f, d->address ? d->address : "");
		fputc(' ', f);
	}
	put_fields(f, d, !query);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *
decision_format_query(const struct decision *d)
{
	return format(d, true);
}

char *
decision_format_log(const struct decision *d)
{
	return format(d, false);
}

char *
decision_reply_text(const struct decision *d)
{
	char *s;

	if (asprintf(&s, "<%s>: %s", d->address ? d->address : "",
	    d->text ? d->text : "") < 0)
		return NULL;
	return s;
}
