/*
 * test_config.c - config_load(): typed values, defaults, every error class
 * with its exact line, cross-checks, config_find_domain().
 *
 * Each test writes its INI text to a file in a private temporary directory;
 * "%F" in an expected error line stands for that file's path, "%D" for the
 * directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* asprintf */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"

#define MAX_LINES 8

static char tmpdir[] = "/tmp/nsmilter-test-config.XXXXXX";
static int file_seq;

/* Write TEXT (with %D replaced by tmpdir) to a new file; returns its path. */
static char *
write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	if (name != NULL)
		assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	else
		assert_true(asprintf(&path, "%s/test%d.ini", tmpdir,
		    ++file_seq) > 0);
	assert_non_null(f = fopen(path, "w"));
	/* private, as a password file must be (else: a warning) */
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'D') {
			fputs(tmpdir, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	assert_int_equal(fclose(f), 0);
	return path;
}

/* WANT with %F -> PATH and %D -> tmpdir. */
static char *
expand(const char *want, const char *path)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	for (const char *p = want; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'F') {
			fputs(path, f);
			p++;
		} else if (p[0] == '%' && p[1] == 'D') {
			fputs(tmpdir, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	return out;
}

static void
print_errors(const struct config_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("#   %s\n", e->lines[i]);
}

static struct config *
load_ok(const char *text)
{
	struct config_errors e;
	char *path = write_file(NULL, text);
	struct config *cfg = config_load(path, &e);

	if (cfg == NULL || e.n != 0) {
		print_errors(&e);
		fail_msg("%s: got %zu error lines, want none", path, e.n);
	}
	config_errors_free(&e);
	free(path);
	return cfg;
}

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if ((g_ == NULL) != (w_ == NULL) || \
	    (g_ != NULL && strcmp(g_, w_) != 0)) \
		fail_msg("%s: got '%s', want '%s'", #got, \
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)
#define CHECK_NUM(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) \
		fail_msg("%s: got %lld, want %lld", #got, g_, w_); \
} while (0)

/* A domain and a directory that need nothing else. */
#define MINIMAL_DIR "[directory d]\nuri = ldap://127.0.0.1\nbase = dc=x\n"
#define MINIMAL_DOM "[domain corp.example]\ndirectories = d\n"
#define MINIMAL MINIMAL_DIR MINIMAL_DOM

/* ---- every key, typed ------------------------------------------------ */

static void
test_full(void **state)
{
	(void)state;
	char *pw = write_file("hq.secret", "s3cret\n");
	char *ca = write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
	struct config *cfg = load_ok(
	    "[milter]\n"
	    "socket = inet:8895@127.0.0.1\n"
	    "user = nsmilter\n"
	    "socket_mode = 0640\n"
	    "pidfile = /run/nsmilter/nsmilter.pid\n"
	    "syslog_facility = local3\n"
	    "log_level = debug\n"
	    "cache_ttl = 10m\n"
	    "negative_cache_ttl = 30s\n"
	    "cache_size = 5000\n"
	    "on_directory_error = accept\n"
	    "trace_header = yes\n"
	    "mode = observe\n"
	    "max_unknown = 0\n"
	    "socketmap = local:/run/nsmilter/socketmap.sock\n"
	    "metrics = INET:9120@127.0.0.1\n"
	    "[directory hq]\n"
	    "uri = ldap://dc1.corp.example, ldap://dc2.corp.example\n"
	    "bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example\n"
	    "bind_password_file = %D/hq.secret\n"
	    "base = DC=corp,DC=example\n"
	    "scope = one\n"
	    "filter = (|(mail=%s)(proxyAddresses=smtp:%s))\n"
	    "target_attribute = targetAddress\n"
	    "timeout = 1500ms\n"
	    "starttls = yes\n"
	    "tls_ca_file = %D/ca.pem\n"
	    "tls_verify = no\n"
	    "pool_size = 8\n"
	    "[directory legacy]\n"
	    "uri = ldapi://%2Frun%2Fslapd%2Fldapi\n"
	    "base = ou=people,dc=legacy,dc=example\n"
	    "route = Legacy.Corp.Example\n"
	    "transport = smtp:[10.8.0.25]\n"
	    "hosts = 10.8.0.25 2001:db8::25\n"
	    "[domain corp.example]\n"
	    "type = internal-relay\n"
	    "directories = legacy, HQ\n"
	    "unknown = route\n"
	    "fallback_route = other.corp.example\n"
	    "fallback_transport = smtp:[10.9.0.1]:25\n"
	    "fallback_hosts = 10.9.0.1, 10.9.0.2\n"
	    "subdomains = yes\n"
	    "recipient_delimiter = +-\n"
	    "rewrite = no\n"
	    "mode = enforce\n"
	    "reject_text = No such user here\n"
	    "tempfail_text = Try later\n");
	const struct milter_config *m = &cfg->milter;
	const struct directory_config *hq, *legacy;
	const struct domain_config *dom;

	CHECK_STR(m->socket, "inet:8895@127.0.0.1");
	CHECK_STR(m->user, "nsmilter");
	CHECK_NUM(m->socket_mode, 0640);
	CHECK_STR(m->pidfile, "/run/nsmilter/nsmilter.pid");
	CHECK_NUM(m->syslog_facility, LOG_LOCAL3);
	CHECK_NUM(m->log_level, CONFIG_LOG_DEBUG);
	CHECK_NUM(m->cache_ttl_ms, 600000);
	CHECK_NUM(m->negative_cache_ttl_ms, 30000);
	CHECK_NUM(m->cache_size, 5000);
	CHECK_NUM(m->on_directory_error, CONFIG_ON_ERROR_ACCEPT);
	CHECK_NUM(m->trace_header, true);
	CHECK_NUM(m->mode, CONFIG_MODE_OBSERVE);
	CHECK_NUM(m->max_unknown, 0);
	CHECK_STR(m->socketmap, "unix:/run/nsmilter/socketmap.sock");
	CHECK_STR(m->metrics, "inet:9120@127.0.0.1");

	CHECK_NUM(cfg->n_directories, 2);
	hq = &cfg->directories[0];
	legacy = &cfg->directories[1];
	CHECK_STR(hq->name, "hq");
	CHECK_NUM(hq->index, 0);
	CHECK_NUM(hq->uri.n, 2);
	CHECK_STR(hq->uri.v[0], "ldap://dc1.corp.example");
	CHECK_STR(hq->uri.v[1], "ldap://dc2.corp.example");
	CHECK_STR(hq->bind_dn, "CN=nsmilter,OU=Service,DC=corp,DC=example");
	CHECK_STR(hq->bind_password, "s3cret");
	CHECK_STR(hq->base, "DC=corp,DC=example");
	CHECK_NUM(hq->scope, CONFIG_SCOPE_ONE);
	CHECK_STR(hq->filter, "(|(mail=%s)(proxyAddresses=smtp:%s))");
	CHECK_STR(hq->target_attribute, "targetAddress");
	CHECK_NUM(hq->timeout_ms, 1500);
	CHECK_NUM(hq->starttls, true);
	CHECK_STR(hq->tls_ca_file, ca);
	CHECK_NUM(hq->tls_verify, false);
	CHECK_NUM(hq->pool_size, 8);
	CHECK_STR(hq->route, NULL);
	CHECK_NUM(hq->hosts.n, 0);

	CHECK_STR(legacy->name, "legacy");
	CHECK_NUM(legacy->index, 1);
	CHECK_STR(legacy->uri.v[0], "ldapi://%2Frun%2Fslapd%2Fldapi");
	CHECK_STR(legacy->bind_dn, NULL);
	CHECK_STR(legacy->bind_password, NULL);
	CHECK_STR(legacy->route, "legacy.corp.example");
	CHECK_STR(legacy->transport, "smtp:[10.8.0.25]");
	CHECK_NUM(legacy->hosts.n, 2);
	CHECK_STR(legacy->hosts.v[1], "2001:db8::25");

	CHECK_NUM(cfg->n_domains, 1);
	dom = &cfg->domains[0];
	CHECK_STR(dom->name, "corp.example");
	CHECK_NUM(dom->type, CONFIG_DOMAIN_INTERNAL_RELAY);
	CHECK_NUM(dom->n_dirs, 2);
	if (dom->dirs[0] != legacy || dom->dirs[1] != hq)
		fail_msg("dirs: got %s, %s, want legacy, hq",
		    dom->dirs[0]->name, dom->dirs[1]->name);
	CHECK_NUM(dom->unknown, CONFIG_UNKNOWN_ROUTE);
	CHECK_STR(dom->fallback_route, "other.corp.example");
	CHECK_STR(dom->fallback_transport, "smtp:[10.9.0.1]:25");
	CHECK_NUM(dom->fallback_hosts.n, 2);
	CHECK_STR(dom->fallback_hosts.v[0], "10.9.0.1");
	CHECK_NUM(dom->subdomains, true);
	CHECK_STR(dom->recipient_delimiter, "+-");
	CHECK_NUM(dom->rewrite, false);
	CHECK_NUM(dom->mode, CONFIG_MODE_ENFORCE);
	CHECK_STR(dom->reject_text, "No such user here");
	CHECK_STR(dom->tempfail_text, "Try later");
	CHECK_STR(cfg->path + strlen(cfg->path) - 4, ".ini");

	config_free(cfg);
	free(pw);
	free(ca);
}

/* ---- defaults ---------------------------------------------------------- */

/* sync set: no filter unless the file gives one; every mode loads. */
static void
test_mirror_filter(void **state)
{
	static const char *const modes[] = { "syncrepl", "dirsync", "poll" };
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		char *text;
		struct config *cfg;

		assert_true(asprintf(&text, MINIMAL_DIR "sync = %s\n"
		    MINIMAL_DOM, modes[i]) > 0);
		cfg = load_ok(text);
		CHECK_NUM(cfg->directories[0].sync, (int)i + 1);
		CHECK_STR(cfg->directories[0].filter, NULL);
		config_free(cfg);
		free(text);
	}
	{
		struct config *cfg = load_ok(MINIMAL_DIR "sync = poll\n"
		    "filter = (uid=%u)\n" MINIMAL_DOM);

		CHECK_STR(cfg->directories[0].filter, "(uid=%u)");
		config_free(cfg);
	}
	{
		struct config *cfg = load_ok(MINIMAL_DIR "sync = none\n"
		    MINIMAL_DOM);

		CHECK_STR(cfg->directories[0].filter, "(mail=%s)");
		config_free(cfg);
	}
}

static void
test_defaults(void **state)
{
	(void)state;
	struct config *cfg = load_ok(MINIMAL);
	const struct milter_config *m = &cfg->milter;
	const struct directory_config *d = &cfg->directories[0];
	const struct domain_config *dom = &cfg->domains[0];

	CHECK_STR(m->socket, "unix:/run/nsmilter/nsmilter.sock");
	CHECK_STR(m->user, NULL);
	CHECK_NUM(m->socket_mode, 0660);
	CHECK_STR(m->pidfile, NULL);
	CHECK_NUM(m->syslog_facility, LOG_MAIL);
	CHECK_NUM(m->log_level, CONFIG_LOG_INFO);
	CHECK_NUM(m->cache_ttl_ms, 300000);
	CHECK_NUM(m->negative_cache_ttl_ms, 60000);
	CHECK_NUM(m->cache_size, 100000);
	CHECK_NUM(m->on_directory_error, CONFIG_ON_ERROR_TEMPFAIL);
	CHECK_NUM(m->trace_header, false);
	CHECK_NUM(m->mode, CONFIG_MODE_ENFORCE);
	CHECK_NUM(m->max_unknown, 20);
	CHECK_STR(m->socketmap, NULL);
	CHECK_STR(m->metrics, NULL);

	CHECK_STR(d->bind_dn, NULL);
	CHECK_STR(d->bind_password_file, NULL);
	CHECK_STR(d->bind_password, NULL);
	CHECK_NUM(d->scope, CONFIG_SCOPE_SUB);
	CHECK_STR(d->filter, "(mail=%s)");
	CHECK_STR(d->target_attribute, NULL);
	CHECK_NUM(d->timeout_ms, 2000);
	CHECK_NUM(d->starttls, false);
	CHECK_STR(d->tls_ca_file, NULL);
	CHECK_NUM(d->tls_verify, true);
	CHECK_NUM(d->pool_size, 4);
	CHECK_STR(d->route, NULL);
	CHECK_STR(d->transport, NULL);
	CHECK_NUM(d->hosts.n, 0);
	CHECK_NUM(d->sync, CONFIG_SYNC_NONE);
	CHECK_NUM(d->address_attributes.n, 2);
	CHECK_STR(d->address_attributes.v[1], "proxyAddresses");
	CHECK_STR(d->sync_filter, "(objectClass=*)");
	CHECK_NUM(d->sync_interval_ms, 300000);
	CHECK_NUM(d->max_staleness_ms, 86400000);
	CHECK_NUM(d->confirm_unknown, true);
	CHECK_STR(d->state_dir, "/var/lib/nsmilter");

	CHECK_NUM(dom->type, CONFIG_DOMAIN_AUTHORITATIVE);
	CHECK_NUM(dom->n_dirs, 1);
	CHECK_NUM(dom->unknown, CONFIG_UNKNOWN_REJECT);
	CHECK_STR(dom->fallback_route, NULL);
	CHECK_STR(dom->fallback_transport, NULL);
	CHECK_NUM(dom->fallback_hosts.n, 0);
	CHECK_NUM(dom->subdomains, false);
	CHECK_STR(dom->recipient_delimiter, NULL);
	CHECK_NUM(dom->rewrite, true);
	CHECK_NUM(dom->mode, CONFIG_MODE_INHERIT);
	CHECK_STR(dom->reject_text, NULL);
	CHECK_STR(dom->tempfail_text, NULL);
	config_free(cfg);
}

/* Empty values are "not set": the default, as in the sample nsmilter.ini. */
static void
test_empty_is_default(void **state)
{
	(void)state;
	struct config *cfg = load_ok(
	    "[milter]\nsocket =\nsocketmap =\nlog_level =\ncache_ttl =\n"
	    MINIMAL_DIR "filter =\ntarget_attribute =\ntls_ca_file =\n"
	    MINIMAL_DOM "mode =\nfallback_route =\nreject_text =\n");

	CHECK_STR(cfg->milter.socket, "unix:/run/nsmilter/nsmilter.sock");
	CHECK_STR(cfg->milter.socketmap, NULL);
	CHECK_NUM(cfg->milter.log_level, CONFIG_LOG_INFO);
	CHECK_NUM(cfg->milter.cache_ttl_ms, 300000);
	CHECK_STR(cfg->directories[0].filter, "(mail=%s)");
	CHECK_NUM(cfg->domains[0].mode, CONFIG_MODE_INHERIT);
	config_free(cfg);
}

/*
 * "base =" written but empty is the root, for a search of Active
 * Directory's Global Catalog (the whole forest); leaving base out is still
 * an error (see test_errors).
 */
static void
test_empty_base(void **state)
{
	(void)state;
	struct config *cfg = load_ok(
	    "[directory gc]\nuri = ldaps://dc1.corp.example:3269\nbase =\n"
	    "[domain corp.example]\ndirectories = gc\n");

	CHECK_STR(cfg->directories[0].base, "");
	config_free(cfg);
}

/* ---- value types, table-driven ---------------------------------------- */

struct value_case {
	const char *value;
	long long want;          /* when want_error is NULL */
	const char *want_error;  /* the text after "FILE: [milter] key: " */
};

/* Load "[milter]\nKEY = VALUE" and check FIELD or the one error line. */
static void
run_value_cases(const char *key, const struct value_case *cases, size_t n,
    size_t offset, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		const struct value_case *c = &cases[i];
		struct config_errors e;
		char *text, *path, *want;
		struct config *cfg;

		assert_true(asprintf(&text, "[milter]\n%s = %s\n" MINIMAL,
		    key, c->value) > 0);
		path = write_file(NULL, text);
		cfg = config_load(path, &e);
		if (c->want_error == NULL) {
			long long got = 0;

			if (cfg == NULL) {
				print_errors(&e);
				fail_msg("%s = %s: got errors, want %lld", key,
				    c->value, c->want);
			}
			if (size == sizeof(bool))
				got = *(bool *)((char *)&cfg->milter + offset);
			else
				got = *(unsigned *)((char *)&cfg->milter +
				    offset);
			if (got != c->want)
				fail_msg("%s = %s: got %lld, want %lld", key,
				    c->value, got, c->want);
		} else {
			assert_true(asprintf(&want, "%s: [milter] %s: %s", path,
			    key, c->want_error) > 0);
			if (cfg != NULL || e.n != 1 ||
			    strcmp(e.lines[0], want) != 0) {
				print_errors(&e);
				fail_msg("%s = %s: got %zu lines, want '%s'",
				    key, c->value, e.n, want);
			}
			free(want);
		}
		config_free(cfg);
		config_errors_free(&e);
		free(path);
		free(text);
	}
}

