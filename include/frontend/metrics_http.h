/*
 * metrics_http.h - the Prometheus endpoint: GET /metrics on the address of
 * [milter] metrics (nsmilter.ini(5)), served by libmicrohttpd from a
 * thread of its own.
 */
#ifndef NSMILTER_FRONTEND_METRICS_HTTP_H
#define NSMILTER_FRONTEND_METRICS_HTTP_H

struct metrics_http;

/*
 * Listen on SPEC (inet:PORT@ADDRESS or inet6:PORT@ADDRESS) and serve.
 * Call it before dropping privileges and before signal handlers are set:
 * the server thread starts with every signal blocked.  NULL and a new
 * message in *ERR on failure.
 */
struct metrics_http *metrics_http_start(const char *spec, char **err);
/* The port bound. */
unsigned metrics_http_port(const struct metrics_http *h);
void metrics_http_stop(struct metrics_http *h);

#endif
