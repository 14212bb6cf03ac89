/*
 * config_error.c - the error lines of config_load():
 * "FILE: [section] key: what is wrong", one per problem, and its warnings,
 * "FILE: [section] key: warning: ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xfmt.h"
#include "config/config_priv.h"

const char *config_kind_name(enum config_kind kind)
{
	switch (kind) {
	case CONFIG_MILTER:
		return "milter";
	case CONFIG_DIRECTORY:
		return "directory";
	case CONFIG_DOMAIN:
		return "domain";
	}
	return "?";
}

/* Add LINE (taken over; NULL when out of memory) to the error lines. */
void
config_errors_add(struct config_ctx *ctx, char *line)
{
	char **lines;

	ctx->failed = true;
	if (line == NULL)
		return;
	lines = realloc(ctx->errs->lines,
	    (ctx->errs->n + 1) * sizeof(*lines));
	if (lines == NULL) {
		free(line);
		return;
	}
	ctx->errs->lines = lines;
	ctx->errs->lines[ctx->errs->n++] = line;
}

/* The section name as written in the file, if the pre-scan saw it. */
static const char *
section_display(const struct config_ctx *ctx, const char *section)
{
	for (size_t i = 0; i < ctx->n_raw; i++) {
		if (strcasecmp(ctx->raw_sections[i], section) == 0)
			return ctx->raw_sections[i];
	}
	return section;
}

/* "FILE: [section] key: " + PREFIX + the message; NULL: out of memory. */
__attribute__((format(printf, 5, 0)))
static char *
vline(struct config_ctx *ctx, const char *section, const char *key,
    const char *prefix, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	char *line;

	if (msg == NULL)
		line = NULL;
	else if (section == NULL)
		line = xasprintf("%s: %s%s", ctx->path, prefix, msg);
	else if (key == NULL)
		line = xasprintf("%s: [%s]: %s%s", ctx->path,
		    section_display(ctx, section), prefix, msg);
	else
		line = xasprintf("%s: [%s] %s: %s%s", ctx->path,
		    section_display(ctx, section), key, prefix, msg);
	free(msg);
	return line;
}

__attribute__((format(printf, 4, 0)))
static void
verror(struct config_ctx *ctx, const char *section, const char *key,
    const char *fmt, va_list ap)
{
	config_errors_add(ctx, vline(ctx, section, key, "", fmt, ap));
}

void
config_error(struct config_ctx *ctx, const char *section, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(ctx, section, key, fmt, ap);
	va_end(ap);
}

void
config_error_in(struct config_ctx *ctx, enum config_kind kind,
    const char *name, const char *key, const char *fmt, ...)
{
	char *section;
	va_list ap;

	section = name == NULL ? xasprintf("%s", config_kind_name(kind)) :
	    xasprintf("%s %s", config_kind_name(kind), name);
	if (section == NULL) {
		config_errors_add(ctx, NULL);
		return;
	}
	va_start(ap, fmt);
	verror(ctx, section, key, fmt, ap);
	va_end(ap);
	free(section);
}

/* Add warning LINE (taken over); a warning lost to a lack of memory
 * fails nothing. */
static void
warning_add(struct config_ctx *ctx, char *line)
{
	struct config_errors *e = ctx->errs;
	char **v;

	if (line == NULL)
		return;
	if ((v = realloc(e->warnings, (e->n_warnings + 1) * sizeof(*v))) ==
	    NULL) {
		free(line);
		return;
	}
	e->warnings = v;
	e->warnings[e->n_warnings++] = line;
}

void
config_warning_in(struct config_ctx *ctx, enum config_kind kind,
    const char *name, const char *key, const char *fmt, ...)
{
	char *section, *line = NULL;
	va_list ap;

	section = name == NULL ? xasprintf("%s", config_kind_name(kind)) :
	    xasprintf("%s %s", config_kind_name(kind), name);
	if (section != NULL) {
		va_start(ap, fmt);
		line = vline(ctx, section, key, "warning: ", fmt, ap);
		va_end(ap);
		free(section);
	}
	warning_add(ctx, line);
}

void
config_warning_file(struct config_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	warning_add(ctx, vline(ctx, NULL, NULL, "warning: ", fmt, ap));
	va_end(ap);
}

void
config_errors_free(struct config_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->n = 0;
	for (size_t i = 0; i < errs->n_warnings; i++)
		free(errs->warnings[i]);
	free(errs->warnings);
	errs->warnings = NULL;
	errs->n_warnings = 0;
}
