/*
 * daemon.c - running the milter: bind, drop privileges, serve, reload.
 *
 * Signals: libmilter's own signal thread treats SIGHUP like SIGTERM (it
 * stops the milter), but nsmilter(8) promises that SIGHUP reloads.  So smfi_main runs in
 * a thread of its own with HUP/TERM/INT blocked (libmilter's threads inherit
 * that mask), while the main thread -- the thread-group leader, which Linux
 * prefers for process-directed signals -- keeps them unblocked with handlers
 * that write to a self-pipe.  The main thread then reloads on SIGHUP and
 * calls smfi_stop() on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>

#include <libmilter/mfapi.h>

#include "base/sockspec.h"
#include "directory/mirror/mirror_engine.h"
#include "process/daemon.h"
#include "process/fdlimit.h"
#include "process/service.h"
#include "base/log.h"
#include "frontend/milter.h"
#include "decision/runtime.h"
#include "base/metrics.h"
#include "frontend/metrics_http.h"
#include "frontend/socketmap.h"
#include "frontend/transport_map.h"

static int sig_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* nothing to do: the pipe is full of signals already */
	}
	errno = saved;
}

static void *
milter_thread(void *arg)
{
	int *status = arg;

	*status = smfi_main();
	on_signal(0);	/* tell the main thread smfi_main returned */
	return NULL;
}

static void
log_config_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_err("%s", errs->lines[i]);
	for (size_t i = 0; i < errs->n_warnings; i++)
		log_warning("%s", errs->warnings[i]);
}

