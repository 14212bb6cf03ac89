/*
 * config_table.c - every configuration key in one table.
 *
 * The table drives parsing, defaults, validation, freeing and the
 * documentation check (config_options(), t/unit/test_config_doc.c).  A key
 * that is not here is an error in the file.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config/config_priv.h"

#define SEC  1000UL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* Enumerations are stored through an int lvalue. */
_Static_assert(sizeof(enum config_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_domain_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_unknown) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_on_error) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_scope) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_sync) == sizeof(int), "enum size");

static const struct config_enum facility_names[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 }
};
static const struct config_enum log_level_names[] = {
	{ "error", CONFIG_LOG_ERROR }, { "warning", CONFIG_LOG_WARNING },
	{ "info", CONFIG_LOG_INFO }, { "debug", CONFIG_LOG_DEBUG }, { NULL, 0 }
};
static const struct config_enum on_error_names[] = {
	{ "tempfail", CONFIG_ON_ERROR_TEMPFAIL },
	{ "accept", CONFIG_ON_ERROR_ACCEPT }, { NULL, 0 }
};
static const struct config_enum milter_mode_names[] = {
	{ "enforce", CONFIG_MODE_ENFORCE }, { "observe", CONFIG_MODE_OBSERVE },
	{ NULL, 0 }
};
static const struct config_enum domain_mode_names[] = {
	{ "", CONFIG_MODE_INHERIT }, { "enforce", CONFIG_MODE_ENFORCE },
	{ "observe", CONFIG_MODE_OBSERVE }, { NULL, 0 }
};
static const struct config_enum scope_names[] = {
	{ "base", CONFIG_SCOPE_BASE }, { "one", CONFIG_SCOPE_ONE },
	{ "sub", CONFIG_SCOPE_SUB }, { NULL, 0 }
};
static const struct config_enum type_names[] = {
	{ "authoritative", CONFIG_DOMAIN_AUTHORITATIVE },
	{ "internal-relay", CONFIG_DOMAIN_INTERNAL_RELAY },
	{ "external-relay", CONFIG_DOMAIN_EXTERNAL_RELAY }, { NULL, 0 }
};
static const struct config_enum sync_names[] = {
	{ "none", CONFIG_SYNC_NONE }, { "syncrepl", CONFIG_SYNC_SYNCREPL },
	{ "dirsync", CONFIG_SYNC_DIRSYNC }, { "poll", CONFIG_SYNC_POLL },
	{ NULL, 0 }
};
static const struct config_enum unknown_names[] = {
	{ "reject", CONFIG_UNKNOWN_REJECT }, { "route", CONFIG_UNKNOWN_ROUTE },
	{ NULL, 0 }
};

