/*
 * socketmap.c - a server for Postfix socketmap_table(5) and Sendmail
 * "socket" maps (see socketmap.h).
 *
 * One acceptor thread, and one thread per client connection: Postfix keeps
 * its connections open and idle between lookups, and the lookup callback may
 * wait on a directory, so a slow client or a slow lookup never holds up
 * another client.  Every wait is a poll() on the client socket and the
 * server's wake pipe; socketmap_stop() writes one byte into that pipe, which
 * then stays readable, so every thread sees it, returns, and is joined.
 *
 * Protocol errors: a well-formed netstring that is not "NAME KEY" gets a
 * PERM reply and the connection stays usable; a malformed or oversized
 * netstring gets a PERM reply and the connection is closed, since the byte
 * stream can no longer be trusted.  The oversized payload is not read.
 */
#include "frontend/socketmap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend/netstring.h"

/* Connections beyond this are accepted and closed at once: the MTA gets a
 * prompt temporary lookup error instead of waiting in the backlog. */
#define SOCKETMAP_MAX_CLIENTS  256
/* Idle time allowed between requests; Postfix reconnects after a close. */
#define SOCKETMAP_IDLE_MS      (300 * 1000)
/* Time allowed to finish sending a started request, and to take a reply. */
#define SOCKETMAP_IO_MS        (60 * 1000)
/* Postfix's default socketmap reply limit. */
#define SOCKETMAP_MAX_REPLY    100000
/* After a fatal protocol error: how long and how much to drain before the
 * close, so the PERM reply is not destroyed by a TCP reset. */
#define SOCKETMAP_LINGER_MS    1000
#define SOCKETMAP_LINGER_BYTES (64 * 1024)
/* Room for the largest acceptable netstring: "10000:" payload ",". */
#define SOCKETMAP_BUF_SIZE     (SOCKETMAP_MAX_REQUEST + 32)

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0          /* then SO_NOSIGPIPE is set per socket */
#endif

struct client {
    struct socketmap_server *srv;
    int fd;
    pthread_t thread;
    bool done;                  /* thread finished; under srv->lock */
    struct client *next;
};

struct socketmap_server {
    int lfd;
    int wake[2];                /* readable once stopping */
    int reap[2];                /* readable when a client thread finished */
    char *path;                 /* unix socket to remove at stop, or NULL */
    dev_t dev;                  /* ... if it is still the one we made */
    ino_t ino;
    socketmap_lookup_fn fn;
    void *ctx;
    pthread_t acceptor;
    pthread_mutex_t lock;       /* protects clients and nclients */
    struct client *clients;
    unsigned nclients;
};

static void set_err(char **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_err(char **err, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *err = NULL;
    if (n < 0 || (*err = malloc((size_t)n + 1)) == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(*err, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fd_set_flags(int fd, bool nonblock)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    if (!nonblock)
        return 0;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

static void
fd_no_sigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
    int one = 1;

    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#else
    (void)fd;
#endif
}

/*
 * Wait until FD is ready for EVENTS.  Returns 1 when ready (or in error:
 * the next recv/send says which), 0 at DEADLINE, -1 when stopping.
 */
static int
wait_ready(const struct socketmap_server *s, int fd, short events,
    int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {
            { .fd = fd, .events = events },
            { .fd = s->wake[0], .events = POLLIN },
        };
        int64_t left = deadline - now_ms();
        int n;

        if (left < 0)
            left = 0;
        n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[1].revents != 0)
            return -1;
        if (p[0].revents != 0)
            return 1;
        if (n == 0 && left == 0)
            return 0;
    }
}

/* Send all of BUF, coping with partial writes.  0 or -1. */
static int
send_all(const struct socketmap_server *s, int fd, const char *buf,
    size_t len)
{
    int64_t deadline = now_ms() + SOCKETMAP_IO_MS;

    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_ready(s, fd, POLLOUT, deadline) <= 0)
                return -1;
        } else {
            return -1;          /* EPIPE, ECONNRESET, ... */
        }
    }
    return 0;
}

static int
send_reply(const struct socketmap_server *s, int fd, const char *reply)
{
    size_t len;
    char *ns = netstring_encode(reply, strlen(reply), &len);
    int rc;

    if (ns == NULL)
        return -1;
    rc = send_all(s, fd, ns, len);
    free(ns);
    return rc;
}

