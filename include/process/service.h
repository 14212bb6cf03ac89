/*
 * service.h - who the daemon serves as: [milter] user (or -u) and the group
 * of its unix sockets ([milter] socket_group, else the user's group), and
 * what that user must be able to read (nsmilter(8), nsmilter.ini(5)).
 */
#ifndef NSMILTER_SERVICE_H
#define NSMILTER_SERVICE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "config/config.h"

struct service_id {
	char *user;        /* NULL: no user configured (the starting one) */
	uid_t uid;
	gid_t gid;         /* the user's primary group */
	gid_t sock_gid;    /* socket_group, else gid */
	char *group;       /* socket_group's or gid's name, for messages */
};

/*
 * Look USER (may be NULL or empty: the current user) and GROUP (NULL or
 * empty: USER's group) up.  Returns 0, or -1 with *ERR set to a new
 * message ("user nsmilter: no such user").
 */
int service_id_resolve(const char *user, const char *group,
    struct service_id *out, char **err);
void service_id_free(struct service_id *id);

/*
 * Give the unix socket PATH to ID's user and socket group with MODE.
 * Returns 0, or -1 with *ERR set to a new message.
 */
int service_own_socket(const char *path, const struct service_id *id,
    unsigned mode, char **err);

/*
 * Whether ID's user can read PATH: 1 yes, 0 no (*WHY set to a new
 * message), -1 cannot tell (*WHY set).  Run as root, it asks the kernel in
 * a child process that has switched to the user, so parent directories and
 * ACLs count; otherwise it judges by owner, group and mode.
 */
int service_can_read(const struct service_id *id, const char *path,
    char **why);

/*
 * The checks of "nsmilter -n" that need the system's users: USER (-u, or
 * NULL for [milter] user) and socket_group exist, and every
 * bind_password_file is readable by the user, since a reload reads it
 * again after privileges were dropped.  One line per problem on OUT
 * ("FILE: [section] key: what is wrong"); returns the number of problems.
 */
int service_check(const struct config *cfg, const char *user,
    const char *file, FILE *out);

#endif