#define RUN(key, cases, field) \
	run_value_cases(key, cases, sizeof(cases) / sizeof(cases[0]), \
	    offsetof(struct milter_config, field), \
	    sizeof(((struct milter_config *)0)->field))

static void
test_durations(void **state)
{
	(void)state;
	static const struct value_case cases[] = {
		{ .value = "2s", .want = 2000 },
		{ .value = "500ms", .want = 500 },
		{ .value = "5m", .want = 300000 },
		{ .value = "1h", .want = 3600000 },
		{ .value = "24h", .want = 86400000 },
		{ .value = "7", .want = 7000 },
		{ .value = "0", .want = 0 },
		{ .value = "abc",
		  .want_error = "'abc' is not a duration (use s, m, h or d)" },
		{ .value = "1.5s",
		  .want_error = "'1.5s' is not a duration (use s, m, h or d)" },
		{ .value = "-1s",
		  .want_error = "'-1s' is not a duration (use s, m, h or d)" },
		{ .value = "1d", .want = 86400000 },
		{ .value = "5d",
		  .want_error = "'5d' is out of range (0 to 24h)" },
		{ .value = "25h",
		  .want_error = "'25h' is out of range (0 to 24h)" },
		{ .value = "99999999999999999999h",
		  .want_error = "'99999999999999999999h' is not a duration "
		  "(use s, m, h or d)" },
	};

	RUN("cache_ttl", cases, cache_ttl_ms);
}