static int
drop_privileges(const struct service_id *id)
{
	if (id->user == NULL || getuid() == id->uid)
		return 0;
	if (initgroups(id->user, id->gid) != 0 ||
	    setgid(id->gid) != 0 || setuid(id->uid) != 0) {
		log_err("cannot switch to user %s: %s", id->user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Connect to our own socket SPEC and hang up at once; 0 if it answered. */
static int
poke(const struct sockspec *sp)
{
	int fd = -1, rc = -1;

	if (sp->family == SOCKSPEC_UNIX) {
		struct sockaddr_un sa;

		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		memcpy(sa.sun_path, sp->path, strlen(sp->path) + 1);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0)
			rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} else {
		struct addrinfo hints, *res = NULL;
		const char *host = sp->host;

		/* A wildcard address listens on loopback too. */
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
			host = "127.0.0.1";
		else if (strcmp(host, "::") == 0)
			host = "::1";
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		if (getaddrinfo(host, sp->port, &hints, &res) == 0 &&
		    (fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) >= 0)
			rc = connect(fd, res->ai_addr, res->ai_addrlen);
		if (res != NULL)
			freeaddrinfo(res);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static atomic_bool stop_done;

static void *
stop_thread(void *arg)
{
	(void)arg;
	smfi_stop();
	atomic_store(&stop_done, true);
	return NULL;
}

/*
 * smfi_stop(), without its wait: libmilter's listener holds its lock while
 * it waits up to 5 s for a connection, and smfi_stop() needs that lock to
 * close the socket.  So smfi_stop() runs in a thread of its own while we
 * connect to our own socket: the listener wakes, sees the stop and quits,
 * and an idle milter stops at once.
 */
static void
milter_stop(const char *spec)
{
	struct sockspec sp;
	pthread_t tid;
	char *why = NULL;
	bool parsed = sockspec_parse(spec, &sp, &why) == 0;

	free(why);
	atomic_store(&stop_done, false);
	if (pthread_create(&tid, NULL, stop_thread, NULL) != 0) {
		smfi_stop();
		return;
	}
	/* The listener quits at the first wake after the stop flag is set. */
	for (int i = 0; parsed && i < 300 && !atomic_load(&stop_done); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (poke(&sp) != 0)
			break;	/* the socket is closed: the listener is gone */
		nanosleep(&ts, NULL);
	}
	pthread_join(tid, NULL);
}

/* The pidfile is 0644 whatever the umask: monitoring reads it. */
static int
write_pidfile(const char *path)
{
	FILE *f;
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0 || fchmod(fd, 0644) != 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		log_err("pidfile %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : -1;
}

/* A start-up failure after binding: leave no socket behind. */
static int
startup_failed(const char *socket_path, int status)
{
	if (socket_path != NULL && unlink(socket_path) != 0)
		log_warning("cannot remove %s: %s", socket_path,
		    strerror(errno));
	runtime_shutdown();
	return status;
}

/*
 * Go to the background before any thread exists (threads do not survive
 * fork): the parent waits on a pipe until the child is ready or has failed,
 * and exits with the child's status, so "nsmilter" without -f still reports
 * a bad socket or user.  The child keeps stderr until it is ready, so every
 * start-up error is printed there as well as logged.  Returns the write end
 * for background_ready(), or -1 on failure.
 */
static int
background_start(void)
{
	int p[2], fd;
	pid_t pid;
	char b;

	if (pipe(p) != 0 || (pid = fork()) < 0) {
		log_err("cannot go to the background: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		ssize_t n;
		int st;

		close(p[1]);
		while ((n = read(p[0], &b, 1)) < 0 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);	/* the daemon is up */
		/* It exited before it was ready: pass its status on. */
		if (waitpid(pid, &st, 0) == pid)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : EX_SOFTWARE);
		_exit(EX_SOFTWARE);
	}
	close(p[0]);
	setsid();
	if (chdir("/") != 0)
		log_warning("chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 2)
			close(fd);
	}
	return p[1];
}

/* Tell the waiting parent that the daemon is up; stderr goes too. */
static void
background_ready(int fd)
{
	int null;

	if (fd < 0)
		return;
	log_set_stderr(false);
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (write(fd, "", 1) < 0)
		log_warning("cannot notify the parent: %s", strerror(errno));
	close(fd);
}

static bool
same_spec(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static void
reload(const char *path)
{
	struct config_errors errs = { 0 };
	struct runtime *old = runtime_acquire(), *rt;

	rt = runtime_load(path, NULL, &errs);
	if (rt == NULL) {
		log_config_errors(&errs);
		log_err("reload of %s failed: the old configuration stays "
		    "in force", path);
		config_errors_free(&errs);
		runtime_release(old);
		metrics_reload(false);
		return;
	}
	if (old != NULL) {
		const struct milter_config *a = &old->cfg->milter;
		const struct milter_config *b = &rt->cfg->milter;

		if (!same_spec(a->socket, b->socket) ||
		    !same_spec(a->socketmap, b->socketmap) ||
		    !same_spec(a->metrics, b->metrics))
			log_warning("socket, socketmap and metrics changes take "
			    "effect at the next restart");
	}
	log_set_level(rt->cfg->milter.log_level);
	log_config_errors(&errs);
	config_errors_free(&errs);
	runtime_install(rt);
	runtime_release(old);
	metrics_reload(true);
	log_info("configuration %s reloaded", path);
}

int
daemon_run(const struct daemon_options *opt)
{
	struct config_errors errs = { 0 };
	struct runtime *rt;
	struct socketmap_server *sm = NULL;
	struct metrics_http *mh = NULL;
	const struct config *cfg;
	const char *spec, *path;
	pthread_t tid;
	sigset_t block, old;
	struct sigaction sa;
	int milter_status = MI_FAILURE, status = 0;
	struct service_id id;
	char *err = NULL, *pidfile = NULL, *wake = NULL;
	struct stat sock_st, now_st;
	int ready_fd = -1;

	/* Until the daemon is ready, every error goes to stderr as well. */
	log_open(LOG_MAIL, true);
	if (!opt->foreground && (ready_fd = background_start()) < 0)
		return EX_OSERR;
	/* This process keeps the mirrors current (started below). */
	mirror_engines_enable();
	rt = runtime_load(opt->config_path, NULL, &errs);
	if (rt == NULL) {
		log_config_errors(&errs);
		config_errors_free(&errs);
		return EX_CONFIG;
	}
	cfg = rt->cfg;
	closelog();
	log_open(cfg->milter.syslog_facility, true);
	log_set_level(cfg->milter.log_level);
	log_config_errors(&errs);
	config_errors_free(&errs);
	milter_set_max_connections(fdlimit_setup(cfg));
	runtime_install(rt);

	if (service_id_resolve(opt->user ? opt->user : cfg->milter.user,
	    cfg->milter.socket_group, &id, &err) != 0) {
		log_err("%s", err);
		free(err);
		runtime_shutdown();
		return EX_OSERR;
	}
	spec = opt->socket ? opt->socket : cfg->milter.socket;
	path = sockspec_path(spec);
	if (milter_register() != MI_SUCCESS || smfi_setconn((char *)spec) !=
	    MI_SUCCESS || smfi_opensocket(1) != MI_SUCCESS) {
		log_err("cannot listen on %s", spec);
		service_id_free(&id);
		runtime_shutdown();
		return EX_UNAVAILABLE;
	}
	if (cfg->milter.socketmap != NULL) {
		sm = socketmap_start(cfg->milter.socketmap,
		    cfg->milter.socket_mode, transport_map_lookup, NULL, &err);
		if (sm == NULL) {
			log_err("%s", err ? err : "socketmap: cannot start");
			free(err);
			service_id_free(&id);
			return startup_failed(path, EX_UNAVAILABLE);
		}
	}
	if (cfg->milter.metrics != NULL &&
	    (mh = metrics_http_start(cfg->milter.metrics, &err)) == NULL) {
		log_err("%s", err ? err : "metrics: cannot start");
		free(err);
		if (sm != NULL)
			socketmap_stop(sm);
		service_id_free(&id);
		runtime_shutdown();
		return EX_UNAVAILABLE;
	}
	/* The unix sockets go to user:socket_group with socket_mode. */
	if ((path != NULL && service_own_socket(path, &id,
	    cfg->milter.socket_mode, &err) != 0) ||
	    (sockspec_path(cfg->milter.socketmap ? cfg->milter.socketmap : "")
	    != NULL && service_own_socket(sockspec_path(cfg->milter.socketmap),
	    &id, cfg->milter.socket_mode, &err) != 0) ||
	    drop_privileges(&id) != 0 ||
	    write_pidfile(cfg->milter.pidfile) != 0) {
		if (err != NULL)
			log_err("%s", err);
		free(err);
		metrics_http_stop(mh);
		if (sm != NULL)
			socketmap_stop(sm);
		service_id_free(&id);
		return startup_failed(path, EX_OSERR);
	}
	service_id_free(&id);
	if (path != NULL && lstat(path, &sock_st) != 0)
		memset(&sock_st, 0, sizeof(sock_st));

	/* The mirrors' files belong to the user nsmilter runs as. */
	mirror_engines_start();

	/* cfg belongs to the first snapshot, which a reload may free. */
	if (cfg->milter.pidfile != NULL)
		pidfile = strdup(cfg->milter.pidfile);
	spec = wake = strdup(spec);
	if (pipe(sig_pipe) != 0) {
		log_err("pipe: %s", strerror(errno));
		return EX_OSERR;
	}
	fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (pthread_create(&tid, NULL, milter_thread, &milter_status) != 0) {
		log_err("cannot start the milter thread");
		return EX_OSERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	background_ready(ready_fd);	/* quiet from here on, without -f */
	log_info("nsmilter %s listening on %s%s%s%s%s", NSMILTER_VERSION, spec,
	    sm ? ", socketmap on " : "", sm ? cfg->milter.socketmap : "",
	    mh ? ", metrics on " : "", mh ? cfg->milter.metrics : "");
	fdlimit_log();
	cfg = NULL;

	for (;;) {
		unsigned char b;
		ssize_t n = read(sig_pipe[0], &b, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b == SIGHUP) {
			reload(opt->config_path);
			continue;
		}
		if (b == SIGTERM || b == SIGINT)
			log_info("stopping on signal %d", b);
		else
			log_err("the milter stopped unexpectedly");
		status = b == 0 ? EX_SOFTWARE : 0;
		break;
	}
	milter_stop(wake != NULL ? wake : "");
	pthread_join(tid, NULL);
	/* libmilter may leave the socket behind: remove it if it is ours. */
	if (wake != NULL && (path = sockspec_path(wake)) != NULL &&
	    sock_st.st_ino != 0 && lstat(path, &now_st) == 0 &&
	    now_st.st_ino == sock_st.st_ino && now_st.st_dev == sock_st.st_dev)
		unlink(path);
	free(wake);
	if (sm != NULL)
		socketmap_stop(sm);
	metrics_http_stop(mh);
	if (pidfile != NULL)
		unlink(pidfile);
	free(pidfile);
	runtime_shutdown();
	log_info("stopped");
	return status != 0 ? status : (milter_status == MI_SUCCESS ? 0 : EX_SOFTWARE);
}
