/*
 * main.c - nsmilter's command line (README "Command line").
 *
 *   nsmilter [-c FILE] [-f] [-p SOCKET] [-u USER]   run the milter
 *   nsmilter [-c FILE] -n                            check the configuration
 *   nsmilter [-c FILE] -q ADDRESS...                 decide and print
 *   nsmilter [-c FILE] -m                            mirror status
 *   nsmilter [-c FILE] -r                            reconciliation report
 *   nsmilter -V                                      version
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "config/config.h"
#include "process/daemon.h"
#include "directory/directory.h"
#include "frontend/mirror_status.h"
#include "frontend/query.h"
#include "frontend/report.h"
#include "decision/runtime.h"
#include "process/service.h"

#define DEFAULT_CONFIG "/etc/nsmilter/nsmilter.ini"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: nsmilter [-c FILE] [-f] [-p SOCKET] [-u USER]\n"
	    "       nsmilter [-c FILE] -n\n"
	    "       nsmilter [-c FILE] -q ADDRESS... (- reads standard input)\n"
	    "       nsmilter [-c FILE] -m\n"
	    "       nsmilter [-c FILE] -r\n"
	    "       nsmilter -V\n");
}

/*
 * PATH made absolute: the daemon changes to / before it reads the file, and
 * reads it again on SIGHUP.  PATH itself when it is absolute or on error.
 */
static const char *
absolute(const char *path)
{
	static char buf[4096];
	char cwd[4096];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL ||
	    (size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >=
	    sizeof(buf))
		return path;
	return buf;
}

static void
print_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->lines[i]);
	for (size_t i = 0; i < errs->n_warnings; i++)
		fprintf(stderr, "%s\n", errs->warnings[i]);
}

int
main(int argc, char **argv)
{
	struct daemon_options opt = { .config_path = DEFAULT_CONFIG };
	struct config_errors errs = { 0 };
	bool check = false, query = false, mirrors = false, report = false;
	int ch, status;

	while ((ch = getopt(argc, argv, "c:fp:u:nqmrVh")) != -1) {
		switch (ch) {
		case 'c': opt.config_path = optarg; break;
		case 'f': opt.foreground = true; break;
		case 'p': opt.socket = optarg; break;
		case 'u': opt.user = optarg; break;
		case 'n': check = true; break;
		case 'q': query = true; break;
		case 'm': mirrors = true; break;
		case 'r': report = true; break;
		case 'V':
			printf("nsmilter %s\n", NSMILTER_VERSION);
			return 0;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return EX_USAGE;
		}
	}
	if ((check + query + mirrors + report) > 1 || (query && optind >= argc) ||
	    (!query && optind < argc)) {
		usage();
		return EX_USAGE;
	}
	opt.config_path = absolute(opt.config_path);

	if (check || mirrors || report) {
		struct config *cfg = config_load(opt.config_path, &errs);

		/* warnings too: the configuration is still good (exit 0) */
		print_errors(&errs);
		config_errors_free(&errs);
		if (cfg == NULL)
			return EX_CONFIG;
		if (mirrors || report)
			status = mirrors ? mirror_status_run(cfg, stdout) :
			    report_run(cfg, stdout);
		else	/* the user, socket_group, secrets readable by the user */
			status = service_check(cfg, opt.user, opt.config_path,
			    stderr) == 0 ? 0 : EX_CONFIG;
		config_free(cfg);
		return status;
	}
	if (query) {
		struct runtime *rt = runtime_load(opt.config_path, NULL,
		    &errs);

		if (rt == NULL) {
			if (errs.n == 0)
				fprintf(stderr, "%s: cannot set up the "
				    "directories\n", opt.config_path);
			print_errors(&errs);
			config_errors_free(&errs);
			return EX_CONFIG;
		}
		/* warnings are for -n and the daemon's log, not -q's output */
		config_errors_free(&errs);
		status = query_run(rt, argv + optind, argc - optind, stdin,
		    stdout);
		runtime_release(rt);
		return status;
	}
	return daemon_run(&opt);
}
