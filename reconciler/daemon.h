/*
 * daemon: `tend watch`, the loop that keeps environments on their
 * branches.  Each pass fetches the repository into a bare cache, and for
 * each watched environment resolves the branch, plans against the hosts,
 * and applies when a new commit arrived or a host drifted.  Outcomes go to
 * the history database; webhooks wake it early; signals stop or reload it.
 */
#ifndef TEND_DAEMON_H
#define TEND_DAEMON_H

#include "report.h"
#include "ssh.h"

struct watch_target {
	const char *env;		/* NULL: the manifest's only one */
	const char *branch;		/* NULL: the remote's default branch */
};

struct daemon_opts {
	const char *repo;		/* URL or path */
	const char *path;		/* project root inside it, or NULL */
	const char *manifest;		/* relative to the root, or NULL */
	struct watch_target *targets;
	size_t ntargets;
	long interval_ms;		/* between passes (plus jitter) */
	const char *listen;		/* ADDR:PORT, or NULL */
	long loops;			/* stop after this many; 0: never */
	int self_heal;			/* apply to drifted hosts */
	int plan_prs;			/* plan pull request heads */
	const char *state_dir;
	const char *secrets;		/* --secrets DIR, or NULL */
	const char *allowed_signers;	/* --allowed-signers FILE, or NULL */
	struct ssh_opts ssh;
	struct report_opts report;	/* commit statuses */
};

/*
 * Run until SIGTERM/SIGINT (or opts->loops passes).  Returns the exit
 * code: 0 after a clean stop, 1 when it could not start (reason printed).
 */
int daemon_run(const struct daemon_opts *opts);

#endif
