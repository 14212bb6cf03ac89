/*
 * mirror_record.c - the value of an entry in the mirror's "entries"
 * database.
 *
 * Entry record: version, flags (1: has target), u16 target length, target,
 * u16 address count, then each address as u16 length + bytes.  Native
 * byte order: the files are local to one host.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory/mirror/mirror_store_priv.h"

#define RECORD_VERSION 1

int
mirror_record_encode(const struct mirror_entry *e, MDB_val *v)
{
	size_t tl = e->target != NULL ? strlen(e->target) : 0, n = 6 + tl, i;
	unsigned char *p;
	uint16_t u;

	if (tl > UINT16_MAX || e->n_addrs > UINT16_MAX)
		return EINVAL;
	for (i = 0; i < e->n_addrs; i++)
		n += 2 + strlen(e->addrs[i]);
	if ((p = malloc(n)) == NULL)
		return ENOMEM;
	v->mv_data = p;
	v->mv_size = n;
	*p++ = RECORD_VERSION;
	*p++ = e->has_target ? 1 : 0;
	u = (uint16_t)tl;
	memcpy(p, &u, 2);
	p += 2;
	if (tl > 0)
		memcpy(p, e->target, tl);
	p += tl;
	u = (uint16_t)e->n_addrs;
	memcpy(p, &u, 2);
	p += 2;
	for (i = 0; i < e->n_addrs; i++) {
		size_t l = strlen(e->addrs[i]);

		u = (uint16_t)l;
		memcpy(p, &u, 2);
		memcpy(p + 2, e->addrs[i], l);
		p += 2 + l;
	}
	return 0;
}

int
mirror_record_view(const MDB_val *v, struct mirror_record *r)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;
	uint16_t u;

	if (v->mv_size < 6 || p[0] != RECORD_VERSION)
		return -1;
	r->has_target = (p[1] & 1) != 0;
	memcpy(&u, p + 2, 2);
	r->target = (const char *)p + 4;
	r->target_len = u;
	p += 4 + u;
	if (p + 2 > end)
		return -1;
	memcpy(&u, p, 2);
	r->n_addrs = u;
	r->addrs = p + 2;
	r->end = end;
	return 0;
}

int
mirror_record_next_addr(const struct mirror_record *r, const unsigned char **p,
    const char **a, size_t *len)
{
	uint16_t u;

	if (*p + 2 > r->end)
		return *p == r->end ? 0 : -1;
	memcpy(&u, *p, 2);
	if (*p + 2 + u > r->end)
		return -1;
	*a = (const char *)*p + 2;
	*len = u;
	*p += 2 + u;
	return 1;
}
