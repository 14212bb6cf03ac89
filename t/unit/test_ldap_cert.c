/*
 * test_ldap_cert.c - reading a directory server's certificate to explain a
 * refused TLS connection (ldap_cert_*, ldap_tls_explain_cert): names,
 * issuer and dates as GnuTLS reads them from real DER files, host-name
 * matching as TLS clients do it, each explanation, and damaged DER that
 * GnuTLS must refuse or read safely (never a crash, never a made-up
 * explanation).
 *
 * Fixtures (t/fixtures/tls/, made with openssl, issued by "Test CA"):
 *   san.der      CN=DC1.corp.example; subjectAltName dc1.corp.example,
 *                *.mail.corp.example, 127.0.0.10, ::1
 *   cn-only.der  CN=ldap.legacy.example, no subjectAltName
 * both valid from 2026-12-01 23:51:18 to 2036-11-28 23:51:18 UTC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "directory/ldap/ldap_cert.h"
#include "directory/ldap/ldap_tls.h"

#define NOT_BEFORE ((time_t)1796169078)  /* 2026-12-01 23:51:18 UTC */
#define NOT_AFTER  ((time_t)2111529078)  /* 2036-11-28 23:51:18 UTC */
#define VALID_NOW  (NOT_BEFORE + 86400)

struct blob {
	unsigned char *p;
	size_t n;
};

static struct blob
fixture(const char *name)
{
	const char *src = getenv("NSMILTER_SRCDIR");
	char path[4096];
	struct blob b = { NULL, 0 };
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/t/fixtures/tls/%s",
	    src != NULL ? src : ".", name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s (set NSMILTER_SRCDIR)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	b.p = malloc((size_t)n);
	assert_non_null(b.p);
	b.n = fread(b.p, 1, (size_t)n, f);
	assert_int_equal(b.n, (size_t)n);
	fclose(f);
	return b;
}

static void
test_parse(void **state)
{
	struct blob b = fixture("san.der");
	struct ldap_cert c;

	(void)state;
	assert_true(ldap_cert_parse(b.p, b.n, &c));
	assert_string_equal(c.subject, "cn=DC1.corp.example,o=nsmilter tests");
	assert_string_equal(c.issuer, "cn=Test CA,o=nsmilter tests");
	assert_string_equal(c.cn, "DC1.corp.example");
	assert_int_equal(c.n_names, 4);
	assert_string_equal(c.names[0], "dc1.corp.example");
	assert_string_equal(c.names[1], "*.mail.corp.example");
	assert_string_equal(c.names[2], "127.0.0.10");
	assert_string_equal(c.names[3], "::1");
	assert_int_equal(c.not_before, NOT_BEFORE);
	assert_int_equal(c.not_after, NOT_AFTER);
	ldap_cert_free(&c);
	ldap_cert_free(&c);   /* twice is harmless */
	free(b.p);
}

static void
test_host_names(void **state)
{
	struct blob b = fixture("san.der"), o = fixture("cn-only.der");
	struct ldap_cert c, k;
	static const struct {
		const char *host;
		bool want;
	} cases[] = {
		{ "dc1.corp.example", true },
		{ "DC1.CORP.EXAMPLE", true },
		{ "dc1.corp.example.", true },
		{ "x.mail.corp.example", true },     /* wildcard: one label */
		{ "a.b.mail.corp.example", false },
		{ "mail.corp.example", false },
		{ "corp.example", false },
		{ "dc2.corp.example", false },
		{ "127.0.0.10", true },
		{ "127.0.0.1", false },
		{ "::1", true },
		{ "0:0::1", true },
		{ "DC1.corp.example.evil", false },
	};

	(void)state;
	assert_true(ldap_cert_parse(b.p, b.n, &c));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ldap_cert_names_host(&c, cases[i].host) != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].host,
			    !cases[i].want, cases[i].want);
	}
	/* without a subjectAltName, the common name counts */
	assert_true(ldap_cert_parse(o.p, o.n, &k));
	assert_int_equal(k.n_names, 0);
	assert_true(ldap_cert_names_host(&k, "ldap.legacy.example"));
	assert_true(ldap_cert_names_host(&k, "LDAP.Legacy.Example"));
	assert_false(ldap_cert_names_host(&k, "legacy.example"));
	assert_false(ldap_cert_names_host(&k, "127.0.0.1"));
	ldap_cert_free(&c);
	ldap_cert_free(&k);
	free(b.p);
	free(o.p);
}

static void
check_explain(const char *file, const char *host, const char *ca,
    time_t now, const char *want)
{
	struct blob b = fixture(file);
	char *got = ldap_tls_explain_cert(b.p, b.n, host, ca, now);

	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s %s: got '%s', want '%s'", file, host,
		    got ? got : "(null)", want);
	free(got);
	free(b.p);
}

static void
test_explain(void **state)
{
	(void)state;
	check_explain("san.der", "127.0.0.1", "/etc/ca.pem", VALID_NOW,
	    "host name 127.0.0.1 does not match certificate "
	    "dc1.corp.example, *.mail.corp.example, 127.0.0.10, ::1");
	check_explain("cn-only.der", "10.8.0.25", NULL, VALID_NOW,
	    "host name 10.8.0.25 does not match certificate "
	    "ldap.legacy.example");
	check_explain("cn-only.der", "ldap.legacy.example", "/ca.pem",
	    NOT_AFTER + 1, "certificate ldap.legacy.example expired "
	    "2036-11-28 23:51:18 UTC");
	check_explain("cn-only.der", "ldap.legacy.example", "/ca.pem",
	    NOT_BEFORE - 1, "certificate ldap.legacy.example not valid "
	    "before 2026-12-01 23:51:18 UTC");
	check_explain("san.der", "dc1.corp.example", "/etc/nsmilter/ca.pem",
	    VALID_NOW, "certificate not trusted (tls_ca_file "
	    "/etc/nsmilter/ca.pem; issued by cn=Test CA,o=nsmilter tests)");
	check_explain("san.der", "x.mail.corp.example", NULL, VALID_NOW,
	    "certificate not trusted (no tls_ca_file, the system's CA "
	    "certificates; issued by cn=Test CA,o=nsmilter tests)");
}

/* Every truncation and single-byte damage: no crash, no read past the end. */
static void
test_damaged(void **state)
{
	struct blob b = fixture("san.der");
	struct ldap_cert c;
	unsigned char *copy;

	(void)state;
	for (size_t n = 0; n < b.n; n++) {
		copy = malloc(n + 1);
		assert_non_null(copy);
		memcpy(copy, b.p, n);
		if (ldap_cert_parse(copy, n, &c))
			fail_msg("a certificate cut to %zu of %zu bytes parsed",
			    n, b.n);
		assert_null(ldap_tls_explain_cert(copy, n, "h", NULL, 0));
		free(copy);
	}
	copy = malloc(b.n);
	assert_non_null(copy);
	for (size_t i = 0; i < b.n; i++) {
		memcpy(copy, b.p, b.n);
		copy[i] ^= 0xff;
		if (ldap_cert_parse(copy, b.n, &c))
			ldap_cert_free(&c);
		free(ldap_tls_explain_cert(copy, b.n, "dc1.corp.example",
		    NULL, VALID_NOW));
	}
	free(copy);
	assert_false(ldap_cert_parse(NULL, 0, &c));
	assert_false(ldap_cert_parse("\x30\x03\x02\x01\x01", 5, &c));
	assert_null(c.crt);
	ldap_cert_free(&c);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_damaged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
