/* cmd_watch: `tend watch`, run the daemon. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "daemon.h"
#include "log.h"

static const char options_help[] =
"options:\n"
"  --repo URL|PATH    repository to follow: a path, file://, ssh://,\n"
"                     user@host:path or https:// (required)\n"
"  --path DIR         project root inside the repository (a monorepo)\n"
"  --manifest PATH    manifest, relative to the project root\n"
"  -e, --env ENV[@BRANCH]\n"
"                     environment to keep on BRANCH (default: the remote's\n"
"                     default branch); repeatable; may be left out when\n"
"                     the manifest has one environment\n"
"  --interval DUR     time between passes (default 60s, plus jitter)\n"
"  --listen ADDR:PORT HTTP listener: webhooks, /healthz, /metrics\n"
"  --no-self-heal     report drift on hosts, do not correct it\n"
"  --status P:REPO    commit statuses: github:OWNER/REPO, gitlab:PROJECT,\n"
"                     gitea:OWNER/REPO, git-notes or none (default: from\n"
"                     the remote URL for github.com and gitlab.com);\n"
"                     the token comes from TEND_STATUS_TOKEN\n"
"  --status-api URL   the forge's API (GitHub Enterprise, GitLab, Gitea)\n"
"  --public-url URL   link shown with each status (target_url)\n"
"  --plan-prs         plan each pull request head against the hosts (never\n"
"                     apply it) and post the plan as tend/ENV/plan\n"
"  --once             one pass, then exit (cron, tests)\n"
"  --loops N          stop after N passes\n"
"  --state-dir DIR    history and repository cache\n"
"                     (default ~/.local/state/tend)\n"
"  --secrets DIR      where ${secret.NAME} is read: the file DIR/NAME,\n"
"                     read again every pass (a changed value is deployed)\n"
"  --allowed-signers F\n"
"                     deploy only commits signed by a key in F (OpenSSH\n"
"                     allowed-signers format, kept outside the repository);\n"
"                     others are held back and get an error status\n"
"  -i, --identity F   SSH private key for hosts and ssh remotes;\n"
"                     else ssh-agent\n"
"  --known-hosts F    known_hosts file (default ~/.ssh/known_hosts)\n"
"  --timeout DUR      SSH connect and inactivity timeout (default 10s)\n"
"  -v, --verbose      more detail in the log\n"
"\nEach pass fetches the repository, and for each environment plans the\n"
"branch head against its hosts and applies it when a new commit arrived\n"
"or a host drifted.  A commit that fails its rollout is not retried: the\n"
"environment stays on its last good commit until a newer one arrives.\n"
"Webhooks need TEND_WEBHOOK_SECRET (or TEND_WEBHOOK_SECRET_FILE).\n"
"SIGTERM and SIGINT finish the hosts in flight and exit 0; SIGHUP\n"
"re-reads the webhook secret file and passes at once.\n"
"\nexit status: 0 after a clean stop, 1 when it cannot start.\n";

enum { W_REPO = 300, W_PATH, W_INTERVAL, W_LISTEN, W_NO_HEAL, W_ONCE,
	W_LOOPS, W_STATUS, W_STATUS_API, W_PUBLIC_URL, W_PLAN_PRS };

int
cmd_watch(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, W_REPO },
		{ "path", required_argument, NULL, W_PATH },
		{ "interval", required_argument, NULL, W_INTERVAL },
		{ "listen", required_argument, NULL, W_LISTEN },
		{ "no-self-heal", no_argument, NULL, W_NO_HEAL },
		{ "once", no_argument, NULL, W_ONCE },
		{ "loops", required_argument, NULL, W_LOOPS },
		{ "status", required_argument, NULL, W_STATUS },
		{ "status-api", required_argument, NULL, W_STATUS_API },
		{ "public-url", required_argument, NULL, W_PUBLIC_URL },
		{ "plan-prs", no_argument, NULL, W_PLAN_PRS },
		HOST_LONGOPTS
	};
	struct daemon_opts o;
	struct host_opts ho;
	char *state = NULL, *end;
	int ch, rc;
	size_t i;

	memset(&o, 0, sizeof(o));
	memset(&ho, 0, sizeof(ho));
	o.interval_ms = 60000;
	o.self_heal = 1;
	while ((ch = getopt_long(argc, argv, HOST_SHORTOPTS, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			free(o.targets);
			return cmd_help(self, options_help);
		case W_REPO:
			o.repo = optarg;
			continue;
		case W_PATH:
			o.path = optarg;
			continue;
		case W_INTERVAL:
			/* 0: pass after pass, for soak tests. */
			if (strcmp(optarg, "0") == 0)
				o.interval_ms = 0;
			else if (parse_duration(optarg, &o.interval_ms) < 0) {
				free(o.targets);
				return cmd_usage(self, "invalid --interval '%s': "
				    "write a duration such as 60s or 5m",
				    optarg);
			}
			continue;
		case W_LISTEN:
			o.listen = optarg;
			continue;
		case W_STATUS:
			o.report.status = optarg;
			continue;
		case W_STATUS_API:
			o.report.api = optarg;
			continue;
		case W_PUBLIC_URL:
			o.report.public_url = optarg;
			continue;
		case W_PLAN_PRS:
			o.plan_prs = 1;
			continue;
		case W_NO_HEAL:
			o.self_heal = 0;
			continue;
		case W_ONCE:
			o.loops = 1;
			continue;
		case W_LOOPS:
			o.loops = strtol(optarg, &end, 10);
			if (*end || o.loops < 1) {
				free(o.targets);
				return cmd_usage(self, "invalid --loops '%s': "
				    "a number of passes, 1 or more", optarg);
			}
			continue;
		case 'e':
			o.targets = xrealloc(o.targets, (o.ntargets + 1) *
			    sizeof(*o.targets));
			o.targets[o.ntargets].env = optarg;
			o.targets[o.ntargets].branch = NULL;
			if ((end = strchr(optarg, '@')) != NULL) {
				*end = '\0';
				o.targets[o.ntargets].branch = end + 1;
			}
			o.ntargets++;
			continue;
		case OPT_REV:
		case OPT_HOST:
		case OPT_JSON:
			free(o.targets);
			return cmd_usage(self, "--rev, --host and --json are "
			    "for plan and apply; watch follows branches");
		}
		if ((rc = host_opt(self, &ho, ch, optarg)) < 0) {
			free(o.targets);
			return 1;
		}
		if (rc == 0) {
			free(o.targets);
			return cmd_usage(self, "unknown option");
		}
	}
	if (optind < argc || o.repo == NULL) {
		free(o.targets);
		return optind < argc ? cmd_usage(self, "unexpected argument "
		    "'%s'", argv[optind]) : cmd_usage(self, "--repo is "
		    "required: the repository to follow");
	}
	for (i = 0; i < o.ntargets; i++)
		if (*o.targets[i].env == '\0' || (o.targets[i].branch &&
		    *o.targets[i].branch == '\0')) {
			free(o.targets);
			return cmd_usage(self, "-e wants ENV or ENV@BRANCH");
		}
	if (ho.p.allowed_signers && access(ho.p.allowed_signers, R_OK) < 0) {
		fprintf(stderr, "tend watch: error: cannot read the allowed "
		    "signers file %s: %s\n", ho.p.allowed_signers,
		    strerror(errno));
		free(o.targets);
		return 1;
	}
	if (ho.p.secrets) {
		struct secrets *s = secrets_open(ho.p.secrets);

		if (s == NULL) {
			fprintf(stderr, "tend watch: error: %s\n", err_msg());
			free(o.targets);
			return 1;
		}
		secrets_free(s);
	}
	if (ho.verbose)
		log_init(LOG_VERBOSE);
	if (ho.quiet)
		log_init(LOG_QUIET);
	o.manifest = ho.p.manifest;
	o.secrets = ho.p.secrets;
	o.allowed_signers = ho.p.allowed_signers;
	o.ssh = ho.ssh;
	o.state_dir = ho.state_dir;
	if (o.state_dir == NULL)
		o.state_dir = state = store_default_dir();
	rc = daemon_run(&o);
	free(state);
	free(o.targets);
	free(ho.hosts);
	return rc;
}
