/*
 * test_decide.c - the decision table (README), against a fake directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "decision/decide.h"

/* ---- a fake directory: (directory, address) -> answer ---- */

struct fake_entry {
	const char *dir, *address, *target;
	unsigned entries;   /* 0: one */
	int ambiguous;
};

static const struct fake_entry fake_entries[] = {
	{ "hq", "alice@corp.example", NULL, 0, 0 },
	{ "hq", "carol@corp.example", "carol@other.example", 0, 0 },
	{ "hq", "dup@corp.example", NULL, 0, 0 },
	{ "hq", "frank@corp.example", NULL, 0, 0 },
	{ "hq", "eve@sales.corp.example", NULL, 0, 0 },
	{ "hq", "ann@auth.example", NULL, 0, 0 },
	{ "hq", "xavier@extv.example", NULL, 0, 0 },
	{ "hq", "self@corp.example", "self@corp.example", 0, 0 },
	{ "legacy", "bob@corp.example", NULL, 0, 0 },
	{ "legacy", "dup@corp.example", NULL, 0, 0 },
	{ "legacy", "rita@corp.example", "rita@mainframe.example", 0, 0 },
	/* two entries of one directory: the same decision, or not */
	{ "hq", "twice@corp.example", NULL, 2, 0 },
	{ "hq", "shared@corp.example", "shared@partner.example", 2, 1 },
	/* target addresses inside the shared domain */
	{ "hq", "tomail@corp.example", "alice@corp.example", 0, 0 },
	{ "hq", "toforeign@corp.example", "bob@corp.example", 0, 0 },
	{ "hq", "ping@corp.example", "pong@corp.example", 0, 0 },
	{ "hq", "pong@corp.example", "ping@corp.example", 0, 0 },
	{ "hq", "tonobody@corp.example", "nobody@corp.example", 0, 0 },
	{ "hq", "c1@corp.example", "c2@corp.example", 0, 0 },
	{ "hq", "c2@corp.example", "c3@corp.example", 0, 0 },
	{ "hq", "c3@corp.example", "c4@corp.example", 0, 0 },
	{ "hq", "c4@corp.example", "c5@corp.example", 0, 0 },
	{ "hq", "c5@corp.example", "c6@corp.example", 0, 0 },
	{ "hq", "c6@corp.example", NULL, 0, 0 },
	{ "hq", "toroute@corp.example", "x@legacy.corp.example", 0, 0 },
};

struct fake {
	const char *down[4];   /* names of directories that fail */
	unsigned lookups;
};

static void
fake_lookup(void *ctx, const struct domain_config *dom, const char *address,
    struct directory_answer *answers)
{
	struct fake *f = ctx;

	f->lookups++;
	for (size_t i = 0; i < dom->n_dirs; i++) {
		const char *name = dom->dirs[i]->name;

		memset(&answers[i], 0, sizeof(answers[i]));
		answers[i].status = DIRECTORY_NOTFOUND;
		for (size_t k = 0; k < 4 && f->down[k]; k++)
			if (strcmp(f->down[k], name) == 0) {
				answers[i].status = DIRECTORY_ERROR;
				answers[i].error = strdup("Can't contact LDAP server");
			}
		if (answers[i].status == DIRECTORY_ERROR)
			continue;
		for (size_t k = 0; k < sizeof(fake_entries) / sizeof(fake_entries[0]); k++) {
			const struct fake_entry *e = &fake_entries[k];
			if (strcmp(e->dir, name) == 0 &&
			    strcmp(e->address, address) == 0) {
				answers[i].status = DIRECTORY_FOUND;
				answers[i].target = e->target ? strdup(e->target) : NULL;
				answers[i].entries = e->entries ? e->entries : 1;
				answers[i].ambiguous = e->ambiguous;
			}
		}
	}
}

/* ---- the configuration under test, built by hand ---- */

static char *legacy_hosts[] = { "10.8.0.25" };
static char *relay_hosts[] = { "10.9.0.1" };

