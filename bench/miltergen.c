/*
 * miltergen.c - milter protocol load generator (the MTA side, no MTA).
 *
 * C sessions (threads) connect to a milter socket (unix or loopback inet)
 * and speak the libmilter wire protocol, version 6, as Postfix does:
 * OPTNEG, then per connection CONNECT and HELO, then per message MAIL,
 * k x RCPT, and DATA/headers/EOH/body/EOM when at least one recipient was
 * not refused (ABORT otherwise), QUIT at the end.  Each step is preceded by
 * its macros (SMFIC_MACRO) and skipped when the milter negotiated it away
 * (SMFIP_NO*); no reply is awaited for steps negotiated with SMFIP_NR_*.
 *
 * Recipients come from an address list file, in order (shared by all
 * sessions; -1 stops when the list is used up, to fill a cache with
 * distinct addresses) or at random (-r, for a hot set).
 *
 * Reports RCPT replies per second, the RCPT round-trip latency (p50, p99,
 * p99.9, max), the count of every reply type at RCPT and at EOM (including
 * the modification replies before the final EOM reply), and with -w the
 * number of RCPTs that took at least that long.  Bounded by -d seconds
 * and/or -n messages; every read is bounded by -T seconds.
 *
 * The last line is for scripts:
 *   RESULT rate=R p50_ms=.. p99_ms=.. p999_ms=.. max_ms=.. rcpts=N
 *          continue=.. reject=.. tempfail=.. 5xx=.. 4xx=.. slow=.. errors=..
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "addrlist.h"
#include "hist.h"

#define MAX_PACKET (1024 * 1024)
#define WBUF_SIZE 16384
#define MAX_CODES 8
#define MAX_SESSIONS 256
/* Protocol steps and reply options this client understands. */
#define OFFER_PROTOCOL 0x001FFFFFUL
#define OFFER_ACTIONS 0x000001FFUL

/* Reply kinds counted at RCPT and as the final reply at EOM. */
enum kind {
	K_CONTINUE, K_ACCEPT, K_REJECT, K_TEMPFAIL, K_REPLY5, K_REPLY4,
	K_DISCARD, K_SKIP, K_NOREPLY, K_OTHER, K_N
};
static const char *const kind_name[K_N] = {
	"continue", "accept", "reject", "tempfail", "5xx", "4xx",
	"discard", "skip", "noreply", "other"
};

/* Modification replies at EOM. */
enum mod {
	M_ADDRCPT, M_ADDRCPT_PAR, M_DELRCPT, M_ADDHEADER, M_INSHEADER,
	M_CHGHEADER, M_CHGFROM, M_OTHER, M_N
};
static const char *const mod_name[M_N] = {
	"addrcpt", "addrcpt_par", "delrcpt", "addheader", "insheader",
	"chgheader", "chgfrom", "other"
};

struct options {
	const char *socket;
	const char *list;
	unsigned sessions;
	unsigned rcpts;
	unsigned per_conn;
	double duration;
	double warmup;
	long messages;
	double slow_ms;
	bool random;
	bool once;
	unsigned timeout_s;
	const char *label;
};

struct counters {
	uint64_t rcpts;             /* RCPT replies inside the window */
	uint64_t rcpts_all;         /* every RCPT sent */
	uint64_t kind[K_N];         /* RCPT replies, inside the window */
	uint64_t eom[K_N];          /* final EOM replies */
	uint64_t mod[M_N];          /* modifications at EOM */
	struct { char code[4]; uint64_t n; } codes[MAX_CODES];
	uint64_t messages, aborted, connections, errors, slow;
	struct hist h;
};

struct worker {
	pthread_t thread;
	unsigned id;
	uint64_t rng;
	struct counters c;
	char lasterr[200];
};

struct conn {
	int fd;
	unsigned long pflags;       /* negotiated protocol flags */
	unsigned long actions;
	unsigned char *rbuf;
	size_t rlen, roff;
	unsigned char wbuf[WBUF_SIZE];
	size_t wlen;
	bool woverflow;
};

