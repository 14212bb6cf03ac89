/*
 * test_address.c - address parsing, extension stripping, filter expansion
 * and xtext, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "decision/address.h"
#include "directory/ldap/ldap_filter.h"

struct parse_case {
	const char *raw;
	int want_status;
	const char *want_full;   /* NULL: don't check */
	const char *want_domain;
};

static const struct parse_case parse_cases[] = {
	{ .raw = "<alice@corp.example>", .want_status = ADDRESS_OK,
	  .want_full = "alice@corp.example", .want_domain = "corp.example" },
	{ .raw = "alice@corp.example", .want_status = ADDRESS_OK,
	  .want_full = "alice@corp.example" },
	{ .raw = "<Alice.Smith@CORP.Example>", .want_status = ADDRESS_OK,
	  .want_full = "Alice.Smith@corp.example", .want_domain = "corp.example" },
	{ .raw = "<@relay1.example,@relay2.example:bob@corp.example>",
	  .want_status = ADDRESS_OK, .want_full = "bob@corp.example" },
	{ .raw = "<bob+news@corp.example>", .want_status = ADDRESS_OK,
	  .want_full = "bob+news@corp.example" },
	{ .raw = "<\"john doe\"@corp.example>", .want_status = ADDRESS_OK,
	  .want_full = "\"john doe\"@corp.example" },
	{ .raw = "<\"a@b\"@corp.example>", .want_status = ADDRESS_OK,
	  .want_full = "\"a@b\"@corp.example", .want_domain = "corp.example" },
	{ .raw = "<*@corp.example>", .want_status = ADDRESS_OK },
	{ .raw = "<o'brien@corp.example>", .want_status = ADDRESS_OK },
	{ .raw = "<>", .want_status = ADDRESS_NODOMAIN },
	{ .raw = "", .want_status = ADDRESS_NODOMAIN },
	{ .raw = "<postmaster>", .want_status = ADDRESS_NODOMAIN },
	{ .raw = "<bob@>", .want_status = ADDRESS_NODOMAIN },
	{ .raw = NULL, .want_status = ADDRESS_NODOMAIN },
	/* invalid for a shared domain */
	{ .raw = "<@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<\"unbalanced@corp.example>", .want_status = ADDRESS_INVALID,
	  .want_domain = "corp.example" },
	{ .raw = "<a\"b@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a)(mail=*@corp.example>", .want_status = ADDRESS_INVALID,
	  .want_domain = "corp.example" },
	{ .raw = "<a\\2a@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a b@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a\x01@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a\x7f@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a\r\nRCPT TO:<x@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a,b@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a;b@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a<b@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a[b]@corp.example>", .want_status = ADDRESS_INVALID },
	{ .raw = "<a@b@corp.example>", .want_status = ADDRESS_INVALID,
	  .want_domain = "corp.example" },
	{ .raw = "<bob@corp..example>", .want_status = ADDRESS_INVALID },
	/* a trailing dot is no part of the domain, as the MTAs resolve it */
	{ .raw = "<bob@corp.example.>", .want_status = ADDRESS_OK,
	  .want_full = "bob@corp.example", .want_domain = "corp.example" },
	{ .raw = "bob@Corp.Example.", .want_status = ADDRESS_OK,
	  .want_full = "bob@corp.example" },
	{ .raw = "<bob@corp.example..>", .want_status = ADDRESS_INVALID,
	  .want_domain = "corp.example.." },
	{ .raw = "<bob@.>", .want_status = ADDRESS_INVALID },
	{ .raw = "<bob@[10.0.0.1]>", .want_status = ADDRESS_OK },
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct address a;
		int got = address_parse(c->raw, &a);

		if (got != c->want_status)
			fail_msg("case %zu %s: got status %d, want %d", i,
			    c->raw ? c->raw : "(null)", got, c->want_status);
		if (c->want_full != NULL &&
		    (a.full == NULL || strcmp(a.full, c->want_full) != 0))
			fail_msg("case %zu: got full '%s', want '%s'", i,
			    a.full ? a.full : "(null)", c->want_full);
		if (c->want_domain != NULL &&
		    (a.domain == NULL || strcmp(a.domain, c->want_domain) != 0))
			fail_msg("case %zu: got domain '%s', want '%s'", i,
			    a.domain ? a.domain : "(null)", c->want_domain);
		if (got == ADDRESS_INVALID && a.why == NULL)
			fail_msg("case %zu: invalid without a reason", i);
		address_free(&a);
	}
}