static struct directory_config dirs[] = {
	{ .name = "hq", .index = 0 },
	{ .name = "legacy", .index = 1, .route = "legacy.corp.example",
	  .transport = "smtp:[10.8.0.25]",
	  .hosts = { .v = legacy_hosts, .n = 1 } },
};
static struct directory_config *hq_legacy[] = { &dirs[0], &dirs[1] };
static struct directory_config *hq_only[] = { &dirs[0] };

static struct domain_config domains[] = {
	{ .name = "corp.example", .type = CONFIG_DOMAIN_INTERNAL_RELAY,
	  .dirs = hq_legacy, .n_dirs = 2, .unknown = CONFIG_UNKNOWN_REJECT,
	  .subdomains = true, .recipient_delimiter = "+", .rewrite = true },
	{ .name = "auth.example", .type = CONFIG_DOMAIN_AUTHORITATIVE,
	  .dirs = hq_only, .n_dirs = 1, .rewrite = true,
	  .reject_text = "No such user here" },
	{ .name = "relay.example", .type = CONFIG_DOMAIN_INTERNAL_RELAY,
	  .dirs = hq_only, .n_dirs = 1, .unknown = CONFIG_UNKNOWN_ROUTE,
	  .fallback_route = "old.relay.example",
	  .fallback_transport = "smtp:[10.9.0.1]",
	  .fallback_hosts = { .v = relay_hosts, .n = 1 }, .rewrite = true },
	{ .name = "ext.example", .type = CONFIG_DOMAIN_EXTERNAL_RELAY,
	  .fallback_route = "ext.route.example", .rewrite = true },
	{ .name = "extv.example", .type = CONFIG_DOMAIN_EXTERNAL_RELAY,
	  .dirs = hq_only, .n_dirs = 1, .fallback_route = "extv.route.example",
	  .rewrite = true },
};

static struct config cfg = {
	.path = "test.ini",
	.milter = { .on_directory_error = CONFIG_ON_ERROR_TEMPFAIL,
		    .mode = CONFIG_MODE_ENFORCE },
	.directories = dirs, .n_directories = 2,
	.domains = domains, .n_domains = 5,
};

struct decide_case {
	const char *rcpt;
	const char *mta;             /* {rcpt_addr}, or NULL */
	const char *client;
	const char *down[2];
	int accept_on_error;
	const char *want_line;       /* the nsmilter -q line */
	const char *want_transport;  /* NULL: not checked */
	unsigned want_lookups;       /* ~0u: not checked */
};

#define ANY (~0u)

