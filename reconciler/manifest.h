/*
 * manifest: deploy/tend.yaml (version 1) read into a validated model.
 *
 * Every value keeps the line and column it came from, so later stages
 * (render, plan) can point at the manifest when something is wrong.
 * manifest_parse() checks everything that can be checked without the
 * repository's files or a particular host: types, required and unknown
 * keys, names, modes, durations, references between sections.  What needs
 * files or per-host variables is checked by render (render_check_all).
 *
 * The manifest owns all its strings and arrays; manifest_free() frees it.
 */
#ifndef TEND_MANIFEST_H
#define TEND_MANIFEST_H

#include <stddef.h>

#include "diag.h"
#include "ydoc.h"

#define MANIFEST_MAX_SIZE (1024 * 1024)

struct pos {
	int line, col;
};

/* A string from the manifest and where it stands. */
struct sval {
	char *s;		/* NULL when absent */
	struct pos pos;
	/* How to map an offset in s to a column: 0 when s is one plain or
	 * quoted line (column = pos.col + quote + offset), -1 otherwise. */
	int exact;
	int quote;
};

struct var {
	char *name;
	struct sval value;
};

struct vars {
	struct var *v;
	size_t n, cap;
};

struct host {
	char *name;
	struct pos pos;
	struct sval address;
	int port;
	char *user;
	char *host_key;			/* NULL: known_hosts decides */
	char **groups;
	size_t ngroups;
	struct vars vars;
};

enum rollback { ROLLBACK_ALL, ROLLBACK_FAILED, ROLLBACK_NONE };

struct rollout {
	int canary;
	int parallel;
	int max_failed;
	enum rollback rollback;
};

struct env {
	char *name;
	struct pos pos;
	size_t *hosts;			/* indices into manifest.hosts, rollout order */
	size_t nhosts;
	struct vars vars;
	struct rollout rollout;
};

enum res_kind {
	RES_DIRECTORY, RES_FILE, RES_SYMLINK, RES_RELEASE, RES_SERVICE,
	RES_COMMAND
};

enum svc_state { SVC_RUNNING, SVC_STOPPED };

struct ref {
	struct sval key;
	size_t res;			/* index of the resource named */
};

struct resource {
	enum res_kind kind;
	struct pos pos;
	struct sval key;		/* path, unit name or command name */
	int absent;			/* state: absent */
	/* directory, file */
	unsigned mode;			/* valid when has_mode */
	int has_mode;
	char *owner, *group;		/* NULL: leave as created */
	/* file */
	struct sval source, content;	/* one of them unless absent */
	int template;
	/* symlink */
	struct sval target;
	/* release */
	struct sval from, build;
	int keep;
	/* service */
	struct sval unit;
	int enabled;
	enum svc_state state;
	/* service restart_on, command on_change */
	struct ref *refs;
	size_t nrefs;
	/* command */
	struct sval run, cwd, unless;
	long timeout_ms;		/* 0: no timeout given */
};

struct health {
	char *name;
	struct pos pos;
	struct sval http, command;	/* exactly one */
	int expect_status;
	long timeout_ms;
	int retries;
	long interval_ms;
};

struct manifest {
	char *file;			/* path as shown in messages */
	char *app;
	struct vars vars;
	struct host *hosts;
	size_t nhosts;
	struct env *envs;
	size_t nenvs;
	struct resource *res;
	size_t nres;
	struct health *health;
	size_t nhealth;
	size_t errors;			/* errors found while parsing */
};

/*
 * Parse and validate manifest text.  file names it in diagnostics.
 * Returns NULL when the text is not a YAML document at all; otherwise the
 * model (free with manifest_free), whose errors field counts the errors
 * added to diags.  A model with errors is complete enough for render to
 * look for more errors, and for nothing else.
 */
struct manifest *manifest_parse(const char *file, const char *data,
    size_t len, struct diags *diags);
void manifest_free(struct manifest *m);

const char *res_kind_name(enum res_kind kind);
/* Whether a kind's key is a path on the host (directory, file, ...). */
int res_kind_is_path(enum res_kind kind);
struct env *manifest_env(const struct manifest *m, const char *name);
struct host *manifest_host(const struct manifest *m, const char *name);

/* Checks shared with render, which applies them to expanded values. */
const char *check_host_path(const char *path);
const char *check_repo_path(const char *path);
int parse_duration(const char *s, long *ms);

#endif
