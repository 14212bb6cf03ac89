/*
 * service.c - who the daemon serves as (see service.h).
 *
 * The unix sockets are given to the service user and socket_group with
 * socket_mode, so that an MTA put in that group ("adduser postfix
 * nsmilter") can connect with socket_mode = 0660.  Bind password files
 * are read again on every reload, after privileges were dropped, so
 * "nsmilter -n" checks that the service user can read them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/xfmt.h"
#include "process/service.h"

static char *
group_name(gid_t gid)
{
	struct group *gr = getgrgid(gid);

	return gr != NULL ? strdup(gr->gr_name) : xasprintf("%ld", (long)gid);
}

int
service_id_resolve(const char *user, const char *group,
    struct service_id *out, char **err)
{
	memset(out, 0, sizeof(*out));
	if (user != NULL && *user != '\0') {
		struct passwd *pw = getpwnam(user);

		if (pw == NULL) {
			*err = xasprintf("user %s: no such user", user);
			return -1;
		}
		out->user = strdup(pw->pw_name);
		out->uid = pw->pw_uid;
		out->gid = pw->pw_gid;
	} else {
		out->uid = geteuid();
		out->gid = getegid();
	}
	out->sock_gid = out->gid;
	if (group != NULL && *group != '\0') {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			*err = xasprintf("socket_group %s: no such group",
			    group);
			service_id_free(out);
			return -1;
		}
		out->sock_gid = gr->gr_gid;
	}
	out->group = group_name(out->sock_gid);
	return 0;
}

void
service_id_free(struct service_id *id)
{
	free(id->user);
	free(id->group);
	memset(id, 0, sizeof(*id));
}

int
service_own_socket(const char *path, const struct service_id *id,
    unsigned mode, char **err)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		*err = xasprintf("socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*err = xasprintf("socket %s: not a socket", path);
		return -1;
	}
	if ((st.st_uid != id->uid || st.st_gid != id->sock_gid) &&
	    lchown(path, st.st_uid != id->uid ? id->uid : (uid_t)-1,
	    st.st_gid != id->sock_gid ? id->sock_gid : (gid_t)-1) != 0) {
		*err = xasprintf("socket %s: cannot give it to %s:%s: %s "
		    "(start nsmilter as root, or set socket_group to a group "
		    "of the service user)", path,
		    id->user != NULL ? id->user : "the current user",
		    id->group, strerror(errno));
		return -1;
	}
	if (chmod(path, (mode_t)mode) != 0) {
		*err = xasprintf("socket %s: chmod %04o: %s", path, mode,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Judge by owner, group and mode (we cannot become the user). */
static int
can_read_by_mode(const struct service_id *id, const char *path, char **why)
{
	struct stat st;
	gid_t groups[256];
	int n = (int)(sizeof(groups) / sizeof(groups[0]));
	bool member = false;

	if (stat(path, &st) != 0) {
		*why = xasprintf("%s", strerror(errno));
		return -1;
	}
	if (st.st_uid == id->uid)
		return (st.st_mode & S_IRUSR) ? 1 : 0;
	if (id->user != NULL &&
	    getgrouplist(id->user, id->gid, groups, &n) >= 0) {
		for (int i = 0; i < n; i++)
			member |= groups[i] == st.st_gid;
	} else {
		member = st.st_gid == id->gid;
	}
	if (member)
		return (st.st_mode & S_IRGRP) ? 1 : 0;
	return (st.st_mode & S_IROTH) ? 1 : 0;
}

/* Ask the kernel: a child switches to the user and opens PATH. */
static int
can_read_as_user(const struct service_id *id, const char *path, char **why)
{
	pid_t pid;
	int st, fd;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		*why = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (initgroups(id->user, id->gid) != 0 ||
		    setgid(id->gid) != 0 || setuid(id->uid) != 0)
			_exit(255);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : (errno & 0x7f));
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			*why = xasprintf("waitpid: %s", strerror(errno));
			return -1;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 255) {
		*why = xasprintf("cannot switch to user %s", id->user);
		return -1;
	}
	if (WEXITSTATUS(st) == 0)
		return 1;
	*why = xasprintf("%s", strerror(WEXITSTATUS(st)));
	return 0;
}

int
service_can_read(const struct service_id *id, const char *path, char **why)
{
	int rc, fd;

	*why = NULL;
	if (id->uid == geteuid()) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			close(fd);
			return 1;
		}
		*why = xasprintf("%s", strerror(errno));
		return 0;
	}
	if (geteuid() == 0 && id->user != NULL)
		return can_read_as_user(id, path, why);
	rc = can_read_by_mode(id, path, why);
	if (rc == 0)
		*why = xasprintf("its owner, group and mode deny it");
	return rc;
}

int
service_check(const struct config *cfg, const char *user,
    const char *file, FILE *out)
{
	const char *u = user != NULL ? user : cfg->milter.user;
	struct service_id id;
	char *err = NULL, *ugroup;
	int problems = 0;

	if (service_id_resolve(u, cfg->milter.socket_group, &id, &err) != 0) {
		fprintf(out, "%s: [milter] %s: %s\n", file,
		    strncmp(err, "user", 4) == 0 ? "user" : "socket_group",
		    err);
		free(err);
		return 1;
	}
	ugroup = group_name(id.gid);
	for (size_t i = 0; i < cfg->n_directories; i++) {
		const struct directory_config *dir = &cfg->directories[i];
		char *why = NULL;

		if (dir->bind_password_file == NULL)
			continue;
		if (service_can_read(&id, dir->bind_password_file, &why) == 0) {
			fprintf(out, "%s: [directory %s] bind_password_file: "
			    "'%s' is not readable by user %s (%s); a reload "
			    "reads it again after privileges are dropped: "
			    "make it readable by that user, e.g. owner root, "
			    "group %s, mode 0640\n", file, dir->name,
			    dir->bind_password_file,
			    id.user != NULL ? id.user : "(current)",
			    why != NULL ? why : "permission denied",
			    ugroup != NULL ? ugroup : "of the service user");
			problems++;
		}
		free(why);
	}
	free(ugroup);
	service_id_free(&id);
	return problems;
}