static void
test_bools(void **state)
{
	(void)state;
	static const struct value_case cases[] = {
		{ .value = "yes", .want = 1 }, { .value = "no", .want = 0 },
		{ .value = "true", .want = 1 }, { .value = "false", .want = 0 },
		{ .value = "on", .want = 1 }, { .value = "off", .want = 0 },
		{ .value = "1", .want = 1 }, { .value = "0", .want = 0 },
		{ .value = "YES", .want = 1 },
		{ .value = "maybe",
		  .want_error = "'maybe' is not a boolean (use yes or no)" },
	};

	RUN("trace_header", cases, trace_header);
}

static void
test_numbers(void **state)
{
	(void)state;
	static const struct value_case unknowns[] = {
		{ .value = "0", .want = 0 },
		{ .value = "1000000", .want = 1000000 },
		{ .value = "1000001",
		  .want_error = "'1000001' is out of range (0 to 1000000)" },
		{ .value = "-1", .want_error = "'-1' is not a number" },
		{ .value = "ten", .want_error = "'ten' is not a number" },
	};
	static const struct value_case modes[] = {
		{ .value = "0660", .want = 0660 },
		{ .value = "600", .want = 0600 },
		{ .value = "0888",
		  .want_error = "'0888' is not an octal mode (e.g. 0660)" },
		{ .value = "01777",
		  .want_error = "'01777' is out of range (0 to 0777)" },
	};
	static const struct value_case facilities[] = {
		{ .value = "mail", .want = LOG_MAIL },
		{ .value = "daemon", .want = LOG_DAEMON },
		{ .value = "local7", .want = LOG_LOCAL7 },
		{ .value = "kern", .want_error = "'kern' is not one of mail, "
		  "daemon, user, local0, local1, local2, local3, local4, "
		  "local5, local6, local7" },
	};

	RUN("max_unknown", unknowns, max_unknown);
	RUN("socket_mode", modes, socket_mode);
	run_value_cases("syslog_facility", facilities,
	    sizeof(facilities) / sizeof(facilities[0]),
	    offsetof(struct milter_config, syslog_facility), sizeof(int));
}

