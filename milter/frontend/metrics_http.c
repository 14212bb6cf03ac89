/*
 * metrics_http.c - GET /metrics through libmicrohttpd (see
 * frontend/metrics_http.h).
 *
 * The listening socket is bound by frontend/listen.c like the socketmap's
 * (so a port below 1024 works before privileges are dropped) and handed
 * to libmicrohttpd, which closes it when stopped and runs one internal
 * polling thread.  A scrape formats the registry (base/metrics.c), which
 * reads atomic counters: it never waits on a milter thread, and a milter
 * thread never waits on it.  Anything but GET /metrics is 404.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/sockspec.h"
#include "base/xfmt.h"
#include "frontend/listen.h"
#include "frontend/metrics_http.h"

#define CONTENT_TYPE "text/plain; version=0.0.4"
#define NOT_FOUND "Not found: the metrics are at /metrics\n"
/* Seconds an idle client may hold a connection. */
#define IDLE_TIMEOUT 10
#define MAX_CLIENTS 512

struct metrics_http {
	struct MHD_Daemon *mhd;
	unsigned port;
};

static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned status, char *body,
    size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (resp == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain");
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_ctx)
{
	static int seen;
	char *body;
	size_t len;

	(void)cls;
	(void)version;
	(void)upload_data;
	/* The first call has the headers only: answer on the second. */
	if (*req_ctx == NULL) {
		*req_ctx = &seen;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;	/* a body is read and ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 ||
	    strcmp(url, "/metrics") != 0)
		return send_text(conn, MHD_HTTP_NOT_FOUND, (char *)NOT_FOUND,
		    sizeof(NOT_FOUND) - 1, MHD_RESPMEM_PERSISTENT);
	if ((body = metrics_format(&len)) == NULL)
		return MHD_NO;	/* out of memory: drop the connection */
	return send_text(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE);
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char *line;

	(void)cls;
	if ((line = xvasprintf(fmt, ap)) == NULL)
		return;
	/* libmicrohttpd ends its messages with a newline. */
	line[strcspn(line, "\n")] = '\0';
	log_warning("metrics: %s", line);
	free(line);
}

static unsigned
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

struct metrics_http *
metrics_http_start(const char *spec, char **err)
{
	struct metrics_http *h;
	struct listener l;
	sigset_t all, old;

	*err = NULL;
	if (sockspec_path(spec) != NULL) {
		*err = xasprintf("metrics %s: expected inet:PORT@ADDRESS or "
		    "inet6:PORT@ADDRESS", spec);
		return NULL;
	}
	if (listen_open("metrics", spec, 0, &l, err) < 0)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		*err = xasprintf("metrics %s: out of memory", spec);
		listen_close(&l);
		return NULL;
	}
	h->port = bound_port(l.fd);
	/* The server thread inherits this mask: signals go elsewhere. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l.fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CLIENTS,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
	    MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (h->mhd == NULL) {
		*err = xasprintf("metrics %s: cannot start the HTTP server",
		    spec);
		listen_close(&l);
		free(h);
		return NULL;
	}
	return h;
}

unsigned
metrics_http_port(const struct metrics_http *h)
{
	return h != NULL ? h->port : 0;
}

void
metrics_http_stop(struct metrics_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);	/* closes the listening socket too */
	free(h);
}