static struct options opt = {
	.sessions = 8, .rcpts = 4, .per_conn = 5, .duration = 10,
	.timeout_s = 30, .label = "miltergen",
};
static struct addrlist addrs;
static atomic_ulong next_addr;
static atomic_long msgs_left;
static atomic_bool stop_flag;
static atomic_bool list_done;
static uint64_t t_start, t_warm, t_stop;
static atomic_ulong qid_seq;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: miltergen -s SOCKET -l ADDRESS-FILE [-c SESSIONS] [-k RCPTS]\n"
	    "         [-m MESSAGES-PER-CONNECTION] [-d SECONDS] [-W WARMUP-SECONDS]\n"
	    "         [-n MESSAGES] [-w SLOW-MS] [-r | -1] [-T READ-TIMEOUT]\n"
	    "         [-L LABEL]\n"
	    "  SOCKET: unix:/path, /path or inet:PORT@127.0.0.1 (loopback only)\n"
	    "  -r random addresses (hot set); -1 each address once, in order\n");
	exit(64);
}

/* ---- socket -------------------------------------------------------------- */

static int
connect_spec(const char *spec, char *err, size_t errlen)
{
	const char *path = NULL;
	int fd;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0)
		path = strchr(spec, ':') + 1;
	else if (spec[0] == '/')
		path = spec;
	if (path != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(path) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "socket path too long");
			return -1;
		}
		strcpy(sun.sun_path, path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			goto syserr;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			goto syserr;
		}
		return fd;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		const char *at = strchr(spec, '@');
		char host[64];
		long port = strtol(spec + 5, NULL, 10);
		int one = 1;

		if (at == NULL || port <= 0 || port > 65535 ||
		    strlen(at + 1) >= sizeof(host)) {
			snprintf(err, errlen, "bad socket %s", spec);
			return -1;
		}
		strcpy(host, at + 1);
		if (strcmp(host, "localhost") == 0)
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
		    (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
			snprintf(err, errlen, "%s: loopback addresses only",
			    spec);
			return -1;
		}
		sin.sin_port = htons((uint16_t)port);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			goto syserr;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			close(fd);
			goto syserr;
		}
		return fd;
	}
	snprintf(err, errlen, "bad socket %s", spec);
	return -1;
syserr:
	snprintf(err, errlen, "connect %s: %s", spec, strerror(errno));
	return -1;
}

/* ---- packets ------------------------------------------------------------- */

static void
put_bytes(struct conn *c, const void *p, size_t n)
{
	if (c->wlen + n > sizeof(c->wbuf)) {
		c->woverflow = true;
		return;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
}

static void
put_u32(struct conn *c, uint32_t v)
{
	uint32_t be = htonl(v);

	put_bytes(c, &be, 4);
}

/* One packet: length (command byte included), command, data. */
static void
put_packet(struct conn *c, char cmd, const void *data, size_t len)
{
	put_u32(c, (uint32_t)(len + 1));
	put_bytes(c, &cmd, 1);
	if (len > 0)
		put_bytes(c, data, len);
}

#define STRINGS_MAX 4096   /* data of one put_strings/put_macros packet */

/*
 * Append the NUL-terminated strings FIRST, ... (ended by NULL) to BUF after
 * its LEN bytes; the new length.  What does not fit is dropped and C marked.
 */
static size_t
pack_strings(struct conn *c, unsigned char *buf, size_t len,
    const char *first, va_list ap)
{
	for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
		size_t n = strlen(s) + 1;
		if (len + n > STRINGS_MAX) {
			c->woverflow = true;
			break;
		}
		memcpy(buf + len, s, n);
		len += n;
	}
	return len;
}

/* A packet of NUL-terminated strings: put_strings(c, cmd, "a", "b", NULL). */
static void
put_strings(struct conn *c, char cmd, const char *first, ...)
{
	unsigned char buf[STRINGS_MAX];
	size_t len;
	va_list ap;

	va_start(ap, first);
	len = pack_strings(c, buf, 0, first, ap);
	va_end(ap);
	put_packet(c, cmd, buf, len);
}

