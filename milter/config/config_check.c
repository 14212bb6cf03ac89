/*
 * config_check.c - cross-checks of a parsed configuration.
 *
 * Runs after every key went through the option table: resolves each
 * domain's `directories` into pointers, reads bind passwords, and reports
 * combinations of keys that cannot work.  The content of a password file
 * never appears in any message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/sockspec.h"
#include "config/config_priv.h"

#define PASSWORD_MAX 4096

#define DIR_ERR(ctx, dir, key, ...) \
	config_error_in(ctx, CONFIG_DIRECTORY, (dir)->name, key, __VA_ARGS__)
#define DIR_WARN(ctx, dir, key, ...) \
	config_warning_in(ctx, CONFIG_DIRECTORY, (dir)->name, key, __VA_ARGS__)
#define DOM_ERR(ctx, dom, key, ...) \
	config_error_in(ctx, CONFIG_DOMAIN, (dom)->name, key, __VA_ARGS__)

/* Read bind_password_file into bind_password, one trailing newline off. */
static void
read_password(struct config_ctx *ctx, struct directory_config *dir)
{
	const char *path = dir->bind_password_file;
	struct stat st;
	char *buf;
	size_t len;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		DIR_ERR(ctx, dir, "bind_password_file", "cannot read '%s': %s",
		    path, strerror(errno));
		return;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		DIR_ERR(ctx, dir, "bind_password_file", "'%s' is not a "
		    "regular file", path);
		fclose(f);
		return;
	}
	if (st.st_size > PASSWORD_MAX) {
		DIR_ERR(ctx, dir, "bind_password_file", "'%s' is larger than "
		    "%d bytes", path, PASSWORD_MAX);
		fclose(f);
		return;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		DIR_ERR(ctx, dir, "bind_password_file", "out of memory");
		fclose(f);
		return;
	}
	len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		DIR_ERR(ctx, dir, "bind_password_file", "cannot read '%s': %s",
		    path, strerror(errno));
		explicit_bzero(buf, (size_t)st.st_size + 1);
		free(buf);
		fclose(f);
		return;
	}
	fclose(f);
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
	}
	if (len == 0 || strlen(buf) != len) {
		DIR_ERR(ctx, dir, "bind_password_file", len == 0 ?
		    "'%s' is empty" : "'%s' contains a NUL byte", path);
		explicit_bzero(buf, (size_t)st.st_size + 1);
		free(buf);
		return;
	}
	dir->bind_password = buf;
}

/* Settings that work but expose the directory: warnings, not errors. */
static void
warn_directory(struct config_ctx *ctx, const struct directory_config *dir)
{
	for (size_t i = 0; dir->bind_dn != NULL && !dir->starttls &&
	    i < dir->uri.n; i++) {
		if (strncasecmp(dir->uri.v[i], "ldap://", 7) == 0) {
			DIR_WARN(ctx, dir, "starttls", "'no': the bind password "
			    "goes in clear text to '%s' (use starttls = yes, "
			    "or an ldaps:// uri)", dir->uri.v[i]);
			break;
		}
	}
	if (!dir->tls_verify)
		DIR_WARN(ctx, dir, "tls_verify", "'no': the server's "
		    "certificate is not checked, so whoever can intercept the "
		    "connection can pose as the directory%s",
		    dir->bind_dn != NULL ? " and read the bind password" : "");
}

static void
check_directory(struct config_ctx *ctx, struct directory_config *dir)
{
	/*
	 * "base =" is the root DSE's naming context "": with Active
	 * Directory's Global Catalog, the whole forest.  Stored as "", never
	 * NULL (libldap would search ldap.conf's BASE instead).
	 */
	if (dir->base == NULL && (dir->base = strdup("")) == NULL)
		DIR_ERR(ctx, dir, "base", "out of memory");
	if (dir->sync != CONFIG_SYNC_NONE && dir->address_attributes.n == 0)
		DIR_ERR(ctx, dir, "address_attributes", "missing, required by "
		    "sync");
	if (dir->bind_dn != NULL && dir->bind_password_file == NULL)
		DIR_ERR(ctx, dir, "bind_password_file", "missing, required by "
		    "bind_dn");
	else if (dir->bind_dn == NULL && dir->bind_password_file != NULL)
		DIR_ERR(ctx, dir, "bind_password_file", "set, but bind_dn is "
		    "not");
	else if (dir->bind_dn != NULL)
		read_password(ctx, dir);

	for (size_t i = 0; dir->starttls && i < dir->uri.n; i++) {
		if (strncasecmp(dir->uri.v[i], "ldaps://", 8) == 0) {
			DIR_ERR(ctx, dir, "starttls", "'yes' with the ldaps:// "
			    "uri '%s' (TLS is on already)", dir->uri.v[i]);
			break;
		}
	}
	warn_directory(ctx, dir);
}

