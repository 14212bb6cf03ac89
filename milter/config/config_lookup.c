/*
 * config_lookup.c - questions asked of a loaded configuration.
 */
#include <string.h>
#include <strings.h>

#include "config/config.h"

static const struct domain_config *
find_exact(const struct config *cfg, const char *domain, bool need_subdomains)
{
	for (size_t i = 0; i < cfg->n_domains; i++) {
		const struct domain_config *dom = &cfg->domains[i];

		if (strcasecmp(dom->name, domain) == 0 &&
		    (!need_subdomains || dom->subdomains))
			return dom;
	}
	return NULL;
}

const struct domain_config *
config_find_domain(const struct config *cfg, const char *domain)
{
	const struct domain_config *dom;

	if (cfg == NULL || domain == NULL || *domain == '\0')
		return NULL;
	if ((dom = find_exact(cfg, domain, false)) != NULL)
		return dom;
	/* The nearest parent first: a.b.corp.example, b.corp.example, ... */
	for (const char *p = strchr(domain, '.'); p != NULL;
	    p = strchr(p + 1, '.')) {
		if (p[1] != '\0' && (dom = find_exact(cfg, p + 1, true)) != NULL)
			return dom;
	}
	return NULL;
}

enum config_mode
config_domain_mode(const struct config *cfg, const struct domain_config *dom)
{
	if (dom != NULL && dom->mode != CONFIG_MODE_INHERIT)
		return dom->mode;
	return cfg->milter.mode;
}