/* SMFIC_MACRO for STAGE (an SMFIC_ command letter): name/value pairs. */
static void
put_macros(struct conn *c, char stage, const char *first, ...)
{
	unsigned char buf[STRINGS_MAX];
	size_t len;
	va_list ap;

	buf[0] = (unsigned char)stage;
	va_start(ap, first);
	len = pack_strings(c, buf, 1, first, ap);
	va_end(ap);
	put_packet(c, SMFIC_MACRO, buf, len);
}

static int
flush_out(struct conn *c, char *err, size_t errlen)
{
	size_t off = 0;

	if (c->woverflow) {
		snprintf(err, errlen, "request too large");
		c->wlen = 0;
		c->woverflow = false;
		return -1;
	}
	while (off < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "write: %s", strerror(errno));
			c->wlen = 0;
			return -1;
		}
		off += (size_t)n;
	}
	c->wlen = 0;
	return 0;
}

/* Make N bytes available at c->rbuf + c->roff; 0, or -1 with ERR set. */
static int
fill(struct conn *c, size_t n, char *err, size_t errlen)
{
	if (c->rlen - c->roff >= n)
		return 0;
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	while (c->rlen < n) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)opt.timeout_s * 1000);
		ssize_t got;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			snprintf(err, errlen, "no reply within %us",
			    opt.timeout_s);
			return -1;
		}
		got = recv(c->fd, c->rbuf + c->rlen, MAX_PACKET + 8 - c->rlen,
		    0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "read: %s",
			    got == 0 ? "connection closed by the milter" :
			    strerror(errno));
			return -1;
		}
		c->rlen += (size_t)got;
	}
	return 0;
}

/*
 * Read one reply packet: *CMD, *DATA (into the read buffer, valid until the
 * next read) and *LEN.  0, or -1 with ERR set.
 */
static int
read_packet(struct conn *c, char *cmd, const unsigned char **data,
    size_t *len, char *err, size_t errlen)
{
	uint32_t be, n;

	if (fill(c, 4, err, errlen) != 0)
		return -1;
	memcpy(&be, c->rbuf + c->roff, 4);
	n = ntohl(be);
	if (n < 1 || n > MAX_PACKET) {
		snprintf(err, errlen, "bad packet length %" PRIu32, n);
		return -1;
	}
	if (fill(c, 4 + (size_t)n, err, errlen) != 0)
		return -1;
	*cmd = (char)c->rbuf[c->roff + 4];
	*data = c->rbuf + c->roff + 5;
	*len = n - 1;
	c->roff += 4 + (size_t)n;
	return 0;
}

/* The reply to one step (progress packets skipped). */
static int
read_reply(struct conn *c, char *cmd, const unsigned char **data,
    size_t *len, char *err, size_t errlen)
{
	do {
		if (read_packet(c, cmd, data, len, err, errlen) != 0)
			return -1;
	} while (*cmd == SMFIR_PROGRESS);
	return 0;
}

static enum kind
classify(struct counters *k, char cmd, const unsigned char *data, size_t len,
    bool count_code)
{
	switch (cmd) {
	case SMFIR_CONTINUE:
		return K_CONTINUE;
	case SMFIR_ACCEPT:
		return K_ACCEPT;
	case SMFIR_REJECT:
		return K_REJECT;
	case SMFIR_TEMPFAIL:
		return K_TEMPFAIL;
	case SMFIR_DISCARD:
		return K_DISCARD;
	case SMFIR_SKIP:
		return K_SKIP;
	case SMFIR_REPLYCODE:
		if (len >= 3 && (data[0] == '4' || data[0] == '5')) {
			if (count_code) {
				for (int i = 0; i < MAX_CODES; i++) {
					if (k->codes[i].n == 0)
						memcpy(k->codes[i].code, data,
						    3);
					if (memcmp(k->codes[i].code, data,
					    3) == 0) {
						k->codes[i].n++;
						break;
					}
				}
			}
			return data[0] == '5' ? K_REPLY5 : K_REPLY4;
		}
		return K_OTHER;
	default:
		return K_OTHER;
	}
}

