/*
 * show: what plan and apply print, for people (per host, then a summary
 * line) and for programs (--json, one document, documented in README).
 */
#ifndef TEND_SHOW_H
#define TEND_SHOW_H

#include <stdio.h>

#include "manifest.h"
#include "rollout.h"

struct run_info {
	const char *command;		/* "plan" or "apply" */
	const struct manifest *m;
	const struct env *env;
	const char *commit, *subject;
};

struct summary {
	size_t add, change, remove, drift, conflicts, restarts;
	size_t hosts, hosts_changed, hosts_failed, hosts_rolled_back;
};

void show_summarize(struct summary *s, const struct host_run *runs,
    size_t n);
/* The heading line: tend plan  hello @ 3f2a1c9 "subject"  env ... */
void show_heading(FILE *out, const struct run_info *ri, size_t nhosts);
/* One host: its name, address, and each action (with diffs). */
void show_host(FILE *out, const struct host_run *r, int diffs);
void show_summary_line(FILE *out, const struct run_info *ri,
    const struct summary *s);
void show_json(FILE *out, const struct run_info *ri,
    const struct host_run *runs, size_t n);

#endif
