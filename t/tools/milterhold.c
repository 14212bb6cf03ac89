/*
 * milterhold.c - open milter connections and keep them open, as an MTA
 * with many sessions does (the wire protocol, version 6: OPTNEG, CONNECT).
 *
 *   milterhold SOCKET COUNT [SECONDS]
 *
 * SOCKET is unix:PATH or inet:PORT@HOST.  Opens COUNT connections one
 * after the other and prints, when all got their answer to CONNECT:
 *
 *   continue=A tempfail=B other=C error=D max_ms=M
 *
 * (error: no connection, or no answer within 2 s; after 3 errors in a row
 * the rest count as errors untried).  A connection answered tempfail is
 * closed at once, as Postfix and Sendmail do; the others are kept open for
 * SECONDS (default 0), or until standard input ends when SECONDS is -1.
 * Exit status 0, or 2 for bad usage.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MS 2000
#define GIVE_UP   3

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
open_socket(const char *spec)
{
	int fd = -1;

	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", spec + 5);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
	} else if (strncmp(spec, "inet:", 5) == 0 && strchr(spec, '@')) {
		struct sockaddr_in sa = { .sin_family = AF_INET };

		sa.sin_port = htons((uint16_t)atoi(spec + 5));
		if (inet_pton(AF_INET, strchr(spec, '@') + 1,
		    &sa.sin_addr) == 1 &&
		    (fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
send_packet(int fd, char cmd, const void *data, uint32_t len)
{
	unsigned char buf[512];
	uint32_t n = htonl(len + 1);

	if (len + 5 > sizeof(buf))
		return -1;
	memcpy(buf, &n, 4);
	buf[4] = (unsigned char)cmd;
	memcpy(buf + 5, data, len);
	return write(fd, buf, len + 5) == (ssize_t)(len + 5) ? 0 : -1;
}

static int
read_full(int fd, unsigned char *buf, size_t len, int64_t deadline)
{
	size_t have = 0;

	while (have < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		if ((n = read(fd, buf + have, len - have)) <= 0)
			return -1;
		have += (size_t)n;
	}
	return 0;
}

/* The command byte of the next packet (its data skipped), or -1. */
static int
read_packet(int fd, int64_t deadline)
{
	unsigned char hdr[5], junk[256];
	uint32_t len;

	if (read_full(fd, hdr, 5, deadline) < 0)
		return -1;
	memcpy(&len, hdr, 4);
	len = ntohl(len);
	if (len == 0 || len > 65536)
		return -1;
	for (len--; len > 0;) {
		size_t n = len < sizeof(junk) ? len : sizeof(junk);

		if (read_full(fd, junk, n, deadline) < 0)
			return -1;
		len -= (uint32_t)n;
	}
	return hdr[4];
}

/* One session up to CONNECT; its answer: 'c', 't', ... or -1. */
static int
session(int fd)
{
	static const char conn[] = "client.example\0" "4" "\0\x19"
	    "127.0.0.1";
	uint32_t neg[3] = { htonl(6), htonl(0x1ff), htonl(0) };
	int64_t deadline = now_ms() + ANSWER_MS;

	if (send_packet(fd, 'O', neg, sizeof(neg)) < 0 ||
	    read_packet(fd, deadline) != 'O' ||
	    send_packet(fd, 'C', conn, sizeof(conn)) < 0)
		return -1;
	return read_packet(fd, deadline);
}

int
main(int argc, char **argv)
{
	unsigned long count;
	long seconds = 0;
	unsigned cont = 0, tempfail = 0, other = 0, error = 0, in_row = 0;
	int64_t max_ms = 0;
	int *fds;

	if (argc < 3 || argc > 4 || (count = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: milterhold SOCKET COUNT [SECONDS]\n");
		return 2;
	}
	if (argc == 4)
		seconds = atol(argv[3]);
	if ((fds = calloc(count, sizeof(*fds))) == NULL)
		return 1;
	for (unsigned long i = 0; i < count; i++) {
		int64_t t0 = now_ms();
		int r = -1;

		fds[i] = -1;
		if (in_row < GIVE_UP && (fds[i] = open_socket(argv[1])) >= 0)
			r = session(fds[i]);
		in_row = r < 0 ? in_row + 1 : 0;
		if (r == 't') {
			close(fds[i]);
			fds[i] = -1;
		}
		if (now_ms() - t0 > max_ms)
			max_ms = now_ms() - t0;
		if (r == 'c')
			cont++;
		else if (r == 't')
			tempfail++;
		else if (r < 0)
			error++;
		else
			other++;
	}
	printf("continue=%u tempfail=%u other=%u error=%u max_ms=%lld\n",
	    cont, tempfail, other, error, (long long)max_ms);
	fflush(stdout);
	if (seconds < 0) {
		char b[256];

		while (fread(b, 1, sizeof(b), stdin) > 0)
			;
	} else if (seconds > 0)
		sleep((unsigned)seconds);
	for (unsigned long i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}
