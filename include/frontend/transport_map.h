/*
 * transport_map.h - the socketmap's answers, from the decision engine.
 */
#ifndef NSMILTER_TRANSPORT_MAP_H
#define NSMILTER_TRANSPORT_MAP_H

#include "decision/decide.h"

/*
 * The socketmap reply for map MAP, key KEY, decided with the snapshot in
 * force (runtime_acquire): map "transport" only.  A socketmap_lookup_fn.
 */
char *transport_map_lookup(void *ctx, const char *map, const char *key);

/* The reply for decision D: "OK transport", "NOTFOUND ", "TEMP ...". */
char *transport_map_reply(const struct decision *d, bool observe);

#endif