static void
test_lists(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		size_t want_n;
		const char *want[3];
	} cases[] = {
		{ .value = "10.0.0.1", .want_n = 1, .want = { "10.0.0.1" } },
		{ .value = "10.0.0.1 10.0.0.2", .want_n = 2,
		  .want = { "10.0.0.1", "10.0.0.2" } },
		{ .value = "10.0.0.1,10.0.0.2", .want_n = 2,
		  .want = { "10.0.0.1", "10.0.0.2" } },
		{ .value = "10.0.0.1 ,, 10.0.0.2,\t::1", .want_n = 3,
		  .want = { "10.0.0.1", "10.0.0.2", "::1" } },
		{ .value = ",", .want_n = 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text;
		struct config *cfg;
		const struct strlist *l;

		assert_true(asprintf(&text, MINIMAL_DIR "hosts = %s\n"
		    MINIMAL_DOM, cases[i].value) > 0);
		cfg = load_ok(text);
		l = &cfg->directories[0].hosts;
		if (l->n != cases[i].want_n)
			fail_msg("hosts = %s: got %zu items, want %zu",
			    cases[i].value, l->n, cases[i].want_n);
		for (size_t j = 0; j < l->n; j++)
			CHECK_STR(l->v[j], cases[i].want[j]);
		config_free(cfg);
		free(text);
	}
}

/* ---- error lines, table-driven ----------------------------------------- */

struct error_case {
	const char *name;
	const char *ini;         /* NULL: the file does not exist */
	const char *want[MAX_LINES]; /* %F: the file, %D: the temp dir */
};

