/*
 * config_ini.c - the file through iniparser.
 *
 * iniparser 4.1 is used as it is, with three things added around it: its
 * syntax errors become error lines (not stderr), section names are kept as
 * written for those lines, and a comment after a section header, which
 * the sample nsmilter.ini has and iniparser 4.1 refuses, is allowed.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iniparser.h>

#include "base/xfmt.h"
#include "config/config_priv.h"

/*
 * iniparser reports syntax errors through one process-wide callback with no
 * context pointer: config_load() holds ini_lock while iniparser runs and
 * points ini_ctx at its context.
 */
static pthread_mutex_t ini_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config_ctx *ini_ctx;

/* Strip trailing newlines and turn inner ones into spaces. */
static void
one_line(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	for (char *p = s; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
}

/* The "N" of "... (N)" ending at END, or "?". */
static const char *
line_number(char *msg, char *end)
{
	char *open;

	*end = '\0';
	if ((open = strrchr(msg, '(')) == NULL)
		return "?";
	return open + 1;
}

static void
ini_translate(struct config_ctx *ctx, char *msg)
{
	static const char prefix[] = "iniparser: ";
	char *p;

	if (strncmp(msg, prefix, sizeof(prefix) - 1) == 0)
		msg += sizeof(prefix) - 1;
	if (strncmp(msg, "syntax error in ", 16) == 0 &&
	    (p = strstr(msg, "):\n-> ")) != NULL) {
		char *text = p + 6;

		one_line(text);
		config_error(ctx, NULL, NULL, "line %s: syntax error: '%s'",
		    line_number(msg, p), text);
	} else if (strncmp(msg, "input line too long in ", 23) == 0 &&
	    (p = strrchr(msg, ')')) != NULL) {
		config_error(ctx, NULL, NULL, "line %s: line too long (over "
		    "1024 characters)", line_number(msg, p));
	} else {
		one_line(msg);
		config_error(ctx, NULL, NULL, "%s", msg);
	}
}

__attribute__((format(printf, 1, 2)))
static int
ini_error(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (ini_ctx == NULL) {
		/* Not called from config_load(): nobody to tell but stderr. */
		if (msg != NULL)
			fputs(msg, stderr);
	} else if (msg == NULL) {
		config_errors_add(ini_ctx, NULL);
	} else {
		ini_translate(ini_ctx, msg);
	}
	free(msg);
	return 0;
}

/*
 * Read the file once before iniparser does, for two things it lacks:
 * - the section names as written ([Directory HQ]): iniparser keeps them
 *   only lowercased, and error lines show them as the user wrote them;
 * - a comment after a section header ("[directory hq]  ; ours"), as in
 *   the sample nsmilter.ini: iniparser 4.1 calls that a syntax error, so such a
 *   comment is cut off in a copy of the text (*COPY, line numbers kept) and
 *   *CHANGED is set.
 * Same rule as iniparser: a stripped line "[...]", the name up to the first
 * ']', stripped.
 */
/* Remember the section name between S and END, stripped. */
static void
add_raw_section(struct config_ctx *ctx, const char *s, const char *end)
{
	char **raw, *name;

	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	if ((name = strndup(s, (size_t)(end - s))) == NULL)
		return;         /* only the spelling in messages is lost */
	raw = realloc(ctx->raw_sections, (ctx->n_raw + 1) * sizeof(*raw));
	if (raw == NULL) {
		free(name);
		return;
	}
	ctx->raw_sections = raw;
	ctx->raw_sections[ctx->n_raw++] = name;
}

static bool
scan_file(struct config_ctx *ctx, FILE *f, char **copy, size_t *copy_len,
    bool *changed)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *out;

	*changed = false;
	if ((out = open_memstream(copy, copy_len)) == NULL)
		return false;
	while ((len = getline(&line, &cap, f)) >= 0) {
		const char *s = line, *end = line + len, *close, *rest;

		while (end > s && isspace((unsigned char)end[-1]))
			end--;
		while (s < end && isspace((unsigned char)*s))
			s++;
		if (s < end && *s == '[' &&
		    (close = memchr(s, ']', (size_t)(end - s))) != NULL) {
			rest = close + 1;
			while (rest < end && (*rest == ' ' || *rest == '\t'))
				rest++;
			if (rest < end && (*rest == ';' || *rest == '#')) {
				fwrite(line, 1, (size_t)(close + 1 - line), out);
				fputc('\n', out);
				*changed = true;
				add_raw_section(ctx, s + 1, close);
				continue;
			}
			if (end[-1] == ']')
				add_raw_section(ctx, s + 1, close);
		}
		fwrite(line, 1, (size_t)len, out);
	}
	free(line);
	return fclose(out) == 0;
}

/*
 * Run iniparser on PATH, or on a temporary copy holding TEXT when the text
 * had to be changed.  Its syntax errors become error lines of CTX.
 */
static dictionary *
ini_load(struct config_ctx *ctx, const char *text, size_t len, bool changed)
{
	const char *tmpdir = getenv("TMPDIR");
	char *tmp = NULL;
	dictionary *d;
	int fd = -1;

	if (changed) {
		if (tmpdir == NULL || *tmpdir != '/')
			tmpdir = "/tmp";
		if ((tmp = xasprintf("%s/nsmilter-ini.XXXXXX", tmpdir))
		    == NULL || (fd = mkstemp(tmp)) < 0) {
			config_error(ctx, NULL, NULL, "cannot create a "
			    "temporary copy in %s: %s", tmpdir,
			    strerror(errno));
			free(tmp);
			return NULL;
		}
		for (size_t off = 0; off < len; ) {
			ssize_t n = write(fd, text + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				config_error(ctx, NULL, NULL, "cannot write a "
				    "temporary copy in %s: %s", tmpdir,
				    strerror(errno));
				close(fd);
				unlink(tmp);
				free(tmp);
				return NULL;
			}
			off += (size_t)n;
		}
		close(fd);
	}
	pthread_mutex_lock(&ini_lock);
	iniparser_set_error_callback(ini_error);
	ini_ctx = ctx;
	d = iniparser_load(changed ? tmp : ctx->path);
	ini_ctx = NULL;
	pthread_mutex_unlock(&ini_lock);
	if (changed) {
		unlink(tmp);
		free(tmp);
	}
	return d;
}

dictionary *
config_ini_read(struct config_ctx *ctx)
{
	char *text = NULL;
	size_t text_len = 0;
	dictionary *d = NULL;
	bool changed, ok;
	struct stat st;
	FILE *f;

	if ((f = fopen(ctx->path, "r")) == NULL) {
		config_error(ctx, NULL, NULL, "cannot read: %s",
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		config_error(ctx, NULL, NULL, "cannot read: %s",
		    strerror(EISDIR));
		return NULL;
	}
	ok = scan_file(ctx, f, &text, &text_len, &changed);
	fclose(f);
	if (!ok)
		config_error(ctx, NULL, NULL, "cannot read: %s",
		    strerror(errno));
	else if ((d = ini_load(ctx, text, text_len, changed)) == NULL &&
	    ctx->errs->n == 0)
		config_error(ctx, NULL, NULL, "cannot parse");
	free(text);
	return d;
}