static const struct decide_case cases[] = {
	/* step 4: found */
	{ .rcpt = "<alice@corp.example>",
	  .want_line = "alice@corp.example accept directory=hq",
	  .want_lookups = 1 },
	{ .rcpt = "<bob@corp.example>",
	  .want_line = "bob@corp.example route to=bob@legacy.corp.example directory=legacy",
	  .want_transport = "smtp:[10.8.0.25]", .want_lookups = ANY },
	{ .rcpt = "<carol@corp.example>",
	  .want_line = "carol@corp.example route to=carol@other.example directory=hq target=yes",
	  .want_lookups = ANY },
	{ .rcpt = "<rita@corp.example>",
	  .want_line = "rita@corp.example route to=rita@mainframe.example directory=legacy target=yes",
	  .want_lookups = ANY },
	/* a merger conflict: precedence decides, the conflict is reported */
	{ .rcpt = "<dup@corp.example>",
	  .want_line = "dup@corp.example accept directory=hq conflict=legacy",
	  .want_lookups = ANY },
	/* step 1/2: not ours */
	{ .rcpt = "<x@elsewhere.example>", .want_line = "x@elsewhere.example skip",
	  .want_lookups = 0 },
	{ .rcpt = "<>", .want_line = "<> skip", .want_lookups = 0 },
	{ .rcpt = "<postmaster>", .want_line = "<postmaster> skip", .want_lookups = 0 },
	/* domains are case-insensitive, local parts kept */
	{ .rcpt = "<alice@CORP.EXAMPLE>",
	  .want_line = "alice@corp.example accept directory=hq", .want_lookups = ANY },
	/* subdomains */
	{ .rcpt = "<eve@sales.corp.example>",
	  .want_line = "eve@sales.corp.example accept directory=hq", .want_lookups = ANY },
	{ .rcpt = "<eve@sales.auth.example>",
	  .want_line = "eve@sales.auth.example skip", .want_lookups = 0 },
	/* step 3: recipient_delimiter, full address first */
	{ .rcpt = "<frank+news@corp.example>",
	  .want_line = "frank+news@corp.example accept directory=hq",
	  .want_lookups = 2 },
	{ .rcpt = "<bob+lists@corp.example>",
	  .want_line = "bob+lists@corp.example route to=bob+lists@legacy.corp.example directory=legacy",
	  .want_lookups = 2 },
	{ .rcpt = "<nobody+x@corp.example>",
	  .want_line = "nobody+x@corp.example reject code=550 dsn=5.1.1",
	  .want_lookups = 2 },
	/* step 5: not found */
	{ .rcpt = "<nobody@corp.example>",
	  .want_line = "nobody@corp.example reject code=550 dsn=5.1.1", .want_lookups = 1 },
	{ .rcpt = "<ann@auth.example>",
	  .want_line = "ann@auth.example accept directory=hq", .want_lookups = 1 },
	{ .rcpt = "<nobody@auth.example>",
	  .want_line = "nobody@auth.example reject code=550 dsn=5.1.1", .want_lookups = 1 },
	{ .rcpt = "<who@relay.example>",
	  .want_line = "who@relay.example route to=who@old.relay.example fallback=yes",
	  .want_transport = "smtp:[10.9.0.1]", .want_lookups = 1 },
	{ .rcpt = "<anyone@ext.example>",
	  .want_line = "anyone@ext.example route to=anyone@ext.route.example fallback=yes",
	  .want_lookups = 0 },
	{ .rcpt = "<xavier@extv.example>",
	  .want_line = "xavier@extv.example route to=xavier@extv.route.example directory=hq fallback=yes",
	  .want_lookups = 1 },
	{ .rcpt = "<nobody@extv.example>",
	  .want_line = "nobody@extv.example reject code=550 dsn=5.1.1", .want_lookups = 1 },
	/* step 6: directory failures never give 5xx */
	{ .rcpt = "<alice@corp.example>", .down = { "legacy" },
	  .want_line = "alice@corp.example accept directory=hq",
	  .want_lookups = ANY },
	{ .rcpt = "<bob@corp.example>", .down = { "legacy" },
	  .want_line = "bob@corp.example tempfail code=451 dsn=4.4.3 error=\"legacy: Can't contact LDAP server\"",
	  .want_lookups = 1 },
	{ .rcpt = "<nobody@corp.example>", .down = { "legacy" },
	  .want_line = "nobody@corp.example tempfail code=451 dsn=4.4.3 error=\"legacy: Can't contact LDAP server\"",
	  .want_lookups = 1 },
	{ .rcpt = "<bob@corp.example>", .down = { "hq" },
	  .want_line = "bob@corp.example tempfail code=451 dsn=4.4.3 error=\"hq: Can't contact LDAP server\"",
	  .want_lookups = 1 },
	{ .rcpt = "<nobody@corp.example>", .down = { "hq", "legacy" },
	  .want_line = "nobody@corp.example tempfail code=451 dsn=4.4.3 error=\"hq: Can't contact LDAP server, legacy: Can't contact LDAP server\"",
	  .want_lookups = 1 },
	{ .rcpt = "<nobody@relay.example>", .down = { "hq" },
	  .want_line = "nobody@relay.example tempfail code=451 dsn=4.4.3 error=\"hq: Can't contact LDAP server\"",
	  .want_lookups = 1 },
	{ .rcpt = "<bob@corp.example>", .down = { "legacy" }, .accept_on_error = 1,
	  .want_line = "bob@corp.example accept error=\"legacy: Can't contact LDAP server\"",
	  .want_lookups = 1 },
	/* step 7: syntax, never looked up */
	{ .rcpt = "<a)(mail=*@corp.example>",
	  .want_line = "a)(mail=*@corp.example reject code=501 dsn=5.1.3 reason=\"invalid character in local part\"",
	  .want_lookups = 0 },
	{ .rcpt = "<\"open@corp.example>",
	  .want_line = "\"\\\"open@corp.example\" reject code=501 dsn=5.1.3 reason=\"unbalanced quotes\"",
	  .want_lookups = 0 },
	{ .rcpt = "<a\x01@corp.example>",
	  .want_line = "\"a\\x01@corp.example\" reject code=501 dsn=5.1.3 reason=\"control character\"",
	  .want_lookups = 0 },
	/* a syntax error outside the shared domains is not ours to judge */
	{ .rcpt = "<a)(b@elsewhere.example>",
	  .want_line = "a)(b@elsewhere.example skip", .want_lookups = 0 },
	/* loop guard */
	{ .rcpt = "<bob@corp.example>", .client = "10.8.0.25",
	  .want_line = "bob@corp.example reject code=554 dsn=5.4.6 directory=legacy loop=yes",
	  .want_lookups = ANY },
	{ .rcpt = "<bob@corp.example>", .client = "10.8.0.26",
	  .want_line = "bob@corp.example route to=bob@legacy.corp.example directory=legacy",
	  .want_lookups = ANY },
	{ .rcpt = "<alice@corp.example>", .client = "10.8.0.25",
	  .want_line = "alice@corp.example accept directory=hq", .want_lookups = ANY },
	{ .rcpt = "<who@relay.example>", .client = "10.9.0.1",
	  .want_line = "who@relay.example reject code=554 dsn=5.4.6 loop=yes",
	  .want_lookups = ANY },
	/* a target equal to the address itself would loop between MTAs */
	{ .rcpt = "<self@corp.example>",
	  .want_line = "self@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes",
	  .want_lookups = ANY },
	/* entries of one directory: same decision, or ambiguous */
	{ .rcpt = "<twice@corp.example>",
	  .want_line = "twice@corp.example accept directory=hq duplicate=2",
	  .want_lookups = ANY },
	{ .rcpt = "<shared@corp.example>",
	  .want_line = "shared@corp.example tempfail code=451 dsn=4.1.4 directory=hq reason=ambiguous ambiguous=2",
	  .want_lookups = ANY },
	{ .rcpt = "<shared@corp.example>", .accept_on_error = 1,
	  .want_line = "shared@corp.example tempfail code=451 dsn=4.1.4 directory=hq reason=ambiguous ambiguous=2",
	  .want_lookups = ANY },
	/* targets inside a shared domain are decided again */
	{ .rcpt = "<tomail@corp.example>",
	  .want_line = "tomail@corp.example route to=alice@corp.example directory=hq target=yes hops=1",
	  .want_lookups = ANY },
	{ .rcpt = "<toforeign@corp.example>",
	  .want_line = "toforeign@corp.example route to=bob@legacy.corp.example directory=hq target=yes hops=1",
	  .want_transport = "smtp:[10.8.0.25]", .want_lookups = ANY },
	{ .rcpt = "<ping@corp.example>",
	  .want_line = "ping@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes hops=1",
	  .want_lookups = ANY },
	{ .rcpt = "<tonobody@corp.example>",
	  .want_line = "tonobody@corp.example reject code=550 dsn=5.1.1 directory=hq target=yes hops=1",
	  .want_lookups = ANY },
	{ .rcpt = "<c2@corp.example>",
	  .want_line = "c2@corp.example route to=c6@corp.example directory=hq target=yes hops=4",
	  .want_lookups = ANY },
	{ .rcpt = "<c1@corp.example>",
	  .want_line = "c1@corp.example reject code=554 dsn=5.4.6 directory=hq target=yes loop=yes hops=4",
	  .want_lookups = ANY },
	/* spellings the MTA resolves into a shared domain are never skipped:
	 * a trailing dot is no part of the domain */
	{ .rcpt = "<nobody@corp.example.>",
	  .want_line = "nobody@corp.example reject code=550 dsn=5.1.1", .want_lookups = 1 },
	{ .rcpt = "<bob@corp.example.>",
	  .want_line = "bob@corp.example route to=bob@legacy.corp.example directory=legacy",
	  .want_lookups = ANY },
	/* the MTA says where it delivers ({rcpt_addr}): decided as that */
	{ .rcpt = "<nobody%corp.example@mx.example>", .mta = "nobody@corp.example",
	  .want_line = "nobody@corp.example reject code=550 dsn=5.1.1 given=nobody%corp.example@mx.example",
	  .want_lookups = 1 },
	{ .rcpt = "<bob%corp.example@mx.example>", .mta = "bob@corp.example",
	  .want_line = "bob@corp.example route to=bob@legacy.corp.example directory=legacy given=bob%corp.example@mx.example",
	  .want_lookups = ANY },
	{ .rcpt = "<corp.example!alice@mx.example>", .mta = "alice@corp.example",
	  .want_line = "alice@corp.example accept directory=hq given=corp.example!alice@mx.example",
	  .want_lookups = ANY },
	/* ... and when it delivers elsewhere, nsmilter stays out */
	{ .rcpt = "<nobody%corp.example@gmail.example>",
	  .mta = "nobody%corp.example@gmail.example",
	  .want_line = "nobody%corp.example@gmail.example skip", .want_lookups = 0 },
	{ .rcpt = "<x@elsewhere.example>", .mta = "x@elsewhere.example",
	  .want_line = "x@elsewhere.example skip", .want_lookups = 0 },
	/* the RCPT's own shared domain comes first */
	{ .rcpt = "<alice@corp.example>", .mta = "alice@elsewhere.example",
	  .want_line = "alice@corp.example accept directory=hq", .want_lookups = ANY },
	/* only the spelling (-q, socketmap, no {rcpt_addr}, or one without a
	 * domain as Sendmail's local mailer gives): refused, never skipped */
	{ .rcpt = "<nobody%corp.example@mx.example>",
	  .want_line = "nobody%corp.example@mx.example reject code=501 dsn=5.1.3 reason=\"percent hack into a shared domain\"",
	  .want_lookups = 0 },
	{ .rcpt = "<alice%corp.example@mx.example>", .mta = "alice",
	  .want_line = "alice%corp.example@mx.example reject code=501 dsn=5.1.3 reason=\"percent hack into a shared domain\"",
	  .want_lookups = 0 },
	{ .rcpt = "<corp.example!nobody@mx.example>",
	  .want_line = "corp.example!nobody@mx.example reject code=501 dsn=5.1.3 reason=\"bang path into a shared domain\"",
	  .want_lookups = 0 },
	{ .rcpt = "<corp.example!nobody>",
	  .want_line = "corp.example!nobody reject code=501 dsn=5.1.3 reason=\"bang path into a shared domain\"",
	  .want_lookups = 0 },
	{ .rcpt = "<a%b%sales.corp.example@mx.example>",
	  .want_line = "a%b%sales.corp.example@mx.example reject code=501 dsn=5.1.3 reason=\"percent hack into a shared domain\"",
	  .want_lookups = 0 },
	{ .rcpt = "<a%elsewhere.example@mx.example>",
	  .want_line = "a%elsewhere.example@mx.example skip", .want_lookups = 0 },
	{ .rcpt = "<\"a%corp.example\"@mx.example>",
	  .want_line = "\"\\\"a%corp.example\\\"@mx.example\" skip", .want_lookups = 0 },
	/* a routing domain inside a shared domain (subdomains) is not */
	{ .rcpt = "<toroute@corp.example>",
	  .want_line = "toroute@corp.example route to=x@legacy.corp.example directory=hq target=yes",
	  .want_lookups = ANY },
};