static const struct error_case error_cases[] = {
	{ .name = "missing file", .ini = NULL,
	  .want = { "%F: cannot read: No such file or directory" } },
	{ .name = "syntax error",
	  .ini = "[milter]\nthis is not a key\n" MINIMAL,
	  .want = { "%F: line 2: syntax error: 'this is not a key'" } },
	{ .name = "unknown section",
	  .ini = "[Mailer]\nsocket = unix:/x\n" MINIMAL,
	  .want = { "%F: [Mailer]: unknown section (use [milter], "
		    "[directory NAME] or [domain NAME])" } },
	{ .name = "section without a name",
	  .ini = "[domain]\n" MINIMAL,
	  .want = { "%F: [domain]: missing name (use [domain NAME])" } },
	{ .name = "key outside a section",
	  .ini = "socket = unix:/x\n" MINIMAL,
	  .want = { "%F: key 'socket' is outside any section" } },
	{ .name = "unknown key",
	  .ini = "[milter]\nsockett = unix:/x\n" MINIMAL,
	  .want = { "%F: [milter] sockett: unknown key" } },
	{ .name = "key of another section",
	  .ini = "[milter]\nsubdomains = yes\n" MINIMAL,
	  .want = { "%F: [milter] subdomains: unknown key (it belongs in "
		    "[domain NAME])" } },
	{ .name = "bad bool",
	  .ini = MINIMAL_DIR "starttls = si\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] starttls: 'si' is not a boolean "
		    "(use yes or no)" } },
	{ .name = "out of range",
	  .ini = MINIMAL_DIR "pool_size = 1000\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] pool_size: '1000' is out of range "
		    "(1 to 256)" } },
	{ .name = "bad enum, section as written",
	  .ini = "[Directory D]\nuri = ldap://x\nbase = o=x\nscope = all\n"
		 MINIMAL_DOM,
	  .want = { "%F: [Directory D] scope: 'all' is not one of base, one, "
		    "sub" } },
	{ .name = "missing directory",
	  .ini = MINIMAL "[domain other.example]\ndirectories = d, nope\n",
	  .want = { "%F: [domain other.example] directories: no [directory "
		    "nope] section" } },
	{ .name = "directory listed twice",
	  .ini = MINIMAL_DIR "[domain corp.example]\ndirectories = d d\n",
	  .want = { "%F: [domain corp.example] directories: 'd' is listed "
		    "twice" } },
	{ .name = "no directories for authoritative",
	  .ini = MINIMAL_DIR "[domain corp.example]\n",
	  .want = { "%F: [domain corp.example] directories: missing, "
		    "required by type = authoritative" } },
	{ .name = "missing fallback_route, unknown = route",
	  .ini = MINIMAL_DIR "[domain corp.example]\ntype = internal-relay\n"
		 "directories = d\nunknown = route\n",
	  .want = { "%F: [domain corp.example] fallback_route: missing, "
		    "required by unknown = route" } },
	{ .name = "missing fallback_route, external-relay",
	  .ini = "[domain corp.example]\ntype = external-relay\n",
	  .want = { "%F: [domain corp.example] fallback_route: missing, "
		    "required by type = external-relay" } },
	{ .name = "unknown = route for authoritative",
	  .ini = MINIMAL_DIR "[domain corp.example]\ndirectories = d\n"
		 "unknown = route\nfallback_route = x.example\n",
	  .want = { "%F: [domain corp.example] unknown: 'route' needs type = "
		    "internal-relay (type is authoritative)" } },
	{ .name = "bad host",
	  .ini = MINIMAL_DIR "hosts = 10.0.0.1, mx.legacy.example\n"
		 MINIMAL_DOM,
	  .want = { "%F: [directory d] hosts: 'mx.legacy.example' is not an "
		    "IP address" } },
	{ .name = "bad fallback host",
	  .ini = MINIMAL "fallback_hosts = 10.0.0.300\n",
	  .want = { "%F: [domain corp.example] fallback_hosts: '10.0.0.300' "
		    "is not an IP address" } },
	{ .name = "unreadable password file",
	  .ini = MINIMAL_DIR "bind_dn = cn=x\n"
		 "bind_password_file = %D/none.secret\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] bind_password_file: cannot read "
		    "'%D/none.secret': No such file or directory" } },
	{ .name = "bind_dn without password file",
	  .ini = MINIMAL_DIR "bind_dn = cn=x\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] bind_password_file: missing, "
		    "required by bind_dn" } },
	{ .name = "bind_password is not a key",
	  .ini = MINIMAL_DIR "bind_password = hunter2\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] bind_password: unknown key (put the "
		    "password in a file named by bind_password_file)" } },
	{ .name = "directory without uri and base",
	  .ini = "[directory d]\nuri =\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] uri: must not be empty",
		    "%F: [directory d] base: missing (required)" } },
	{ .name = "bad uri",
	  .ini = MINIMAL_DIR "uri = ldap://a https://b\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] uri: 'https://b' is not an ldap://, "
		    "ldaps:// or ldapi:// URI" } },
	{ .name = "bad sync mode",
	  .ini = MINIMAL_DIR "sync = rsync\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] sync: 'rsync' is not one of none, "
		    "syncrepl, dirsync, poll" } },
	{ .name = "bad sync_filter",
	  .ini = MINIMAL_DIR "sync = syncrepl\nsync_filter = (a=b\n"
		 MINIMAL_DOM,
	  .want = { "%F: [directory d] sync_filter: '(a=b' is not an LDAP "
		    "filter (unbalanced parentheses)" } },
	{ .name = "max_staleness out of range",
	  .ini = MINIMAL_DIR "max_staleness = 31d\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] max_staleness: '31d' is out of range "
		    "(1s to 720h)" } },
	{ .name = "state_dir relative",
	  .ini = "[milter]\nstate_dir = var/lib\n" MINIMAL,
	  .want = { "%F: [milter] state_dir: 'var/lib' is not an absolute "
		    "path" } },
	{ .name = "bad filter template",
	  .ini = MINIMAL_DIR "filter = (mail=%x)\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] filter: '(mail=%x)' is not a filter "
		    "template (% must be followed by s, u, d or %)" } },
	{ .name = "filter with unbalanced parentheses",
	  .ini = MINIMAL_DIR "filter = (|(mail=%s)\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] filter: '(|(mail=%s)' is not an LDAP "
		    "filter (unbalanced parentheses)" } },
	{ .name = "filter without expansion",
	  .ini = MINIMAL_DIR "filter = (mail=%%s)\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] filter: '(mail=%%s)' does not use %s, "
		    "%u or %d" } },
	{ .name = "route not a domain",
	  .ini = MINIMAL_DIR "route = legacy..example\n" MINIMAL_DOM,
	  .want = { "%F: [directory d] route: 'legacy..example' is not a "
		    "domain name" } },
	{ .name = "starttls with ldaps",
	  .ini = "[directory d]\nuri = ldaps://a\nbase = o=x\nstarttls = yes\n"
		 MINIMAL_DOM,
	  .want = { "%F: [directory d] starttls: 'yes' with the ldaps:// uri "
		    "'ldaps://a' (TLS is on already)" } },
	{ .name = "bad socket",
	  .ini = "[milter]\nsocket = inet:99999@127.0.0.1\n" MINIMAL,
	  .want = { "%F: [milter] socket: 'inet:99999@127.0.0.1' is not "
		    "unix:/path or inet:port@host" } },
	{ .name = "socketmap on the milter socket",
	  .ini = "[milter]\nsocket = unix:/run/a.sock\n"
		 "socketmap = local:/run/a.sock\n" MINIMAL,
	  .want = { "%F: [milter] socketmap: 'unix:/run/a.sock' is the "
		    "milter's socket as well" } },
	{ .name = "metrics on a unix socket",
	  .ini = "[milter]\nmetrics = unix:/run/m.sock\n" MINIMAL,
	  .want = { "%F: [milter] metrics: 'unix:/run/m.sock' is not "
		    "inet:port@address" } },
	{ .name = "metrics without a port",
	  .ini = "[milter]\nmetrics = inet:@127.0.0.1\n" MINIMAL,
	  .want = { "%F: [milter] metrics: 'inet:@127.0.0.1' is not "
		    "inet:port@address" } },
	{ .name = "metrics on the socketmap's socket",
	  .ini = "[milter]\nsocketmap = inet:9120@127.0.0.1\n"
		 "metrics = inet:9120@127.0.0.1\n" MINIMAL,
	  .want = { "%F: [milter] metrics: 'inet:9120@127.0.0.1' is the "
		    "milter's or the socketmap's socket as well" } },
	{ .name = "bad delimiter",
	  .ini = MINIMAL "recipient_delimiter = a\n",
	  .want = { "%F: [domain corp.example] recipient_delimiter: 'a' is "
		    "not a set of delimiter characters (e.g. + or +-)" } },
	{ .name = "bad domain section name",
	  .ini = MINIMAL_DIR "[domain corp_example]\ndirectories = d\n",
	  .want = { "%F: [domain corp_example]: 'corp_example' is not a "
		    "domain name" } },
	{ .name = "no domain",
	  .ini = MINIMAL_DIR,
	  .want = { "%F: no [domain NAME] section: nsmilter has nothing to "
		    "decide" } },
	{ .name = "several errors together, in file order",
	  .ini = "[milter]\nlog_level = loud\ncache_size = 0\n"
		 "[directory d]\nuri = ldap://x\ntimeout = abc\n"
		 "[domain corp.example]\ntype = internal-relay\n"
		 "directories = d, e\nunknown = route\n[bogus]\n",
	  .want = {
		"%F: [bogus]: unknown section (use [milter], [directory NAME] "
		"or [domain NAME])",
		"%F: [milter] log_level: 'loud' is not one of error, warning, "
		"info, debug",
		"%F: [milter] cache_size: '0' is out of range (1 to 100000000)",
		"%F: [directory d] timeout: 'abc' is not a duration "
		"(use s, m, h or d)",
		"%F: [directory d] base: missing (required)",
		"%F: [domain corp.example] directories: no [directory e] "
		"section",
		"%F: [domain corp.example] fallback_route: missing, required "
		"by unknown = route" } },
};

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]);
	    i++) {
		const struct error_case *c = &error_cases[i];
		struct config_errors e;
		struct config *cfg;
		char *path;
		size_t want_n = 0;
		bool bad = false;

		if (c->ini != NULL)
			path = write_file(NULL, c->ini);
		else
			assert_true(asprintf(&path, "%s/missing.ini", tmpdir) > 0);
		cfg = config_load(path, &e);
		while (want_n < MAX_LINES && c->want[want_n] != NULL)
			want_n++;
		if (cfg != NULL) {
			print_message("# %s: got a configuration, want NULL\n",
			    c->name);
			bad = true;
		}
		if (e.n != want_n) {
			print_message("# %s: got %zu lines, want %zu\n", c->name,
			    e.n, want_n);
			bad = true;
		}
		for (size_t j = 0; j < want_n && j < e.n; j++) {
			char *want = expand(c->want[j], path);

			if (strcmp(e.lines[j], want) != 0) {
				print_message("# %s: line %zu:\n#  got  %s\n"
				    "#  want %s\n", c->name, j + 1, e.lines[j],
				    want);
				bad = true;
			}
			free(want);
		}
		if (bad) {
			print_errors(&e);
			fail_msg("case '%s' failed", c->name);
		}
		config_free(cfg);
		config_errors_free(&e);
		free(path);
	}
}

