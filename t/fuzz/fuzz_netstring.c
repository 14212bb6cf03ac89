/*
 * fuzz_netstring.c - netstrings (frontend/netstring.c): decode the input
 * as a stream of netstrings; every decoded one encodes back to the bytes it
 * was read from.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend/netstring.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *payload;
	size_t have = size, plen, used, elen;

	while (have > 0) {
		enum netstring_status st = netstring_decode(buf, have, 10000,
		    &payload, &plen, &used);
		char *enc;

		if (st != NETSTRING_OK)
			break;
		if (used == 0 || used > have || plen > used ||
		    payload < buf || payload + plen > buf + used)
			abort();
		enc = netstring_encode(payload, plen, &elen);
		if (enc == NULL || elen != used || memcmp(enc, buf, used) != 0)
			abort();
		free(enc);
		(void)netstring_strerror(st);
		buf += used;
		have -= used;
	}
	return 0;
}