/* Designated initialisers: unused fields are zero. */
const struct config_option config_table[] = {
	/* [milter] */
	{ .key = "socket", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "unix:/run/nsmilter/nsmilter.sock",
	  .offset = offsetof(struct milter_config, socket),
	  .check = config_syntax_socket, .flags = CONFIG_F_REQUIRED },
	{ .key = "user", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct milter_config, user),
	  .check = config_syntax_word },
	{ .key = "socket_group", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct milter_config, socket_group),
	  .check = config_syntax_word },
	{ .key = "socket_mode", .kind = CONFIG_MILTER, .type = CONFIG_T_OCTAL,
	  .def = "0660", .min = 0, .max = 0777,
	  .offset = offsetof(struct milter_config, socket_mode) },
	{ .key = "pidfile", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct milter_config, pidfile),
	  .check = config_syntax_abs_path },
	{ .key = "syslog_facility", .kind = CONFIG_MILTER,
	  .type = CONFIG_T_ENUM, .def = "mail", .names = facility_names,
	  .offset = offsetof(struct milter_config, syslog_facility) },
	{ .key = "log_level", .kind = CONFIG_MILTER, .type = CONFIG_T_ENUM,
	  .def = "info", .names = log_level_names,
	  .offset = offsetof(struct milter_config, log_level) },
	{ .key = "cache_ttl", .kind = CONFIG_MILTER,
	  .type = CONFIG_T_DURATION, .def = "5m", .min = 0, .max = 24 * HOUR,
	  .offset = offsetof(struct milter_config, cache_ttl_ms) },
	{ .key = "negative_cache_ttl", .kind = CONFIG_MILTER,
	  .type = CONFIG_T_DURATION, .def = "1m", .min = 0, .max = 24 * HOUR,
	  .offset = offsetof(struct milter_config, negative_cache_ttl_ms) },
	{ .key = "cache_size", .kind = CONFIG_MILTER,
	  .type = CONFIG_T_UNSIGNED, .def = "100000", .min = 1,
	  .max = 100000000, .offset = offsetof(struct milter_config, cache_size) },
	{ .key = "on_directory_error", .kind = CONFIG_MILTER,
	  .type = CONFIG_T_ENUM, .def = "tempfail", .names = on_error_names,
	  .offset = offsetof(struct milter_config, on_directory_error) },
	{ .key = "trace_header", .kind = CONFIG_MILTER, .type = CONFIG_T_BOOL,
	  .def = "no", .offset = offsetof(struct milter_config, trace_header) },
	{ .key = "mode", .kind = CONFIG_MILTER, .type = CONFIG_T_ENUM,
	  .def = "enforce", .names = milter_mode_names,
	  .offset = offsetof(struct milter_config, mode) },
	{ .key = "max_unknown", .kind = CONFIG_MILTER,
	  .type = CONFIG_T_UNSIGNED, .def = "20", .min = 0, .max = 1000000,
	  .offset = offsetof(struct milter_config, max_unknown) },
	{ .key = "socketmap", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct milter_config, socketmap),
	  .check = config_syntax_socket },
	{ .key = "state_dir", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "/var/lib/nsmilter",
	  .offset = offsetof(struct milter_config, state_dir),
	  .check = config_syntax_abs_path },
	{ .key = "metrics", .kind = CONFIG_MILTER, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct milter_config, metrics),
	  .check = config_syntax_inet_socket },

	/* [directory NAME] */
	{ .key = "uri", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_LIST,
	  .def = "", .offset = offsetof(struct directory_config, uri),
	  .check = config_syntax_ldap_uri, .flags = CONFIG_F_REQUIRED },
	{ .key = "bind_dn", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct directory_config, bind_dn) },
	{ .key = "bind_password_file", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct directory_config, bind_password_file),
	  .check = config_syntax_abs_path },
	{ .key = "base", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct directory_config, base),
	  .flags = CONFIG_F_PRESENT },
	{ .key = "scope", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_ENUM,
	  .def = "sub", .names = scope_names,
	  .offset = offsetof(struct directory_config, scope) },
	{ .key = "filter", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_STRING,
	  .def = "(mail=%s)", .offset = offsetof(struct directory_config, filter),
	  .check = config_syntax_filter, .flags = CONFIG_F_REQUIRED },
	{ .key = "target_attribute", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct directory_config, target_attribute),
	  .check = config_syntax_attribute },
	{ .key = "timeout", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_DURATION, .def = "2s", .min = 1, .max = 10 * MIN,
	  .offset = offsetof(struct directory_config, timeout_ms) },
	{ .key = "starttls", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_BOOL,
	  .def = "no", .offset = offsetof(struct directory_config, starttls) },
	{ .key = "tls_ca_file", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct directory_config, tls_ca_file),
	  .check = config_syntax_readable },
	{ .key = "tls_verify", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_BOOL,
	  .def = "yes",
	  .offset = offsetof(struct directory_config, tls_verify) },
	{ .key = "pool_size", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_UNSIGNED, .def = "4", .min = 1, .max = 256,
	  .offset = offsetof(struct directory_config, pool_size) },
	{ .key = "route", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct directory_config, route),
	  .check = config_syntax_domain, .flags = CONFIG_F_LOWER },
	{ .key = "transport", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct directory_config, transport),
	  .check = config_syntax_word },
	{ .key = "hosts", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_LIST,
	  .def = "", .offset = offsetof(struct directory_config, hosts),
	  .check = config_syntax_ip },
	{ .key = "sync", .kind = CONFIG_DIRECTORY, .type = CONFIG_T_ENUM,
	  .def = "none", .names = sync_names,
	  .offset = offsetof(struct directory_config, sync) },
	{ .key = "address_attributes", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_LIST, .def = "mail, proxyAddresses",
	  .offset = offsetof(struct directory_config, address_attributes),
	  .check = config_syntax_attribute },
	{ .key = "sync_filter", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_STRING, .def = "(objectClass=*)",
	  .offset = offsetof(struct directory_config, sync_filter),
	  .check = config_syntax_ldap_filter },
	{ .key = "sync_interval", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_DURATION, .def = "5m", .min = SEC, .max = 24 * HOUR,
	  .offset = offsetof(struct directory_config, sync_interval_ms) },
	{ .key = "max_staleness", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_DURATION, .def = "1d", .min = SEC, .max = 30 * DAY,
	  .offset = offsetof(struct directory_config, max_staleness_ms) },
	{ .key = "confirm_unknown", .kind = CONFIG_DIRECTORY,
	  .type = CONFIG_T_BOOL, .def = "yes",
	  .offset = offsetof(struct directory_config, confirm_unknown) },

	/* [domain NAME] */
	{ .key = "type", .kind = CONFIG_DOMAIN, .type = CONFIG_T_ENUM,
	  .def = "authoritative", .names = type_names,
	  .offset = offsetof(struct domain_config, type) },
	{ .key = "directories", .kind = CONFIG_DOMAIN, .type = CONFIG_T_LIST,
	  .def = "", .offset = offsetof(struct config_pending, directories),
	  .flags = CONFIG_F_PENDING },
	{ .key = "unknown", .kind = CONFIG_DOMAIN, .type = CONFIG_T_ENUM,
	  .def = "reject", .names = unknown_names,
	  .offset = offsetof(struct domain_config, unknown) },
	{ .key = "fallback_route", .kind = CONFIG_DOMAIN,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct domain_config, fallback_route),
	  .check = config_syntax_domain, .flags = CONFIG_F_LOWER },
	{ .key = "fallback_transport", .kind = CONFIG_DOMAIN,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct domain_config, fallback_transport),
	  .check = config_syntax_word },
	{ .key = "fallback_hosts", .kind = CONFIG_DOMAIN,
	  .type = CONFIG_T_LIST, .def = "",
	  .offset = offsetof(struct domain_config, fallback_hosts),
	  .check = config_syntax_ip },
	{ .key = "subdomains", .kind = CONFIG_DOMAIN, .type = CONFIG_T_BOOL,
	  .def = "no", .offset = offsetof(struct domain_config, subdomains) },
	{ .key = "recipient_delimiter", .kind = CONFIG_DOMAIN,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct domain_config, recipient_delimiter),
	  .check = config_syntax_delimiter },
	{ .key = "rewrite", .kind = CONFIG_DOMAIN, .type = CONFIG_T_BOOL,
	  .def = "yes", .offset = offsetof(struct domain_config, rewrite) },
	{ .key = "mode", .kind = CONFIG_DOMAIN, .type = CONFIG_T_ENUM,
	  .def = "", .names = domain_mode_names,
	  .offset = offsetof(struct domain_config, mode) },
	{ .key = "reject_text", .kind = CONFIG_DOMAIN, .type = CONFIG_T_STRING,
	  .def = "", .offset = offsetof(struct domain_config, reject_text),
	  .check = config_syntax_text },
	{ .key = "tempfail_text", .kind = CONFIG_DOMAIN,
	  .type = CONFIG_T_STRING, .def = "",
	  .offset = offsetof(struct domain_config, tempfail_text),
	  .check = config_syntax_text },
};
const size_t config_table_len = sizeof(config_table) / sizeof(config_table[0]);