/* Does REPLY start with a status word the MTA understands? */
static bool
reply_valid(const char *reply)
{
    static const char *const words[] = {
        "OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM",
    };
    size_t n = strcspn(reply, " ");

    if (strlen(reply) > SOCKETMAP_MAX_REPLY)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && memcmp(reply, words[i], n) == 0)
            return true;
    return false;
}

/*
 * Answer one request, REQ (LEN bytes, followed by one byte that may be
 * overwritten).  Returns -1 when the reply could not be sent.
 */
static int
answer(const struct socketmap_server *s, int fd, char *req, size_t len)
{
    char *space;
    char *reply;
    int rc;

    if (memchr(req, '\0', len) != NULL)
        return send_reply(s, fd, "PERM invalid request: NUL byte");
    req[len] = '\0';
    space = strchr(req, ' ');
    if (space == NULL || space == req)
        return send_reply(s, fd, "PERM invalid request: expected \"name key\"");
    *space = '\0';
    /* The key is passed exactly as received: no case folding. */
    reply = s->fn(s->ctx, req, space + 1);
    if (reply == NULL || !reply_valid(reply))
        rc = send_reply(s, fd, "TEMP internal error");
    else
        rc = send_reply(s, fd, reply);
    free(reply);
    return rc;
}

/* After a fatal protocol error: let the reply reach the client, then go. */
static void
linger(const struct socketmap_server *s, int fd)
{
    int64_t deadline = now_ms() + SOCKETMAP_LINGER_MS;
    size_t drained = 0;
    char junk[4096];

    (void)shutdown(fd, SHUT_WR);
    while (drained < SOCKETMAP_LINGER_BYTES
           && wait_ready(s, fd, POLLIN, deadline) > 0) {
        ssize_t n = recv(fd, junk, sizeof(junk), 0);

        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN
                       && errno != EWOULDBLOCK))
            break;
        if (n > 0)
            drained += (size_t)n;
    }
}

static void
serve(struct socketmap_server *s, int fd)
{
    char *buf = malloc(SOCKETMAP_BUF_SIZE);
    size_t have = 0;
    bool in_request = false;
    int64_t deadline = 0;

    if (buf == NULL)
        return;
    for (;;) {
        const char *data;
        size_t dlen, used;
        enum netstring_status st;
        ssize_t n;

        st = netstring_decode(buf, have, SOCKETMAP_MAX_REQUEST, &data, &dlen,
            &used);
        if (st == NETSTRING_OK) {
            /* data points into buf, followed by the ',' we may overwrite */
            if (answer(s, fd, buf + (data - buf), dlen) < 0)
                break;
            memmove(buf, buf + used, have - used);
            have -= used;
            in_request = false;
            continue;
        }
        if (st != NETSTRING_INCOMPLETE || have == SOCKETMAP_BUF_SIZE) {
            if (send_reply(s, fd, st == NETSTRING_BAD_FORMAT
                    ? "PERM malformed request"
                    : "PERM request too long") == 0)
                linger(s, fd);
            break;
        }
        if (have == 0) {
            deadline = now_ms() + SOCKETMAP_IDLE_MS;
        } else if (!in_request) {
            in_request = true;
            deadline = now_ms() + SOCKETMAP_IO_MS;
        }
        if (wait_ready(s, fd, POLLIN, deadline) <= 0)
            break;
        n = recv(fd, buf + have, SOCKETMAP_BUF_SIZE - have, 0);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            break;
        }
        have += (size_t)n;
    }
    free(buf);
}

static void *
client_main(void *arg)
{
    struct client *c = arg;
    struct socketmap_server *s = c->srv;
    ssize_t n;

    serve(s, c->fd);
    close(c->fd);
    pthread_mutex_lock(&s->lock);
    c->done = true;
    pthread_mutex_unlock(&s->lock);
    /* A full pipe already says "reap"; nothing else can go wrong here. */
    do
        n = write(s->reap[1], "r", 1);
    while (n < 0 && errno == EINTR);
    return NULL;
}

/* Join finished client threads (all of them when ALL: after the acceptor
 * has stopped and the wake pipe is readable, they all finish). */