static void
test_decision_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decide_case *c = &cases[i];
		struct fake f = { .down = { c->down[0], c->down[1] } };
		struct decide_input in = { .rcpt = c->rcpt, .client_addr = c->client,
		    .mta_rcpt = c->mta };
		struct decision d;
		char *line;

		cfg.milter.on_directory_error = c->accept_on_error ?
		    CONFIG_ON_ERROR_ACCEPT : CONFIG_ON_ERROR_TEMPFAIL;
		decide_recipient(&cfg, &in, fake_lookup, &f, &d);
		line = decision_format_query(&d);
		if (line == NULL || strcmp(line, c->want_line) != 0)
			fail_msg("case %zu %s:\n got  %s\n want %s", i, c->rcpt,
			    line ? line : "(null)", c->want_line);
		if (c->want_transport != NULL && (d.transport == NULL ||
		    strcmp(d.transport, c->want_transport) != 0))
			fail_msg("case %zu %s: got transport %s, want %s", i,
			    c->rcpt, d.transport ? d.transport : "(null)",
			    c->want_transport);
		if (c->want_lookups != ANY && f.lookups != c->want_lookups)
			fail_msg("case %zu %s: got %u lookups, want %u", i,
			    c->rcpt, f.lookups, c->want_lookups);
		free(line);
		decision_free(&d);
	}
	cfg.milter.on_directory_error = CONFIG_ON_ERROR_TEMPFAIL;
}

