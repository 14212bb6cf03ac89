/*
 * config_priv.h - internals of the configuration loader, shared by
 * milter/config*.c only.  Everybody else uses include/config.h.
 *
 * config_table.c   the option table: every key, its type, default, bounds
 * config_value.c   value parsers (bool, number, duration, mode, enum, list)
 * config_syntax.c  syntax checks of single values (socket, uri, IP, domain)
 * config_check.c   cross-checks between keys and sections
 * config_ini.c     the file through iniparser
 * config_error.c   the error lines
 * config.c         config_load(): the option table applied, config_free()
 * config_lookup.c  config_find_domain(), config_domain_mode()
 */
#ifndef NSMILTER_CONFIG_PRIV_H
#define NSMILTER_CONFIG_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum config_kind { CONFIG_MILTER, CONFIG_DIRECTORY, CONFIG_DOMAIN };

enum config_type {
	CONFIG_T_STRING,    /* char *, "" -> NULL */
	CONFIG_T_BOOL,      /* bool */
	CONFIG_T_UNSIGNED,  /* unsigned, min..max */
	CONFIG_T_DURATION,  /* unsigned milliseconds, min..max in ms */
	CONFIG_T_OCTAL,     /* unsigned, octal digits, min..max */
	CONFIG_T_ENUM,      /* int-sized enum, names below */
	CONFIG_T_LIST       /* struct strlist */
};

/* Flags of an option. */
#define CONFIG_F_REQUIRED 0x1u  /* an empty value is an error */
#define CONFIG_F_LOWER    0x2u  /* a string value is stored lowercased */
#define CONFIG_F_PENDING  0x4u  /* stored in struct config_pending, not the
				   section's structure (resolved later) */
#define CONFIG_F_PRESENT  0x8u  /* the key must be written, an empty value
				   is allowed (and means "") */

struct config_enum {
	const char *name;   /* "" allowed: the empty value */
	int value;
};

/*
 * A syntax check of one string value (or of each list item).  Returns true
 * when VALUE is fine; else false and *WHY a malloc'd text (NULL: no memory).
 */
typedef bool (*config_check_fn)(const char *value, char **why);

struct config_option {
	enum config_kind kind;
	const char *key;
	enum config_type type;
	const char *def;        /* as written in the file; "" for none */
	unsigned long min, max; /* UNSIGNED, DURATION (ms), OCTAL */
	size_t offset;          /* into the section's structure */
	const struct config_enum *names; /* ENUM: ends with a NULL name */
	config_check_fn check;  /* STRING, LIST items; NULL: none */
	unsigned flags;
};

/* Values of a [domain] that are resolved by the cross-checks. */
struct config_pending {
	struct strlist directories;
};

extern const struct config_option config_table[];
extern const size_t config_table_len;

/* "authoritative", ... (from the option table's names). */
const char *config_domain_type_name(enum config_domain_type type);
const struct config_option *config_table_find(enum config_kind kind,
    const char *key);
/* The object an option of a section is stored in. */
void *config_table_target(const struct config_option *o, void *section,
    struct config_pending *pending);
/* Parse VALUE into the option's field; false with *WHY (malloc'd or NULL). */
bool config_table_apply(const struct config_option *o, void *target,
    const char *value, char **why);
/* Whether a REQUIRED option's field is empty. */
bool config_table_is_empty(const struct config_option *o, const void *target);
/* Free the strings and lists of a section's structure. */
void config_table_free(enum config_kind kind, void *section);
/* Free the values of a domain that config_check() resolved. */
void config_table_free_pending(struct config_pending *pending);

/* config_value.c */
bool config_value_bool(const char *s, bool *out, char **why);
bool config_value_unsigned(const char *s, unsigned long min,
    unsigned long max, unsigned *out, char **why);
bool config_value_duration(const char *s, unsigned long min,
    unsigned long max, unsigned *out_ms, char **why);
bool config_value_octal(const char *s, unsigned long min, unsigned long max,
    unsigned *out, char **why);
bool config_value_enum(const char *s, const struct config_enum *names,
    int *out, char **why);
/* Split at commas and/or white space; false only when out of memory. */
bool config_value_list(const char *s, struct strlist *out);
void config_strlist_free(struct strlist *l);
/* "500ms", "2s", "5m", "1h", "0": the shortest exact form of MS. */
void config_value_format_duration(unsigned long ms, char *buf, size_t size);

/* config_syntax.c: config_check_fn checks. */
bool config_syntax_socket(const char *value, char **why);
bool config_syntax_inet_socket(const char *value, char **why);
bool config_syntax_ldap_uri(const char *value, char **why);
bool config_syntax_ip(const char *value, char **why);
bool config_syntax_domain(const char *value, char **why);
bool config_syntax_filter(const char *value, char **why);
/* An LDAP filter without expansions (sync_filter). */
bool config_syntax_ldap_filter(const char *value, char **why);
bool config_syntax_delimiter(const char *value, char **why);
bool config_syntax_text(const char *value, char **why);
bool config_syntax_abs_path(const char *value, char **why);
bool config_syntax_readable(const char *value, char **why);
bool config_syntax_attribute(const char *value, char **why);
bool config_syntax_word(const char *value, char **why);
/* A [directory NAME] name: letters, digits, '.', '_', '-'. */
bool config_syntax_section_name(const char *value);

/* The loading context, shared by config.c and its helpers. */
struct config_ctx {
	const char *path;
	struct config *cfg;
	struct config_errors *errs;
	bool failed;                   /* an error happened (maybe no line) */
	char **raw_sections;           /* section names as written */
	size_t n_raw;
	struct config_pending *pending; /* one per cfg->domains[] */
};

/* config_error.c */
/* "milter", "directory", "domain". */
const char *config_kind_name(enum config_kind kind);
/*
 * Report one problem.  SECTION is iniparser's (lowercased) section name, or
 * NULL for a file-level problem; KEY is NULL for a section-level problem.
 */
void config_error(struct config_ctx *ctx, const char *section,
    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for a [directory NAME] / [domain NAME] by its parts. */
void config_error_in(struct config_ctx *ctx, enum config_kind kind,
    const char *name, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * A warning about a [directory NAME] / [domain NAME] key: a setting that
 * works but is risky.  The load does not fail.
 */
void config_warning_in(struct config_ctx *ctx, enum config_kind kind,
    const char *name, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same about the file itself: "FILE: warning: ...". */
void config_warning_file(struct config_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add LINE (taken over; NULL: out of memory) and mark the load failed. */
void config_errors_add(struct config_ctx *ctx, char *line);

/* config_ini.c: the dictionary of ctx->path; NULL with error lines. */
struct _dictionary_;
struct _dictionary_ *config_ini_read(struct config_ctx *ctx);

/* config_check.c: cross-checks, resolution of names, bind passwords. */
void config_check(struct config_ctx *ctx);

/* config_perm.c: warnings about the modes of the file and password files. */
void config_check_permissions(struct config_ctx *ctx);

#endif
