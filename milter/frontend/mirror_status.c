/*
 * mirror_status.c - nsmilter -m (see mirror_status.h).  Reads the copies
 * read-only, as the running daemon keeps them.
 */
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>

#include "directory/mirror/mirror_backend.h"
#include "directory/mirror/mirror_engine.h"
#include "directory/mirror/mirror_store.h"
#include "frontend/mirror_status.h"

static const char *
sync_name(enum config_sync s)
{
	switch (s) {
	case CONFIG_SYNC_SYNCREPL:
		return "syncrepl";
	case CONFIG_SYNC_DIRSYNC:
		return "dirsync";
	case CONFIG_SYNC_POLL:
		return "poll";
	default:
		return "none";
	}
}

int
mirror_status_run(const struct config *cfg, FILE *out)
{
	uint64_t now = (uint64_t)time(NULL);
	int status = 0;

	for (size_t i = 0; i < cfg->n_directories; i++) {
		const struct directory_config *d = &cfg->directories[i];
		struct mirror_store *s = NULL;
		struct mirror_meta meta = { 0 };
		enum mirror_state state;
		char *path, *err = NULL;
		long long age;

		if (d->sync == CONFIG_SYNC_NONE)
			continue;
		if ((path = mirror_state_path(cfg->milter.state_dir, d->name))
		    != NULL &&
		    mirror_store_open(path, MIRROR_STORE_RDONLY, &s, &err) == 0)
			mirror_store_meta(s, &meta, &err);
		if (err != NULL)
			fprintf(stderr, "%s: %s\n", d->name, err);
		state = mirror_state_of(d, &meta, now, &age);
		fprintf(out, "%s sync=%s state=%s entries=%llu addresses=%llu "
		    "age=%lld\n", d->name, sync_name(d->sync),
		    mirror_state_name(state), (unsigned long long)meta.entries,
		    (unsigned long long)meta.addresses, age);
		if (state != MIRROR_CURRENT)
			status = EX_TEMPFAIL;
		mirror_store_close(s);
		free(path);
		free(err);
	}
	fflush(out);
	return status;
}
