/* cmd_apply: `tend apply`, converge the hosts of an environment. */
#include <stdio.h>
#include <stdlib.h>

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

/* Return one touched host to the last commit that passed there: that
 * commit's manifest, rendered for the host, applied like any other. */
static void
rollback_host(struct host_cmd *hc, struct host_run *r)
{
	const char *good = r->o.rec ? r->o.rec->last_good : NULL;
	struct project_opts po = hc->o.p;
	struct diags diags = DIAGS_INIT;
	struct project gp;
	struct host_run *rb = NULL;
	struct rollout_ctx ctx;
	const struct host *h;
	const struct env *e;
	size_t idx;
	char *why = NULL;

	if (good == NULL) {
		why = xstrdup("no earlier good commit to roll back to");
		goto done;
	}
	po.rev = good;
	if (project_load(&gp, &po, &diags) < 0) {
		why = xasprintf("commit %.7s cannot be loaded: %s", good,
		    diags.n ? diags.v[0].msg : err_msg());
		project_free(&gp);
		goto done;
	}
	h = manifest_host(gp.m, r->host->name);
	e = manifest_env(gp.m, hc->env->name);
	if (h == NULL || e == NULL) {
		why = xasprintf("host %s or environment %s is not in commit "
		    "%.7s", r->host->name, hc->env->name, good);
		project_free(&gp);
		goto done;
	}
	idx = (size_t)(h - gp.m->hosts);
	rb = runs_prepare(&gp, e, &idx, 1);
	ctx = hc->ctx;
	ctx.commit = gitsrc_commit(gp.src);
	ctx.files = gitsrc_files(gp.src);
	ctx.apply = 1;
	ctx.done = NULL;
	rollout_host(rb, &ctx);
	if (rb->state == HOST_APPLIED || rb->state == HOST_IN_SYNC) {
		r->state = HOST_ROLLED_BACK;
		r->rolled_back_to = xstrdup(good);
		if (!hc->o.json)
			printf("%s: rolled back to %.7s\n", r->host->name, good);
	} else {
		why = xasprintf("rollback to %.7s failed: %s", good,
		    rb->error ? rb->error : "unknown");
	}
	host_run_free(rb);
	free(rb);
	project_free(&gp);
done:
	if (why) {
		char *e2 = xasprintf("%s; %s", r->error ? r->error : "failed",
		    why);

		free(r->error);
		r->error = e2;
		free(why);
	}
	diags_free(&diags);
}

static void
rollback(struct host_cmd *hc)
{
	enum rollback policy = hc->env->rollout.rollback;
	size_t i;

	if (policy == ROLLBACK_NONE)
		return;
	for (i = 0; i < hc->n; i++) {
		struct host_run *r = &hc->runs[i];

		if (!r->touched)
			continue;
		if (policy == ROLLBACK_FAILED && r->state != HOST_FAILED)
			continue;
		rollback_host(hc, r);
	}
}

int
cmd_apply(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = { HOST_LONGOPTS };
	struct host_cmd hc;
	struct summary sum;
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
	halted = rollout_run(hc.runs, hc.n, &hc.env->rollout, &hc.ctx);
	if (halted) {
		if (!hc.o.json)
			printf("\nRollout halted: more than %d host%s failed.\n",
			    hc.env->rollout.max_failed,
			    hc.env->rollout.max_failed == 1 ? "" : "s");
		rollback(&hc);
	}
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