static bool
refused(enum kind k)
{
	return k != K_CONTINUE && k != K_ACCEPT && k != K_NOREPLY &&
	    k != K_SKIP;
}

/* ---- a session ----------------------------------------------------------- */

static const char *
next_address(struct worker *w)
{
	unsigned long i;

	if (opt.random) {
		/* xorshift64 */
		w->rng ^= w->rng << 13;
		w->rng ^= w->rng >> 7;
		w->rng ^= w->rng << 17;
		return addrs.v[w->rng % addrs.n];
	}
	i = atomic_fetch_add(&next_addr, 1);
	if (opt.once && i >= addrs.n) {
		atomic_store(&list_done, true);
		return NULL;
	}
	return addrs.v[i % addrs.n];
}

static bool
claim_message(void)
{
	if (atomic_load(&stop_flag) || atomic_load(&list_done))
		return false;
	if (opt.messages > 0 && atomic_fetch_sub(&msgs_left, 1) <= 0)
		return false;
	return true;
}

/*
 * Send the buffered step and, unless NR_FLAG was negotiated, read its
 * reply into *K.  0, or -1 with ERR set.
 */
static int
step(struct worker *w, struct conn *c, unsigned long nr_flag, enum kind *k,
    char *err, size_t errlen)
{
	char cmd;
	const unsigned char *data;
	size_t len;

	if (flush_out(c, err, errlen) != 0)
		return -1;
	if (c->pflags & nr_flag) {
		*k = K_NOREPLY;
		return 0;
	}
	if (read_reply(c, &cmd, &data, &len, err, errlen) != 0)
		return -1;
	*k = classify(&w->c, cmd, data, len, false);
	return 0;
}

static int
negotiate(struct conn *c, char *err, size_t errlen)
{
	unsigned char buf[12];
	uint32_t v[3] = { htonl(SMFI_PROT_VERSION), htonl(OFFER_ACTIONS),
	    htonl(OFFER_PROTOCOL) };
	char cmd;
	const unsigned char *data;
	size_t len;

	memcpy(buf, v, sizeof(buf));
	put_packet(c, SMFIC_OPTNEG, buf, sizeof(buf));
	if (flush_out(c, err, errlen) != 0 ||
	    read_packet(c, &cmd, &data, &len, err, errlen) != 0)
		return -1;
	if (cmd != SMFIC_OPTNEG || len < 12) {
		snprintf(err, errlen, "bad OPTNEG reply '%c' (%zu bytes)",
		    cmd, len);
		return -1;
	}
	memcpy(v, data, sizeof(v));
	c->actions = ntohl(v[1]);
	c->pflags = ntohl(v[2]);
	if (c->pflags & ~OFFER_PROTOCOL) {
		snprintf(err, errlen, "milter wants protocol flags 0x%lx "
		    "not offered", c->pflags & ~OFFER_PROTOCOL);
		return -1;
	}
	return 0;
}

