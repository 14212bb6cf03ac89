/*
 * fuzz_escape.c - log and reply escaping (base/log.c log_escape,
 * frontend/milter.c milter_reply_escape): no control character and no
 * lone '%' survives.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "frontend/milter.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size), *log, *reply;

	if (in == NULL)
		return 0;
	log = log_escape(in);
	reply = milter_reply_escape(in);
	for (const unsigned char *p = (const unsigned char *)(log ? log : "");
	    *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	for (const unsigned char *p = (const unsigned char *)(reply ? reply :
	    ""); *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			abort();
		if (*p == '%' && *++p != '%')
			abort();	/* every '%' doubled */
	}
	free(log);
	free(reply);
	free(in);
	return 0;
}
