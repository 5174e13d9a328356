/* cmd_plan: `tend plan`, what apply would change on each host. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "log.h"
#include "show.h"

static const char options_help[] =
"options:\n"
HOST_OPTIONS_HELP
"  --detailed-exitcode  exit 2 when there are changes, 0 when none\n"
"\nexit status: 0 planned (1 if any host could not be probed);\n"
"with --detailed-exitcode, 2 when any host has changes.\n";

static int
plan_opt(int ch, void *arg)
{
	if (ch != OPT_DETAILED)
		return 0;
	*(int *)arg = 1;
	return 1;
}

int
cmd_plan(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
		HOST_LONGOPTS
	};
	struct host_cmd hc;
	struct summary sum;
	size_t i;
	int rc, detailed = 0;

	rc = host_cmd_start(&hc, self, argc, argv, longopts, options_help,
	    plan_opt, &detailed);
	if (rc != 0) {
		host_cmd_free(&hc);
		return rc < 0 ? 0 : rc;
	}
	hc.ctx.fetch_old = 1;
	rollout_each(hc.runs, hc.n, hc.env->rollout.parallel, rollout_host,
	    &hc.ctx);
	show_summarize(&sum, hc.runs, hc.n);
	if (hc.o.json) {
		show_json(stdout, &hc.ri, hc.runs, hc.n);
	} else {
		show_heading(stdout, &hc.ri, hc.n);
		for (i = 0; i < hc.n; i++)
			if (!hc.o.quiet || hc.runs[i].plan.n ||
			    hc.runs[i].error)
				show_host(stdout, &hc.runs[i], 1);
		show_summary_line(stdout, &hc.ri, &sum);
	}
	host_cmd_log(&hc);
	host_cmd_free(&hc);
	if (sum.hosts_failed)
		return 1;
	if (detailed && (sum.hosts_changed || sum.conflicts))
		return 2;
	return 0;
}
