/*
 * test_socketmap.c - start the real socketmap server on a unix socket in a
 * temporary directory (and once on loopback TCP), with a fake lookup
 * callback, and speak the Postfix socketmap_table(5) protocol to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "frontend/netstring.h"
#include "frontend/socketmap.h"

#define CLIENT_TIMEOUT_S 5

/* ---- the fake lookup -------------------------------------------------- */

struct fake {
	atomic_long calls;
};

static void
sleep_ms(long ms)
{
	struct timespec ts = {
	    .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Keys: "null" -> NULL, "temp" -> TEMP, "missing" -> NOTFOUND, "garbage" ->
 * a reply with no valid status word, "slow" -> OK after 300 ms; anything
 * else -> "OK MAP=KEY", so tests see exactly what the callback was given.
 */
static char *
fake_lookup(void *ctx, const char *map, const char *key)
{
	struct fake *f = ctx;
	size_t len = strlen(map) + strlen(key) + 8;
	char *r;

	atomic_fetch_add(&f->calls, 1);
	if (strcmp(key, "null") == 0)
		return NULL;
	if (strcmp(key, "temp") == 0)
		return strdup("TEMP directory down");
	if (strcmp(key, "missing") == 0)
		return strdup("NOTFOUND ");
	if (strcmp(key, "garbage") == 0)
		return strdup("HELLO world");
	if (strcmp(key, "slow") == 0)
		sleep_ms(300);
	if ((r = malloc(len)) != NULL)
		snprintf(r, len, "OK %s=%s", map, key);
	return r;
}

/* ---- fixture: a temp dir and a running server ------------------------- */

struct fixture {
	char dir[64];
	char path[128];
	char spec[160];
	struct fake fake;
	struct socketmap_server *srv;
};

/* Stop FX's server; it must return within MS milliseconds. */
static void
stop_within(struct fixture *fx, uint64_t ms)
{
	uint64_t t0 = clock_ms();

	socketmap_stop(fx->srv);
	fx->srv = NULL;
	if (clock_ms() - t0 > ms)
		fail_msg("socketmap_stop took %lld ms",
		    (long long)(clock_ms() - t0));
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char *err = NULL;

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/nsm-smXXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/sm.sock", fx->dir);
	snprintf(fx->spec, sizeof(fx->spec), "unix:%s", fx->path);
	fx->srv = socketmap_start(fx->spec, 0600, fake_lookup, &fx->fake, &err);
	if (fx->srv == NULL) {
		fprintf(stderr, "socketmap_start: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	socketmap_stop(fx->srv);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---- a client --------------------------------------------------------- */

struct conn {
	int fd;
	size_t have;
	char buf[200000];
};

static int
connect_unix(const char *path)
{
	struct sockaddr_un sa;
	struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static struct conn *
conn_open(const char *path)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->fd = connect_unix(path)) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void
conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

static int
send_raw(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
send_request(int fd, const char *payload)
{
	size_t len;
	char *ns = netstring_encode(payload, strlen(payload), &len);
	int rc;

	if (ns == NULL)
		return -1;
	rc = send_raw(fd, ns, len);
	free(ns);
	return rc;
}

/* Next reply payload as a new string; NULL on EOF, error, timeout, or a
 * reply that is not a netstring. */
static char *
read_reply(struct conn *c)
{
	for (;;) {
		const char *data;
		size_t dlen, used;
		enum netstring_status st = netstring_decode(
		    c->buf, c->have, sizeof(c->buf) - 16, &data, &dlen, &used);
		ssize_t n;

		if (st == NETSTRING_OK) {
			char *r = malloc(dlen + 1);

			if (r == NULL)
				return NULL;
			memcpy(r, data, dlen);
			r[dlen] = '\0';
			memmove(c->buf, c->buf + used, c->have - used);
			c->have -= used;
			return r;
		}
		if (st != NETSTRING_INCOMPLETE || c->have == sizeof(c->buf))
			return NULL;
		n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			return NULL;
		if (n > 0)
			c->have += (size_t)n;
	}
}

/* 1 when the server closed the connection (EOF) with nothing unread. */
static int
at_eof(struct conn *c)
{
	char b;
	ssize_t n;

	if (c->have != 0)
		return 0;
	do
		n = recv(c->fd, &b, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

/* Send PAYLOAD, read the reply, compare; fail the test on a mismatch. */
static void
check_request(struct conn *c, const char *payload, const char *want)
{
	char *got;

	if (send_request(c->fd, payload) < 0)
		fail_msg("request \"%s\": send: %s", payload, strerror(errno));
	got = read_reply(c);
	if (got == NULL)
		fail_msg("request \"%s\": no reply", payload);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "request \"%s\": got \"%s\", want \"%s\"\n",
		    payload, got, want);
		free(got);
		fail();
	}
	free(got);
}

/* ---- tests ------------------------------------------------------------ */

struct req_case {
	const char *payload;
	const char *want;
};

/* Several requests, good and bad, on one persistent connection. */
static void
test_requests_one_connection(void **state)
{
	static const struct req_case cases[] = {
	    {"transport bob@corp.example", "OK transport=bob@corp.example"},
	    /* passed as received: no case folding */
	    {"transport Bob@Corp.EXAMPLE", "OK transport=Bob@Corp.EXAMPLE"},
	    {"transport missing", "NOTFOUND "},
	    {"transport temp", "TEMP directory down"},
	    {"transport null", "TEMP internal error"},
	    {"transport garbage", "TEMP internal error"},
	    /* the callback decides about map names, not the server */
	    {"virtual x@y", "OK virtual=x@y"},
	    /* only the first space separates */
	    {"transport a b c", "OK transport=a b c"},
	    {"transport ", "OK transport="},
	    /* well-formed netstrings that are not "NAME KEY": PERM, stay open */
	    {"transport", "PERM invalid request: expected \"name key\""},
	    {"", "PERM invalid request: expected \"name key\""},
	    {" key", "PERM invalid request: expected \"name key\""},
	    {"transport bob@corp.example", "OK transport=bob@corp.example"},
	};
	struct fixture *fx = *state;
	struct conn *c = conn_open(fx->path);
	long calls_before = atomic_load(&fx->fake.calls);

	assert_non_null(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_request(c, cases[i].payload, cases[i].want);
	/* the three PERM requests never reached the callback */
	assert_int_equal(atomic_load(&fx->fake.calls) - calls_before,
	    (long)(sizeof(cases) / sizeof(cases[0])) - 3);
	conn_close(c);
}

static void
test_nul_in_request(void **state)
{
	struct fixture *fx = *state;
	struct conn *c = conn_open(fx->path);
	char *r;

	assert_non_null(c);
	assert_int_equal(send_raw(c->fd, "13:transport a\0b,", 17), 0);
	r = read_reply(c);
	assert_non_null(r);
	assert_string_equal(r, "PERM invalid request: NUL byte");
	free(r);
	assert_int_equal(atomic_load(&fx->fake.calls), 0);
	check_request(c, "transport ok", "OK transport=ok");
	conn_close(c);
}

/* Many requests in one write; a request dribbled in byte by byte. */
static void
test_pipelined(void **state)
{
	struct fixture *fx = *state;
	struct conn *c = conn_open(fx->path);
	char *all = NULL;
	size_t all_len = 0;
	FILE *m = open_memstream(&all, &all_len);
	const char *one = "26:transport bob@corp.example,";

	assert_non_null(c);
	assert_non_null(m);
	for (int i = 0; i < 100; i++) {
		char p[64];

		snprintf(p, sizeof(p), "transport u%d@corp.example", i);
		fprintf(m, "%zu:%s,", strlen(p), p);
	}
	fclose(m);
	assert_int_equal(send_raw(c->fd, all, all_len), 0);
	free(all);
	for (int i = 0; i < 100; i++) {
		char want[64];
		char *r = read_reply(c);
		bool same;

		snprintf(
		    want, sizeof(want), "OK transport=u%d@corp.example", i);
		if (r == NULL)
			fail_msg("pipelined reply %d missing", i);
		same = strcmp(r, want) == 0;
		if (!same)
			fprintf(stderr, "reply %d: got \"%s\", want \"%s\"\n",
			    i, r, want);
		free(r);
		if (!same)
			fail();
	}
	for (size_t i = 0; i < strlen(one); i++) {
		assert_int_equal(send_raw(c->fd, one + i, 1), 0);
		if (i % 5 == 0)
			sleep_ms(2);
	}
	{
		char *r = read_reply(c);

		assert_non_null(r);
		assert_string_equal(r, "OK transport=bob@corp.example");
		free(r);
	}
	assert_int_equal(atomic_load(&fx->fake.calls), 101);
	conn_close(c);
}

/* Broken netstrings: PERM, then the server closes the connection. */
static void
test_malformed_closes(void **state)
{
	static const char *const bad[] = {
	    "abc",
	    "5:hello;",
	    "05:hello,",
	    ":x,",
	    "-1:,",
	    "3 :abc,",
	    "26:transport bob@corp.example!",
	};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conn *c = conn_open(fx->path);
		uint64_t t0;
		char *r;

		assert_non_null(c);
		assert_int_equal(send_raw(c->fd, bad[i], strlen(bad[i])), 0);
		r = read_reply(c);
		if (r == NULL)
			fail_msg("\"%s\": no reply", bad[i]);
		if (strcmp(r, "PERM malformed request") != 0) {
			fprintf(stderr, "\"%s\": got \"%s\"\n", bad[i], r);
			free(r);
			fail();
		}
		free(r);
		t0 = clock_ms();
		if (!at_eof(c))
			fail_msg("\"%s\": connection not closed", bad[i]);
		/* the close follows the reply at once, not after the linger */
		if (clock_ms() - t0 >= 500)
			fail_msg("\"%s\": EOF after %lld ms", bad[i],
			    (long long)(clock_ms() - t0));
		conn_close(c);
	}
	assert_int_equal(atomic_load(&fx->fake.calls), 0);
}

/* A request over SOCKETMAP_MAX_REQUEST is refused from its length alone. */
static void
test_oversize(void **state)
{
	static const char *const heads[] = {
	    "10001:", "99999999999999999999:", "10001"};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct conn *c = conn_open(fx->path);
		char *r;

		assert_non_null(c);
		/* only the length: the reply must come without the payload */
		assert_int_equal(
		    send_raw(c->fd, heads[i], strlen(heads[i])), 0);
		r = read_reply(c);
		if (r == NULL)
			fail_msg("\"%s\": no reply", heads[i]);
		assert_string_equal(r, "PERM request too long");
		free(r);
		assert_true(at_eof(c));
		conn_close(c);
	}
	assert_int_equal(atomic_load(&fx->fake.calls), 0);
}

/* Exactly SOCKETMAP_MAX_REQUEST bytes is still served. */
static void
test_max_request(void **state)
{
	struct fixture *fx = *state;
	struct conn *c = conn_open(fx->path);
	char *req = malloc(SOCKETMAP_MAX_REQUEST + 1);
	char *want = malloc(SOCKETMAP_MAX_REQUEST + 8);
	char *r;

	assert_non_null(c);
	assert_non_null(req);
	assert_non_null(want);
	memcpy(req, "transport ", 10);
	memset(req + 10, 'k', SOCKETMAP_MAX_REQUEST - 10);
	req[SOCKETMAP_MAX_REQUEST] = '\0';
	snprintf(want, SOCKETMAP_MAX_REQUEST + 8, "OK transport=%s", req + 10);
	assert_int_equal(send_request(c->fd, req), 0);
	r = read_reply(c);
	assert_non_null(r);
	assert_string_equal(r, want);
	free(r);
	/* one byte more on the same connection: PERM and closed */
	req = realloc(req, SOCKETMAP_MAX_REQUEST + 2);
	assert_non_null(req);
	req[SOCKETMAP_MAX_REQUEST] = 'k';
	req[SOCKETMAP_MAX_REQUEST + 1] = '\0';
	assert_int_equal(send_request(c->fd, req), 0);
	r = read_reply(c);
	assert_non_null(r);
	assert_string_equal(r, "PERM request too long");
	free(r);
	assert_true(at_eof(c));
	free(req);
	free(want);
	conn_close(c);
}

/* Clients that vanish mid-request or before their reply do no harm. */
static void
test_client_disconnects(void **state)
{
	static const char *const partial[] = {
	    "1", "100:", "100:transport x", "26:transport bob@corp.example"};
	struct fixture *fx = *state;
	struct conn *c;

	/* SIGPIPE must not be ignored here, or this test proves nothing. */
	signal(SIGPIPE, SIG_DFL);
	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		c = conn_open(fx->path);
		assert_non_null(c);
		assert_int_equal(
		    send_raw(c->fd, partial[i], strlen(partial[i])), 0);
		conn_close(c);
	}
	/* gone while the lookup runs: the reply meets a closed socket */
	for (int i = 0; i < 4; i++) {
		c = conn_open(fx->path);
		assert_non_null(c);
		assert_int_equal(send_request(c->fd, "transport slow"), 0);
		conn_close(c);
	}
	sleep_ms(600); /* the slow lookups have answered by now */
	c = conn_open(fx->path);
	assert_non_null(c);
	check_request(c, "transport after", "OK transport=after");
	conn_close(c);
	assert_int_equal(atomic_load(&fx->fake.calls), 5);
}

/* Idle and half-sent connections do not hold up anyone else. */
static void
test_idle_clients_do_not_block(void **state)
{
	struct fixture *fx = *state;
	struct conn *idle[20];
	struct conn *c;
	uint64_t t0;

	for (int i = 0; i < 20; i++) {
		idle[i] = conn_open(fx->path);
		assert_non_null(idle[i]);
		if (i % 2 == 1)
			assert_int_equal(
			    send_raw(idle[i]->fd, "30:transport", 12), 0);
	}
	/* and one in a slow lookup */
	assert_int_equal(send_request(idle[0]->fd, "transport slow"), 0);
	sleep_ms(20);
	t0 = clock_ms();
	c = conn_open(fx->path);
	assert_non_null(c);
	check_request(c, "transport fast", "OK transport=fast");
	if (clock_ms() - t0 >= 250)
		fail_msg("answer took %lld ms", (long long)(clock_ms() - t0));
	conn_close(c);
	for (int i = 0; i < 20; i++)
		conn_close(idle[i]);
}

struct worker {
	const char *path;
	int id;
	int reconnect; /* a new connection per request */
	int failures;
};

#define WORKERS    8
#define PER_WORKER 200

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn *c = NULL;

	for (int i = 0; i < PER_WORKER; i++) {
		char p[64], want[80];
		char *r;

		if (c == NULL && (c = conn_open(w->path)) == NULL) {
			w->failures++;
			continue;
		}
		snprintf(
		    p, sizeof(p), "transport w%d-%d@corp.example", w->id, i);
		snprintf(want, sizeof(want), "OK transport=w%d-%d@corp.example",
		    w->id, i);
		if (send_request(c->fd, p) < 0 || (r = read_reply(c)) == NULL) {
			w->failures++;
			conn_close(c);
			c = NULL;
			continue;
		}
		if (strcmp(r, want) != 0)
			w->failures++;
		free(r);
		if (w->reconnect) {
			conn_close(c);
			c = NULL;
		}
	}
	conn_close(c);
	return NULL;
}

static void
test_concurrent_clients(void **state)
{
	struct fixture *fx = *state;
	struct worker w[WORKERS];
	pthread_t t[WORKERS];
	int failures = 0;

	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){
		    .path = fx->path, .id = i, .reconnect = i % 2};
		assert_int_equal(
		    pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(t[i], NULL);
		failures += w[i].failures;
	}
	assert_int_equal(failures, 0);
	assert_int_equal(atomic_load(&fx->fake.calls), WORKERS * PER_WORKER);
}

/*
 * 256 idle connections (the cap) do not lock anyone out: a newcomer is
 * served at once and the connection idle the longest is closed instead.
 */
static void
test_idle_clients_make_room(void **state)
{
	struct fixture *fx = *state;
	struct conn *c[256];
	struct conn *extra;
	uint64_t t0;

	for (int i = 0; i < 256; i++) {
		c[i] = conn_open(fx->path);
		assert_non_null(c[i]);
		/* served, then idle; c[0] idle the longest */
		check_request(c[i], "transport x", "OK transport=x");
	}
	for (int round = 0; round < 3; round++) {
		t0 = clock_ms();
		extra = conn_open(fx->path);
		assert_non_null(extra);
		check_request(extra, "transport new", "OK transport=new");
		if (clock_ms() - t0 >= 1000)
			fail_msg("newcomer %d served after %lld ms", round,
			    (long long)(clock_ms() - t0));
		/* the oldest idle one was closed to make room */
		assert_true(at_eof(c[round]));
		conn_close(c[round]);
		c[round] = extra;
	}
	/* the others are still served */
	check_request(c[3], "transport still", "OK transport=still");
	check_request(c[255], "transport last", "OK transport=last");
	for (int i = 0; i < 256; i++)
		conn_close(c[i]);
}

static atomic_int hold_released;

static char *
hold_lookup(void *ctx, const char *map, const char *key)
{
	(void)ctx;
	(void)map;
	(void)key;
	while (!atomic_load(&hold_released))
		sleep_ms(5);
	return strdup("OK held");
}

/*
 * Every slot busy in a lookup: a newcomer gets TEMP at once (not a reset,
 * not a wait), and once the lookups finish it is served again.
 */
static void
test_all_busy_temp(void **state)
{
	struct fixture *fx = *state;
	struct socketmap_server *srv;
	char path[160], spec[180], *err = NULL, *r;
	struct conn *c[256];
	struct conn *extra;
	uint64_t t0;

	snprintf(path, sizeof(path), "%s/busy.sock", fx->dir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	atomic_store(&hold_released, 0);
	srv = socketmap_start(spec, 0600, hold_lookup, NULL, &err);
	assert_non_null(srv);
	for (int i = 0; i < 256; i++) {
		c[i] = conn_open(path);
		assert_non_null(c[i]);
		assert_int_equal(send_request(c[i]->fd, "transport busy"), 0);
	}
	sleep_ms(200);	/* all 256 in the lookup */
	t0 = clock_ms();
	extra = conn_open(path);
	assert_non_null(extra);
	assert_int_equal(send_request(extra->fd, "transport new"), 0);
	r = read_reply(extra);
	assert_non_null(r);
	assert_string_equal(r, "TEMP socketmap: all connections busy, try again");
	free(r);
	assert_true(at_eof(extra));
	if (clock_ms() - t0 >= 1000)
		fail_msg("TEMP after %lld ms", (long long)(clock_ms() - t0));
	conn_close(extra);

	atomic_store(&hold_released, 1);
	for (int i = 0; i < 256; i++) {
		r = read_reply(c[i]);
		assert_non_null(r);
		assert_string_equal(r, "OK held");
		free(r);
	}
	extra = conn_open(path);
	assert_non_null(extra);
	check_request(extra, "transport again", "OK held");
	conn_close(extra);
	for (int i = 0; i < 256; i++)
		conn_close(c[i]);
	socketmap_stop(srv);
	unlink(path);
}

/* Stop with clients connected: prompt, clients see EOF, socket removed. */
static void
test_stop_with_clients(void **state)
{
	struct fixture *fx = *state;
	struct conn *idle = conn_open(fx->path);
	struct conn *half = conn_open(fx->path);
	struct conn *used = conn_open(fx->path);
	struct stat st;

	assert_non_null(idle);
	assert_non_null(half);
	assert_non_null(used);
	check_request(used, "transport x", "OK transport=x");
	assert_int_equal(send_raw(half->fd, "50:transport", 12), 0);
	sleep_ms(100);	/* read by the server: a close is then no reset */

	stop_within(fx, 1000);
	assert_int_equal(lstat(fx->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(at_eof(idle));
	assert_true(at_eof(half));
	assert_true(at_eof(used));
	assert_null(conn_open(fx->path));
	conn_close(idle);
	conn_close(half);
	conn_close(used);
}

/* Stop while a lookup is running waits for it, then answers nothing more. */
static void
test_stop_during_lookup(void **state)
{
	struct fixture *fx = *state;
	struct conn *c = conn_open(fx->path);

	assert_non_null(c);
	assert_int_equal(send_request(c->fd, "transport slow"), 0);
	sleep_ms(50);
	stop_within(fx, 1500);
	conn_close(c);
	assert_int_equal(atomic_load(&fx->fake.calls), 1);
}

static int
count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* A whole server life, with clients coming and going, leaves no fd open
 * (ASan builds check the memory side). */
static void
test_no_fd_leak(void **state)
{
	struct fixture *fx = *state;
	char path[100], spec[110];
	struct socketmap_server *s;
	struct conn *keep, *c;
	int before;

	snprintf(path, sizeof(path), "%s/leak.sock", fx->dir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	before = count_fds();
	s = socketmap_start(spec, 0600, fake_lookup, &fx->fake, NULL);
	assert_non_null(s);
	keep = conn_open(path);
	assert_non_null(keep);
	for (int i = 0; i < 20; i++) {
		c = conn_open(path);
		assert_non_null(c);
		if (i % 2 == 0)
			check_request(c, "transport x", "OK transport=x");
		else
			assert_int_equal(send_raw(c->fd, "bad", 3), 0);
		conn_close(c);
	}
	check_request(keep, "transport y", "OK transport=y");
	socketmap_stop(s);
	conn_close(keep);
	if (count_fds() != before)
		fail_msg(
		    "%d fds open after stop, %d before", count_fds(), before);
}

/* ---- start: specs, modes, stale and live sockets ---------------------- */

static void
test_start_errors(void **state)
{
	struct fixture *fx = *state;
	char spec[300], path[200];
	const char *bad[] = {
	    "tcp:25@127.0.0.1",
	    "inet:25",
	    "inet:@127.0.0.1",
	    "inet:abc@127.0.0.1",
	    "inet:0@127.0.0.1",
	    "inet:70000@127.0.0.1",
	    "inet:25x@127.0.0.1",
	    "unix:",
	    "",
	    "unix:/nonexistent-dir-nsm/sm.sock",
	    NULL,
	    NULL,
	    NULL,
	};
	size_t nbad = 10;
	int fd;

	/* path longer than sun_path */
	memset(path, 'p', 150);
	path[150] = '\0';
	snprintf(spec, sizeof(spec), "unix:/tmp/%s", path);
	bad[nbad++] = spec;
	/* a regular file is never removed */
	snprintf(path, sizeof(path), "%s/regular", fx->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	{
		char *s = malloc(strlen(path) + 6);

		assert_non_null(s);
		sprintf(s, "unix:%s", path);
		bad[nbad++] = s;
	}
	/* the fixture's live socket is in use */
	bad[nbad++] = fx->spec;

	for (size_t i = 0; i < nbad; i++) {
		char *err = NULL;
		struct socketmap_server *s =
		    socketmap_start(bad[i], 0600, fake_lookup, &fx->fake, &err);

		if (s != NULL) {
			socketmap_stop(s);
			fail_msg("\"%s\" started", bad[i]);
		}
		if (err == NULL || err[0] == '\0')
			fail_msg("\"%s\": no error message", bad[i]);
		free(err);
	}
	free((char *)bad[nbad - 2]);
	{
		struct stat st;
		struct conn *c;

		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		unlink(path);
		/* the live server was left alone */
		c = conn_open(fx->path);
		assert_non_null(c);
		check_request(c, "transport still", "OK transport=still");
		conn_close(c);
	}
	/* NULL err pointer is allowed */
	assert_null(socketmap_start("bogus", 0600, fake_lookup, NULL, NULL));
	socketmap_stop(NULL);
}

static void
test_stale_socket_and_mode(void **state)
{
	static const unsigned modes[] = {0600, 0660, 0666};
	struct fixture *fx = *state;
	char path[100], spec[110];
	struct sockaddr_un sa;

	snprintf(path, sizeof(path), "%s/stale.sock", fx->dir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct socketmap_server *s;
		struct stat st;
		struct conn *c;
		char *err = NULL;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		/* leave a stale socket file behind: bound, never listened, closed */
		assert_true(fd >= 0);
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		assert_int_equal(
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(fd);
		assert_int_equal(lstat(path, &st), 0);

		s = socketmap_start(
		    spec, modes[i], fake_lookup, &fx->fake, &err);
		if (s == NULL)
			fail_msg(
			    "start over a stale socket: %s", err ? err : "?");
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		if ((st.st_mode & 07777) != modes[i])
			fail_msg("mode %04o, want %04o",
			    (unsigned)(st.st_mode & 07777), modes[i]);
		c = conn_open(path);
		assert_non_null(c);
		check_request(c, "transport stale", "OK transport=stale");
		conn_close(c);
		socketmap_stop(s);
		assert_int_equal(lstat(path, &st), -1);
	}
}

/* Stop does not remove a socket path that now belongs to someone else. */
static void
test_stop_keeps_replaced_path(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	int fd;

	assert_int_equal(unlink(fx->path), 0);
	fd = open(fx->path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	socketmap_stop(fx->srv);
	fx->srv = NULL;
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void
test_inet(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct socketmap_server *s;
	struct conn *c = calloc(1, sizeof(*c));
	char spec[64];
	char *err = NULL, *r;
	int fd, port;

	/* find a free port; the tiny race with other processes is acceptable */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	port = ntohs(sa.sin_port);
	close(fd);

	snprintf(spec, sizeof(spec), "inet:%d@127.0.0.1", port);
	s = socketmap_start(spec, 0600, fake_lookup, &fx->fake, &err);
	if (s == NULL)
		fail_msg("%s: %s", spec, err ? err : "?");

	assert_non_null(c);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	check_request(
	    c, "transport tcp@corp.example", "OK transport=tcp@corp.example");
	/* malformed over TCP: the PERM reply survives the close */
	assert_int_equal(send_raw(c->fd, "x:yz,", 5), 0);
	r = read_reply(c);
	assert_non_null(r);
	assert_string_equal(r, "PERM malformed request");
	free(r);
	assert_true(at_eof(c));
	conn_close(c);

	socketmap_stop(s);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_requests_one_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_nul_in_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_malformed_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_client_disconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_idle_clients_do_not_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_concurrent_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_idle_clients_make_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_busy_temp, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stop_with_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stop_during_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_fd_leak, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stale_socket_and_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stop_keeps_replaced_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
