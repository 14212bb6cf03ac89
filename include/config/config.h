/*
 * config.h - nsmilter configuration: the typed form of nsmilter.ini.
 *
 * config_load() reads the INI file with iniparser, converts every key through
 * one option table (name, type, default, bounds) into the structures below,
 * cross-checks them and frees the dictionary.  Nothing else in nsmilter reads
 * the INI file.  A loaded configuration is immutable: reload builds a new one.
 */
#ifndef NSMILTER_CONFIG_H
#define NSMILTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

enum config_mode {
	CONFIG_MODE_INHERIT = 0,
	CONFIG_MODE_ENFORCE,
	CONFIG_MODE_OBSERVE
};
enum config_domain_type {
	CONFIG_DOMAIN_AUTHORITATIVE,
	CONFIG_DOMAIN_INTERNAL_RELAY,
	CONFIG_DOMAIN_EXTERNAL_RELAY
};
enum config_unknown { CONFIG_UNKNOWN_REJECT, CONFIG_UNKNOWN_ROUTE };
enum config_on_error { CONFIG_ON_ERROR_TEMPFAIL, CONFIG_ON_ERROR_ACCEPT };
enum config_scope { CONFIG_SCOPE_BASE, CONFIG_SCOPE_ONE, CONFIG_SCOPE_SUB };
/* The syslog priority itself, so the logger needs no configuration type. */
enum config_log_level {
	CONFIG_LOG_ERROR = LOG_ERR, CONFIG_LOG_WARNING = LOG_WARNING,
	CONFIG_LOG_INFO = LOG_INFO, CONFIG_LOG_DEBUG = LOG_DEBUG
};
/* How a directory is mirrored (nsmilter.ini(5), "Directory mirror"). */
enum config_sync {
	CONFIG_SYNC_NONE, CONFIG_SYNC_SYNCREPL, CONFIG_SYNC_DIRSYNC,
	CONFIG_SYNC_POLL
};

/* A comma- or space-separated list value. */
struct strlist {
	char **v;
	size_t n;
};

/* [milter] */
struct milter_config {
	char *socket;              /* unix:/path or inet:port@host */
	char *user;                /* may be NULL */
	char *socket_group;        /* NULL: the group of user */
	unsigned socket_mode;      /* octal in the file, e.g. 0660 */
	char *pidfile;             /* may be NULL */
	int syslog_facility;       /* LOG_MAIL etc. (syslog.h value) */
	enum config_log_level log_level;
	unsigned cache_ttl_ms;     /* 0 disables the cache */
	unsigned negative_cache_ttl_ms;
	unsigned cache_size;
	enum config_on_error on_directory_error;
	bool trace_header;
	enum config_mode mode;        /* never CONFIG_MODE_INHERIT here */
	unsigned max_unknown;      /* 0 = off */
	char *socketmap;           /* NULL or unix:/path, inet:port@host */
	char *state_dir;           /* mirrors: state_dir/NAME/ */
	char *metrics;             /* NULL or inet:port@host: GET /metrics */
};

/* [directory NAME] */
struct directory_config {
	char *name;
	size_t index;              /* position in config->directories */
	struct strlist uri;        /* failover list, tried in order */
	char *bind_dn;             /* NULL: anonymous */
	char *bind_password_file;
	char *bind_password;       /* read at load time; never logged */
	char *base;                /* "": the root (Global Catalog) */
	enum config_scope scope;
	char *filter;              /* with %s %u %d %% */
	char *target_attribute;    /* NULL: none */
	unsigned timeout_ms;
	bool starttls;
	char *tls_ca_file;
	bool tls_verify;
	unsigned pool_size;
	char *route;               /* NULL: local directory */
	char *transport;           /* socketmap answer; NULL: none */
	struct strlist hosts;      /* loop guard: addresses of that system */
	enum config_sync sync;        /* CONFIG_SYNC_NONE: live lookups only */
	struct strlist address_attributes; /* values that are addresses */
	char *sync_filter;         /* entries under base/scope that count */
	unsigned sync_interval_ms; /* dirsync, poll */
	unsigned max_staleness_ms; /* out of contact longer: an error */
	bool confirm_unknown;      /* a would-be 550 is confirmed live */
	const char *state_dir;     /* [milter] state_dir (the same config's) */
};

/* [domain NAME] */
struct domain_config {
	char *name;                /* lowercase */
	enum config_domain_type type;
	struct directory_config **dirs; /* in order of precedence */
	size_t n_dirs;
	enum config_unknown unknown;
	char *fallback_route;      /* NULL if unset */
	char *fallback_transport;
	struct strlist fallback_hosts;
	bool subdomains;
	char *recipient_delimiter; /* NULL or set of delimiter characters */
	bool rewrite;
	enum config_mode mode;        /* CONFIG_MODE_INHERIT: as [milter] */
	char *reject_text;         /* NULL: default */
	char *tempfail_text;
};

struct config {
	char *path;
	struct milter_config milter;
	struct directory_config *directories;
	size_t n_directories;
	struct domain_config *domains;
	size_t n_domains;
};

/*
 * Problems found while loading: "FILE: [section] key: what is wrong".
 * Warnings, "FILE: [section] key: warning: ...", are settings that work
 * but are risky (a bind password in clear text, certificates not
 * checked): the configuration loads all the same.
 */
struct config_errors {
	char **lines;
	size_t n;
	char **warnings;
	size_t n_warnings;
};

/*
 * Load and check PATH.  Returns a configuration, or NULL with at least one
 * line in ERRS (which the caller frees with config_errors_free).  Every
 * problem is reported, not only the first.  Warnings are in ERRS either
 * way.
 */
struct config *config_load(const char *path, struct config_errors *errs);
void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errs);

/*
 * The shared domain deciding DOMAIN (lowercase): the exact [domain DOMAIN],
 * else the nearest parent with subdomains = yes, else NULL.
 */
const struct domain_config *config_find_domain(const struct config *cfg,
    const char *domain);

/* The effective mode of a domain (its own, else [milter]'s). */
enum config_mode config_domain_mode(const struct config *cfg,
    const struct domain_config *dom);

/* Option table, exported for documentation checks (t/unit/test_config.c). */
struct config_option_info {
	const char *section;   /* "milter", "directory" or "domain" */
	const char *key;
	const char *default_value; /* as written in the file; "" for none */
};
size_t config_options(const struct config_option_info **out);

#endif
