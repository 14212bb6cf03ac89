/*
 * fdlimit.c - file descriptors (see fdlimit.h).
 *
 * Each milter connection holds one descriptor; so do the LDAP connections
 * (pool_size per directory), every socketmap client, the listening sockets,
 * syslog and the pipes.  With more milter connections than descriptors,
 * accept() fails and every session stalls; with the cap below the limit,
 * the connections over it get a prompt tempfail (milter.c) and the MTA
 * retries.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "base/log.h"
#include "frontend/socketmap.h"
#include "process/fdlimit.h"

/* nsmilter's own descriptors (listeners, pipes, syslog, files), and the
 * least cap that still makes sense. */
#define FDLIMIT_OWN      48
#define FDLIMIT_MIN_CAP  8

/* What fdlimit_setup found, for fdlimit_log. */
static unsigned long long limit_now, limit_was, limit_cap;

unsigned
fdlimit_setup(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t was, now, reserve = FDLIMIT_OWN, cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warning("getrlimit NOFILE: %s", strerror(errno));
		return 0;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warning("cannot raise the descriptor limit from "
			    "%llu to %llu: %s", (unsigned long long)was,
			    (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = was;
		}
	}
	for (size_t i = 0; i < cfg->n_directories; i++)
		reserve += cfg->directories[i].pool_size + 1;
	if (cfg->milter.socketmap != NULL)
		reserve += SOCKETMAP_MAX_CLIENTS + SOCKETMAP_MAX_REFUSED;
	now = rl.rlim_cur;
	if (now == RLIM_INFINITY || now > 1000000)
		now = 1000000;
	/* The connections over the cap hold a descriptor until the MTA
	 * closes them: keep half of what is left for them. */
	cap = now > reserve + 2 * FDLIMIT_MIN_CAP ? (now - reserve) / 2 :
	    FDLIMIT_MIN_CAP;
	limit_now = now;
	limit_was = rl.rlim_cur != was ? was : 0;
	limit_cap = cap;
	return (unsigned)cap;
}

void
fdlimit_log(void)
{
	if (limit_was != 0)
		log_info("file descriptors: limit %llu (raised from %llu), "
		    "at most %llu milter connections", limit_now, limit_was,
		    limit_cap);
	else if (limit_now != 0)
		log_info("file descriptors: limit %llu, at most %llu milter "
		    "connections", limit_now, limit_cap);
}
