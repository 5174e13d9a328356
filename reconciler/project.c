/* project: the repository at a commit and its manifest, loaded once for
 * every command that reads the project. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "health.h"
#include "render.h"
#include "signers.h"

/* With --allowed-signers: whether the commit is signed by an allowed
 * signer.  0 when it is, or when it is not but o->unsigned_ok (the reason
 * is kept in p->unsigned_why either way); -1 with err_set otherwise. */
static int
check_signature(struct project *p, const struct project_opts *o)
{
	struct buf sig = BUF_INIT, data = BUF_INIT;
	char *why = NULL;
	int rc;

	if ((rc = gitsrc_signature(p->src, &sig, &data)) < 0)
		goto done;
	if (rc == 0)
		why = xstrdup("it has no signature");
	else if ((rc = signers_check(o->allowed_signers, &sig, &data,
	    &why)) < 0)
		goto done;
	rc = 0;
	if (why) {
		p->unsigned_why = xasprintf("commit %s is not signed by an "
		    "allowed signer: %s", gitsrc_commit_short(p->src), why);
		if (!o->unsigned_ok) {
			p->refused = 1;
			rc = err_set("%s", p->unsigned_why);
		}
	}
done:
	free(why);
	buf_free(&sig);
	buf_free(&data);
	return rc;
}

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
	p->allowed_signers = o->allowed_signers;
	if ((why = check_repo_path(p->manifest_path)) != NULL)
		return err_set("--manifest %s %s", p->manifest_path, why);
	gitsrc_verify_hashes(o->allowed_signers != NULL);
	p->src = o->gitdir ? gitsrc_open_bare(o->gitdir, o->path, o->rev) :
	    gitsrc_open(o->dir ? o->dir : ".", o->rev, o->worktree);
	if (p->src == NULL)
		return -1;
	/* Before anything of the commit is read: a refused commit is
	 * refused whatever it holds. */
	if (o->allowed_signers && !o->worktree && check_signature(p, o) < 0)
		return -1;
	if (o->secrets && (p->secrets = secrets_open(o->secrets)) == NULL)
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
	memset(&rc, 0, sizeof(rc));
	rc.files = f;
	rc.secrets = p->secrets ? secrets_source(p->secrets) : NULL;
	rc.secrets_unchecked = o->secrets_unchecked;
	rc.secrets_used = &p->secrets_used;
	rc.commit = gitsrc_commit(p->src);
	p->cache = xcalloc(1, sizeof(*p->cache));
	rc.cache = p->cache;	/* each blob read once, for every render */
	if (render_check_all(p->m, &rc, diags) < 0 || p->m->errors)
		return -1;
	return 0;
}

void
project_report(const struct project *p, struct diags *diags)
{
	size_t n;

	if (diags->n == 0) {
		fprintf(stderr, "tend: error: %s\n", err_msg());
		if (p->refused)
			fprintf(stderr, "tend: only commits signed by a key in "
			    "%s are deployed: sign it (git commit -S, with "
			    "gpg.format ssh), or add its signer's key there; "
			    "no host was touched\n", p->allowed_signers);
		return;
	}
	n = diags_print(diags, stderr);
	fprintf(stderr, "%s: %zu error%s; no host was touched\n",
	    p->manifest_path, n, n == 1 ? "" : "s");
}

