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

int
cmd_plan(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
		HOST_LONGOPTS
	};
	struct host_opts o = { 0 };
	struct diags diags = DIAGS_INIT;
	struct project p;
	struct host_run *runs = NULL;
	struct rollout_ctx ctx = { 0 };
	struct run_info ri;
	struct summary sum;
	const struct env *env;
	size_t *hosts = NULL, n = 0, i;
	int ch, rc, detailed = 0, exitcode = 1;

	while ((ch = getopt_long(argc, argv, HOST_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch == 'h')
			return cmd_help(self, options_help);
		if (ch == OPT_DETAILED) {
			detailed = 1;
			continue;
		}
		if ((rc = host_opt(self, &o, ch, optarg)) < 0)
			return 1;
		if (rc == 0)
			return cmd_usage(self, "unknown option");
	}
	if (optind < argc)
		return cmd_usage(self, "unexpected argument '%s'",
		    argv[optind]);
	if (o.verbose)
		log_init(LOG_VERBOSE);
	color_init(1, o.p.no_color || o.json);
	if (project_load(&p, &o.p, &diags) < 0) {
		project_report(&p, &diags);
		goto done;
	}
	if (select_hosts(p.m, &o, &env, &hosts, &n) < 0)
		goto done;
	ssh_global_init();
	runs = runs_prepare(&p, env, hosts, n);
	ctx.app = p.m->app;
	ctx.commit = gitsrc_commit(p.src);
	ctx.ssh = &o.ssh;
	ctx.fetch_old = 1;
	rollout_each(runs, n, env->rollout.parallel, rollout_host, &ctx);

	ri.command = "plan";
	ri.m = p.m;
	ri.env = env;
	ri.commit = gitsrc_commit(p.src);
	ri.subject = gitsrc_subject(p.src);
	show_summarize(&sum, runs, n);
	if (o.json) {
		show_json(stdout, &ri, runs, n);
	} else {
		show_heading(stdout, &ri, n);
		for (i = 0; i < n; i++)
			if (!o.quiet || runs[i].plan.n || runs[i].error)
				show_host(stdout, &runs[i], 1);
		show_summary_line(stdout, &ri, &sum);
	}
	for (i = 0; i < n; i++)
		log_debug("%s: %u exec channel%s, %ld ms", runs[i].host->name,
		    runs[i].execs, runs[i].execs == 1 ? "" : "s", runs[i].ms);
	if (sum.hosts_failed)
		exitcode = 1;
	else if (detailed && (sum.hosts_changed || sum.conflicts))
		exitcode = 2;
	else
		exitcode = 0;
done:
	for (i = 0; runs && i < n; i++)
		host_run_free(&runs[i]);
	free(runs);
	free(hosts);
	free(o.hosts);
	diags_free(&diags);
	project_free(&p);
	return exitcode;
}
