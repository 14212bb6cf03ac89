/*
 * config.c - config_load(): nsmilter.ini into struct config.
 *
 * iniparser reads the file; every key then goes through the option table
 * (config_table.c), and config_check() cross-checks the result.  Every
 * problem becomes one line "FILE: [section] key: what is wrong" and loading
 * goes on, so that one run of nsmilter -n shows all of them.
 */
#include <stdlib.h>
#include <string.h>

#include <iniparser.h>

#include "base/xfmt.h"
#include "config/config_priv.h"

/* One INI section while loading. */
struct section {
	const char *name;          /* iniparser's: lowercased */
	enum config_kind kind;
	void *obj;                 /* NULL: invalid section, keys ignored */
	struct config_pending *pending;
};

/* [milter], [directory NAME], [domain NAME]: false for anything else. */
static bool
classify(const char *section, enum config_kind *kind, const char **name)
{
	static const struct { const char *word; enum config_kind kind; } k[] = {
		{ "directory", CONFIG_DIRECTORY }, { "domain", CONFIG_DOMAIN },
	};

	if (strcmp(section, "milter") == 0) {
		*kind = CONFIG_MILTER;
		*name = NULL;
		return true;
	}
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		size_t len = strlen(k[i].word);

		if (strncmp(section, k[i].word, len) == 0 &&
		    (section[len] == '\0' || section[len] == ' ')) {
			*kind = k[i].kind;
			*name = section + len + strspn(section + len, " ");
			return true;
		}
	}
	return false;
}

static void
apply_defaults(struct config_ctx *ctx, enum config_kind kind, void *obj,
    struct config_pending *pending)
{
	for (size_t i = 0; i < config_table_len; i++) {
		const struct config_option *o = &config_table[i];
		char *why;

		if (o->kind != kind)
			continue;
		if (!config_table_apply(o, config_table_target(o, obj, pending),
		    o->def, &why)) {
			config_error(ctx, NULL, NULL, "default of %s %s: %s",
			    config_kind_name(kind), o->key,
			    why != NULL ? why : "out of memory");
			free(why);
		}
	}
}

/*
 * Report every REQUIRED option of SECTION that has no value: missing from
 * the file, or empty; and every PRESENT option missing from the file.  A
 * bad value was reported by apply_keys() already.
 */
static void
check_required(struct config_ctx *ctx, const dictionary *d,
    const struct section *s)
{
	for (size_t i = 0; i < config_table_len; i++) {
		const struct config_option *o = &config_table[i];
		const char *value;
		char *entry;

		if (o->kind != s->kind ||
		    !(o->flags & (CONFIG_F_REQUIRED | CONFIG_F_PRESENT)) ||
		    !config_table_is_empty(o, config_table_target(o, s->obj,
		    s->pending)))
			continue;
		if ((entry = xasprintf("%s:%s", s->name, o->key)) == NULL) {
			config_errors_add(ctx, NULL);
			return;
		}
		value = iniparser_getstring(d, entry, NULL);
		free(entry);
		if (value == NULL)
			config_error(ctx, s->name, o->key, "missing (required)");
		else if (*value == '\0' && (o->flags & CONFIG_F_REQUIRED))
			config_error(ctx, s->name, o->key, "must not be empty");
	}
}

/*
 * A mirrored directory (sync set) without a filter in the file has none:
 * it is never asked live (nsmilter.ini(5), "DIRECTORY MIRROR"); the
 * default filter is for directories asked live only.
 */
static void
mirror_filter(const dictionary *d, const struct section *s)
{
	struct directory_config *dir = s->obj;
	const char *value;
	char *entry;

	if (dir->sync == CONFIG_SYNC_NONE ||
	    (entry = xasprintf("%s:filter", s->name)) == NULL)
		return;
	value = iniparser_getstring(d, entry, NULL);
	free(entry);
	if (value == NULL || *value == '\0') {
		free(dir->filter);
		dir->filter = NULL;
	}
}

/* Create the directory and domain structures, one per section. */
static bool
make_sections(struct config_ctx *ctx, const dictionary *d,
    struct section *secs, size_t *n_secs)
{
	struct config *cfg = ctx->cfg;
	size_t n_dir = 0, n_dom = 0;

