/*
 * mirror_config.h - a private copy of a mirrored directory's
 * configuration, for its synchronisation thread.
 */
#ifndef NSMILTER_MIRROR_CONFIG_H
#define NSMILTER_MIRROR_CONFIG_H

#include <stdbool.h>

#include "config/config.h"

/* A deep copy of SRC (NULL when out of memory); free with
 * mirror_config_free. */
struct directory_config *mirror_config_copy(const struct directory_config *src);
void mirror_config_free(struct directory_config *c);
/* Whether A and B differ in what the synchronisation uses. */
bool mirror_config_differs(const struct directory_config *a,
    const struct directory_config *b);

#endif
