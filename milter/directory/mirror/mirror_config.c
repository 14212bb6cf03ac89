/*
 * mirror_config.c - the synchronisation thread's own copy of a mirrored
 * directory's configuration (it outlives the snapshot it came from), and
 * the parameters whose change restarts the thread at a reload.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xfmt.h"
#include "config/config.h"
#include "directory/mirror/mirror_config.h"
#include "directory/mirror/mirror_engine.h"

char *
mirror_params_string(const struct directory_config *cfg)
{
	static const char *const modes[] = { "none", "syncrepl", "dirsync",
	    "poll" };
	size_t len = 0;
	char *attrs, *s, *p;

	for (size_t i = 0; i < cfg->address_attributes.n; i++)
		len += strlen(cfg->address_attributes.v[i]) + 1;
	if ((attrs = calloc(1, len + 1)) == NULL)
		return NULL;
	for (size_t i = 0, off = 0; i < cfg->address_attributes.n; i++) {
		off += (size_t)sprintf(attrs + off, "%s%s", i ? "," : "",
		    cfg->address_attributes.v[i]);
	}
	for (p = attrs; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	if (asprintf(&s, "v1 sync=%s base=%s scope=%d filter=%s attrs=%s "
	    "target=%s", modes[cfg->sync], cfg->base ? cfg->base : "",
	    (int)cfg->scope, cfg->sync_filter ? cfg->sync_filter : "", attrs,
	    cfg->target_attribute ? cfg->target_attribute : "") < 0)
		s = NULL;
	free(attrs);
	return s;
}

static void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
strlist_copy(struct strlist *dst, const struct strlist *src)
{
	dst->n = 0;
	if ((dst->v = calloc(src->n + 1, sizeof(*dst->v))) == NULL)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		if ((dst->v[i] = strdup(src->v[i])) == NULL)
			return -1;
		dst->n++;
	}
	return 0;
}

void
mirror_config_free(struct directory_config *c)
{
	if (c == NULL)
		return;
	free(c->name);
	strlist_free(&c->uri);
	free(c->bind_dn);
	if (c->bind_password != NULL) {
		explicit_bzero(c->bind_password, strlen(c->bind_password));
		free(c->bind_password);
	}
	free(c->base);
	free(c->filter);
	free(c->target_attribute);
	free(c->tls_ca_file);
	strlist_free(&c->address_attributes);
	free(c->sync_filter);
	free(c);
}

/* Copy of what a session reads; NULL when out of memory. */
struct directory_config *
mirror_config_copy(const struct directory_config *src)
{
	struct directory_config *c = calloc(1, sizeof(*c));

#define DUP(f) do { if (src->f != NULL && (c->f = strdup(src->f)) == NULL) \
		goto fail; } while (0)
	if (c == NULL)
		return NULL;
	DUP(name);
	DUP(bind_dn);
	DUP(bind_password);
	DUP(base);
	DUP(filter);
	DUP(target_attribute);
	DUP(tls_ca_file);
	DUP(sync_filter);
#undef DUP
	if (strlist_copy(&c->uri, &src->uri) != 0 ||
	    strlist_copy(&c->address_attributes, &src->address_attributes)
	    != 0)
		goto fail;
	c->index = src->index;
	c->scope = src->scope;
	c->timeout_ms = src->timeout_ms;
	c->starttls = src->starttls;
	c->tls_verify = src->tls_verify;
	c->pool_size = 1;
	c->sync = src->sync;
	c->sync_interval_ms = src->sync_interval_ms;
	c->max_staleness_ms = src->max_staleness_ms;
	c->confirm_unknown = src->confirm_unknown;
	return c;
fail:
	mirror_config_free(c);
	return NULL;
}

/* Whether a session must restart for NEW (other server, bind, mode...). */
bool
mirror_config_differs(const struct directory_config *a, const struct directory_config *b)
{
	char *pa = mirror_params_string(a), *pb = mirror_params_string(b);
	bool differ = pa == NULL || pb == NULL || strcmp(pa, pb) != 0;

#define SDIFF(f) (((a->f) == NULL) != ((b->f) == NULL) || \
	((a->f) != NULL && strcmp((a->f), (b->f)) != 0))
	free(pa);
	free(pb);
	if (differ || a->uri.n != b->uri.n || SDIFF(bind_dn) ||
	    SDIFF(bind_password) || SDIFF(tls_ca_file) ||
	    a->starttls != b->starttls || a->tls_verify != b->tls_verify ||
	    a->timeout_ms != b->timeout_ms ||
	    a->sync_interval_ms != b->sync_interval_ms)
		return true;
#undef SDIFF
	for (size_t i = 0; i < a->uri.n; i++)
		if (strcmp(a->uri.v[i], b->uri.v[i]) != 0)
			return true;
	return false;
}
