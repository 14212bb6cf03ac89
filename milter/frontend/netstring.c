/*
 * netstring.c - netstring encoder and incremental decoder (see netstring.h).
 */
#include "frontend/netstring.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum netstring_status
netstring_decode(const char *buf, size_t len, size_t max, const char **data,
    size_t *data_len, size_t *consumed)
{
	size_t value = 0;
	size_t i = 0;

	/* Length: one or more digits, no leading zero unless it is "0". */
	while (i < len && buf[i] >= '0' && buf[i] <= '9') {
		unsigned digit = (unsigned)(buf[i] - '0');

		if (i == 1 && buf[0] == '0')
			return NETSTRING_BAD_FORMAT;
		/* Checked before multiplying: also rules out size_t overflow. */
		if (digit > max || value > (max - digit) / 10)
			return NETSTRING_TOO_LONG;
		value = value * 10 + digit;
		i++;
	}
	if (i == len)
		return NETSTRING_INCOMPLETE;
	if (i == 0 || buf[i] != ':')
		return NETSTRING_BAD_FORMAT;
	i++;
	/* Payload and ',' not all there yet (written so nothing can wrap). */
	if (len - i <= value)
		return NETSTRING_INCOMPLETE;
	if (buf[i + value] != ',')
		return NETSTRING_BAD_FORMAT;
	*data = buf + i;
	*data_len = value;
	*consumed = i + value + 1;
	return NETSTRING_OK;
}

char *
netstring_encode(const char *data, size_t len, size_t *out_len)
{
	char head[24];
	int n = snprintf(head, sizeof(head), "%zu:", len);
	char *out;
	size_t total;

	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	if (len > SIZE_MAX - (size_t)n - 2)
		return NULL;
	total = (size_t)n + len + 1;
	if ((out = malloc(total + 1)) == NULL)
		return NULL;
	memcpy(out, head, (size_t)n);
	if (len > 0)
		memcpy(out + n, data, len);
	out[total - 1] = ',';
	out[total] = '\0';
	if (out_len != NULL)
		*out_len = total;
	return out;
}

const char *
netstring_strerror(enum netstring_status st)
{
	switch (st) {
	case NETSTRING_OK: return "ok";
	case NETSTRING_INCOMPLETE: return "truncated netstring";
	case NETSTRING_BAD_FORMAT: return "malformed netstring";
	case NETSTRING_TOO_LONG: return "netstring too long";
	}
	return "unknown netstring status";
}