void
project_free(struct project *p)
{
	if (p->cache) {
		blob_cache_free(p->cache);
		free(p->cache);
	}
	manifest_free(p->m);
	gitsrc_free(p->src);
	secrets_free(p->secrets);
	free(p->unsigned_why);
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

int
host_opt(const struct cmd_entry *c, struct host_opts *o, int ch,
    const char *arg)
{
	long ms;

	switch (ch) {
	case 'C':
		o->p.dir = arg;
		return 1;
	case OPT_REV:
		o->p.rev = arg;
		return 1;
	case OPT_MANIFEST:
		o->p.manifest = arg;
		return 1;
	case 'e':
		o->env = arg;
		return 1;
	case OPT_HOST:
		o->hosts = xrealloc(o->hosts, (o->nhosts + 1) *
		    sizeof(*o->hosts));
		o->hosts[o->nhosts++] = arg;
		return 1;
	case 'i':
		o->ssh.identity = arg;
		return 1;
	case OPT_KNOWN_HOSTS:
		o->ssh.known_hosts = arg;
		return 1;
	case OPT_TIMEOUT:
		if (parse_duration(arg, &ms) < 0 || ms <= 0) {
			cmd_usage(c, "invalid --timeout '%s': write a duration "
			    "such as 10s or 500ms", arg);
			return -1;
		}
		o->ssh.timeout_ms = ms;
		return 1;
	case OPT_JSON:
		o->json = 1;
		return 1;
	case OPT_STATE_DIR:
		o->state_dir = arg;
		return 1;
	case OPT_SECRETS:
		o->p.secrets = arg;
		return 1;
	case OPT_ALLOWED_SIGNERS:
		o->p.allowed_signers = arg;
		return 1;
	case 'q':
		o->quiet = 1;
		return 1;
	case 'v':
		o->verbose = 1;
		return 1;
	case OPT_NO_COLOR:
		o->p.no_color = 1;
		return 1;
	default:
		return 0;
	}
}

static void
list_names(struct buf *b, const struct manifest *m, const struct env *e)
{
	size_t i;

	for (i = 0; e ? i < e->nhosts : i < m->nenvs; i++) {
		if (i)
			buf_adds(b, ", ");
		buf_adds(b, e ? m->hosts[e->hosts[i]].name : m->envs[i].name);
	}
}

int
select_hosts(const struct manifest *m, const struct host_opts *o,
    const struct env **env, size_t **hosts, size_t *n)
{
	struct buf names = BUF_INIT;
	const struct env *e;
	size_t i, j;

	*hosts = NULL;
	*n = 0;
	if (o->env == NULL && m->nenvs > 1) {
		list_names(&names, m, NULL);
		fprintf(stderr, "tend: error: the manifest has %zu "
		    "environments (%s): choose one with -e ENV\n", m->nenvs,
		    names.data);
		buf_free(&names);
		return -1;
	}
	e = o->env ? manifest_env(m, o->env) : &m->envs[0];
	if (e == NULL) {
		list_names(&names, m, NULL);
		fprintf(stderr, "tend: error: no environment '%s' in %s "
		    "(there are: %s)\n", o->env, m->file, names.data);
		buf_free(&names);
		return -1;
	}
	*env = e;
	*hosts = xcalloc(e->nhosts, sizeof(**hosts));
	for (i = 0; i < e->nhosts; i++) {
		if (o->nhosts == 0) {
			(*hosts)[(*n)++] = e->hosts[i];
			continue;
		}
		for (j = 0; j < o->nhosts; j++)
			if (strcmp(o->hosts[j], m->hosts[e->hosts[i]].name) == 0)
				break;
		if (j < o->nhosts)
			(*hosts)[(*n)++] = e->hosts[i];
	}
	for (j = 0; j < o->nhosts; j++) {
		for (i = 0; i < e->nhosts; i++)
			if (strcmp(o->hosts[j], m->hosts[e->hosts[i]].name) == 0)
				break;
		if (i == e->nhosts) {
			list_names(&names, m, e);
			fprintf(stderr, "tend: error: host '%s' is not in "
			    "environment %s (its hosts: %s)\n", o->hosts[j],
			    e->name, names.data);
			buf_free(&names);
			free(*hosts);
			*hosts = NULL;
			return -1;
		}
	}
	return 0;
}

struct host_run *
runs_prepare(const struct project *p, const struct env *e,
    const size_t *hosts, size_t n)
{
	struct host_run *runs = xcalloc(n ? n : 1, sizeof(*runs));
	struct diags diags = DIAGS_INIT;
	const struct desired *like = NULL;
	struct render_ctx rc;
	size_t i;

	memset(&rc, 0, sizeof(rc));
	rc.files = gitsrc_files(p->src);
	rc.commit = gitsrc_commit(p->src);
	rc.cache = p->cache;
	rc.secrets = p->secrets ? secrets_source(p->secrets) : NULL;
	for (i = 0; i < n; i++) {
		struct host_run *r = &runs[i];
		const struct host *h = &p->m->hosts[hosts[i]];

		r->host = h;
		r->target.name = h->name;
		r->target.address = h->address.s;
		r->target.port = h->port;
		r->target.user = h->user;
		r->target.host_key = h->host_key;
		/* A host like one before shares its resources' render.
		 * project_load rendered every host already: no errors. */
		if (render_alike(like, e, h) ? render_like(&r->d, like, p->m,
		    h, &rc, &diags) < 0 : render_host(&r->d, p->m, e, h, &rc,
		    &diags) < 0)
			bug("host %s failed to render after validation",
			    h->name);
		if (r->d.like == NULL)
			like = &r->d;
	}
	diags_free(&diags);
	return runs;
}

int
host_cmd_start(struct host_cmd *hc, const struct cmd_entry *self, int argc,
    char **argv, const struct option *longopts, const char *help,
    int (*own_opt)(int ch, void *arg), void *arg)
{
	size_t i;
	int ch, rc;

	memset(hc, 0, sizeof(*hc));
	while ((ch = getopt_long(argc, argv, HOST_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			cmd_help(self, help);
			return -1;
		}
		if (own_opt && own_opt(ch, arg))
			continue;
		if ((rc = host_opt(self, &hc->o, ch, optarg)) < 0)
			return 1;
		if (rc == 0)
			return cmd_usage(self, "unknown option");
	}
	if (optind < argc)
		return cmd_usage(self, "unexpected argument '%s'",
		    argv[optind]);
	if (hc->o.verbose)
		log_init(LOG_VERBOSE);
	color_init(1, hc->o.p.no_color || hc->o.json);
	/* A plan changes nothing: it shows an unsigned commit, and says
	 * that apply would refuse it. */
	hc->o.p.unsigned_ok = strcmp(self->name, "plan") == 0;
	if (project_load(&hc->p, &hc->o.p, &hc->diags) < 0) {
		project_report(&hc->p, &hc->diags);
		return 1;
	}
	if (hc->p.unsigned_why)
		log_warnx("%s; apply and watch refuse it",
		    hc->p.unsigned_why);
	if (select_hosts(hc->p.m, &hc->o, &hc->env, &hc->hosts, &hc->n) < 0)
		return 1;
	ssh_global_init();
	/* libcurl's setup (TLS, trust store: 2 MB) only for http checks. */
	for (i = 0; i < hc->p.m->nhealth; i++)
		if (hc->p.m->health[i].http.s)
			health_global_init();
	hc->runs = runs_prepare(&hc->p, hc->env, hc->hosts, hc->n);
	hc->ri.command = self->name;
	hc->ri.m = hc->p.m;
	hc->ri.env = hc->env;
	hc->ri.commit = gitsrc_commit(hc->p.src);
	hc->ri.subject = gitsrc_subject(hc->p.src);
	hc->ctx.app = hc->p.m->app;
	hc->ctx.commit = hc->ri.commit;
	hc->ctx.files = gitsrc_files_kept(hc->p.src);
	hc->ctx.ssh = &hc->o.ssh;
	return 0;
}

void
host_cmd_log(const struct host_cmd *hc)
{
	size_t i;

	for (i = 0; i < hc->n; i++)
		log_debug("%s: %u exec channel%s, %ld ms",
		    hc->runs[i].host->name, hc->runs[i].execs,
		    hc->runs[i].execs == 1 ? "" : "s", hc->runs[i].ms);
}

void
host_cmd_free(struct host_cmd *hc)
{
	size_t i;

	for (i = 0; hc->runs && i < hc->n; i++)
		host_run_free(&hc->runs[i]);
	free(hc->runs);
	free(hc->hosts);
	free(hc->o.hosts);
	diags_free(&hc->diags);
	project_free(&hc->p);
}