/* ---- passwords ------------------------------------------------------------ */

static void
test_password(void **state)
{
	(void)state;
	static const char secret[] = "Pa55-w0rd-XYZZY";
	struct config_errors e;
	struct config *cfg;
	char *pw, *path;

	/* One trailing newline is stripped, no more. */
	pw = write_file("two.secret", "Pa55-w0rd-XYZZY\n\n");
	cfg = load_ok(MINIMAL_DIR "bind_dn = cn=x\n"
	    "bind_password_file = %D/two.secret\n" MINIMAL_DOM);
	CHECK_STR(cfg->directories[0].bind_password, "Pa55-w0rd-XYZZY\n");
	config_free(cfg);
	free(pw);

	/* Other problems: the password is in no line. */
	pw = write_file("pw.secret", "Pa55-w0rd-XYZZY\n");
	path = write_file(NULL, "[directory d]\nbind_dn = cn=x\n"
	    "bind_password_file = %D/pw.secret\nstarttls = maybe\n"
	    "[directory e]\nbind_password_file = %D/pw.secret\n"
	    "uri = ldap://x\nbase = o=x\n"
	    "[domain corp.example]\ndirectories = d, e, f\n");
	cfg = config_load(path, &e);
	assert_null(cfg);
	if (e.n < 4) {
		print_errors(&e);
		fail_msg("got %zu lines, want at least 4", e.n);
	}
	for (size_t i = 0; i < e.n; i++) {
		if (strstr(e.lines[i], secret) != NULL)
			fail_msg("the password is in '%s'", e.lines[i]);
	}
	config_errors_free(&e);
	free(path);

	/* An empty password file is refused. */
	free(write_file("empty.secret", "\n"));
	path = write_file(NULL, MINIMAL_DIR "bind_dn = cn=x\n"
	    "bind_password_file = %D/empty.secret\n" MINIMAL_DOM);
	cfg = config_load(path, &e);
	assert_null(cfg);
	assert_int_equal(e.n, 1);
	{
		char *want = expand("%F: [directory d] bind_password_file: "
		    "'%D/empty.secret' is empty", path);

		CHECK_STR(e.lines[0], want);
		free(want);
	}
	config_errors_free(&e);
	free(path);
	free(pw);
}