	for (ssize_t i = 0; i < d->size; i++) {
		enum config_kind kind;
		const char *name;

		if (d->key[i] == NULL || d->val[i] != NULL ||
		    !classify(d->key[i], &kind, &name))
			continue;
		n_dir += kind == CONFIG_DIRECTORY;
		n_dom += kind == CONFIG_DOMAIN;
	}
	if ((n_dir > 0 && (cfg->directories = calloc(n_dir,
	    sizeof(*cfg->directories))) == NULL) ||
	    (n_dom > 0 && ((cfg->domains = calloc(n_dom,
	    sizeof(*cfg->domains))) == NULL ||
	    (ctx->pending = calloc(n_dom, sizeof(*ctx->pending))) == NULL)))
		return false;

	*n_secs = 0;
	for (ssize_t i = 0; i < d->size; i++) {
		struct section *s = &secs[*n_secs];
		const char *name;

		if (d->key[i] == NULL || d->val[i] != NULL)
			continue;
		(*n_secs)++;
		s->name = d->key[i];
		s->obj = NULL;
		s->pending = NULL;
		if (!classify(s->name, &s->kind, &name)) {
			config_error(ctx, s->name, NULL, "unknown section "
			    "(use [milter], [directory NAME] or [domain NAME])");
			continue;
		}
		if (s->kind == CONFIG_MILTER) {
			s->obj = &cfg->milter;
			continue;
		}
		if (*name == '\0') {
			config_error(ctx, s->name, NULL, "missing name (use "
			    "[%s NAME])", config_kind_name(s->kind));
			continue;
		}
		if (s->kind == CONFIG_DIRECTORY) {
			struct directory_config *dir =
			    &cfg->directories[cfg->n_directories];

			if (!config_syntax_section_name(name))
				config_error(ctx, s->name, NULL, "'%s' is not a "
				    "directory name (use letters, digits, '.', "
				    "'_' and '-')", name);
			if ((dir->name = strdup(name)) == NULL)
				return false;
			dir->index = cfg->n_directories++;
			apply_defaults(ctx, CONFIG_DIRECTORY, dir, NULL);
			s->obj = dir;
		} else {
			struct domain_config *dom = &cfg->domains[cfg->n_domains];
			char *why = NULL;

			if (!config_syntax_domain(name, &why)) {
				config_error(ctx, s->name, NULL, "%s",
				    why != NULL ? why : "out of memory");
				free(why);
			}
			if ((dom->name = strdup(name)) == NULL)
				return false;
			s->pending = &ctx->pending[cfg->n_domains++];
			apply_defaults(ctx, CONFIG_DOMAIN, dom, s->pending);
			s->obj = dom;
		}
	}
	return true;
}

/* The section KEY ("section:key") belongs to: the longest matching name. */
static const struct section *
key_section(const struct section *secs, size_t n_secs, const char *key)
{
	const struct section *best = NULL;

	for (size_t i = 0; i < n_secs; i++) {
		size_t len = strlen(secs[i].name);

		if (strncmp(key, secs[i].name, len) == 0 && key[len] == ':' &&
		    (best == NULL || len > strlen(best->name)))
			best = &secs[i];
	}
	return best;
}

static void
unknown_key(struct config_ctx *ctx, const struct section *s, const char *k)
{
	const char *hint = "";

	if (strcmp(k, "bind_password") == 0 && s->kind == CONFIG_DIRECTORY) {
		hint = " (put the password in a file named by "
		    "bind_password_file)";
	} else if (s->kind != CONFIG_MILTER &&
	    config_table_find(CONFIG_MILTER, k) != NULL) {
		hint = " (it belongs in [milter])";
	} else if (s->kind != CONFIG_DIRECTORY &&
	    config_table_find(CONFIG_DIRECTORY, k) != NULL) {
		hint = " (it belongs in [directory NAME])";
	} else if (s->kind != CONFIG_DOMAIN &&
	    config_table_find(CONFIG_DOMAIN, k) != NULL) {
		hint = " (it belongs in [domain NAME])";
	}
	config_error(ctx, s->name, k, "unknown key%s", hint);
}

