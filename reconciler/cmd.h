/*
 * cmd: the subcommand table and what the cmd_*.c files share: option
 * parsing for the common options and loading the project at a commit.
 */
#ifndef TEND_CMD_H
#define TEND_CMD_H

#include <getopt.h>
#include <stdio.h>

#include "diag.h"
#include "gitsrc.h"
#include "manifest.h"
#include "rollout.h"
#include "show.h"
#include "ssh.h"
#include "store.h"

struct cmd_entry {
	const char *name;
	const char *usage;		/* arguments, after "tend NAME" */
	const char *summary;		/* one line for `tend --help`;
					 * NULL: not listed */
	int (*exec)(const struct cmd_entry *self, int argc, char **argv);
};

/* Options every command that reads the project understands. */
struct project_opts {
	const char *dir;		/* -C; default "." */
	const char *rev;		/* --rev; default HEAD */
	const char *manifest;		/* --manifest; default deploy/tend.yaml */
	int worktree;			/* --worktree (validate only) */
	int no_color;
	/* The daemon reads a bare cache instead: gitdir, root at path. */
	const char *gitdir;
	const char *path;
	const char *secrets;		/* --secrets DIR, or NULL */
	int secrets_unchecked;		/* no --secrets: check names only */
	const char *allowed_signers;	/* --allowed-signers FILE, or NULL */
	int unsigned_ok;		/* plan: an unsigned commit is noted,
					 * not refused */
};

/* Options of the commands that reach hosts (plan, apply). */
struct host_opts {
	struct project_opts p;
	const char *env;		/* -e; NULL: the only environment */
	const char **hosts;		/* --host, repeatable */
	size_t nhosts;
	struct ssh_opts ssh;
	int json;
	int quiet;
	int verbose;
	const char *state_dir;		/* --state-dir; NULL: the default */
};

enum {
	OPT_REV = 256, OPT_WORKTREE, OPT_MANIFEST, OPT_NO_COLOR,
	OPT_KNOWN_HOSTS, OPT_TIMEOUT, OPT_HOST, OPT_JSON, OPT_DETAILED,
	OPT_STATE_DIR, OPT_SECRETS, OPT_ALLOWED_SIGNERS
};

