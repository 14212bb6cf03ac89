/*
 * test_metrics_http.c - the /metrics endpoint (frontend/metrics_http.c)
 * over a real loopback socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/metrics.h"
#include "frontend/metrics_http.h"

/* A loopback port nothing listens on (bound and released). */
static unsigned
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static struct metrics_http *
start_free(void)
{
	char spec[64], *err = NULL;
	struct metrics_http *h;

	snprintf(spec, sizeof(spec), "inet:%u@127.0.0.1", free_port());
	if ((h = metrics_http_start(spec, &err)) == NULL)
		fail_msg("start %s: %s", spec, err ? err : "?");
	return h;
}

/* Send REQUEST to 127.0.0.1:PORT and return the whole answer. */
static char *
http(unsigned port, const char *request)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(write(fd, request, strlen(request)),
	    (ssize_t)strlen(request));
	do {
		buf = realloc(buf, len + 4097);
		assert_non_null(buf);
		n = read(fd, buf + len, 4096);
		if (n > 0)
			len += (size_t)n;
	} while (n > 0);
	buf[len] = '\0';
	close(fd);
	return buf;
}

static void
expect_status(const char *answer, const char *status)
{
	if (strncmp(answer, status, strlen(status)) != 0)
		fail_msg("got\n%s\nwant status %s", answer, status);
}

static void
test_serves_metrics(void **state)
{
	char *a;
	struct metrics_http *h = start_free();
	unsigned port;

	(void)state;
	port = metrics_http_port(h);
	assert_true(port > 0);
	metrics_decision(metrics_domain("corp.example"), METRICS_TEMPFAIL);

	a = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n");
	expect_status(a, "HTTP/1.1 200");
	assert_non_null(strstr(a, "Content-Type: text/plain; version=0.0.4\r\n"));
	assert_non_null(strstr(a, "\nnsmilter_decisions_total{domain="
	    "\"corp.example\",action=\"tempfail\"} 1\n"));
	assert_non_null(strstr(a, "\nnsmilter_build_info{version="));
	free(a);

	/* HTTP/1.0, as simple scrapers send it. */
	a = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
	expect_status(a, "HTTP/1.1 200");  /* the server speaks 1.1 */
	free(a);

	static const char *const not_found[] = {
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /metrics/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /metricsx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		("POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		    "Content-Length: 5\r\n\r\nhello"),
	};
	for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
		a = http(port, not_found[i]);
		expect_status(a, "HTTP/1.1 404");
		assert_null(strstr(a, "nsmilter_"));
		free(a);
	}
	metrics_http_stop(h);
}

static void
test_bad_specs(void **state)
{
	static const char *const bad[] = {
		"unix:/run/nsmilter/metrics.sock",
		"local:/run/nsmilter/metrics.sock",
		"inet:9100",
		"inet:@127.0.0.1",
		"inet:91x0@127.0.0.1",
		"inet:0@127.0.0.1",
		"inet:70000@127.0.0.1",
		"inet:9100@",
		"inet:9100@no-such-host.invalid",
		"9100@127.0.0.1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;
		struct metrics_http *h = metrics_http_start(bad[i], &err);

		if (h != NULL)
			fail_msg("%s: started, want an error", bad[i]);
		assert_non_null(err);
		if (strstr(err, bad[i]) == NULL)
			fail_msg("%s: error '%s' does not name it", bad[i], err);
		free(err);
	}
}

/* The port is taken: an error naming it, and nothing left behind. */
static void
test_port_in_use(void **state)
{
	char *err = NULL, spec[64];
	struct metrics_http *h = start_free();
	struct metrics_http *h2;

	(void)state;
	snprintf(spec, sizeof(spec), "inet:%u@127.0.0.1", metrics_http_port(h));
	h2 = metrics_http_start(spec, &err);
	assert_null(h2);
	assert_non_null(err);
	assert_non_null(strstr(err, "in use"));
	free(err);
	metrics_http_stop(h);
	/* Stopped: the port is free again. */
	h2 = metrics_http_start(spec, &err);
	assert_non_null(h2);
	metrics_http_stop(h2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serves_metrics),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_port_in_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
