/*
 * runtime.c - the refcounted configuration snapshot (see runtime.h).
 */
#include <pthread.h>
#include <stdlib.h>

#include "decision/decision_metrics.h"
#include "decision/runtime.h"

static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;
static unsigned long generations;

struct runtime *
runtime_load(const char *path, const struct directory_ops *ops,
    struct config_errors *errs)
{
	struct runtime *rt;
	struct config *cfg;

	if ((cfg = config_load(path, errs)) == NULL)
		return NULL;
	if ((rt = calloc(1, sizeof(*rt))) == NULL ||
	    (rt->resolver = resolver_open(cfg, ops)) == NULL) {
		free(rt);
		config_free(cfg);
		return NULL;
	}
	rt->cfg = cfg;
	rt->refs = 1;
	decision_metrics_register(cfg);
	return rt;
}

static void
runtime_destroy(struct runtime *rt)
{
	resolver_close(rt->resolver);
	config_free(rt->cfg);
	free(rt);
}

void
runtime_install(struct runtime *rt)
{
	struct runtime *old;

	pthread_mutex_lock(&runtime_lock);
	old = current;
	current = rt;
	rt->generation = ++generations;
	pthread_mutex_unlock(&runtime_lock);
	if (old != NULL)
		runtime_release(old);
}

struct runtime *
runtime_acquire(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&runtime_lock);
	if ((rt = current) != NULL)
		rt->refs++;
	pthread_mutex_unlock(&runtime_lock);
	return rt;
}

void
runtime_release(struct runtime *rt)
{
	int last;

	if (rt == NULL)
		return;
	pthread_mutex_lock(&runtime_lock);
	last = --rt->refs == 0;
	pthread_mutex_unlock(&runtime_lock);
	if (last)
		runtime_destroy(rt);
}

void
runtime_shutdown(void)
{
	struct runtime *old;

	pthread_mutex_lock(&runtime_lock);
	old = current;
	current = NULL;
	pthread_mutex_unlock(&runtime_lock);
	runtime_release(old);
}