static struct directory_config *
find_directory(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_directories; i++) {
		if (strcasecmp(cfg->directories[i].name, name) == 0)
			return &cfg->directories[i];
	}
	return NULL;
}

/* dom->dirs from the `directories` names, in the order given. */
static void
resolve_directories(struct config_ctx *ctx, struct domain_config *dom,
    const struct strlist *names)
{
	if (names->n == 0)
		return;
	if ((dom->dirs = calloc(names->n, sizeof(*dom->dirs))) == NULL) {
		DOM_ERR(ctx, dom, "directories", "out of memory");
		return;
	}
	for (size_t i = 0; i < names->n; i++) {
		struct directory_config *dir;
		bool twice = false;

		if ((dir = find_directory(ctx->cfg, names->v[i])) == NULL) {
			DOM_ERR(ctx, dom, "directories", "no [directory %s] "
			    "section", names->v[i]);
			continue;
		}
		for (size_t j = 0; j < dom->n_dirs; j++)
			twice |= dom->dirs[j] == dir;
		if (twice) {
			DOM_ERR(ctx, dom, "directories", "'%s' is listed twice",
			    names->v[i]);
			continue;
		}
		dom->dirs[dom->n_dirs++] = dir;
	}
}

static void
check_domain(struct config_ctx *ctx, struct domain_config *dom,
    const struct strlist *names)
{
	resolve_directories(ctx, dom, names);

	if (dom->type != CONFIG_DOMAIN_EXTERNAL_RELAY && names->n == 0)
		DOM_ERR(ctx, dom, "directories", "missing, required by "
		    "type = %s", config_domain_type_name(dom->type));
	if (dom->unknown == CONFIG_UNKNOWN_ROUTE &&
	    dom->type != CONFIG_DOMAIN_INTERNAL_RELAY)
		DOM_ERR(ctx, dom, "unknown", "'route' needs type = "
		    "internal-relay (type is %s)", config_domain_type_name(dom->type));
	if (dom->fallback_route == NULL) {
		if (dom->type == CONFIG_DOMAIN_EXTERNAL_RELAY)
			DOM_ERR(ctx, dom, "fallback_route", "missing, required "
			    "by type = external-relay");
		else if (dom->unknown == CONFIG_UNKNOWN_ROUTE)
			DOM_ERR(ctx, dom, "fallback_route", "missing, required "
			    "by unknown = route");
	}
}

/* "local:" and "LOCAL:" become "unix:", "INET:" becomes "inet:", in place. */
static void
normalise_socket(char *s)
{
	const char *path = sockspec_path(s);

	if (path != NULL) {
		memmove(s + 5, path, strlen(path) + 1);
		memcpy(s, "unix:", 5);
	} else if (s != NULL && strncasecmp(s, "inet", 4) == 0) {
		memcpy(s, "inet", 4);
	}
}

void
config_check(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	struct milter_config *m = &cfg->milter;

	for (size_t i = 0; i < cfg->n_directories; i++) {
		check_directory(ctx, &cfg->directories[i]);
		cfg->directories[i].state_dir = m->state_dir;
	}
	for (size_t i = 0; i < cfg->n_domains; i++)
		check_domain(ctx, &cfg->domains[i], &ctx->pending[i].directories);

	normalise_socket(m->socket);
	normalise_socket(m->socketmap);
	if (m->socket != NULL && m->socketmap != NULL &&
	    strcmp(m->socket, m->socketmap) == 0)
		config_error_in(ctx, CONFIG_MILTER, NULL, "socketmap", "'%s' is "
		    "the milter's socket as well", m->socketmap);
	normalise_socket(m->metrics);
	if (m->metrics != NULL && ((m->socket != NULL &&
	    strcmp(m->socket, m->metrics) == 0) || (m->socketmap != NULL &&
	    strcmp(m->socketmap, m->metrics) == 0)))
		config_error_in(ctx, CONFIG_MILTER, NULL, "metrics", "'%s' is "
		    "the milter's or the socketmap's socket as well",
		    m->metrics);
	if (cfg->n_domains == 0)
		config_error(ctx, NULL, NULL, "no [domain NAME] section: "
		    "nsmilter has nothing to decide");
}