/* One message.  0, or -1 (connection unusable) with ERR set. */
static int
message(struct worker *w, struct conn *c, char *err, size_t errlen)
{
	char qid[24], cmd = 0;
	const unsigned char *data = NULL;
	size_t len = 0;
	enum kind k;
	unsigned ok = 0, sent = 0;

	snprintf(qid, sizeof(qid), "B%010lX",
	    (unsigned long)atomic_fetch_add(&qid_seq, 1));
	if (!(c->pflags & SMFIP_NOMAIL)) {
		put_macros(c, SMFIC_MAIL, "{mail_addr}", "sender@example.net",
		    "{mail_host}", "example.net", "{mail_mailer}", "smtp",
		    NULL);
		put_strings(c, SMFIC_MAIL, "<sender@example.net>", NULL);
		if (step(w, c, SMFIP_NR_MAIL, &k, err, errlen) != 0)
			return -1;
		if (refused(k)) {
			w->c.aborted++;
			put_packet(c, SMFIC_ABORT, NULL, 0);
			return flush_out(c, err, errlen);
		}
	}
	for (unsigned i = 0; i < opt.rcpts; i++) {
		const char *a = next_address(w);
		char rcpt[600];
		uint64_t t0, t1, lat;

		if (a == NULL)
			break;
		snprintf(rcpt, sizeof(rcpt), "<%s>", a);
		sent++;
		w->c.rcpts_all++;
		t0 = hist_now_ns();
		if (c->pflags & SMFIP_NORCPT) {
			k = K_NOREPLY;
			ok++;
			continue;
		}
		put_macros(c, SMFIC_RCPT, "i", qid, "{rcpt_addr}", a,
		    "{rcpt_host}", "127.0.0.1", "{rcpt_mailer}", "smtp",
		    NULL);
		put_strings(c, SMFIC_RCPT, rcpt, NULL);
		if (flush_out(c, err, errlen) != 0)
			return -1;
		if (c->pflags & SMFIP_NR_RCPT) {
			k = K_NOREPLY;
		} else {
			if (read_reply(c, &cmd, &data, &len, err, errlen) != 0)
				return -1;
			k = K_OTHER;
		}
		t1 = hist_now_ns();
		lat = t1 - t0;
		if (opt.slow_ms > 0 && (double)lat >= opt.slow_ms * 1e6)
			w->c.slow++;
		if (k != K_NOREPLY)
			k = classify(&w->c, cmd, data, len,
			    t0 >= t_warm && t1 <= t_stop);
		if (t0 >= t_warm && t1 <= t_stop) {
			w->c.rcpts++;
			w->c.kind[k]++;
			if (k != K_NOREPLY)
				hist_add(&w->c.h, lat);
		}
		if (!refused(k))
			ok++;
	}
	if (sent == 0 || ok == 0) {
		if (sent > 0)
			w->c.aborted++;
		put_packet(c, SMFIC_ABORT, NULL, 0);
		return flush_out(c, err, errlen);
	}
	/* DATA, headers, end of headers, body: only what was not skipped. */
	if (!(c->pflags & SMFIP_NODATA)) {
		put_macros(c, SMFIC_DATA, "i", qid, NULL);
		put_packet(c, SMFIC_DATA, NULL, 0);
		if (step(w, c, SMFIP_NR_DATA, &k, err, errlen) != 0)
			return -1;
		if (refused(k))
			goto abort;
	}
	if (!(c->pflags & SMFIP_NOHDRS)) {
		static const char *const hdr[][2] = {
			{ "From", " <sender@example.net>" },
			{ "To", " undisclosed-recipients:;" },
			{ "Subject", " miltergen" },
		};
		for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
			put_strings(c, SMFIC_HEADER, hdr[i][0], hdr[i][1],
			    NULL);
			if (step(w, c, SMFIP_NR_HDR, &k, err, errlen) != 0)
				return -1;
			if (refused(k))
				goto abort;
		}
	}
	if (!(c->pflags & SMFIP_NOEOH)) {
		put_packet(c, SMFIC_EOH, NULL, 0);
		if (step(w, c, SMFIP_NR_EOH, &k, err, errlen) != 0)
			return -1;
		if (refused(k))
			goto abort;
	}
	if (!(c->pflags & SMFIP_NOBODY)) {
		static const char body[] = "miltergen test message\r\n";
		put_packet(c, SMFIC_BODY, body, sizeof(body) - 1);
		if (step(w, c, SMFIP_NR_BODY, &k, err, errlen) != 0)
			return -1;
		if (refused(k))
			goto abort;
	}
	put_macros(c, SMFIC_BODYEOB, "i", qid, NULL);
	put_packet(c, SMFIC_BODYEOB, NULL, 0);
	if (flush_out(c, err, errlen) != 0)
		return -1;
	for (;;) {
		if (read_reply(c, &cmd, &data, &len, err, errlen) != 0)
			return -1;
		switch (cmd) {
		case SMFIR_ADDRCPT: w->c.mod[M_ADDRCPT]++; continue;
		case SMFIR_ADDRCPT_PAR: w->c.mod[M_ADDRCPT_PAR]++; continue;
		case SMFIR_DELRCPT: w->c.mod[M_DELRCPT]++; continue;
		case SMFIR_ADDHEADER: w->c.mod[M_ADDHEADER]++; continue;
		case SMFIR_INSHEADER: w->c.mod[M_INSHEADER]++; continue;
		case SMFIR_CHGHEADER: w->c.mod[M_CHGHEADER]++; continue;
		case SMFIR_CHGFROM: w->c.mod[M_CHGFROM]++; continue;
		case SMFIR_REPLBODY: case SMFIR_QUARANTINE:
			w->c.mod[M_OTHER]++;
			continue;
		default:
			break;
		}
		break;
	}
	w->c.eom[classify(&w->c, cmd, data, len, false)]++;
	w->c.messages++;
	return 0;
