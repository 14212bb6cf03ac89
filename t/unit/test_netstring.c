/*
 * test_netstring.c - the netstring codec: decode table, encode, round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frontend/netstring.h"

struct decode_case {
	const char *name;
	const char *in;
	size_t in_len; /* 0: strlen(in) */
	size_t max;
	enum netstring_status want;
	const char *want_data; /* for NETSTRING_OK */
	size_t want_data_len;
	size_t want_consumed; /* for NETSTRING_OK */
};

#define NS_MAX 10000

static const struct decode_case decode_cases[] = {
    {.name = "simple",
        .in = "5:hello,",
        .max = NS_MAX,
        .want = NETSTRING_OK,
        .want_data = "hello",
        .want_data_len = 5,
        .want_consumed = 8},
    {.name = "empty",
        .in = "0:,",
        .max = NS_MAX,
        .want = NETSTRING_OK,
        .want_data = "",
        .want_data_len = 0,
        .want_consumed = 3},
    {.name = "request",
        .in = "26:transport bob@corp.example,",
        .max = NS_MAX,
        .want = NETSTRING_OK,
        .want_data = "transport bob@corp.example",
        .want_data_len = 26,
        .want_consumed = 30},
    {.name = "length short of payload",
        .in = "24:transport bob@corp.example,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "payload with ':' and ','",
        .in = "3:a:,,",
        .max = NS_MAX,
        .want = NETSTRING_OK,
        .want_data = "a:,",
        .want_data_len = 3,
        .want_consumed = 6},
    {.name = "embedded NUL",
        .in = "3:a\0b,",
        .in_len = 6,
        .max = NS_MAX,
        .want = NETSTRING_OK,
        .want_data = "a\0b",
        .want_data_len = 3,
        .want_consumed = 6},
    {.name = "pipelined: only the first",
        .in = "1:a,1:b,",
        .max = NS_MAX,
        .want = NETSTRING_OK,
        .want_data = "a",
        .want_data_len = 1,
        .want_consumed = 4},
    {.name = "exactly max",
        .in = "3:abc,",
        .max = 3,
        .want = NETSTRING_OK,
        .want_data = "abc",
        .want_data_len = 3,
        .want_consumed = 6},
    {.name = "max + 1", .in = "4:abcd,", .max = 3, .want = NETSTRING_TOO_LONG},
    {.name = "too long known before ':'",
        .in = "10001",
        .max = NS_MAX,
        .want = NETSTRING_TOO_LONG},
    {.name = "too long, more digits",
        .in = "100000:",
        .max = NS_MAX,
        .want = NETSTRING_TOO_LONG},
    {.name = "size_t overflow",
        .in = "99999999999999999999999999999:x,",
        .max = SIZE_MAX,
        .want = NETSTRING_TOO_LONG},
    {.name = "max 0, empty ok",
        .in = "0:,",
        .max = 0,
        .want = NETSTRING_OK,
        .want_data = "",
        .want_data_len = 0,
        .want_consumed = 3},
    {.name = "max 0, non-empty",
        .in = "1:a,",
        .max = 0,
        .want = NETSTRING_TOO_LONG},
    {.name = "leading zero",
        .in = "05:hello,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "double zero",
        .in = "00:,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "no length",
        .in = ":hello,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "non-digit length",
        .in = "x:a,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "sign", .in = "-1:,", .max = NS_MAX, .want = NETSTRING_BAD_FORMAT},
    {.name = "space in length",
        .in = "1 :a,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "missing ':'",
        .in = "5hello,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "missing ','",
        .in = "5:hello;",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "payload longer than length",
        .in = "4:hello,",
        .max = NS_MAX,
        .want = NETSTRING_BAD_FORMAT},
    {.name = "nothing yet",
        .in = "",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
    {.name = "digits only",
        .in = "12",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
    {.name = "zero only",
        .in = "0",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
    {.name = "after ':'",
        .in = "5:",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
    {.name = "truncated payload",
        .in = "5:hel",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
    {.name = "no ',' yet",
        .in = "5:hello",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
    {.name = "empty, no ',' yet",
        .in = "0:",
        .max = NS_MAX,
        .want = NETSTRING_INCOMPLETE},
};

static void
test_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]);
	     i++) {
		const struct decode_case *tc = &decode_cases[i];
		size_t len = tc->in_len ? tc->in_len : strlen(tc->in);
		/* Copy into an exact-size heap buffer: ASan catches over-reads. */
		char *buf = malloc(len ? len : 1);
		const char *data = NULL;
		size_t dlen = 12345, used = 54321;
		enum netstring_status got;

		assert_non_null(buf);
		memcpy(buf, tc->in, len);
		got = netstring_decode(buf, len, tc->max, &data, &dlen, &used);
		if (got != tc->want)
			fail_msg("%s: got %s, want %s", tc->name,
			    netstring_strerror(got),
			    netstring_strerror(tc->want));
		if (tc->want == NETSTRING_OK) {
			size_t want_used = tc->want_consumed;

			if (dlen != tc->want_data_len)
				fail_msg("%s: data_len %zu, want %zu", tc->name,
				    dlen, tc->want_data_len);
			if (used != want_used)
				fail_msg("%s: consumed %zu, want %zu", tc->name,
				    used, want_used);
			assert_ptr_equal(data, buf + (used - dlen - 1));
			assert_memory_equal(data, tc->want_data, dlen);
		} else if (data != NULL || dlen != 12345 || used != 54321) {
			fail_msg("%s: outputs changed on %s", tc->name,
			    netstring_strerror(got));
		}
		free(buf);
	}
}

/* Every proper prefix of a valid netstring is INCOMPLETE, never an error. */
static void
test_decode_prefixes(void **state)
{
	static const char ns[] = "26:transport bob@corp.example,";
	const char *data;
	size_t dlen, used;

	(void)state;
	for (size_t n = 0; n < sizeof(ns) - 1; n++) {
		enum netstring_status got =
		    netstring_decode(ns, n, 10000, &data, &dlen, &used);

		if (got != NETSTRING_INCOMPLETE)
			fail_msg("prefix %zu: got %s, want incomplete", n,
			    netstring_strerror(got));
	}
	assert_int_equal(
	    netstring_decode(ns, sizeof(ns) - 1, 10000, &data, &dlen, &used),
	    NETSTRING_OK);
	assert_int_equal(dlen, 26);
	assert_int_equal(used, sizeof(ns) - 1);
}

static void
test_encode(void **state)
{
	size_t len = 0;
	char *s;

	(void)state;
	s = netstring_encode("hello", 5, &len);
	assert_non_null(s);
	assert_string_equal(s, "5:hello,");
	assert_int_equal(len, 8);
	free(s);

	s = netstring_encode("", 0, &len);
	assert_non_null(s);
	assert_string_equal(s, "0:,");
	assert_int_equal(len, 3);
	free(s);

	s = netstring_encode("NOTFOUND ", 9, NULL);
	assert_non_null(s);
	assert_string_equal(s, "9:NOTFOUND ,");
	free(s);

	s = netstring_encode("a\0b", 3, &len);
	assert_non_null(s);
	assert_int_equal(len, 6);
	assert_memory_equal(s, "3:a\0b,", 6);
	free(s);
}

/* encode then decode gives back the input, for lengths across digit
 * boundaries up to the socketmap maximum. */
static void
test_round_trip(void **state)
{
	static const size_t lens[] = {
	    0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000};
	char *in = malloc(10000);

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < 10000; i++)
		in[i] = (char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len, dlen, used;
		const char *data;
		char *ns = netstring_encode(in, lens[i], &len);

		assert_non_null(ns);
		if (netstring_decode(ns, len, 10000, &data, &dlen, &used) !=
		    NETSTRING_OK)
			fail_msg("length %zu: no round trip", lens[i]);
		assert_int_equal(dlen, lens[i]);
		assert_int_equal(used, len);
		assert_memory_equal(data, in, lens[i]);
		/* one byte less than the maximum rejects it */
		if (lens[i] > 0)
			assert_int_equal(netstring_decode(ns, len, lens[i] - 1,
			                     &data, &dlen, &used),
			    NETSTRING_TOO_LONG);
		free(ns);
	}
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_table),
	    cmocka_unit_test(test_decode_prefixes),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
