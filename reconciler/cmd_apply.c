/* cmd_apply: `tend apply`, converge the hosts of an environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "health.h"
#include "log.h"
#include "report.h"
#include "show.h"

static const char options_help[] =
"options:\n"
HOST_OPTIONS_HELP
"  --status P:REPO    post the outcome as a commit status: github:OWNER/REPO,\n"
"                     gitlab:PROJECT, gitea:OWNER/REPO, git-notes or none\n"
"                     (default none; token in TEND_STATUS_TOKEN)\n"
"  --status-api URL   the forge's API (GitHub Enterprise, GitLab, Gitea)\n"
"  --public-url URL   link shown with the status (target_url)\n"
"\nHosts are deployed as the environment's rollout says (canary, parallel,\n"
"max_failed); when it halts, the hosts it changed return to their last\n"
"good commit (rollback: all, failed or none).\n"
"\nexit status: 0 when every host converged; 1 when any failed or the\n"
"rollout halted, also when the rollback succeeded.\n";

static void
progress(const struct host_run *r, void *arg)
{
	(void)arg;
	show_host(stdout, r, 0);
	fflush(stdout);
}

static void
result_table(const struct host_run *runs, size_t n, const char *commit)
{
	size_t i;

	printf("\nResult:\n");
	for (i = 0; i < n; i++) {
		const struct host_run *r = &runs[i];
		const char *at = r->rolled_back_to ? r->rolled_back_to :
		    r->running ? r->running : r->touched ? commit :
		    r->o.rec && r->o.rec->commit ? r->o.rec->commit : "-";
		char *error = str_oneline(r->error ? r->error : "");

		printf("  %-16s %-8.7s %-11s %s\n", r->host->name, at,
		    host_state_name(r->state), error);
		free(error);
	}
}


/* Into the history database, as the daemon records its reconciles; a
 * database that cannot be written costs a warning, never the deploy.
 * Returns the one-line outcome (caller frees). */
static char *
record(const struct host_cmd *hc, int rc, long long start,
    const char **outcome)
{
	char *dir = hc->o.state_dir ? xstrdup(hc->o.state_dir) :
	    store_default_dir();
	struct store_reconcile r;
	struct store_commit c;
	struct store_host *hs;
	struct store *s;
	char *message;

	memset(&r, 0, sizeof(r));
	r.env = hc->env->name;
	r.app = hc->p.m->app;
	r.commit = hc->ri.commit;
	r.trigger = "manual";
	r.woken_by = "tend apply";
	r.started_ms = start;
	r.duration_ms = (long)(wall_ms() - start);
	r.outcome = deploy_judge(hc->runs, hc->n, rc, r.duration_ms / 1000.0,
	    hc->env, &message);
	*outcome = r.outcome;
	r.message = message;
	hs = deploy_hosts(hc->runs, hc->n, hc->ri.commit);
	r.hosts = hs;
	r.nhosts = hc->n;
	c.id = hc->ri.commit;
	c.subject = hc->ri.subject;
	c.author = gitsrc_author(hc->p.src);
	c.time = gitsrc_time(hc->p.src);
	if ((s = store_open(dir)) == NULL || store_put_commit(s, &c) < 0 ||
	    store_add_reconcile(s, &r) < 0)
		log_warnx("not recorded in the history: %s", err_msg());
	store_close(s);
	free(hs);
	free(dir);
	return message;
}

enum { A_STATUS = 500, A_STATUS_API, A_PUBLIC_URL };

static int
apply_opt(int ch, void *arg)
{
	struct report_opts *ro = arg;

	switch (ch) {
	case A_STATUS:
		ro->status = optarg;
		return 1;
	case A_STATUS_API:
		ro->api = optarg;
		return 1;
	case A_PUBLIC_URL:
		ro->public_url = optarg;
		return 1;
	}
	return 0;
}

/* A reporter for --status: the repository's origin names the forge and
 * receives git notes.  NULL when statuses are off. */
static struct reporter *
open_reporter(const struct host_cmd *hc, struct report_opts *ro, char **dir)
{
	char *url = gitsrc_remote_url(hc->p.src, "origin");
	struct reporter *r;

	health_global_init();	/* the reporter's thread uses libcurl */
	*dir = hc->o.state_dir ? xstrdup(hc->o.state_dir) : store_default_dir();
	ro->state_dir = *dir;
	ro->gitdir = gitsrc_gitdir(hc->p.src);
	ro->push_url = url;
	ro->ssh = &hc->o.ssh;
	r = report_open(ro, url);
	free(url);
	return r;
}

int
cmd_apply(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, A_STATUS },
		{ "status-api", required_argument, NULL, A_STATUS_API },
		{ "public-url", required_argument, NULL, A_PUBLIC_URL },
		HOST_LONGOPTS
	};
	struct report_opts ro;
	struct reporter *rep = NULL;
	char *context = NULL, *desc = NULL, *dir = NULL;
	struct host_cmd hc;
	struct summary sum;
	const char *outcome;
	long long start;
	int rc, halted;

	memset(&ro, 0, sizeof(ro));
	rc = host_cmd_start(&hc, self, argc, argv, longopts, options_help,
	    apply_opt, &ro);
	if (rc != 0) {
		host_cmd_free(&hc);
		return rc < 0 ? 0 : rc;
	}
	if (ro.status && (rep = open_reporter(&hc, &ro, &dir)) == NULL) {
		fprintf(stderr, "tend apply: error: %s\n", err_msg());
		free(dir);
		host_cmd_free(&hc);
		return 1;
	}
	if (rep) {
		context = xasprintf("tend/%s", hc.env->name);
		desc = xasprintf("Deploying to %zu host%s", hc.n,
		    hc.n == 1 ? "" : "s");
		report_status(rep, hc.ri.commit, context, ST_PENDING, desc);
		free(desc);
	}
	if (!hc.o.json)
		show_heading(stdout, &hc.ri, hc.n);
	hc.ctx.apply = 1;
	if (!hc.o.json && !hc.o.quiet)
		hc.ctx.done = progress;
	start = wall_ms();
	halted = deploy_run(&hc.o.p, hc.env, hc.runs, hc.n, &hc.ctx,
	    hc.o.json ? NULL : stdout);
	desc = record(&hc, halted, start, &outcome);
	if (rep) {
		report_status(rep, hc.ri.commit, context,
		    !strcmp(outcome, "success") || !strcmp(outcome, "in_sync") ?
		    ST_SUCCESS : !strcmp(outcome, "failed") ? ST_FAILURE :
		    ST_ERROR, desc);
		/* The deploy is done; the status gets a little time. */
		if (report_flush(rep, 30000) < 0) {
			char *e = report_last_error(rep);

			log_warnx("the commit status was not posted in 30s%s%s",
			    e ? ": " : "", e ? e : "");
			free(e);
		}
		report_close(rep);
	}
	free(desc);
	free(context);
	free(dir);
	show_summarize(&sum, hc.runs, hc.n);
	if (hc.o.json) {
		show_json(stdout, &hc.ri, hc.runs, hc.n);
	} else {
		show_summary_line(stdout, &hc.ri, &sum);
		result_table(hc.runs, hc.n, hc.ri.commit);
	}
	host_cmd_log(&hc);
	host_cmd_free(&hc);
	return sum.hosts_failed || sum.hosts_rolled_back || halted ? 1 : 0;
}
