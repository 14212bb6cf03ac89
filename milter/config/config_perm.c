/*
 * config_perm.c - warnings about file modes (nsmilter.ini(5), FILES): a
 * configuration file anyone may change, and a bind password file readable
 * beyond the service group.  They do not stop nsmilter (the files work);
 * like every warning they are logged at start and reload and printed by
 * -n, as "FILE: [section] key: warning: ...".
 */
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_priv.h"

/*
 * The group the service runs as: [milter] user's primary group, or this
 * process's when there is no user.
 */
static gid_t
service_group(const struct config *cfg)
{
	const struct passwd *pw;

	if (cfg->milter.user != NULL && *cfg->milter.user != '\0' &&
	    (pw = getpwnam(cfg->milter.user)) != NULL)
		return pw->pw_gid;
	return getegid();
}

void
config_check_permissions(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	struct stat st;
	gid_t gid;

	if (stat(ctx->path, &st) == 0 && (st.st_mode & S_IWOTH))
		config_warning_file(ctx, "world-writable (mode %04o): anyone "
		    "can change nsmilter's decisions",
		    (unsigned)(st.st_mode & 07777));

	gid = service_group(cfg);
	for (size_t i = 0; i < cfg->n_directories; i++) {
		const struct directory_config *dir = &cfg->directories[i];
		const char *path = dir->bind_password_file;
		const char *who;

		if (path == NULL || stat(path, &st) != 0)
			continue;	/* reported by config_check */
		if (st.st_mode & S_IROTH)
			who = "everyone";
		else if ((st.st_mode & S_IRGRP) && st.st_gid != gid)
			who = "its group, which is not the service's";
		else
			continue;
		config_warning_in(ctx, CONFIG_DIRECTORY, dir->name,
		    "bind_password_file", "'%s' is readable by %s (mode %04o, "
		    "group %ld): chmod 0600, or 0640 with the service's group",
		    path, who, (unsigned)(st.st_mode & 07777),
		    (long)st.st_gid);
	}
}
