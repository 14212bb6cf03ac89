/*
 * mirror_engine.c - the synchronisation thread of each mirrored directory
 * (see mirror_engine.h).
 *
 * The thread connects with the LDAP backend's connection code (the uri
 * list in order, StartTLS or ldaps, bind, each step bounded by the
 * directory's timeout), runs one session of the directory's sync mode on
 * that connection, and when the session ends (the server went away, the
 * network failed) connects again: at once after a session that worked,
 * else after a pause that doubles from 1 s up to 30 s (bounded by
 * sync_interval), so a directory that is down costs a connection attempt
 * now and then, never a milter thread.  TCP keepalive on the connection
 * notices a link that died without closing.
 *
 * Stopping (the last snapshot closed, or the parameters changed on
 * reload): a flag, and shutdown() of the session's socket so that a
 * blocking libldap call returns at once.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "directory/ldap/ldap_conn.h"
#include "directory/mirror/mirror_config.h"
#include "directory/mirror/mirror_engine.h"
#include "base/clock.h"
#include "base/log.h"

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define CONTACT_MAX_MS 5000u

struct mirror_engine {
	struct mirror_engine *next;      /* the registry */
	char *path;                      /* state_dir/NAME */
	unsigned refs;                   /* under reg_mu */
	struct directory_config *cfg;    /* private copy, replaced on reload */
	struct directory_config *next_cfg;
	struct mirror_store *_Atomic store;
	pthread_t thread;
	bool started;
	atomic_bool stop;                /* end the current session */
	bool stopping;                   /* end the thread (under mu) */
	pthread_mutex_t mu;              /* fd, next_cfg, stopping */
	pthread_cond_t cv;
	int fd;                          /* the session's socket, or -1 */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mirror_engine *engines;
static bool enabled, started;

void
mirror_engines_enable(void)
{
	enabled = true;
}

bool
mirror_engines_enabled(void)
{
	return enabled;
}

char *
mirror_state_path(const char *state_dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", state_dir, name) < 0)
		return NULL;
	return s;
}


/* ---- the thread ------------------------------------------------------- */

/* Wait MS or until stopped; returns true when the thread must end. */
static bool
pause_ms(struct mirror_engine *e, unsigned ms)
{
	struct timespec ts = clock_timespec(clock_ms() + ms);
	bool stopping;

	pthread_mutex_lock(&e->mu);
	while (!e->stopping && e->next_cfg == NULL &&
	    pthread_cond_timedwait(&e->cv, &e->mu, &ts) != ETIMEDOUT)
		;
	stopping = e->stopping;
	pthread_mutex_unlock(&e->mu);
	return stopping;
}