/* getopt_long entries every host command takes; end a list with them. */
#define HOST_LONGOPTS \
	{ "rev", required_argument, NULL, OPT_REV }, \
	{ "manifest", required_argument, NULL, OPT_MANIFEST }, \
	{ "env", required_argument, NULL, 'e' }, \
	{ "host", required_argument, NULL, OPT_HOST }, \
	{ "identity", required_argument, NULL, 'i' }, \
	{ "known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR }, \
	{ "secrets", required_argument, NULL, OPT_SECRETS }, \
	{ "allowed-signers", required_argument, NULL, OPT_ALLOWED_SIGNERS }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "no-color", no_argument, NULL, OPT_NO_COLOR }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ NULL, 0, NULL, 0 }
#define HOST_SHORTOPTS "C:e:i:qvh"
#define HOST_OPTIONS_HELP \
"  -C DIR             project root (default: the current directory)\n" \
"  --rev REV          commit to deploy (default HEAD)\n" \
"  --manifest PATH    manifest, relative to the project root\n" \
"  -e, --env ENV      environment (needed when there are several)\n" \
"  --host NAME        only this host of the environment (repeatable)\n" \
"  -i, --identity F   SSH private key (ed25519 or ECDSA); else ssh-agent\n" \
"  --known-hosts F    known_hosts file (default ~/.ssh/known_hosts)\n" \
"  --timeout DUR      connect and inactivity timeout (default 10s)\n" \
"  --json             one JSON document on stdout\n" \
"  --state-dir DIR    history database (default ~/.local/state/tend)\n" \
"  --secrets DIR      where ${secret.NAME} is read: the file DIR/NAME\n" \
"  --allowed-signers F\n" \
"                     deploy only commits signed by a key in F (OpenSSH\n" \
"                     allowed-signers format, kept outside the repository)\n" \
"  -q, --quiet        print less\n" \
"  -v, --verbose      log, per host, exec channels used and time taken\n" \
"  --no-color         no colour (also when NO_COLOR is set)\n"

/*
 * Handle one option of HOST_LONGOPTS.  Returns 1 when handled, 0 when
 * it is not a host option, -1 after printing a usage error.
 */
int host_opt(const struct cmd_entry *c, struct host_opts *o, int ch,
    const char *arg);

/* A loaded project: the files at a commit and the parsed manifest. */
struct project {
	struct gitsrc *src;
	struct manifest *m;
	struct blob_cache *cache;	/* contents the hosts' runs share */
	const char *manifest_path;	/* borrowed from the options */
	struct secrets *secrets;	/* --secrets, or NULL */
	int secrets_used;		/* the manifest uses a secret */
	const char *allowed_signers;	/* borrowed from the options */
	/* With --allowed-signers: why the commit is not signed by an
	 * allowed signer ("commit 5e6f7a8 is not signed by an allowed
	 * signer: it has no signature"), or NULL when it is. */
	char *unsigned_why;
	int refused;			/* ... and project_load refused it */
};

/*
 * Open the repository, check the commit's signature (with
 * --allowed-signers), read and validate the manifest, and render every
 * environment and host to find every error.  Returns 0; or -1 with either
 * diagnostics in diags or a single message in err_msg() (no repository,
 * bad revision, no manifest, a commit refused: then p->refused is set).
 * Free with project_free either way.
 */
int project_load(struct project *p, const struct project_opts *o,
    struct diags *diags);
void project_free(struct project *p);
/* Print why project_load failed: every diagnostic and a count, or the
 * one message. */
void project_report(const struct project *p, struct diags *diags);

/* Print "tend NAME: message" and the usage line to stderr; returns 1. */
int cmd_usage(const struct cmd_entry *c, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
/* Print the usage line and option help to stdout; returns 0. */
int cmd_help(const struct cmd_entry *c, const char *options);

/*
 * The environment and hosts a run covers (indices into m->hosts, in
 * rollout order), from -e and --host.  -1 after printing why not.
 */
int select_hosts(const struct manifest *m, const struct host_opts *o,
    const struct env **env, size_t **hosts, size_t *n);

/*
 * One host_run per selected host, each rendered for env e, with its SSH
 * target set.  Free each with host_run_free, then the array.
 */
struct host_run *runs_prepare(const struct project *p, const struct env *e,
    const size_t *hosts, size_t n);

/* A command that reaches hosts (plan, apply), from options to runs. */
struct host_cmd {
	struct host_opts o;
	struct diags diags;
	struct project p;
	const struct env *env;
	size_t *hosts, n;
	struct host_run *runs;
	struct run_info ri;
	struct rollout_ctx ctx;
};

/*
 * Parse argv with longopts (HOST_LONGOPTS and the command's own, whose
 * values own_opt handles; it returns 1 when it took the option), load and
 * validate the project, pick the environment and hosts, render them.
 * Returns 0; else the exit code (after printing why), with nothing to
 * free but host_cmd_free.  -h prints help and returns -1 meaning "exit 0".
 */
int host_cmd_start(struct host_cmd *hc, const struct cmd_entry *self,
    int argc, char **argv, const struct option *longopts,
    const char *help, int (*own_opt)(int ch, void *arg), void *arg);
/* Log per host what -v promises: exec channels and time. */
void host_cmd_log(const struct host_cmd *hc);
void host_cmd_free(struct host_cmd *hc);

/*
 * One rollout of a commit to the runs of an environment, and when it
 * halts, the rollback its policy asks for: each touched host (or each
 * failed one) converged back to its own last good commit, loaded with po.
 * Progress lines go to out (NULL: none).  Returns 1 when the rollout
 * halted, 2 when ctx->cancel stopped it between batches, else 0.
 */
int deploy_run(const struct project_opts *po, const struct env *env,
    struct host_run *runs, size_t n, struct rollout_ctx *ctx, FILE *out);

/* The state of a host after a run, as history and status name it:
 * in_sync, applied, drifted, pending, failed, unreachable, locked,
 * skipped, rolled_back. */
const char *deploy_host_state(const struct host_run *r, const char *target);
/* The runs as history rows (strings borrowed from runs; free the array). */
struct store_host *deploy_hosts(const struct host_run *runs, size_t n,
    const char *target);

/*
 * Judge a deploy_run (its return code rc, seconds taken): "success",
 * "in_sync", "failed" (a host failed applying or checking the commit),
 * "error" (hosts failed otherwise: unreachable, locked) or "superseded";
 * *message gets one line for people (caller frees): "Deployed to 3/3
 * hosts in 4.2s", "web2: health check 'web' failed; rolled back to ...".
 */
const char *deploy_judge(const struct host_run *runs, size_t n, int rc,
    double seconds, const struct env *env, char **message);

/* cmd_apply.c */
int cmd_apply(const struct cmd_entry *self, int argc, char **argv);
/* cmd_git.c */
int cmd_git(const struct cmd_entry *self, int argc, char **argv);
/* cmd_plan.c */
int cmd_plan(const struct cmd_entry *self, int argc, char **argv);
/* cmd_status.c */
int cmd_status(const struct cmd_entry *self, int argc, char **argv);
int cmd_history(const struct cmd_entry *self, int argc, char **argv);
/* cmd_watch.c */
int cmd_watch(const struct cmd_entry *self, int argc, char **argv);
/* cmd_validate.c */
int cmd_validate(const struct cmd_entry *self, int argc, char **argv);
/* cmd_version.c */
int cmd_version(const struct cmd_entry *self, int argc, char **argv);

#endif