static void
reap_clients(struct socketmap_server *s, bool all)
{
    struct client *gone = NULL;
    struct client **pp;

    pthread_mutex_lock(&s->lock);
    pp = &s->clients;
    while (*pp != NULL) {
        struct client *c = *pp;

        if (all || c->done) {
            *pp = c->next;
            c->next = gone;
            gone = c;
            s->nclients--;
        } else {
            pp = &c->next;
        }
    }
    pthread_mutex_unlock(&s->lock);
    while (gone != NULL) {
        struct client *c = gone;

        gone = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
}

static void
accept_one(struct socketmap_server *s)
{
    struct client *c;
    int fd = accept(s->lfd, NULL, NULL);

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
            || errno == ENOMEM) {
            /* The connection stays queued; do not spin on it. */
            struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000000 };

            nanosleep(&ts, NULL);
        }
        return;
    }
    if (fd_set_flags(fd, true) < 0 || (c = calloc(1, sizeof(*c))) == NULL) {
        close(fd);
        return;
    }
    fd_no_sigpipe(fd);
    c->srv = s;
    c->fd = fd;
    pthread_mutex_lock(&s->lock);
    if (s->nclients >= SOCKETMAP_MAX_CLIENTS
        || pthread_create(&c->thread, NULL, client_main, c) != 0) {
        pthread_mutex_unlock(&s->lock);
        close(fd);
        free(c);
        return;
    }
    c->next = s->clients;
    s->clients = c;
    s->nclients++;
    pthread_mutex_unlock(&s->lock);
}

static void *
acceptor_main(void *arg)
{
    struct socketmap_server *s = arg;

    for (;;) {
        struct pollfd p[3] = {
            { .fd = s->lfd, .events = POLLIN },
            { .fd = s->wake[0], .events = POLLIN },
            { .fd = s->reap[0], .events = POLLIN },
        };

        if (poll(p, 3, -1) < 0)
            continue;           /* EINTR; ENOMEM passes */
        if (p[1].revents != 0)
            break;
        if (p[2].revents != 0) {
            char junk[64];

            while (read(s->reap[0], junk, sizeof(junk)) > 0)
                ;
            reap_clients(s, false);
        }
        if (p[0].revents != 0)
            accept_one(s);
    }
    return NULL;
}

