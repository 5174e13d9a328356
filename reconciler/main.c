/*
 * main: the command table.  Each subcommand lives in its own cmd_<verb>.c;
 * main finds it, sets up logging, and returns its exit code.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

static const struct cmd_entry commands[] = {
	{ "apply", "[-C DIR] [--rev REV] [-e ENV] [--host NAME]... [--json]",
	    "Converge the hosts of an environment to a commit.", cmd_apply },
	{ "plan", "[-C DIR] [--rev REV] [-e ENV] [--host NAME]... [--json] "
	    "[--detailed-exitcode]",
	    "Show what apply would change on each host.", cmd_plan },
	{ "validate", "[-C DIR] [--rev REV | --worktree] [--manifest PATH]",
	    "Check the manifest at a commit: syntax, types, references, "
	    "variables, files.", cmd_validate },
	{ "watch", "--repo URL|PATH [--path DIR] [-e ENV[@BRANCH]]... "
	    "[--interval DUR] [--listen ADDR:PORT] [--once]",
	    "Keep environments on their branches: deploy, heal, record.",
	    cmd_watch },
	{ "status", "[-e ENV] [--json]",
	    "Show what each environment and host runs, from the history.",
	    cmd_status },
	{ "history", "[-e ENV] [--limit N] [--json]",
	    "Show past reconciles: commit, trigger, outcome, hosts.",
	    cmd_history },
	{ "version", "", "Print the version of tend and its libraries.",
	    cmd_version },
	{ "_git", "", NULL, cmd_git },
};

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: tend COMMAND [OPTIONS]\n\n"
	    "tend keeps hosts running what their git repository says.\n\n"
	    "commands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].summary)
			fprintf(out, "  %-10s %s\n", commands[i].name,
			    commands[i].summary);
	fprintf(out, "\n'tend COMMAND --help' shows a command's options.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	/* The rollout's threads wait on hosts, hardly ever on malloc; an
	 * arena for each would keep each one's peak resident on its own.
	 * MALLOC_ARENA_MAX still has the last word. */
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 1);
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		argv[1] = "version";
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			log_init(LOG_NORMAL);
			return commands[i].exec(&commands[i], argc - 1,
			    argv + 1);
		}
	}
	fprintf(stderr, "tend: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 1;
}
