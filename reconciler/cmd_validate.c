/* cmd_validate: `tend validate`, check a manifest without touching hosts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "log.h"

static const char options_help[] =
"options:\n"
"  -C DIR           project root (default: the current directory)\n"
"  --rev REV        commit to read: branch, tag or commit id (default HEAD)\n"
"  --worktree       read the files in the work tree instead of a commit\n"
"  --manifest PATH  manifest, relative to the project root\n"
"                   (default deploy/tend.yaml)\n"
"  --secrets DIR    check that each ${secret.NAME} is a file in DIR\n"
"                   (without it, only the names are checked)\n"
"  -q, --quiet      print only errors\n"
"  --no-color       no colour in the output\n";

int
cmd_validate(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rev", required_argument, NULL, OPT_REV },
		{ "worktree", no_argument, NULL, OPT_WORKTREE },
		{ "manifest", required_argument, NULL, OPT_MANIFEST },
		{ "secrets", required_argument, NULL, OPT_SECRETS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct project_opts o = { 0 };
	struct diags diags = DIAGS_INIT;
	struct project p;
	int ch, quiet = 0, rc;

	while ((ch = getopt_long(argc, argv, "C:qvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			o.dir = optarg;
			break;
		case OPT_REV:
			o.rev = optarg;
			break;
		case OPT_WORKTREE:
			o.worktree = 1;
			break;
		case OPT_MANIFEST:
			o.manifest = optarg;
			break;
		case OPT_SECRETS:
			o.secrets = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			break;
		case OPT_NO_COLOR:
			o.no_color = 1;
			break;
		case 'h':
			return cmd_help(self, options_help);
		default:
			return cmd_usage(self, "unknown option");
		}
	}
	if (optind < argc)
		return cmd_usage(self, "unexpected argument '%s'",
		    argv[optind]);
	if (o.rev && o.worktree)
		return cmd_usage(self, "--rev and --worktree exclude each "
		    "other");

	/* Pre-commit hooks and CI have no secrets: without --secrets
	 * only the names of secrets are checked. */
	o.secrets_unchecked = o.secrets == NULL;
	rc = project_load(&p, &o, &diags);
	if (rc == 0) {
		if (!quiet)
			printf("%s: OK (app %s, %zu environment%s, %zu host%s, "
			    "%zu resource%s)\n", p.manifest_path, p.m->app,
			    p.m->nenvs, p.m->nenvs == 1 ? "" : "s",
			    p.m->nhosts, p.m->nhosts == 1 ? "" : "s",
			    p.m->nres, p.m->nres == 1 ? "" : "s");
		if (!quiet && p.secrets_used && o.secrets == NULL)
			fprintf(stderr, "note: the secrets it uses were not "
			    "looked for: pass --secrets DIR to check that "
			    "each exists\n");
	} else {
		project_report(&p, &diags);
	}
	diags_free(&diags);
	project_free(&p);
	return rc == 0 ? 0 : 1;
}