/* ---- warnings: risky settings that still load ----------------------------- */

struct warning_case {
	const char *name;
	const char *dir;          /* [directory d] lines after the first */
	const char *want[3];      /* expected warning lines, "%F" = file */
};

static const struct warning_case warning_cases[] = {
	{ .name = "bind over plain ldap://",
	  .dir = "uri = ldap://a ldaps://b\nbind_dn = cn=x\n"
		 "bind_password_file = %D/w.secret\n",
	  .want = { "%F: [directory d] starttls: warning: 'no': the bind "
		    "password goes in clear text to 'ldap://a' (use starttls "
		    "= yes, or an ldaps:// uri)" } },
	{ .name = "bind over StartTLS", .want = { NULL },
	  .dir = "uri = ldap://a\nstarttls = yes\nbind_dn = cn=x\n"
		 "bind_password_file = %D/w.secret\n" },
	{ .name = "bind over ldaps:// and ldapi://", .want = { NULL },
	  .dir = "uri = ldaps://a ldapi://%2Frun%2Fs\nbind_dn = cn=x\n"
		 "bind_password_file = %D/w.secret\n" },
	{ .name = "anonymous over plain ldap://", .want = { NULL },
	  .dir = "uri = ldap://a\n" },
	{ .name = "certificates not checked",
	  .dir = "uri = ldaps://a\ntls_verify = no\n",
	  .want = { "%F: [directory d] tls_verify: warning: 'no': the "
		    "server's certificate is not checked, so whoever can "
		    "intercept the connection can pose as the directory" } },
	{ .name = "both",
	  .dir = "uri = ldap://a\nbind_dn = cn=x\ntls_verify = no\n"
		 "bind_password_file = %D/w.secret\n",
	  .want = { "%F: [directory d] starttls: warning: 'no': the bind "
		    "password goes in clear text to 'ldap://a' (use starttls "
		    "= yes, or an ldaps:// uri)",
		    "%F: [directory d] tls_verify: warning: 'no': the "
		    "server's certificate is not checked, so whoever can "
		    "intercept the connection can pose as the directory and "
		    "read the bind password" } },
};

static void
test_warnings(void **state)
{
	(void)state;
	free(write_file("w.secret", "Pa55-w0rd-XYZZY\n"));
	for (size_t i = 0; i < sizeof(warning_cases) /
	    sizeof(warning_cases[0]); i++) {
		const struct warning_case *c = &warning_cases[i];
		struct config_errors e;
		struct config *cfg;
		char *text, *path;
		size_t want_n = 0;

		assert_true(asprintf(&text, "[directory d]\nbase = o=x\n%s"
		    MINIMAL_DOM, c->dir) > 0);
		path = write_file(NULL, text);
		cfg = config_load(path, &e);
		if (cfg == NULL || e.n != 0) {
			print_errors(&e);
			fail_msg("%s: does not load", c->name);
		}
		while (want_n < 3 && c->want[want_n] != NULL)
			want_n++;
		if (e.n_warnings != want_n)
			fail_msg("%s: got %zu warnings, want %zu", c->name,
			    e.n_warnings, want_n);
		for (size_t j = 0; j < want_n; j++) {
			char *want = expand(c->want[j], path);

			if (strcmp(e.warnings[j], want) != 0)
				fail_msg("%s: got '%s', want '%s'", c->name,
				    e.warnings[j], want);
			if (strstr(e.warnings[j], "Pa55") != NULL)
				fail_msg("%s: the password is in a warning",
				    c->name);
			free(want);
		}
		config_errors_free(&e);
		config_free(cfg);
		free(path);
		free(text);
	}
}

/* ---- lookups --------------------------------------------------------------- */