/* The attributes a session asks for (NULL-terminated, new array). */
static char **
session_attrs(const struct directory_config *cfg)
{
	size_t n = cfg->address_attributes.n, i;
	char **v = calloc(n + 2, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		v[i] = cfg->address_attributes.v[i];
	if (cfg->target_attribute != NULL && *cfg->target_attribute != '\0')
		v[i++] = cfg->target_attribute;
	v[i] = NULL;
	return v;
}

static void
keepalive(int fd)
{
	int on = 1, idle = 10, intvl = 5, cnt = 3;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Connect to the first server of the uri list that answers. */
static int
connect_any(struct mirror_engine *e, struct ldapconn *c,
    const struct ldapdir_params *p, char **err)
{
	int rc = LDAP_SERVER_DOWN;

	*err = NULL;
	for (size_t i = 0; i < e->cfg->uri.n; i++) {
		free(*err);
		*err = NULL;
		rc = ldapconn_open_one(c, p, i, err);
		if (rc == LDAP_SUCCESS || !ldapconn_try_next(rc))
			break;
	}
	return rc;
}

/*
 * Before the first complete refresh: mark the copy as being made, so that
 * nsmilter -m says "refreshing" rather than "absent".
 */
static void
mark_refreshing(struct mirror_session *s)
{
	struct mirror_meta meta;
	struct mirror_wtxn *w;
	char *err = NULL;

	if (mirror_store_meta(s->store, &meta, &err) == 0 && !meta.complete &&
	    mirror_wtxn_begin(s->store, &w, &err) == 0) {
		mirror_wtxn_set_params(w, s->params);
		mirror_wtxn_set_contact(w, (uint64_t)time(NULL), false);
		mirror_wtxn_commit(w, &err);
	}
	free(err);
}

/*
 * One connection and session; returns true when it had worked, with
 * *PAUSE the time to wait before the next one.
 */
static bool
run_once(struct mirror_engine *e, unsigned *pause, char **err)
{
	struct ldapdir_params p;
	struct ldapconn c = { 0 };
	struct mirror_session s = { 0 };
	char *stored_params = NULL;
	int rc, fd;
	bool worked = false;

	memset(&p, 0, sizeof(p));
	p.cfg = e->cfg;
	p.tls = e->cfg->starttls;
	for (size_t i = 0; i < e->cfg->uri.n; i++)
		if (strncasecmp(e->cfg->uri.v[i], "ldaps://", 8) == 0)
			p.tls = true;
	p.tv.tv_sec = (time_t)(e->cfg->timeout_ms / 1000);
	p.tv.tv_usec = (suseconds_t)(e->cfg->timeout_ms % 1000) * 1000;

	s.cfg = e->cfg;
	s.store = atomic_load(&e->store);
	s.stop = &e->stop;
	s.contact_ms = e->cfg->sync_interval_ms < CONTACT_MAX_MS ?
	    e->cfg->sync_interval_ms : CONTACT_MAX_MS;
	if ((s.attrs = session_attrs(e->cfg)) == NULL ||
	    (s.params = mirror_params_string(e->cfg)) == NULL) {
		*err = strdup("out of memory");
		goto done;
	}
	if (mirror_store_sync_state(s.store, &s.cookie, &s.cookie_len,
	    &stored_params, err) != 0)
		goto done;
	s.fresh = stored_params == NULL || strcmp(stored_params, s.params)
	    != 0 || s.cookie == NULL;
	if ((rc = connect_any(e, &c, &p, err)) != LDAP_SUCCESS)
		goto done;
	fd = ldapconn_fd(&c);
	if (fd >= 0)
		keepalive(fd);
	pthread_mutex_lock(&e->mu);
	e->fd = fd;
	pthread_mutex_unlock(&e->mu);
	if (!atomic_load(&e->stop)) {
		s.ld = c.ld;
		mark_refreshing(&s);
		switch (e->cfg->sync) {
		case CONFIG_SYNC_SYNCREPL:
			rc = mirror_syncrepl_run(&s, err);
			break;
		case CONFIG_SYNC_POLL:
			rc = mirror_poll_run(&s, err);
			break;
		case CONFIG_SYNC_DIRSYNC:
			rc = mirror_dirsync_run(&s, err);
			break;
		default:
			rc = LDAP_NOT_SUPPORTED;
			*err = strdup("no sync mode");
			break;
		}
		worked = s.worked;
		*pause = s.pause_ms;
		if (rc == LDAP_SYNC_REFRESH_REQUIRED) {
			/* Start over without the cookie, at once. */
			struct mirror_wtxn *w;
			char *e2 = NULL;

			log_info("directory %s: mirror refresh required by the "
			    "server, reading it in full", e->cfg->name);
			if (mirror_wtxn_begin(s.store, &w, &e2) == 0) {
				mirror_wtxn_set_cookie(w, NULL, 0);
				mirror_wtxn_commit(w, &e2);
			}
			free(e2);
			worked = true;
		}
	}
	pthread_mutex_lock(&e->mu);
	e->fd = -1;
	pthread_mutex_unlock(&e->mu);
	ldapconn_close(&c);
done:
	free(stored_params);
	free(s.cookie);
	free(s.attrs);
	free((char *)s.params);
	return worked;
}

static void *
engine_main(void *arg)
{
	struct mirror_engine *e = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	bool was_down = false;

	for (;;) {
		char *err = NULL;
		unsigned pause = 0;
		bool worked;

		pthread_mutex_lock(&e->mu);
		if (e->stopping) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		if (e->next_cfg != NULL) {
			mirror_config_free(e->cfg);
			e->cfg = e->next_cfg;
			e->next_cfg = NULL;
		}
		atomic_store(&e->stop, false);
		pthread_mutex_unlock(&e->mu);

		worked = run_once(e, &pause, &err);
		if (worked) {
			backoff = BACKOFF_MIN_MS;
			if (was_down)
				log_info("directory %s: mirror in contact "
				    "again", e->cfg->name);
			was_down = false;
		}
		if (err != NULL) {
			if (!was_down)
				log_warning("directory %s: mirror: %s",
				    e->cfg->name, err);
			else
				log_debug("directory %s: mirror: %s",
				    e->cfg->name, err);
			was_down = true;
			free(err);
		}
		if (pause_ms(e, worked ? pause : backoff))
			break;
		if (!worked) {
			backoff *= 2;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			if (backoff > e->cfg->sync_interval_ms &&
			    e->cfg->sync_interval_ms >= BACKOFF_MIN_MS)
				backoff = e->cfg->sync_interval_ms;
		}
	}
	return NULL;
}

/* Open E's store and start its thread (under reg_mu). */
static void
engine_start(struct mirror_engine *e)
{
	struct mirror_store *s = NULL;
	sigset_t all, old;
	char *err = NULL;

	if (e->started)
		return;
	if (mirror_store_open(e->path, 0, &s, &err) != 0) {
		log_err("directory %s: mirror not available: %s",
		    e->cfg->name, err ? err : "cannot open");
		free(err);
		return;
	}
	atomic_store(&e->store, s);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&e->thread, NULL, engine_main, e) == 0)
		e->started = true;
	else
		log_err("directory %s: cannot start the mirror thread",
		    e->cfg->name);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void
mirror_engines_start(void)
{
	pthread_mutex_lock(&reg_mu);
	started = true;
	for (struct mirror_engine *e = engines; e != NULL; e = e->next)
		engine_start(e);
	pthread_mutex_unlock(&reg_mu);
}

struct mirror_engine *
mirror_engine_get(const struct directory_config *cfg, const char *state_dir)
{
	struct mirror_engine *e;
	char *path = mirror_state_path(state_dir, cfg->name);

	if (path == NULL)
		return NULL;
	pthread_mutex_lock(&reg_mu);
	for (e = engines; e != NULL; e = e->next)
		if (strcmp(e->path, path) == 0)
			break;
	if (e != NULL) {
		free(path);
		e->refs++;
		pthread_mutex_lock(&e->mu);
		if (mirror_config_differs(e->next_cfg ? e->next_cfg : e->cfg, cfg)) {
			struct directory_config *c = mirror_config_copy(cfg);

			if (c != NULL) {
				mirror_config_free(e->next_cfg);
				e->next_cfg = c;
				atomic_store(&e->stop, true);
				if (e->fd >= 0)
					shutdown(e->fd, SHUT_RDWR);
				pthread_cond_broadcast(&e->cv);
			}
		}
		pthread_mutex_unlock(&e->mu);
		pthread_mutex_unlock(&reg_mu);
		return e;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->cfg = mirror_config_copy(cfg)) == NULL) {
		free(e);
		free(path);
		pthread_mutex_unlock(&reg_mu);
		return NULL;
	}
	e->path = path;
	e->refs = 1;
	e->fd = -1;
	atomic_init(&e->store, NULL);
	atomic_init(&e->stop, false);
	pthread_mutex_init(&e->mu, NULL);
	{
		pthread_condattr_t ca;

		/* pause_ms waits on CLOCK_MONOTONIC deadlines. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&e->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	e->next = engines;
	engines = e;
	if (started)
		engine_start(e);
	pthread_mutex_unlock(&reg_mu);
	return e;
}

struct mirror_store *
mirror_engine_store(struct mirror_engine *e)
{
	return atomic_load(&e->store);
}

void
mirror_engine_put(struct mirror_engine *e)
{
	struct mirror_engine **pp;

	if (e == NULL)
		return;
	pthread_mutex_lock(&reg_mu);
	if (--e->refs > 0) {
		pthread_mutex_unlock(&reg_mu);
		return;
	}
	for (pp = &engines; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	atomic_store(&e->stop, true);
	if (e->fd >= 0)
		shutdown(e->fd, SHUT_RDWR);
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (e->started)
		pthread_join(e->thread, NULL);
	mirror_store_close(atomic_load(&e->store));
	mirror_config_free(e->cfg);
	mirror_config_free(e->next_cfg);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e->path);
	free(e);
}
