/*
 * fuzz_address.c - the address parser and normaliser (decision/address.c):
 * parse, strip the extension, follow percent hacks and bang paths, xtext.
 * Checks what must hold for every input, beyond "no crash".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "decision/address.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = fuzz_string(data, size), *s, *next;
	struct address a;
	int st;

	if (raw == NULL)
		return 0;
	st = address_parse(raw, &a);
	if (st == ADDRESS_OK || st == ADDRESS_INVALID) {
		/* a domain is lowercase, and set with the full address */
		if (a.domain == NULL || a.full == NULL || a.local == NULL)
			abort();
		for (const char *p = a.domain; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
		if (st == ADDRESS_INVALID && a.why == NULL)
			abort();
	}
	if (st == ADDRESS_OK) {
		/* no control character gets through as valid */
		for (const unsigned char *p = (const unsigned char *)a.full; *p;
		    p++)
			if (*p < 0x20 || *p == 0x7f)
				abort();
		free(address_strip_extension(&a, "+-"));
		s = address_xtext(a.full);
		for (const char *p = s ? s : ""; *p; p++)
			if (*p == '+' && (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2])))
				abort();	/* +XX always complete */
		free(s);
	}
	address_free(&a);
	/* the hack chain stays bounded and each step shrinks the input */
	s = strdup(raw);
	for (int i = 0; s != NULL && i < 8; i++) {
		int rc = address_unhack(s, &next);

		if (rc <= 0)
			break;
		if (strlen(next) > strlen(s))
			abort();
		free(s);
		s = next;
	}
	free(s);
	free(raw);
	return 0;
}