static void
test_find_domain(void **state)
{
	(void)state;
	static const struct {
		const char *domain;
		const char *want;   /* NULL: none */
	} cases[] = {
		{ "corp.example", "corp.example" },
		{ "CORP.example", "corp.example" },
		{ "a.corp.example", "corp.example" },
		{ "a.b.corp.example", "corp.example" },
		{ "sub.corp.example", "sub.corp.example" },
		/* sub has subdomains = no: the nearest one with yes */
		{ "x.sub.corp.example", "corp.example" },
		{ "deep.x.shop.example", "x.shop.example" },
		{ "other.example", "other.example" },
		{ "a.other.example", NULL },
		{ "notcorp.example", NULL },
		{ "example", NULL },
		{ "", NULL },
	};
	struct config *cfg = load_ok(MINIMAL_DIR
	    "[domain corp.example]\ndirectories = d\nsubdomains = yes\n"
	    "[domain sub.corp.example]\ndirectories = d\n"
	    "[domain other.example]\ndirectories = d\nmode = observe\n"
	    "[domain shop.example]\ndirectories = d\nsubdomains = yes\n"
	    "[domain x.shop.example]\ndirectories = d\nsubdomains = yes\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct domain_config *dom =
		    config_find_domain(cfg, cases[i].domain);
		const char *got = dom != NULL ? dom->name : NULL;

		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got, cases[i].want) != 0))
			fail_msg("config_find_domain(%s): got %s, want %s",
			    cases[i].domain, got ? got : "none",
			    cases[i].want ? cases[i].want : "none");
	}
	CHECK_NUM(config_domain_mode(cfg, config_find_domain(cfg,
	    "corp.example")), CONFIG_MODE_ENFORCE);
	CHECK_NUM(config_domain_mode(cfg, config_find_domain(cfg,
	    "other.example")), CONFIG_MODE_OBSERVE);
	config_free(cfg);

	cfg = load_ok("[milter]\nmode = observe\n" MINIMAL
	    "[domain b.example]\ndirectories = d\nmode = enforce\n");
	CHECK_NUM(config_domain_mode(cfg, &cfg->domains[0]),
	    CONFIG_MODE_OBSERVE);
	CHECK_NUM(config_domain_mode(cfg, &cfg->domains[1]),
	    CONFIG_MODE_ENFORCE);
	config_free(cfg);
}

/* ---- the shipped sample and its syntax --------------------------------- */

static void
test_sample(void **state)
{
	(void)state;
	const char *srcdir = getenv("NSMILTER_SRCDIR");
	struct config_errors e;
	struct config *cfg;
	char *path;

	if (srcdir == NULL)
		srcdir = ".";
	assert_true(asprintf(&path, "%s/etc/nsmilter.ini", srcdir) > 0);
	cfg = config_load(path, &e);
	if (cfg == NULL) {
		print_errors(&e);
		fail_msg("%s: got %zu error lines, want none", path, e.n);
	}
	CHECK_NUM(cfg->n_directories, 2);
	CHECK_STR(cfg->directories[0].name, "hq");
	CHECK_STR(cfg->directories[1].route, "legacy.corp.example");
	CHECK_NUM(cfg->n_domains, 1);
	CHECK_NUM(cfg->domains[0].type, CONFIG_DOMAIN_INTERNAL_RELAY);
	CHECK_NUM(cfg->domains[0].n_dirs, 2);
	CHECK_STR(cfg->domains[0].dirs[1]->name, "legacy");
	config_free(cfg);
	config_errors_free(&e);
	free(path);
}

/* A comment after a section header, as in the sample nsmilter.ini. */
static void
test_section_comment(void **state)
{
	(void)state;
	struct config *cfg = load_ok(
	    "[directory hq]   ; this MTA's own mailboxes\n"
	    "uri = ldap://127.0.0.1   ; a comment\n"
	    "base = dc=x\n"
	    "  [domain corp.example]\t# hash comment\n"
	    "directories = hq\n");

	CHECK_STR(cfg->directories[0].name, "hq");
	CHECK_STR(cfg->directories[0].uri.v[0], "ldap://127.0.0.1");
	CHECK_STR(cfg->domains[0].name, "corp.example");
	config_free(cfg);
}

/* NULL errs is allowed; errs is reset by every call. */
static void
test_errs_handling(void **state)
{
	(void)state;
	char *bad = write_file(NULL, "[milter]\nbogus = 1\n" MINIMAL);
	struct config_errors e;

	assert_null(config_load(bad, NULL));
	assert_null(config_load(bad, &e));
	assert_int_equal(e.n, 1);
	config_errors_free(&e);
	config_free(NULL);
	free(bad);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char *cmd;

	(void)state;
	if (asprintf(&cmd, "rm -rf '%s'", tmpdir) < 0)
		return -1;
	if (system(cmd) != 0)
		print_message("# cannot remove %s\n", tmpdir);
	free(cmd);
	return 0;
}

/* Unsafe file modes: warnings that name the file, section and key. */
static void
test_permission_warnings(void **state)
{
	struct config_errors e;
	struct config *cfg;
	char *pw, *path, *want;

	(void)state;
	pw = write_file("perm.secret", "Pa55-w0rd-XYZZY\n");
	path = write_file(NULL, "[directory d]\nbase = o=x\nuri = ldaps://a\n"
	    "bind_dn = cn=x\nbind_password_file = %D/perm.secret\n"
	    MINIMAL_DOM);
	cfg = config_load(path, &e);
	assert_non_null(cfg);
	assert_int_equal(e.n_warnings, 0);	/* 0600 */
	config_free(cfg);
	config_errors_free(&e);

	assert_int_equal(chmod(pw, 0644), 0);
	assert_int_equal(chmod(path, 0666), 0);
	cfg = config_load(path, &e);
	assert_non_null(cfg);
	assert_int_equal(e.n, 0);
	assert_int_equal(e.n_warnings, 2);
	want = expand("%F: warning: world-writable (mode 0666): anyone can "
	    "change nsmilter's decisions", path);
	assert_string_equal(e.warnings[0], want);
	free(want);
	want = expand("%F: [directory d] bind_password_file: warning: "
	    "'%D/perm.secret' is readable by everyone (mode 0644", path);
	if (strncmp(e.warnings[1], want, strlen(want)) != 0)
		fail_msg("got '%s', want '%s...'", e.warnings[1], want);
	if (strstr(e.warnings[1], "Pa55") != NULL)
		fail_msg("the password is in a warning");
	free(want);
	config_free(cfg);
	config_errors_free(&e);
	free(pw);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_mirror_filter),
		cmocka_unit_test(test_empty_is_default),
		cmocka_unit_test(test_empty_base),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_permission_warnings),
		cmocka_unit_test(test_find_domain),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_section_comment),
		cmocka_unit_test(test_errs_handling),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