abort:
	w->c.aborted++;
	put_packet(c, SMFIC_ABORT, NULL, 0);
	return flush_out(c, err, errlen);
}

/* One milter connection: negotiate, CONNECT, HELO, messages, QUIT. */
static int
session(struct worker *w, struct conn *c, char *err, size_t errlen)
{
	enum kind k;
	unsigned char buf[64];
	uint16_t port = htons((uint16_t)(40000 + w->id));
	size_t len = 0;

	if ((c->fd = connect_spec(opt.socket, err, errlen)) < 0)
		return -1;
	c->rlen = c->roff = c->wlen = 0;
	w->c.connections++;
	if (negotiate(c, err, errlen) != 0)
		goto fail;
	if (!(c->pflags & SMFIP_NOCONNECT)) {
		static const char host[] = "client.test.example";
		static const char ip[] = "127.0.0.1";
		put_macros(c, SMFIC_CONNECT, "j", "mx.bench.example",
		    "{daemon_name}", "miltergen", "v", "miltergen", NULL);
		memcpy(buf, host, sizeof(host));
		len = sizeof(host);
		buf[len++] = SMFIA_INET;
		memcpy(buf + len, &port, 2);
		len += 2;
		memcpy(buf + len, ip, sizeof(ip));
		len += sizeof(ip);
		put_packet(c, SMFIC_CONNECT, buf, len);
		if (step(w, c, SMFIP_NR_CONN, &k, err, errlen) != 0)
			goto fail;
		if (refused(k)) {
			snprintf(err, errlen, "CONNECT refused (%s)",
			    kind_name[k]);
			goto fail;
		}
	}
	if (!(c->pflags & SMFIP_NOHELO)) {
		put_strings(c, SMFIC_HELO, "client.test.example", NULL);
		if (step(w, c, SMFIP_NR_HELO, &k, err, errlen) != 0)
			goto fail;
	}
	for (unsigned m = 0; m < opt.per_conn && claim_message(); m++)
		if (message(w, c, err, errlen) != 0)
			goto fail;
	put_packet(c, SMFIC_QUIT, NULL, 0);
	(void)flush_out(c, err, errlen);
	close(c->fd);
	c->fd = -1;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn *c = calloc(1, sizeof(*c));
	unsigned consecutive = 0;
	char err[200];

	if (c == NULL || (c->rbuf = malloc(MAX_PACKET + 8)) == NULL) {
		free(c);
		snprintf(w->lasterr, sizeof(w->lasterr), "out of memory");
		w->c.errors++;
		return NULL;
	}
	c->fd = -1;
	while (!atomic_load(&stop_flag) && !atomic_load(&list_done) &&
	    (opt.messages == 0 || atomic_load(&msgs_left) > 0)) {
		err[0] = '\0';
		if (session(w, c, err, sizeof(err)) == 0) {
			consecutive = 0;
			continue;
		}
		w->c.errors++;
		snprintf(w->lasterr, sizeof(w->lasterr), "%s", err);
		if (++consecutive >= 50)
			break;
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	free(c->rbuf);
	free(c);
	return NULL;
}

/* ---- main ---------------------------------------------------------------- */

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void
sum_counters(struct counters *t, const struct counters *c)
{
	t->rcpts += c->rcpts;
	t->rcpts_all += c->rcpts_all;
	for (int i = 0; i < K_N; i++) {
		t->kind[i] += c->kind[i];
		t->eom[i] += c->eom[i];
	}
	for (int i = 0; i < M_N; i++)
		t->mod[i] += c->mod[i];
	for (int i = 0; i < MAX_CODES && c->codes[i].n; i++)
		for (int j = 0; j < MAX_CODES; j++) {
			if (t->codes[j].n == 0)
				memcpy(t->codes[j].code, c->codes[i].code, 4);
			if (memcmp(t->codes[j].code, c->codes[i].code,
			    3) == 0) {
				t->codes[j].n += c->codes[i].n;
				break;
			}
		}
	t->messages += c->messages;
	t->aborted += c->aborted;
	t->connections += c->connections;
	t->errors += c->errors;
	t->slow += c->slow;
	hist_merge(&t->h, &c->h);
}

static double
num_arg(const char *s, double min, double max)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct worker *w;
	struct counters *tot;
	uint64_t t_end, window;
	double rate;
	int ch;

	while ((ch = getopt(argc, argv, "s:l:c:k:m:d:W:n:w:r1T:L:h")) != -1) {
		switch (ch) {
		case 's': opt.socket = optarg; break;
		case 'l': opt.list = optarg; break;
		case 'c': opt.sessions = (unsigned)num_arg(optarg, 1, MAX_SESSIONS); break;
		case 'k': opt.rcpts = (unsigned)num_arg(optarg, 1, 1000); break;
		case 'm': opt.per_conn = (unsigned)num_arg(optarg, 1, 1e6); break;
		case 'd': opt.duration = num_arg(optarg, 0, 3600); break;
		case 'W': opt.warmup = num_arg(optarg, 0, 600); break;
		case 'n': opt.messages = (long)num_arg(optarg, 0, 1e9); break;
		case 'w': opt.slow_ms = num_arg(optarg, 0, 3.6e6); break;
		case 'r': opt.random = true; break;
		case '1': opt.once = true; break;
		case 'T': opt.timeout_s = (unsigned)num_arg(optarg, 1, 3600); break;
		case 'L': opt.label = optarg; break;
		default: usage();
		}
	}
	if (opt.socket == NULL || opt.list == NULL || optind != argc)
		usage();
	if (opt.duration == 0 && opt.messages == 0 && !opt.once) {
		fprintf(stderr, "miltergen: give -d, -n or -1 (a bound)\n");
		return 64;
	}
	if (addrlist_load(&addrs, opt.list) != 0)
		return 66;
	signal(SIGPIPE, SIG_IGN);
	atomic_store(&msgs_left, opt.messages);
	w = calloc(opt.sessions, sizeof(*w));
	tot = calloc(1, sizeof(*tot));
	if (w == NULL || tot == NULL) {
		fprintf(stderr, "miltergen: out of memory\n");
		return 71;
	}
	t_start = hist_now_ns();
	t_warm = t_start + (uint64_t)(opt.warmup * 1e9);
	t_stop = opt.duration > 0 ?
	    t_warm + (uint64_t)(opt.duration * 1e9) : UINT64_MAX;
	for (unsigned i = 0; i < opt.sessions; i++) {
		w[i].id = i;
		w[i].rng = 0x9E3779B97F4A7C15ULL * (i + 1) ^ (uint64_t)t_start;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "miltergen: cannot start threads\n");
			return 71;
		}
	}
	if (opt.duration > 0) {
		/* Sleep until the end of the window (or all workers quit). */
		while (hist_now_ns() < t_stop) {
			nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
			if (atomic_load(&list_done) ||
			    (opt.messages > 0 && atomic_load(&msgs_left) <= 0))
				break;
		}
		atomic_store(&stop_flag, true);
	}
	for (unsigned i = 0; i < opt.sessions; i++) {
		pthread_join(w[i].thread, NULL);
		sum_counters(tot, &w[i].c);
	}
	t_end = hist_now_ns();
	if (t_end > t_stop)
		t_end = t_stop;
	window = t_end > t_warm ? t_end - t_warm : 1;
	rate = (double)tot->rcpts / ((double)window / 1e9);

	printf("%s: socket=%s sessions=%u rcpts/msg=%u msgs/conn=%u "
	    "addresses=%zu (%s)\n", opt.label, opt.socket, opt.sessions,
	    opt.rcpts, opt.per_conn, addrs.n,
	    opt.random ? "random" : opt.once ? "each once" : "in order");
	printf("%s: window %.2fs: %" PRIu64 " RCPT replies = %.0f/s, "
	    "%" PRIu64 " messages, %" PRIu64 " aborted, %" PRIu64
	    " connections, %" PRIu64 " errors\n", opt.label,
	    (double)window / 1e9, tot->rcpts, rate, tot->messages,
	    tot->aborted, tot->connections, tot->errors);
	printf("%s: RCPT latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f",
	    opt.label, ms(hist_quantile(&tot->h, 0.5)),
	    ms(hist_quantile(&tot->h, 0.99)),
	    ms(hist_quantile(&tot->h, 0.999)), ms(tot->h.max_ns));
	if (opt.slow_ms > 0)
		printf("  (>= %.0f ms: %" PRIu64 " of %" PRIu64 ")",
		    opt.slow_ms, tot->slow, tot->rcpts_all);
	printf("\n%s: RCPT replies:", opt.label);
	for (int i = 0; i < K_N; i++)
		if (tot->kind[i])
			printf(" %s=%" PRIu64, kind_name[i], tot->kind[i]);
	for (int i = 0; i < MAX_CODES && tot->codes[i].n; i++)
		printf(" %.3s=%" PRIu64, tot->codes[i].code, tot->codes[i].n);
	printf("\n%s: EOM:", opt.label);
	for (int i = 0; i < K_N; i++)
		if (tot->eom[i])
			printf(" %s=%" PRIu64, kind_name[i], tot->eom[i]);
	for (int i = 0; i < M_N; i++)
		if (tot->mod[i])
			printf(" %s=%" PRIu64, mod_name[i], tot->mod[i]);
	printf("\n");
	for (unsigned i = 0; i < opt.sessions; i++)
		if (w[i].lasterr[0]) {
			printf("%s: session %u last error: %s\n", opt.label,
			    i, w[i].lasterr);
			break;
		}
	printf("RESULT rate=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	    "max_ms=%.3f rcpts=%" PRIu64 " rcpts_all=%" PRIu64
	    " messages=%" PRIu64, rate, ms(hist_quantile(&tot->h, 0.5)),
	    ms(hist_quantile(&tot->h, 0.99)),
	    ms(hist_quantile(&tot->h, 0.999)), ms(tot->h.max_ns),
	    tot->rcpts, tot->rcpts_all, tot->messages);
	for (int i = 0; i < K_N; i++)
		printf(" %s=%" PRIu64, kind_name[i], tot->kind[i]);
	printf(" addrcpt_par=%" PRIu64 " delrcpt=%" PRIu64 " slow=%" PRIu64
	    " errors=%" PRIu64 "\n", tot->mod[M_ADDRCPT_PAR],
	    tot->mod[M_DELRCPT], tot->slow, tot->errors);
	fflush(stdout);
	ch = tot->errors > 0 ? 1 : 0;
	addrlist_free(&addrs);
	free(w);
	free(tot);
	return ch;
}