struct reply_case {
	const char *rcpt;
	const char *down;
	const char *want_code, *want_dsn, *want_text;
};

static const struct reply_case reply_cases[] = {
	{ "<nobody@corp.example>", NULL, "550", "5.1.1",
	  "<nobody@corp.example>: Recipient address rejected: User unknown" },
	{ "<nobody@auth.example>", NULL, "550", "5.1.1",
	  "<nobody@auth.example>: No such user here" },
	{ "<a b@corp.example>", NULL, "501", "5.1.3",
	  "<a b@corp.example>: Bad recipient address syntax" },
	{ "<bob@corp.example>", "legacy", "451", "4.4.3",
	  "<bob@corp.example>: Directory unavailable, try again later" },
};

static void
test_replies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];
		struct fake f = { .down = { c->down } };
		struct decide_input in = { .rcpt = c->rcpt };
		struct decision d;
		char *text;

		decide_recipient(&cfg, &in, fake_lookup, &f, &d);
		text = decision_reply_text(&d);
		if (d.code == NULL || strcmp(d.code, c->want_code) != 0 ||
		    strcmp(d.dsn, c->want_dsn) != 0 ||
		    strcmp(text, c->want_text) != 0)
			fail_msg("case %zu: got %s %s %s, want %s %s %s", i,
			    d.code ? d.code : "-", d.dsn ? d.dsn : "-", text,
			    c->want_code, c->want_dsn, c->want_text);
		free(text);
		decision_free(&d);
	}
}

