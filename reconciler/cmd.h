/*
 * cmd: the subcommand table and what the cmd_*.c files share: option
 * parsing for the common options and loading the project at a commit.
 */
#ifndef TEND_CMD_H
#define TEND_CMD_H

#include "diag.h"
#include "gitsrc.h"
#include "manifest.h"

struct cmd_entry {
	const char *name;
	const char *usage;		/* arguments, after "tend NAME" */
	const char *summary;		/* one line for `tend --help` */
	int (*exec)(const struct cmd_entry *self, int argc, char **argv);
};

/* Options every command that reads the project understands. */
struct project_opts {
	const char *dir;		/* -C; default "." */
	const char *rev;		/* --rev; default HEAD */
	const char *manifest;		/* --manifest; default deploy/tend.yaml */
	int worktree;			/* --worktree (validate only) */
	int no_color;
};

/* A loaded project: the files at a commit and the parsed manifest. */
struct project {
	struct gitsrc *src;
	struct manifest *m;
	const char *manifest_path;	/* borrowed from the options */
};

/*
 * Open the repository, read and validate the manifest, and render every
 * environment and host to find every error.  Returns 0; or -1 with either
 * diagnostics in diags or a single message in err_msg() (no repository,
 * bad revision, no manifest).  Free with project_free either way.
 */
int project_load(struct project *p, const struct project_opts *o,
    struct diags *diags);
void project_free(struct project *p);

/* Print "tend NAME: message" and the usage line to stderr; returns 1. */
int cmd_usage(const struct cmd_entry *c, const char *fmt, ...)
    PRINTF_LIKE(2, 3);
/* Print the usage line and option help to stdout; returns 0. */
int cmd_help(const struct cmd_entry *c, const char *options);

/* cmd_validate.c */
int cmd_validate(const struct cmd_entry *self, int argc, char **argv);
/* cmd_version.c */
int cmd_version(const struct cmd_entry *self, int argc, char **argv);

#endif
