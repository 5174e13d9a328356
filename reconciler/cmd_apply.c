/* cmd_apply: `tend apply`, converge the hosts of an environment. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "log.h"
#include "show.h"

static const char options_help[] =
"options:\n"
HOST_OPTIONS_HELP
"\nexit status: 0 when every host converged, 1 when any failed.\n";

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
		const char *at = r->state == HOST_APPLIED ||
		    r->state == HOST_IN_SYNC ? commit : NULL;

		printf("  %-16s %-8.7s %-8s %s\n", r->host->name,
		    at ? at : (r->o.rec && r->o.rec->commit ?
		    r->o.rec->commit : "-"), host_state_name(r->state),
		    r->error ? r->error : "");
	}
}

int
cmd_apply(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = { HOST_LONGOPTS };
	struct host_cmd hc;
	struct summary sum;
	int rc;

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
	rollout_each(hc.runs, hc.n, hc.env->rollout.parallel, rollout_host,
	    &hc.ctx);
	show_summarize(&sum, hc.runs, hc.n);
	if (hc.o.json) {
		show_json(stdout, &hc.ri, hc.runs, hc.n);
	} else {
		show_summary_line(stdout, &hc.ri, &sum);
		result_table(hc.runs, hc.n, hc.ri.commit);
	}
	host_cmd_log(&hc);
	host_cmd_free(&hc);
	return sum.hosts_failed ? 1 : 0;
}
