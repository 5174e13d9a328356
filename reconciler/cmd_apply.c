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
	struct host_opts o = { 0 };
	struct diags diags = DIAGS_INIT;
	struct project p;
	struct host_run *runs = NULL;
	struct rollout_ctx ctx = { 0 };
	struct run_info ri;
	struct summary sum;
	const struct env *env;
	size_t *hosts = NULL, n = 0, i;
	int ch, rc, exitcode = 1;

	while ((ch = getopt_long(argc, argv, HOST_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch == 'h')
			return cmd_help(self, options_help);
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
	ri.command = "apply";
	ri.m = p.m;
	ri.env = env;
	ri.commit = gitsrc_commit(p.src);
	ri.subject = gitsrc_subject(p.src);
	if (!o.json)
		show_heading(stdout, &ri, n);
	ctx.app = p.m->app;
	ctx.commit = ri.commit;
	ctx.ssh = &o.ssh;
	ctx.apply = 1;
	if (!o.json && !o.quiet)
		ctx.done = progress;
	rollout_each(runs, n, env->rollout.parallel, rollout_host, &ctx);

	show_summarize(&sum, runs, n);
	if (o.json) {
		show_json(stdout, &ri, runs, n);
	} else {
		show_summary_line(stdout, &ri, &sum);
		result_table(runs, n, ri.commit);
	}
	for (i = 0; i < n; i++)
		log_debug("%s: %u exec channel%s, %ld ms", runs[i].host->name,
		    runs[i].execs, runs[i].execs == 1 ? "" : "s", runs[i].ms);
	exitcode = sum.hosts_failed ? 1 : 0;
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
