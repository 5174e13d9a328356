/* cmd_apply: `tend apply`, converge the hosts of an environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "log.h"
#include "show.h"

static const char options_help[] =
"options:\n"
HOST_OPTIONS_HELP
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

		printf("  %-16s %-8.7s %-11s %s\n", r->host->name, at,
		    host_state_name(r->state), r->error ? r->error : "");
	}
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Into the history database, as the daemon records its reconciles; a
 * database that cannot be written costs a warning, never the deploy. */
static void
record(const struct host_cmd *hc, int rc, long long start)
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
	free(message);
	free(dir);
}

int
cmd_apply(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = { HOST_LONGOPTS };
	struct host_cmd hc;
	struct summary sum;
	long long start;
	int rc, halted;

	rc = host_cmd_start(&hc, self, argc, argv, longopts, options_help,
	    NULL, NULL);
	if (rc != 0) {
		host_cmd_free(&hc);
		return rc < 0 ? 0 : rc;
	}
	if (!hc.o.json)
		show_heading(stdout, &hc.ri, hc.n);
	hc.ctx.apply = 1;
	if (!hc.o.json && !hc.o.quiet)
		hc.ctx.done = progress;
	start = wall_ms();
	halted = deploy_run(&hc.o.p, hc.env, hc.runs, hc.n, &hc.ctx,
	    hc.o.json ? NULL : stdout);
	record(&hc, halted, start);
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
