/*
 * mirror_put.h - one entry into a mirror store's write transaction, for
 * the unit tests: KEY (an entryUUID), one or two addresses, and a target
 * address or none.  Include after cmocka.h and the mirror store headers.
 */
#ifndef NSMILTER_MIRROR_PUT_H
#define NSMILTER_MIRROR_PUT_H

#include <string.h>

static inline void
put(struct mirror_wtxn *w, const char *key, const char *target,
    const char *a1, const char *a2)
{
	char *addrs[2] = { (char *)a1, (char *)a2 };
	struct mirror_entry e = {
		.addrs = addrs, .n_addrs = a2 ? 2 : 1,
		.target = (char *)target, .has_target = target != NULL,
	};

	assert_int_equal(mirror_wtxn_put(w, key, strlen(key), &e), 0);
}

#endif