static int
listen_unix(struct socketmap_server *s, const char *spec, const char *path,
    unsigned mode, char **err)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
        set_err(err, "socketmap %s: socket path empty or longer than %zu bytes",
            spec, sizeof(sa.sun_path) - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    /* Remove a stale socket, but never a live one nor any other file. */
    if (lstat(path, &st) == 0) {
        int probe, rc;

        if (!S_ISSOCK(st.st_mode)) {
            set_err(err, "socketmap %s: %s exists and is not a socket",
                spec, path);
            return -1;
        }
        if ((probe = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
            set_err(err, "socketmap %s: socket: %s", spec, strerror(errno));
            return -1;
        }
        (void)fd_set_flags(probe, true);
        rc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
        if (rc == 0 || errno != ECONNREFUSED) {
            int e = errno;

            close(probe);
            set_err(err, "socketmap %s: %s", spec, rc == 0
                || e == EAGAIN || e == EINPROGRESS
                ? "socket in use by another process" : strerror(e));
            return -1;
        }
        close(probe);
        if (unlink(path) < 0 && errno != ENOENT) {
            set_err(err, "socketmap %s: unlink stale socket: %s", spec,
                strerror(errno));
            return -1;
        }
    } else if (errno != ENOENT) {
        set_err(err, "socketmap %s: %s", spec, strerror(errno));
        return -1;
    }

    if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
        set_err(err, "socketmap %s: socket: %s", spec, strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        set_err(err, "socketmap %s: bind: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    /* Nobody can connect before listen(), so chmod after bind is safe. */
    if (chmod(path, (mode_t)mode) < 0 || lstat(path, &st) < 0
        || listen(fd, SOMAXCONN) < 0 || fd_set_flags(fd, true) < 0) {
        set_err(err, "socketmap %s: %s", spec, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    if ((s->path = strdup(path)) == NULL) {
        set_err(err, "socketmap %s: out of memory", spec);
        close(fd);
        unlink(path);
        return -1;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->lfd = fd;
    return 0;
}

/* "PORT@HOST"; HOST may be "[v6addr]". */
static int
listen_inet(struct socketmap_server *s, const char *spec, const char *addr,
    char **err)
{
    struct addrinfo hints, *res, *ai;
    const char *at = strchr(addr, '@');
    char port[8], host[256];
    size_t plen, hlen;
    long pnum;
    char *end;
    int rc, fd = -1, e = 0;

    if (at == NULL || at == addr || at[1] == '\0') {
        set_err(err, "socketmap %s: expected inet:PORT@HOST", spec);
        return -1;
    }
    plen = (size_t)(at - addr);
    hlen = strlen(at + 1);
    if (plen >= sizeof(port) || hlen >= sizeof(host)) {
        set_err(err, "socketmap %s: bad port or host", spec);
        return -1;
    }
    memcpy(port, addr, plen);
    port[plen] = '\0';
    errno = 0;
    pnum = strtol(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0
        || pnum < 1 || pnum > 65535) {
        set_err(err, "socketmap %s: port must be 1-65535", spec);
        return -1;
    }
    memcpy(host, at + 1, hlen + 1);
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        set_err(err, "socketmap %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;

        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
            && listen(fd, SOMAXCONN) == 0 && fd_set_flags(fd, true) == 0)
            break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        set_err(err, "socketmap %s: %s", spec, strerror(e));
        return -1;
    }
    s->lfd = fd;
    return 0;
}

static int
make_pipe(int p[2])
{
    if (pipe(p) < 0)
        return -1;
    if (fd_set_flags(p[0], true) < 0 || fd_set_flags(p[1], true) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    return 0;
}

/* Close the listening socket; remove a unix socket unless replaced since. */
static void
server_unlisten(struct socketmap_server *s)
{
    struct stat st;

    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
    if (s->path != NULL && lstat(s->path, &st) == 0 && st.st_dev == s->dev
        && st.st_ino == s->ino)
        unlink(s->path);
    free(s->path);
    s->path = NULL;
}

static void
server_free(struct socketmap_server *s)
{
    server_unlisten(s);
    for (int i = 0; i < 2; i++) {
        if (s->wake[i] >= 0)
            close(s->wake[i]);
        if (s->reap[i] >= 0)
            close(s->reap[i]);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

struct socketmap_server *
socketmap_start(const char *spec, unsigned mode, socketmap_lookup_fn fn,
    void *ctx, char **err)
{
    struct socketmap_server *s;
    sigset_t all, old;
    int rc;

    if (err != NULL)
        *err = NULL;
    if (spec == NULL || fn == NULL || mode > 07777) {
        set_err(err, "socketmap: invalid arguments");
        return NULL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        set_err(err, "socketmap %s: out of memory", spec);
        return NULL;
    }
    s->lfd = s->wake[0] = s->wake[1] = s->reap[0] = s->reap[1] = -1;
    s->fn = fn;
    s->ctx = ctx;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        set_err(err, "socketmap %s: out of memory", spec);
        return NULL;
    }
    if (make_pipe(s->wake) < 0 || make_pipe(s->reap) < 0) {
        set_err(err, "socketmap %s: pipe: %s", spec, strerror(errno));
        server_free(s);
        return NULL;
    }

    if (strncmp(spec, "unix:", 5) == 0)
        rc = listen_unix(s, spec, spec + 5, mode, err);
    else if (strncmp(spec, "local:", 6) == 0)
        rc = listen_unix(s, spec, spec + 6, mode, err);
    else if (strncmp(spec, "inet:", 5) == 0)
        rc = listen_inet(s, spec, spec + 5, err);
    else if (strncmp(spec, "inet6:", 6) == 0)
        rc = listen_inet(s, spec, spec + 6, err);
    else {
        set_err(err, "socketmap %s: expected unix:PATH or inet:PORT@HOST",
            spec);
        rc = -1;
    }
    if (rc < 0) {
        server_free(s);
        return NULL;
    }

    /*
     * Our threads take no asynchronous signals: the daemon handles SIGTERM
     * and SIGHUP in its own thread (libmilter does so with sigwait).
     */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&s->acceptor, NULL, acceptor_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_err(err, "socketmap %s: pthread_create: %s", spec, strerror(rc));
        server_free(s);
        return NULL;
    }
    return s;
}

void
socketmap_stop(struct socketmap_server *s)
{
    ssize_t n;

    if (s == NULL)
        return;
    do
        n = write(s->wake[1], "s", 1);
    while (n < 0 && errno == EINTR);
    pthread_join(s->acceptor, NULL);
    /* No new connections from here on; close and unlink before draining. */
    server_unlisten(s);
    reap_clients(s, true);
    server_free(s);
}