/* What the percent hack and the bang path make of an address, one step. */
static void
test_unhack(void **state)
{
	static const struct { const char *raw; int rc; const char *out; } c[] = {
		{ "<nobody%corp.example@mx.example>", 2, "nobody@corp.example" },
		{ "nobody%corp.example", 2, "nobody@corp.example" },
		{ "<a%b%corp.example@mx.example>", 2, "a%b@corp.example" },
		{ "<corp.example!nobody@mx.example>", 1, "nobody@corp.example" },
		{ "<corp.example!nobody>", 1, "nobody@corp.example" },
		{ "<a!b!user@mx.example>", 1, "b!user@a" },
		/* bang before percent, as Postfix */
		{ "<x.example!u%corp.example@mx>", 1, "u%corp.example@x.example" },
		{ "<bob@corp.example>", 0, NULL },
		{ "<\"a%corp.example\"@mx.example>", 0, NULL },
		{ "<%corp.example@mx>", 0, NULL },
		{ "<nobody%@mx>", 0, NULL },
		{ "<!nobody@mx>", 0, NULL },
		{ "<>", 0, NULL },
		{ NULL, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *out = (char *)"unset";
		int rc = address_unhack(c[i].raw, &out);

		if (rc != c[i].rc || (c[i].out == NULL) != (out == NULL) ||
		    (out != NULL && strcmp(out, c[i].out) != 0))
			fail_msg("case %zu %s: got %d %s, want %d %s", i,
			    c[i].raw ? c[i].raw : "(null)", rc,
			    out ? out : "(null)", c[i].rc,
			    c[i].out ? c[i].out : "(null)");
		free(out);
	}
}

static void
test_lengths(void **state)
{
	char local[80], addr[300];
	struct address a;

	(void)state;
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(addr, sizeof(addr), "<%s@corp.example>", local);
	assert_int_equal(address_parse(addr, &a), ADDRESS_OK);
	address_free(&a);

	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(addr, sizeof(addr), "<%s@corp.example>", local);
	assert_int_equal(address_parse(addr, &a), ADDRESS_INVALID);
	assert_string_equal(a.why, "local part over 64 octets");
	address_free(&a);

	/* 255 octets: a 58-octet local part and a long (valid) domain */
	memset(local, 'b', 58);
	local[58] = '\0';
	snprintf(addr, sizeof(addr), "<%s@%s.%s.%s.%s.corp.example>", local,
	    "d123456789012345678901234567890123456789012345",
	    "d123456789012345678901234567890123456789012345",
	    "d123456789012345678901234567890123456789012345",
	    "d12345678901234567890123456789012345678901");
	assert_int_equal(strlen(addr), 255 + 2);
	assert_int_equal(address_parse(addr, &a), ADDRESS_INVALID);
	assert_string_equal(a.why, "address over 254 octets");
	address_free(&a);
	addr[1] = '<';	/* one octet less: valid */
	assert_int_equal(address_parse(addr + 1, &a), ADDRESS_OK);
	address_free(&a);
}

struct strip_case {
	const char *raw, *delims, *want;
};

static const struct strip_case strip_cases[] = {
	{ "bob+news@corp.example", "+", "bob@corp.example" },
	{ "bob+news+x@corp.example", "+", "bob@corp.example" },
	{ "bob-news@corp.example", "+-", "bob@corp.example" },
	{ "bob@corp.example", "+", NULL },
	{ "+bob@corp.example", "+", NULL },
	{ "bob+news@corp.example", NULL, NULL },
	{ "bob+news@corp.example", "", NULL },
	{ "\"bob+x\"@corp.example", "+", NULL },
};

static void
test_strip_extension(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(strip_cases) / sizeof(strip_cases[0]); i++) {
		struct address a;
		char *got;

		assert_int_equal(address_parse(strip_cases[i].raw, &a), ADDRESS_OK);
		got = address_strip_extension(&a, strip_cases[i].delims);
		if ((got == NULL) != (strip_cases[i].want == NULL) ||
		    (got && strcmp(got, strip_cases[i].want) != 0))
			fail_msg("case %zu %s: got '%s', want '%s'", i,
			    strip_cases[i].raw, got ? got : "(null)",
			    strip_cases[i].want ? strip_cases[i].want : "(null)");
		free(got);
		address_free(&a);
	}
}

struct expand_case {
	const char *tmpl, *addr, *want;
};

static const struct expand_case expand_cases[] = {
	{ "(mail=%s)", "bob@corp.example", "(mail=bob@corp.example)" },
	{ "(|(mail=%s)(proxyAddresses=smtp:%s))", "a@b.example",
	  "(|(mail=a@b.example)(proxyAddresses=smtp:a@b.example))" },
	{ "(&(uid=%u)(dc=%d))", "bob@corp.example",
	  "(&(uid=bob)(dc=corp.example))" },
	{ "(cn=100%%)", "x@y", "(cn=100%)" },
	/* RFC 4515: no value can change the filter's meaning */
	{ "(mail=%s)", "*@corp.example", "(mail=\\2a@corp.example)" },
	{ "(mail=%s)", "a)(mail=*@corp.example",
	  "(mail=a\\29\\28mail=\\2a@corp.example)" },
	{ "(mail=%s)", "a\\5c@corp.example", "(mail=a\\5c5c@corp.example)" },
	{ "(uid=%u)", "a*b(c)\\d@x", "(uid=a\\2ab\\28c\\29\\5cd)" },
	{ "(mail=%x)", "a@b", NULL },
	{ "(mail=%", "a@b", NULL },
};

static void
test_expand_filter(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		const struct expand_case *c = &expand_cases[i];
		char *got = ldapfilter_expand(c->tmpl, c->addr);

		if ((got == NULL) != (c->want == NULL) ||
		    (got && strcasecmp(got, c->want) != 0))
			fail_msg("case %zu %s with %s: got '%s', want '%s'", i,
			    c->tmpl, c->addr, got ? got : "(null)",
			    c->want ? c->want : "(null)");
		free(got);
	}
	assert_true(ldapfilter_template_ok("(mail=%s)"));
	assert_false(ldapfilter_template_ok("(mail=%q)"));
}

static void
test_xtext(void **state)
{
	const char *cases[][2] = {
		{ "bob@corp.example", "bob@corp.example" },
		{ "bob+news@corp.example", "bob+2Bnews@corp.example" },
		{ "a=b@c", "a+3Db@c" },
		{ "\"john doe\"@c", "\"john+20doe\"@c" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = address_xtext(cases[i][0]);
		if (got == NULL || strcmp(got, cases[i][1]) != 0)
			fail_msg("xtext(%s): got '%s', want '%s'", cases[i][0],
			    got ? got : "(null)", cases[i][1]);
		free(got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_unhack),
		cmocka_unit_test(test_strip_extension),
		cmocka_unit_test(test_expand_filter),
		cmocka_unit_test(test_xtext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
