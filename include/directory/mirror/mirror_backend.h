/*
 * mirror_backend.h - the mirror directory backend: lookups answered from a
 * directory's local copy (struct directory_ops mirror_ops, "mirror"), and
 * its state for nsmilter -m.
 */
#ifndef NSMILTER_MIRROR_BACKEND_H
#define NSMILTER_MIRROR_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "directory/directory.h"
#include "directory/mirror/mirror_store.h"

extern const struct directory_ops mirror_ops;

/*
 * confirm_unknown: look ADDRESS up live in mirrored directory D, whose
 * mirror did not know it (OUT: its DIRECTORY_NOTFOUND answer).  When the live
 * lookup finds it, OUT becomes that answer and the return is true; when it
 * does not, or cannot be made, OUT stays the mirror's "not found".  False
 * as well when D is not a mirror or confirm_unknown is off.
 */
bool mirror_confirm(struct directory *d, const char *address,
    struct directory_answer *out);

/* Whether D is served by the mirror backend. */
bool mirror_is_mirror(const struct directory *d);

/* The state of a mirror, as nsmilter -m prints it. */
enum mirror_state {
	MIRROR_ABSENT,      /* no copy yet */
	MIRROR_REFRESHING,  /* the first complete refresh is under way */
	MIRROR_CURRENT,     /* in contact with the directory */
	MIRROR_STALE,       /* out of contact, within max_staleness */
	MIRROR_EXPIRED      /* out of contact past max_staleness */
};

const char *mirror_state_name(enum mirror_state s);
/* The state of copy META of CFG at unix time NOW; *AGE: seconds, or -1. */
enum mirror_state mirror_state_of(const struct directory_config *cfg,
    const struct mirror_meta *meta, uint64_t now, long long *age);

/* How often a syncrepl session records its contact (ms). */
unsigned mirror_contact_interval_ms(const struct directory_config *cfg);

#endif
