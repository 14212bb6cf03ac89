/*
 * registry.c - directory backends by name (as Postfix's dict_open_register
 * and OpenSMTPD's table_backend_lookup): the resolver opens each directory
 * with the backend its configuration names, so a new backend is one entry
 * here and one folder under milter/directory/.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "config/config.h"
#include "directory/directory.h"
#include "directory/ldap/ldap_backend.h"
#include "directory/mirror/mirror_backend.h"

#define REGISTRY_MAX 8

static const struct directory_ops *registry[REGISTRY_MAX];
static size_t n_registry;
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void
register_builtins(void)
{
	registry[n_registry++] = &ldapdir_ops;
	registry[n_registry++] = &mirror_ops;
}

int
directory_backend_register(const struct directory_ops *ops)
{
	pthread_once(&builtins_once, register_builtins);
	if (ops == NULL || ops->kind == NULL ||
	    directory_backend_lookup(ops->kind) != NULL ||
	    n_registry == REGISTRY_MAX)
		return -1;
	registry[n_registry++] = ops;
	return 0;
}

const struct directory_ops *
directory_backend_lookup(const char *kind)
{
	pthread_once(&builtins_once, register_builtins);
	for (size_t i = 0; i < n_registry; i++)
		if (strcmp(registry[i]->kind, kind) == 0)
			return registry[i];
	return NULL;
}

const char *
directory_backend_for(const struct directory_config *cfg)
{
	/* A mirrored directory is answered from its copy. */
	return cfg->sync != CONFIG_SYNC_NONE ? "mirror" : "ldap";
}