#define N_OPTIONS (sizeof(config_table) / sizeof(config_table[0]))
const struct config_option *
config_table_find(enum config_kind kind, const char *key)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (config_table[i].kind == kind &&
		    strcmp(config_table[i].key, key) == 0)
			return &config_table[i];
	}
	return NULL;
}

void *
config_table_target(const struct config_option *o, void *section,
    struct config_pending *pending)
{
	return (o->flags & CONFIG_F_PENDING) ? (void *)pending : section;
}

static bool
apply_string(const struct config_option *o, char **field, const char *value,
    char **why)
{
	char *copy = NULL;

	if (*value != '\0') {
		if (o->check != NULL && !o->check(value, why))
			return false;
		if ((copy = strdup(value)) == NULL) {
			*why = NULL;
			return false;
		}
		if (o->flags & CONFIG_F_LOWER) {
			for (char *p = copy; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
		}
	}
	free(*field);
	*field = copy;
	return true;
}

static bool
apply_list(const struct config_option *o, struct strlist *field,
    const char *value, char **why)
{
	struct strlist l;

	if (!config_value_list(value, &l)) {
		*why = NULL;
		return false;
	}
	for (size_t i = 0; o->check != NULL && i < l.n; i++) {
		if (!o->check(l.v[i], why)) {
			config_strlist_free(&l);
			return false;
		}
	}
	config_strlist_free(field);
	*field = l;
	return true;
}

bool
config_table_apply(const struct config_option *o, void *target,
    const char *value, char **why)
{
	void *field = (char *)target + o->offset;

	*why = NULL;
	switch (o->type) {
	case CONFIG_T_STRING:
		return apply_string(o, field, value, why);
	case CONFIG_T_BOOL:
		return config_value_bool(value, field, why);
	case CONFIG_T_UNSIGNED:
		return config_value_unsigned(value, o->min, o->max, field, why);
	case CONFIG_T_DURATION:
		return config_value_duration(value, o->min, o->max, field, why);
	case CONFIG_T_OCTAL:
		return config_value_octal(value, o->min, o->max, field, why);
	case CONFIG_T_ENUM:
		return config_value_enum(value, o->names, field, why);
	case CONFIG_T_LIST:
		return apply_list(o, field, value, why);
	}
	return false;
}

bool
config_table_is_empty(const struct config_option *o, const void *target)
{
	const void *field = (const char *)target + o->offset;

	switch (o->type) {
	case CONFIG_T_STRING:
		return *(char *const *)field == NULL;
	case CONFIG_T_LIST:
		return ((const struct strlist *)field)->n == 0;
	default:
		return false;
	}
}

/* Free the strings and lists of OBJ, or of PENDING when it is not NULL. */
static void
free_fields(enum config_kind kind, void *obj, bool pending)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct config_option *o = &config_table[i];
		void *field = (char *)obj + o->offset;

		if (o->kind != kind ||
		    ((o->flags & CONFIG_F_PENDING) != 0) != pending)
			continue;
		if (o->type == CONFIG_T_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (o->type == CONFIG_T_LIST) {
			config_strlist_free(field);
		}
	}
}

void
config_table_free(enum config_kind kind, void *section)
{
	free_fields(kind, section, false);
}

void
config_table_free_pending(struct config_pending *pending)
{
	free_fields(CONFIG_DOMAIN, pending, true);
}

static struct config_option_info option_info[N_OPTIONS];
static pthread_once_t option_info_once = PTHREAD_ONCE_INIT;

static void
option_info_fill(void)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		option_info[i].section = config_kind_name(config_table[i].kind);
		option_info[i].key = config_table[i].key;
		option_info[i].default_value = config_table[i].def;
	}
}

size_t
config_options(const struct config_option_info **out)
{
	pthread_once(&option_info_once, option_info_fill);
	*out = option_info;
	return N_OPTIONS;
}

const char *
config_domain_type_name(enum config_domain_type type)
{
	for (const struct config_enum *e = type_names; e->name != NULL; e++)
		if (e->value == (int)type)
			return e->name;
	return "?";
}