/* Whatever the directories say, a failure is never a 5xx. */
static void
test_failure_never_5xx(void **state)
{
	const char *rcpts[] = { "<alice@corp.example>", "<bob@corp.example>",
		"<nobody@corp.example>", "<dup@corp.example>",
		"<frank+x@corp.example>", "<who@relay.example>",
		"<xavier@extv.example>", "<nobody@extv.example>",
		"<ann@auth.example>", "<nobody@auth.example>" };
	const char *downs[][2] = { { "hq", NULL }, { "legacy", NULL },
		{ "hq", "legacy" } };

	(void)state;
	for (size_t r = 0; r < sizeof(rcpts) / sizeof(rcpts[0]); r++)
		for (size_t k = 0; k < 3; k++) {
			struct fake f = { .down = { downs[k][0], downs[k][1] } };
			struct decide_input in = { .rcpt = rcpts[r] };
			struct decision d;

			bool involved = false;

			decide_recipient(&cfg, &in, fake_lookup, &f, &d);
			for (size_t i = 0; d.domain && i < d.domain->n_dirs; i++)
				for (size_t j = 0; j < 2 && downs[k][j]; j++)
					if (strcmp(d.domain->dirs[i]->name,
					    downs[k][j]) == 0)
						involved = true;
			assert_true(involved || d.domain == NULL ||
			    strcmp(d.domain->name, "extv.example") == 0 ||
			    strcmp(d.domain->name, "auth.example") == 0 ||
			    strcmp(d.domain->name, "relay.example") == 0);
			if (involved && d.code != NULL && d.code[0] == '5')
				fail_msg("%s with %s down: got %s", rcpts[r],
				    downs[k][0], d.code);
			decision_free(&d);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_table),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_failure_never_5xx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
