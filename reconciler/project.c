/* project: the repository at a commit and its manifest, loaded once for
 * every command that reads the project. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "render.h"

int
project_load(struct project *p, const struct project_opts *o,
    struct diags *diags)
{
	const struct files *f;
	struct render_ctx rc;
	struct buf text = BUF_INIT;
	const char *why;

	memset(p, 0, sizeof(*p));
	p->manifest_path = o->manifest ? o->manifest : "deploy/tend.yaml";
	if ((why = check_repo_path(p->manifest_path)) != NULL)
		return err_set("--manifest %s %s", p->manifest_path, why);
	if ((p->src = gitsrc_open(o->dir ? o->dir : ".", o->rev,
	    o->worktree)) == NULL)
		return -1;
	f = gitsrc_files(p->src);
	if (f->stat(f->ctx, p->manifest_path) == FT_MISSING)
		return err_set("no manifest at %s in %s%s%s: create it, or "
		    "point at it with --manifest PATH (relative to the project "
		    "root, -C)", p->manifest_path, f->where,
		    o->dir ? " of " : "", o->dir ? o->dir : "");
	if (f->read(f->ctx, p->manifest_path, &text) < 0)
		return -1;
	p->m = manifest_parse(p->manifest_path, buf_str(&text), text.len,
	    diags);
	buf_free(&text);
	if (p->m == NULL)
		return -1;
	/* Render even a faulty model: it finds the remaining errors. */
	rc.files = f;
	rc.commit = gitsrc_commit(p->src);
	if (render_check_all(p->m, &rc, diags) < 0 || p->m->errors)
		return -1;
	return 0;
}

void
project_free(struct project *p)
{
	manifest_free(p->m);
	gitsrc_free(p->src);
	memset(p, 0, sizeof(*p));
}

int
cmd_usage(const struct cmd_entry *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tend %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: tend %s %s\n(see 'tend %s --help')\n",
	    c->name, c->usage, c->name);
	return 1;
}

int
cmd_help(const struct cmd_entry *c, const char *options)
{
	printf("usage: tend %s %s\n\n%s\n\n%s", c->name, c->usage, c->summary,
	    options);
	return 0;
}