static void
apply_keys(struct config_ctx *ctx, const dictionary *d,
    const struct section *secs, size_t n_secs)
{
	for (ssize_t i = 0; i < d->size; i++) {
		const struct section *s;
		const struct config_option *o;
		const char *k;
		char *why;

		if (d->key[i] == NULL || d->val[i] == NULL)
			continue;
		if ((s = key_section(secs, n_secs, d->key[i])) == NULL) {
			k = d->key[i] + (d->key[i][0] == ':');
			config_error(ctx, NULL, NULL, "key '%s' is outside any "
			    "section", k);
			continue;
		}
		if (s->obj == NULL)
			continue;       /* the section is reported already */
		k = d->key[i] + strlen(s->name) + 1;
		if ((o = config_table_find(s->kind, k)) == NULL) {
			unknown_key(ctx, s, k);
			continue;
		}
		/* An empty value means "not set": the default. */
		if (!config_table_apply(o, config_table_target(o, s->obj,
		    s->pending), *d->val[i] != '\0' ? d->val[i] : o->def,
		    &why)) {
			config_error(ctx, s->name, k, "%s",
			    why != NULL ? why : "out of memory");
			free(why);
		}
	}
}

/* Build the configuration from the dictionary; NULL when out of memory. */
static struct config *
build(struct config_ctx *ctx, const dictionary *d)
{
	struct section *secs;
	size_t n_secs = 0;
	struct config *cfg;

	if ((cfg = ctx->cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(ctx->path)) == NULL)
		return NULL;
	if ((secs = calloc((size_t)d->size + 1, sizeof(*secs))) == NULL)
		return NULL;
	apply_defaults(ctx, CONFIG_MILTER, &cfg->milter, NULL);
	if (!make_sections(ctx, d, secs, &n_secs)) {
		free(secs);
		return NULL;
	}
	apply_keys(ctx, d, secs, n_secs);
	for (size_t i = 0; i < n_secs; i++) {
		if (secs[i].obj != NULL)
			check_required(ctx, d, &secs[i]);
		if (secs[i].obj != NULL && secs[i].kind == CONFIG_DIRECTORY)
			mirror_filter(d, &secs[i]);
	}
	free(secs);
	return cfg;
}

static void
ctx_free(struct config_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_raw; i++)
		free(ctx->raw_sections[i]);
	free(ctx->raw_sections);
	for (size_t i = 0; ctx->pending != NULL && ctx->cfg != NULL &&
	    i < ctx->cfg->n_domains; i++)
		config_table_free_pending(&ctx->pending[i]);
	free(ctx->pending);
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct config_errors discard = { NULL, 0, NULL, 0 };
	struct config_ctx ctx = { .path = path };
	dictionary *d;

	if (errs == NULL)
		errs = &discard;
	errs->lines = NULL;
	errs->n = 0;
	errs->warnings = NULL;
	errs->n_warnings = 0;
	ctx.errs = errs;

	if ((d = config_ini_read(&ctx)) != NULL) {
		if (build(&ctx, d) == NULL)
			config_error(&ctx, NULL, NULL, "out of memory");
		else {
			config_check(&ctx);
			config_check_permissions(&ctx);
		}
		iniparser_freedict(d);
	}
	ctx_free(&ctx);
	if (ctx.failed) {
		config_free(ctx.cfg);
		ctx.cfg = NULL;
		if (errs->n == 0)
			config_errors_add(&ctx, xasprintf("%s: out of "
			    "memory", path));
	}
	config_errors_free(&discard);
	return ctx.cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	config_table_free(CONFIG_MILTER, &cfg->milter);
	for (size_t i = 0; i < cfg->n_directories; i++) {
		struct directory_config *dir = &cfg->directories[i];

		if (dir->bind_password != NULL) {
			explicit_bzero(dir->bind_password,
			    strlen(dir->bind_password));
			free(dir->bind_password);
		}
		free(dir->name);
		config_table_free(CONFIG_DIRECTORY, dir);
	}
	for (size_t i = 0; i < cfg->n_domains; i++) {
		free(cfg->domains[i].name);
		free(cfg->domains[i].dirs);
		config_table_free(CONFIG_DOMAIN, &cfg->domains[i]);
	}
	free(cfg->directories);
	free(cfg->domains);
	free(cfg->path);
	free(cfg);
}
