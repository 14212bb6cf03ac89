/*
 * mirror_engine.h - the synchronisation of one mirrored directory: a
 * thread in the daemon that keeps the directory's LMDB copy current.
 *
 * There is one engine per mirror folder (state_dir/NAME), shared by every
 * configuration snapshot that has the directory (a reload keeps the engine
 * and its session; changed synchronisation parameters restart it), and
 * stopped when the last snapshot that uses it is closed.
 *
 * Engines only run in the daemon: mirror_engines_enable() before the
 * configuration is loaded, mirror_engines_start() once privileges are
 * dropped (the state files belong to the user nsmilter runs as).  Other
 * processes (nsmilter -q, -m) read the copies without an engine.
 */
#ifndef NSMILTER_MIRROR_ENGINE_H
#define NSMILTER_MIRROR_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <ldap.h>

#include "config/config.h"
#include "directory/mirror/mirror_store.h"

struct mirror_engine;

/* This process synchronises mirrors (the daemon). */
void mirror_engines_enable(void);
bool mirror_engines_enabled(void);
/*
 * Open the stores of every engine and start their threads; engines made
 * later start at once.  Call after privileges are dropped.
 */
void mirror_engines_start(void);

/*
 * The engine of directory CFG (mirrored), in STATE_DIR/NAME: the running
 * one, or a new one.  NULL when out of memory.
 */
struct mirror_engine *mirror_engine_get(const struct directory_config *cfg,
    const char *state_dir);
void mirror_engine_put(struct mirror_engine *e);
/* The engine's store, NULL until it is open. */
struct mirror_store *mirror_engine_store(struct mirror_engine *e);

/* The folder of directory NAME's mirror (new string). */
char *mirror_state_path(const char *state_dir, const char *name);

/*
 * The parameters a copy was made with: a copy made with other ones is
 * rebuilt (new string).
 */
char *mirror_params_string(const struct directory_config *cfg);

/* ---- for the synchronisation modes ------------------------------------- */

/* One session on a connected handle. */
struct mirror_session {
	const struct directory_config *cfg;  /* the engine's copy */
	struct mirror_store *store;
	LDAP *ld;
	char **attrs;         /* address_attributes, target_attribute, NULL */
	const char *params;   /* mirror_params_string */
	bool fresh;           /* rebuild the copy (no usable cookie) */
	void *cookie;         /* stored cookie (not when fresh) */
	size_t cookie_len;
	atomic_bool *stop;    /* the engine is stopping or restarting */
	unsigned contact_ms;  /* how often to record the contact */
	bool worked;          /* set by the mode: the copy was brought up to
				 date (a session worth reconnecting at once) */
	unsigned pause_ms;    /* set by the mode: wait before the next
				 session (poll, dirsync: sync_interval) */
};

/*
 * RFC 4533 refreshAndPersist until the session ends (error, the server
 * ends it) or *S->stop.  Returns an LDAP code; LDAP_SYNC_REFRESH_REQUIRED
 * when the cookie must be dropped.  *ERR: a new message on failure.
 */
int mirror_syncrepl_run(struct mirror_session *s, char **err);

/*
 * sync = poll: one full paged read on S->ld, swapped in whole in one
 * transaction.  Returns an LDAP code, *ERR a new message on failure.
 */
int mirror_poll_run(struct mirror_session *s, char **err);

/*
 * sync = dirsync: the changes since the stored cookie (Active Directory's
 * DirSync control), or a full read when there is none, written with the
 * new cookie in one transaction.  Returns an LDAP code, *ERR a new
 * message on failure.
 */
int mirror_dirsync_run(struct mirror_session *s, char **err);

/* Record the contact (now) and whether a session is up, in one txn. */
int mirror_session_contact(struct mirror_session *s, bool up, char **err);

#endif
