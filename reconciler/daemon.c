/* daemon: the watch loop, its signals, webhooks and metrics. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "cmd.h"
#include "daemon.h"
#include "health.h"
#include "hooks.h"
#include "httpd.h"
#include "log.h"
#include "store.h"

/* A fetch that takes longer is killed (and retried next pass). */
#define FETCH_TIMEOUT_MS (10L * 60 * 1000)

/* Reconcile durations, seconds: the upper bounds of the histogram. */
static const double buckets[] = { 1, 5, 15, 60, 300 };

/* Outcomes of a pass over one environment, as counted in /metrics. */
static const char *const outcomes[] = { "in_sync", "success", "drift",
	"failed", "superseded", "interrupted", "held_back", "error" };
enum outcome { OUT_IN_SYNC, OUT_SUCCESS, OUT_DRIFT, OUT_FAILED,
	OUT_SUPERSEDED, OUT_INTERRUPTED, OUT_HELD_BACK, OUT_ERROR, OUT_N };

/* Host states, as counted in /metrics and shown by status. */
static const char *const hstates[] = { "in_sync", "drifted", "pending",
	"failed", "unreachable", "locked", "skipped", "rolled_back" };
enum { HS_N = 8 };

/* One watched environment and what the daemon keeps of it in memory. */
struct watch_env {
	char *name;			/* NULL until the manifest names it */
	char *branch;			/* NULL: the remote's default */
	char target[41];		/* commit being deployed, or "" */
	char deployed[41];		/* commit every host ran last pass */
	volatile int cancel;		/* a newer commit: stop between batches */
	/* metrics */
	unsigned long long by_outcome[OUT_N];
	unsigned long long hist[ARRAY_SIZE(buckets) + 1];
	double seconds;
	unsigned long long drift_corrected, apply_errors;
	int hosts[HS_N];
};

struct daemon {
	const struct daemon_opts *o;
	struct store *db;
	char *gitdir;
	char *url;
	char *shown;			/* url without credentials */
	struct httpd *httpd;
	struct reporter *rep;
	char *planned[256];		/* "SHA CONTEXT" of pull request plans */
	size_t nplanned;
	struct watch_env *envs;
	size_t nenvs;
	char *secret;			/* webhook secret */
	pthread_mutex_t mu;		/* what follows, and the metrics */
	pthread_cond_t cv;
	int wake;			/* pass now */
	const char *woken_by;
	int stop;
	unsigned long long fetch_errors, passes;
	long long last_pass_ms;
};


static void reload_secret(struct daemon *d);

/* --------------------------------------------------- signals, webhooks */

static void *
signal_thread(void *arg)
{
	struct daemon *d = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		pthread_mutex_lock(&d->mu);
		if (sig == SIGHUP) {
			reload_secret(d);
			log_info("SIGHUP: webhook secret re-read; passing now");
			d->wake = 1;
			d->woken_by = "reload";
		} else {
			size_t i;

			if (!d->stop)
				log_info("%s: finishing the hosts in flight, "
				    "then stopping", sig == SIGTERM ? "SIGTERM" :
				    "SIGINT");
			d->stop = 1;
			for (i = 0; i < d->nenvs; i++)
				__atomic_store_n(&d->envs[i].cancel,
				    CANCEL_STOPPING, __ATOMIC_SEQ_CST);
		}
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
		if (sig != SIGHUP)
			return NULL;
	}
}

/* A verified push: wake the loop, and when it moves the branch of an
 * environment being deployed, let the newer commit take over. */
static void
on_event(const struct hook_event *ev, void *arg)
{
	struct daemon *d = arg;
	size_t i;

	if (strcmp(ev->kind, "push") != 0 || ev->ref == NULL ||
	    !str_has_prefix(ev->ref, "refs/heads/"))
		return;
	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->nenvs; i++) {
		struct watch_env *e = &d->envs[i];

		if (e->branch && strcmp(e->branch, ev->ref + 11) != 0)
			continue;
		/* Following the default branch, a push elsewhere only wakes
		 * the loop; it never cuts a rollout short. */
		if (e->branch && e->target[0] && *ev->after &&
		    strcmp(e->target, ev->after) != 0) {
			log_info("%s: %.7s arrived while %.7s deploys: it takes "
			    "over once the hosts in flight are done",
			    e->name ? e->name : "-", ev->after, e->target);
			__atomic_store_n(&e->cancel, CANCEL_NEWER,
			    __ATOMIC_SEQ_CST);
		}
	}
	d->wake = 1;
	d->woken_by = "webhook";
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static char *
read_secret(void)
{
	const char *v = getenv("TEND_WEBHOOK_SECRET");
	const char *file = getenv("TEND_WEBHOOK_SECRET_FILE");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f;

	if (file == NULL || *file == '\0')
		return v && *v ? xstrdup(v) : NULL;
	if ((f = fopen(file, "r")) == NULL) {
		log_warn("TEND_WEBHOOK_SECRET_FILE %s", file);
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] ==
	    '\r'))
		b.data[--b.len] = '\0';
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* SIGHUP: the listener takes the secret as it is now in the file. */
static void
reload_secret(struct daemon *d)
{
	char *s = read_secret();

	if (d->httpd)
		httpd_set_secret(d->httpd, s);
	free(s);
}

/* ------------------------------------------------------------- metrics */

static void
metric_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics(struct buf *b, void *arg)
{
	struct daemon *d = arg;
	size_t i, j;

	pthread_mutex_lock(&d->mu);
	metric_head(b, "tend_reconciles_total", "counter",
	    "Passes over an environment, by outcome.");
	for (i = 0; i < d->nenvs; i++)
		for (j = 0; j < OUT_N; j++)
			if (d->envs[i].name)
				buf_addf(b, "tend_reconciles_total{env=\"%s\","
				    "outcome=\"%s\"} %llu\n", d->envs[i].name,
				    outcomes[j], d->envs[i].by_outcome[j]);
	metric_head(b, "tend_reconcile_duration_seconds", "histogram",
	    "Time a pass over an environment took.");
	for (i = 0; i < d->nenvs; i++) {
		const struct watch_env *e = &d->envs[i];
		unsigned long long cum = 0, total = 0;

		if (e->name == NULL)
			continue;
		for (j = 0; j <= ARRAY_SIZE(buckets); j++)
			total += e->hist[j];
		for (j = 0; j < ARRAY_SIZE(buckets); j++) {
			cum += e->hist[j];
			buf_addf(b, "tend_reconcile_duration_seconds_bucket{"
			    "env=\"%s\",le=\"%g\"} %llu\n", e->name, buckets[j],
			    cum);
		}
		buf_addf(b, "tend_reconcile_duration_seconds_bucket{env=\"%s\","
		    "le=\"+Inf\"} %llu\n", e->name, total);
		buf_addf(b, "tend_reconcile_duration_seconds_sum{env=\"%s\"} "
		    "%.3f\n", e->name, e->seconds);
		buf_addf(b, "tend_reconcile_duration_seconds_count{env=\"%s\"} "
		    "%llu\n", e->name, total);
	}
	metric_head(b, "tend_hosts", "gauge",
	    "Hosts of an environment by state, as of the last pass.");
	for (i = 0; i < d->nenvs; i++)
		for (j = 0; j < HS_N; j++)
			if (d->envs[i].name)
				buf_addf(b, "tend_hosts{env=\"%s\",state=\"%s\"} "
				    "%d\n", d->envs[i].name, hstates[j],
				    d->envs[i].hosts[j]);
	metric_head(b, "tend_drift_corrected_total", "counter",
	    "Hosts brought back from drift.");
	for (i = 0; i < d->nenvs; i++)
		if (d->envs[i].name)
			buf_addf(b, "tend_drift_corrected_total{env=\"%s\"} "
			    "%llu\n", d->envs[i].name,
			    d->envs[i].drift_corrected);
	metric_head(b, "tend_apply_errors_total", "counter",
	    "Hosts that failed to converge.");
	for (i = 0; i < d->nenvs; i++)
		if (d->envs[i].name)
			buf_addf(b, "tend_apply_errors_total{env=\"%s\"} %llu\n",
			    d->envs[i].name, d->envs[i].apply_errors);
	metric_head(b, "tend_fetch_errors_total", "counter",
	    "Fetches of the repository that failed.");
	buf_addf(b, "tend_fetch_errors_total %llu\n", d->fetch_errors);
	metric_head(b, "tend_deployed_commit_info", "gauge",
	    "The commit every host of an environment ran at the last pass.");
	for (i = 0; i < d->nenvs; i++)
		if (d->envs[i].name && d->envs[i].deployed[0])
			buf_addf(b, "tend_deployed_commit_info{env=\"%s\","
			    "commit=\"%s\"} 1\n", d->envs[i].name,
			    d->envs[i].deployed);
	report_metrics(d->rep, b);
	metric_head(b, "tend_passes_total", "counter", "Passes of the loop.");
	buf_addf(b, "tend_passes_total %llu\n", d->passes);
	metric_head(b, "tend_last_pass_timestamp_seconds", "gauge",
	    "When the last pass ended (Unix time).");
	buf_addf(b, "tend_last_pass_timestamp_seconds %.3f\n",
	    d->last_pass_ms / 1000.0);
	pthread_mutex_unlock(&d->mu);
}

/* ------------------------------------------------------------ one pass */

/* What a pass over an environment found and did. */
struct pass {
	struct watch_env *we;
	const char *woken_by;
	long long start_ms;
	struct store_env st;		/* remembered state */
	char head[41];
	char target[41];		/* head, or the last good commit */
	int at_head;			/* target is the head */
	struct project p;
	struct diags diags;
	const struct env *env;
	size_t *hosts, nhosts;
	struct host_run *runs;
	enum outcome out;
	int plan_only;			/* a pull request head: never applied */
	const char *trigger;
	char *message;
	int drift_found, drift_corrected;
};

static void
pass_free_runs(struct pass *ps)
{
	size_t i;

	for (i = 0; ps->runs && i < ps->nhosts; i++)
		host_run_free(&ps->runs[i]);
	free(ps->runs);
	ps->runs = NULL;
}

static void
pass_free(struct pass *ps)
{
	pass_free_runs(ps);
	free(ps->hosts);
	ps->hosts = NULL;
	diags_free(&ps->diags);
	project_free(&ps->p);
	store_env_free(&ps->st);
	free(ps->message);
}

static void
set_message(struct pass *ps, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
set_message(struct pass *ps, const char *fmt, ...)
{
	va_list ap;

	free(ps->message);
	va_start(ap, fmt);
	ps->message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* The first diagnostic as one line ("deploy/tend.yaml:12:5: unknown key
 * 'mdoe'"), else the one error message. */
static char *
load_error(const struct diags *dg)
{
	const struct diag *g;

	if (dg->n == 0)
		return xstrdup(err_msg());
	g = &dg->v[0];
	return xasprintf("%s:%d:%d: %s%s", g->file, g->line, g->col, g->msg,
	    dg->n > 1 ? " (and more: tend validate)" : "");
}

/* Record the pass: the hosts' latest state always, a history entry when
 * it did something or found something new, the metrics. */
static void
pass_record(struct daemon *d, struct pass *ps, int history)
{
	struct store_host *hs = deploy_hosts(ps->runs, ps->runs ? ps->nhosts :
	    0, ps->target);
	long dur = (long)(wall_ms() - ps->start_ms);
	struct watch_env *we = ps->we;
	const char *name = we->name ? we->name : "-";
	size_t i, j;
	int counts[HS_N];

	memset(counts, 0, sizeof(counts));
	for (i = 0; ps->runs && i < ps->nhosts; i++) {
		/* Applied in this pass is in sync now. */
		const char *state = strcmp(hs[i].state, "applied") == 0 ?
		    "in_sync" : hs[i].state;

		for (j = 0; j < HS_N; j++)
			if (strcmp(hstates[j], state) == 0)
				counts[j]++;
	}
	if (d->db && history) {
		struct store_reconcile rc = {
			name, ps->p.m ? ps->p.m->app : NULL,
			ps->target[0] ? ps->target : NULL, ps->trigger, ps->woken_by, ps->start_ms, dur,
			outcomes[ps->out], ps->message, ps->drift_found,
			ps->drift_corrected, hs, ps->runs ? ps->nhosts : 0
		};

		if (store_add_reconcile(d->db, &rc) < 0)
			log_warnx("history: %s", err_msg());
	} else if (d->db && ps->runs && store_put_hosts(d->db, name, hs,
	    ps->nhosts, ps->start_ms + dur) < 0) {
		log_warnx("history: %s", err_msg());
	}
	free(hs);
	pthread_mutex_lock(&d->mu);
	we->by_outcome[ps->out]++;
	for (j = 0; j < ARRAY_SIZE(buckets) && dur / 1000.0 > buckets[j]; j++)
		;
	we->hist[j]++;
	we->seconds += dur / 1000.0;
	we->drift_corrected += (unsigned long long)ps->drift_corrected;
	if (ps->runs)
		memcpy(we->hosts, counts, sizeof(counts));
	if (ps->runs && counts[0] == (int)ps->nhosts &&
	    ps->target[0])
		snprintf(we->deployed, sizeof(we->deployed), "%s", ps->target);
	for (i = 0; ps->runs && i < ps->nhosts; i++)
		if (ps->runs[i].state == HOST_FAILED && ps->runs[i].touched)
			we->apply_errors++;
	pthread_mutex_unlock(&d->mu);
}

/* Remember the environment's state; a history entry for an error only
 * when it differs from the last pass's, so a host down for a day is one
 * entry, not one a minute. */
static void
pass_finish(struct daemon *d, struct pass *ps, int history)
{
	const char *msg = ps->message ? ps->message : "";
	int same = ps->st.outcome && strcmp(ps->st.outcome,
	    outcomes[ps->out]) == 0 && ps->st.message &&
	    strcmp(ps->st.message, msg) == 0;

	if (ps->out == OUT_ERROR || ps->out == OUT_DRIFT ||
	    ps->out == OUT_HELD_BACK)
		history = !same;
	if (ps->out == OUT_ERROR && !same)
		log_warnx("%s: %s", ps->we->name ? ps->we->name : "-", msg);
	pass_record(d, ps, history);
	free(ps->st.outcome);
	ps->st.outcome = xstrdup(outcomes[ps->out]);
	free(ps->st.message);
	ps->st.message = xstrdup(msg);
	ps->st.checked_ms = wall_ms();
	free(ps->st.head);
	ps->st.head = ps->head[0] ? xstrdup(ps->head) : NULL;
	if (d->db && ps->st.env && store_put_env(d->db, &ps->st) < 0)
		log_warnx("history: %s", err_msg());
}

static int
load_target(struct daemon *d, struct pass *ps)
{
	struct project_opts po;
	struct store_commit c;
	struct host_opts ho;

	memset(&po, 0, sizeof(po));
	po.gitdir = d->gitdir;
	po.path = d->o->path;
	po.manifest = d->o->manifest;
	po.rev = ps->target;
	po.secrets = d->o->secrets;
	po.allowed_signers = d->o->allowed_signers;
	po.unsigned_ok = ps->plan_only;
	project_free(&ps->p);
	diags_free(&ps->diags);
	if (project_load(&ps->p, &po, &ps->diags) < 0)
		return -1;
	c.id = gitsrc_commit(ps->p.src);
	c.subject = gitsrc_subject(ps->p.src);
	c.author = gitsrc_author(ps->p.src);
	c.time = gitsrc_time(ps->p.src);
	if (d->db && store_put_commit(d->db, &c) < 0)
		log_warnx("history: %s", err_msg());
	if (ps->we->name == NULL) {
		if (ps->p.m->nenvs != 1) {
			err_set("the manifest has %zu environments: tell tend "
			    "watch which to follow with -e ENV[@BRANCH]",
			    ps->p.m->nenvs);
			return -1;
		}
		pthread_mutex_lock(&d->mu);
		ps->we->name = xstrdup(ps->p.m->envs[0].name);
		pthread_mutex_unlock(&d->mu);
	}
	memset(&ho, 0, sizeof(ho));
	ho.env = ps->we->name;
	free(ps->hosts);
	ps->hosts = NULL;
	if ((ps->env = manifest_env(ps->p.m, ps->we->name)) == NULL)
		return err_set("no environment '%s' in %s at %.7s",
		    ps->we->name, ps->p.manifest_path, ps->target);
	return select_hosts(ps->p.m, &ho, &ps->env, &ps->hosts, &ps->nhosts) <
	    0 ? err_set("cannot select hosts") : 0;
}

static void
ctx_init(struct daemon *d, struct pass *ps, struct rollout_ctx *ctx,
    int apply)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->app = ps->p.m->app;
	ctx->commit = gitsrc_commit(ps->p.src);
	ctx->files = gitsrc_files_kept(ps->p.src);
	ctx->ssh = &d->o->ssh;
	ctx->apply = apply;
	ctx->cancel = &ps->we->cancel;
}

/* Plan every host; say whether a deploy (a host not at the target) or
 * a heal (drift on a host at the target) is due. */
static void
plan_hosts(struct daemon *d, struct pass *ps, int *deploy, int *drift)
{
	struct rollout_ctx ctx;
	size_t i;

	ctx_init(d, ps, &ctx, 0);
	ps->runs = runs_prepare(&ps->p, ps->env, ps->hosts, ps->nhosts);
	rollout_each(ps->runs, ps->nhosts, ps->env->rollout.parallel,
	    rollout_host, &ctx);
	*deploy = *drift = 0;
	for (i = 0; i < ps->nhosts; i++) {
		const struct host_run *r = &ps->runs[i];
		const char *at = r->o.rec ? r->o.rec->commit : NULL;
		int changes = plan_has_changes(&r->plan) ||
		    r->plan.record_stale;

		if (r->state != HOST_PLANNED)
			continue;
		if (at == NULL || strcmp(at, ps->target) != 0)
			*deploy = *deploy || changes || at == NULL;
		else if (changes)
			(*drift)++;
	}
}

/*
 * Post the commit status of the head, and the same final state to the
 * commits whose rollout a newer one cut short ("Superseded by ..."), so
 * no check waits forever.
 */
static void
post_status(struct daemon *d, struct pass *ps, enum status_state st,
    const char *desc)
{
	char *context = xasprintf("tend/%s", ps->we->name);
	char **shas = NULL, *sdesc;
	size_t i, n = 0;

	report_status(d->rep, ps->head, context, st, desc);
	if (st != ST_PENDING && d->db && store_pending_statuses(d->db,
	    context, ps->head, &shas, &n) == 0) {
		sdesc = xasprintf("Superseded by %.7s: %s", ps->head, desc);
		for (i = 0; i < n; i++)
			report_status(d->rep, shas[i], context, st, sdesc);
		free(sdesc);
	}
	for (i = 0; i < n; i++)
		free(shas[i]);
	free(shas);
	free(context);
}

/* Apply the target to the hosts and judge the outcome. */
static void
deploy(struct daemon *d, struct pass *ps, int drift)
{
	struct project_opts po;
	struct rollout_ctx ctx;
	struct summary sum;
	size_t i, fault = 0;
	const char *judged;
	int rc;

	pass_free_runs(ps);
	memset(&po, 0, sizeof(po));
	po.gitdir = d->gitdir;
	po.path = d->o->path;
	po.manifest = d->o->manifest;
	po.secrets = d->o->secrets;
	po.allowed_signers = d->o->allowed_signers;
	ctx_init(d, ps, &ctx, 1);
	ps->runs = runs_prepare(&ps->p, ps->env, ps->hosts, ps->nhosts);
	pthread_mutex_lock(&d->mu);
	snprintf(ps->we->target, sizeof(ps->we->target), "%s", ps->target);
	pthread_mutex_unlock(&d->mu);
	log_info("%s: %s %.7s \"%s\" to %zu host%s (%s)", ps->we->name,
	    drift ? "healing" : "deploying", ps->target,
	    gitsrc_subject(ps->p.src), ps->nhosts, ps->nhosts == 1 ? "" : "s",
	    ps->trigger);
	if (ps->at_head && !drift) {
		char *desc = xasprintf("Deploying to %zu host%s", ps->nhosts,
		    ps->nhosts == 1 ? "" : "s");

		post_status(d, ps, ST_PENDING, desc);
		free(desc);
	}
	rc = deploy_run(&po, ps->env, ps->runs, ps->nhosts, &ctx, NULL);
	pthread_mutex_lock(&d->mu);
	ps->we->target[0] = '\0';
	pthread_mutex_unlock(&d->mu);
	show_summarize(&sum, ps->runs, ps->nhosts);
	for (i = 0; i < ps->nhosts; i++) {
		const struct host_run *r = &ps->runs[i];

		fault += r->commit_fault;
		log_info("%s: %s: %s%s%s", ps->we->name, r->host->name,
		    host_state_name(r->state), r->error ? ": " : "",
		    r->error ? r->error : "");
	}
	free(ps->message);
	judged = deploy_judge(ps->runs, ps->nhosts, rc,
	    (double)(wall_ms() - ps->start_ms) / 1000.0, ps->env, &ps->message);
	for (i = 0; i < OUT_N; i++)
		if (strcmp(outcomes[i], judged) == 0)
			ps->out = (enum outcome)i;
	if (ps->out == OUT_IN_SYNC)
		ps->out = OUT_SUCCESS;	/* record_stale or checks only */
	if (ps->out == OUT_SUPERSEDED && ps->we->cancel == CANCEL_STOPPING) {
		ps->out = OUT_INTERRUPTED;
		set_message(ps, "Stopped after %zu/%zu host%s: tend was asked "
		    "to stop", sum.hosts_changed, ps->nhosts,
		    ps->nhosts == 1 ? "" : "s");
	}
	if (ps->out == OUT_SUCCESS && drift) {
		ps->drift_corrected = (int)sum.hosts_changed;
		set_message(ps, "Healed drift on %zu of %zu host%s in %.1fs",
		    sum.hosts_changed, ps->nhosts, ps->nhosts == 1 ? "" : "s",
		    (double)(wall_ms() - ps->start_ms) / 1000.0);
	}
	if (ps->out == OUT_SUCCESS) {
		free(ps->st.good);
		ps->st.good = xstrdup(ps->target);
		if (ps->st.failed && ps->at_head) {
			free(ps->st.failed);
			ps->st.failed = NULL;
		}
	}
	/* Hold the commit back only when it is at fault: a host that is
	 * down is retried, not blamed on the commit. */
	if (rc == 1 && fault && ps->at_head) {
		free(ps->st.failed);
		ps->st.failed = xstrdup(ps->head);
		free(ps->st.failed_why);
		ps->st.failed_why = xstrdup(ps->message);
	}
	log_info("%s: %.7s %s: %s", ps->we->name, ps->target,
	    outcomes[ps->out], ps->message);
	if (ps->at_head && (ps->out == OUT_SUCCESS || ps->out == OUT_FAILED ||
	    ps->out == OUT_ERROR))
		post_status(d, ps, ps->out == OUT_SUCCESS ? ST_SUCCESS :
		    ps->out == OUT_FAILED ? ST_FAILURE : ST_ERROR, ps->message);
}

/* What the history remembers of the environment, and where it is
 * followed from now. */
static void
env_state(struct daemon *d, struct pass *ps)
{
	if (d->db && store_get_env(d->db, ps->we->name, &ps->st) < 0)
		log_warnx("history: %s", err_msg());
	if (ps->st.env == NULL)
		ps->st.env = xstrdup(ps->we->name);
	free(ps->st.repo);
	ps->st.repo = xstrdup(d->shown);
	free(ps->st.branch);
	ps->st.branch = xstrdup(ps->we->branch ? ps->we->branch :
	    "the default branch");
}

/* One environment: resolve, load, plan, and apply when due. */
static void
reconcile_env(struct daemon *d, struct watch_env *we, const char *woken_by,
    int fetched)
{
	struct pass ps;
	char *why;
	int due, drift, hosts_bad = 0;
	size_t i;
	const char *branch = we->branch ? we->branch : NULL;

	memset(&ps, 0, sizeof(ps));
	ps.we = we;
	ps.woken_by = woken_by;
	ps.start_ms = wall_ms();
	ps.trigger = "check";
	pthread_mutex_lock(&d->mu);
	if (!d->stop)
		__atomic_store_n(&we->cancel, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&d->mu);
	if (we->name)
		env_state(d, &ps);
	if (!fetched) {
		ps.out = OUT_ERROR;
		set_message(&ps, "%s", err_msg());
		goto finish;
	}
	if (gitsrc_branch_head(d->gitdir, branch, ps.head) < 0) {
		ps.out = OUT_ERROR;
		set_message(&ps, "%s at %s", err_msg(), d->shown);
		goto finish;
	}
	snprintf(ps.target, sizeof(ps.target), "%s", ps.head);
	ps.at_head = 1;
again:
	if (ps.st.failed && strcmp(ps.st.failed, ps.head) == 0 && ps.at_head) {
		if (ps.st.good == NULL) {
			ps.out = OUT_HELD_BACK;
			set_message(&ps, "%.7s failed and there is no earlier "
			    "good commit: push a fix or a revert",
			    ps.head);
			goto finish;
		}
		snprintf(ps.target, sizeof(ps.target), "%s", ps.st.good);
		ps.at_head = 0;
	}
	if (load_target(d, &ps) < 0) {
		why = load_error(&ps.diags);
		ps.out = OUT_ERROR;
		ps.trigger = "new commit";
		set_message(&ps, "%s", why);
		free(why);
		/* An invalid commit will not become valid, nor will an
		 * unsigned one become signed: hold it back and keep the
		 * hosts on the last good one.  (Only such a commit: a cache
		 * that cannot be read is retried.) */
		if (ps.at_head && ps.we->name && (ps.diags.n || ps.p.refused))
			post_status(d, &ps, ST_ERROR, ps.message);
		if (ps.at_head && ps.we->name && (ps.diags.n || ps.p.refused)) {
			free(ps.st.failed);
			ps.st.failed = xstrdup(ps.head);
			free(ps.st.failed_why);
			ps.st.failed_why = xstrdup(ps.message);
		}
		goto finish;
	}
	if (ps.st.env == NULL) {	/* named by the manifest just now */
		env_state(d, &ps);
		if (ps.st.failed && strcmp(ps.st.failed, ps.head) == 0)
			goto again;
	}
	plan_hosts(d, &ps, &due, &drift);
	for (i = 0; i < ps.nhosts; i++)
		hosts_bad += ps.runs[i].state != HOST_PLANNED;
	ps.drift_found = drift;
	if (due || (drift && d->o->self_heal)) {
		ps.trigger = due ? (ps.at_head ? "new commit" :
		    "back to last good") : "drift";
		deploy(d, &ps, !due);
		pass_finish(d, &ps, 1);
		pass_free(&ps);
		return;
	}
	if (drift) {
		ps.out = OUT_DRIFT;
		ps.trigger = "drift";
		set_message(&ps, "Drift on %d host%s, not healed "
		    "(--no-self-heal)", drift, drift == 1 ? "" : "s");
		for (i = 0; i < ps.nhosts; i++)
			if (!strcmp(deploy_host_state(&ps.runs[i], ps.target),
			    "drifted"))
				log_info("%s: %s drifted from %.7s (%zu change%s)",
				    we->name, ps.runs[i].host->name, ps.target,
				    ps.runs[i].plan.n, ps.runs[i].plan.n == 1 ?
				    "" : "s");
	} else if (hosts_bad) {
		free(ps.message);
		deploy_judge(ps.runs, ps.nhosts, 0, 0, ps.env, &ps.message);
		ps.out = OUT_ERROR;
	} else {
		ps.out = ps.at_head ? OUT_IN_SYNC : OUT_HELD_BACK;
		if (ps.at_head) {
			set_message(&ps, "No changes: %zu/%zu hosts in sync",
			    ps.nhosts, ps.nhosts);
			post_status(d, &ps, ST_SUCCESS, ps.message);
		}
		else
			set_message(&ps, "%.7s is held back (%s); hosts stay "
			    "on %.7s until a newer commit", ps.head,
			    ps.st.failed_why ? ps.st.failed_why : "failed",
			    ps.target);
	}
finish:
	pass_finish(d, &ps, 0);
	pass_free(&ps);
}

/* ------------------------------------------------ plans on pull requests */

/* Plans made per pass at most, so a repository with hundreds of open
 * pull requests does not hold the loop up; the rest wait a pass. */
#define MAX_PULL_PLANS 10

/* "Plan: 1 to add, 2 to change, 1 restart on 2 of 3 hosts". */
static char *
plan_summary(const struct pass *ps, int *failed)
{
	struct summary sum;
	struct buf b = BUF_INIT;
	size_t i;

	show_summarize(&sum, ps->runs, ps->nhosts);
	*failed = (int)sum.hosts_failed;
	if (sum.add + sum.change + sum.remove + sum.restarts == 0) {
		buf_addf(&b, "No changes: %zu/%zu host%s in sync",
		    sum.hosts - sum.hosts_failed, sum.hosts,
		    sum.hosts == 1 ? "" : "s");
	} else {
		buf_adds(&b, "Plan: ");
		if (sum.add)
			buf_addf(&b, "%zu to add, ", sum.add);
		if (sum.change)
			buf_addf(&b, "%zu to change, ", sum.change);
		if (sum.remove)
			buf_addf(&b, "%zu to remove, ", sum.remove);
		if (sum.restarts)
			buf_addf(&b, "%zu restart%s, ", sum.restarts,
			    sum.restarts == 1 ? "" : "s");
		b.len -= 2;
		b.data[b.len] = '\0';
		buf_addf(&b, " on %zu of %zu host%s", sum.hosts_changed,
		    sum.hosts, sum.hosts == 1 ? "" : "s");
	}
	for (i = 0; i < ps->nhosts; i++)
		if (ps->runs[i].state == HOST_FAILED)
			buf_addf(&b, "; %s %s", ps->runs[i].host->name,
			    ps->runs[i].unreachable ? "unreachable" :
			    "not planned");
	return buf_detach(&b, NULL);
}

/* Plan one pull request head against the live hosts; never apply. */
static void
plan_pull(struct daemon *d, struct watch_env *we, const struct pull_head *h,
    const char *context)
{
	struct pass ps;
	enum status_state st;
	int due, drift, failed;
	char *msg;

	memset(&ps, 0, sizeof(ps));
	ps.we = we;
	ps.start_ms = wall_ms();
	ps.plan_only = 1;
	snprintf(ps.target, sizeof(ps.target), "%s", h->sha);
	snprintf(ps.head, sizeof(ps.head), "%s", h->sha);
	if (load_target(d, &ps) < 0) {
		msg = load_error(&ps.diags);
		st = ST_FAILURE;
	} else {
		plan_hosts(d, &ps, &due, &drift);
		msg = plan_summary(&ps, &failed);
		st = failed ? ST_ERROR : ST_SUCCESS;
	}
	log_info("%s: plan of %s (%.7s): %s", we->name, h->ref, h->sha, msg);
	report_status(d->rep, h->sha, context, st, msg);
	free(msg);
	pass_free(&ps);
}

static void
plan_pulls(struct daemon *d)
{
	struct pull_head *heads;
	size_t n, i, j, made = 0;

	if (gitsrc_pull_heads(d->gitdir, &heads, &n) < 0) {
		log_warnx("pull requests: %s", err_msg());
		return;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < d->nenvs && !d->stop; j++) {
			struct watch_env *we = &d->envs[j];
			char *context, *key, *last = NULL;
			size_t k;

			if (we->name == NULL)
				continue;
			context = xasprintf("tend/%s/plan", we->name);
			key = xasprintf("%s %s", heads[i].sha, context);
			for (k = 0; k < d->nplanned; k++)
				if (strcmp(d->planned[k], key) == 0)
					break;
			/* Planned this run, or posted before a restart. */
			if (k < d->nplanned || (d->db && store_status_get(d->db,
			    heads[i].sha, context, &last) == 1) ||
			    made >= MAX_PULL_PLANS) {
				free(last);
				free(context);
				free(key);
				continue;
			}
			made++;
			plan_pull(d, we, &heads[i], context);
			if (d->nplanned == ARRAY_SIZE(d->planned)) {
				free(d->planned[0]);
				memmove(d->planned, d->planned + 1,
				    (d->nplanned - 1) * sizeof(*d->planned));
				d->nplanned--;
			}
			d->planned[d->nplanned++] = key;
			free(context);
		}
		free(heads[i].ref);
	}
	free(heads);
}

/* ---------------------------------------------------------- the loop */

static long
next_wait(const struct daemon *d, int failures)
{
	long base = d->o->interval_ms, w = base;

	if (failures > 0) {
		long cap = base > 300000 ? base : 300000;
		int k = failures > 8 ? 8 : failures - 1;

		w = (base > 1000 ? base : 1000) << k;
		if (w > cap)
			w = cap;
	}
	/* Jitter of up to a tenth, so daemons sharing a remote spread out. */
	if (w >= 10)
		w += (long)(random() % (w / 10 + 1));
	return w;
}

/* Sleep ms or until woken (webhook, signal).  Returns what woke it. */
static const char *
wait_for(struct daemon *d, long ms)
{
	struct timespec ts;
	const char *why = "interval";

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while (!d->wake && !d->stop)
		if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
			break;
	if (d->wake)
		why = d->woken_by;
	d->wake = 0;
	pthread_mutex_unlock(&d->mu);
	return why;
}

/* Fetch in a child (child.c says why), killed if it hangs. */
static int
fetch(struct daemon *d)
{
	const char *argv[] = { "_git", "fetch", d->gitdir, d->url,
		d->o->ssh.identity ? d->o->ssh.identity : "-",
		d->o->ssh.known_hosts ? d->o->ssh.known_hosts : "-",
		d->o->plan_prs ? "pulls" : "-", NULL };

	const char *m, *at;
	struct buf b = BUF_INIT;

	if (child_run(argv, FETCH_TIMEOUT_MS, &d->stop) == 0)
		return 0;
	/* The child names the URL as given: not its credentials. */
	for (m = err_msg(); (at = strstr(m, d->url)) != NULL;
	    m = at + strlen(d->url)) {
		buf_add(&b, m, (size_t)(at - m));
		buf_adds(&b, d->shown);
	}
	buf_adds(&b, m);
	err_set("%s", buf_str(&b));
	buf_free(&b);
	return -1;
}

static int
lock_state(const char *dir, int *fd)
{
	char *path = xasprintf("%s/watch.lock", dir);
	char pid[32];
	int n;

	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		err_set("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)read(*fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		err_set("another tend watch (pid %s) uses the state directory "
		    "%s: stop it, or give this one its own --state-dir",
		    *pid ? pid : "?", dir);
		free(path);
		close(*fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) < 0 || write(*fd, pid, (size_t)n) != n)
		log_warn("%s", path);
	free(path);
	return 0;
}

static char *
cache_dir(const char *state, const char *url)
{
	char h[65];

	sha256_hex(url, strlen(url), h);
	return xasprintf("%s/repos/%.16s.git", state, h);
}

/* The repository and the commit status reporter: what the options say,
 * checked before anything starts. */
static int
daemon_prepare(struct daemon *d, const struct daemon_opts *o)
{
	struct report_opts ro = o->report;
	char real[4096];

	d->o = o;
	/* A local path is made absolute: the cache remembers it. */
	d->url = strstr(o->repo, "://") == NULL && strchr(o->repo, ':') ==
	    NULL && realpath(o->repo, real) ? xstrdup(real) : xstrdup(o->repo);
	d->shown = url_redact(d->url);
	d->gitdir = cache_dir(o->state_dir, d->url);
	ro.state_dir = o->state_dir;
	ro.gitdir = d->gitdir;
	ro.push_url = d->url;
	ro.ssh = &o->ssh;
	if ((d->rep = report_open(&ro, d->url)) == NULL)
		return -1;
	log_info("commit statuses: %s", report_describe(d->rep));
	return 0;
}

static int
daemon_start(struct daemon *d, const struct daemon_opts *o)
{
	size_t i;

	d->nenvs = o->ntargets ? o->ntargets : 1;
	d->envs = xcalloc(d->nenvs, sizeof(*d->envs));
	for (i = 0; i < o->ntargets; i++) {
		d->envs[i].name = xstrdup(o->targets[i].env);
		d->envs[i].branch = o->targets[i].branch ?
		    xstrdup(o->targets[i].branch) : NULL;
	}
	d->secret = read_secret();

	if (o->listen) {
		struct httpd_handlers h;

		if (d->secret == NULL)
			log_warnx("TEND_WEBHOOK_SECRET is not set: webhooks "
			    "will be refused (401); passes run every %lds",
			    o->interval_ms / 1000);
		h.secret = d->secret;
		h.on_event = on_event;
		h.metrics = metrics;
		h.arg = d;
		if ((d->httpd = httpd_start(o->listen, &h)) == NULL)
			return -1;
		log_info("listening on %s (POST /hooks/github, /hooks/gitlab, "
		    "/hooks/gitea; GET /healthz, /metrics)", o->listen);
	}
	return 0;
}

static void
daemon_free(struct daemon *d)
{
	size_t i;

	httpd_stop(d->httpd);
	if (d->rep && report_flush(d->rep, 10000) < 0)
		log_warnx("commit statuses still queued after 10s");
	report_close(d->rep);
	store_close(d->db);
	for (i = 0; i < d->nenvs; i++) {
		free(d->envs[i].name);
		free(d->envs[i].branch);
	}
	free(d->envs);
	for (i = 0; i < d->nplanned; i++)
		free(d->planned[i]);
	free(d->gitdir);
	free(d->url);
	free(d->shown);
	free(d->secret);
}

int
daemon_run(const struct daemon_opts *o)
{
	struct daemon d;
	pthread_t sigth;
	sigset_t set;
	const char *woken_by = "start";
	long loops = 0;
	int failures = 0, lockfd = -1, rc = 1, fetched;
	size_t i;

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	/* Signals go to one thread, which turns them into flags. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	ssh_global_init();
	health_global_init();
	if ((d.db = store_open(o->state_dir)) == NULL ||
	    daemon_prepare(&d, o) < 0 || lock_state(o->state_dir, &lockfd) < 0 ||
	    daemon_start(&d, o) < 0) {
		fprintf(stderr, "tend watch: error: %s\n", err_msg());
		goto out;
	}
	if (pthread_create(&sigth, NULL, signal_thread, &d) != 0)
		fatalx("cannot start the signal thread");
	log_info("watching %s%s%s every %lds (state in %s)", d.shown,
	    o->path ? " path " : "", o->path ? o->path : "",
	    o->interval_ms / 1000, o->state_dir);
	for (;;) {
		int errors = 0;

		fetched = fetch(&d) == 0;
		if (!fetched) {
			pthread_mutex_lock(&d.mu);
			d.fetch_errors++;
			pthread_mutex_unlock(&d.mu);
			errors++;
		}
		for (i = 0; i < d.nenvs && !d.stop; i++) {
			unsigned long long before =
			    d.envs[i].by_outcome[OUT_ERROR] +
			    d.envs[i].by_outcome[OUT_FAILED];

			reconcile_env(&d, &d.envs[i], woken_by, fetched);
			errors += d.envs[i].by_outcome[OUT_ERROR] +
			    d.envs[i].by_outcome[OUT_FAILED] != before;
		}
		if (o->plan_prs && fetched && !d.stop)
			plan_pulls(&d);
		pthread_mutex_lock(&d.mu);
		d.passes++;
		d.last_pass_ms = wall_ms();
		pthread_mutex_unlock(&d.mu);
		failures = errors ? failures + 1 : 0;
		if (d.stop || (o->loops && ++loops >= o->loops))
			break;
		woken_by = wait_for(&d, next_wait(&d, failures));
		if (d.stop)
			break;
	}
	rc = 0;
	log_info("stopped");
	pthread_mutex_lock(&d.mu);
	d.stop = 1;
	pthread_mutex_unlock(&d.mu);
	pthread_kill(sigth, SIGTERM);
	pthread_join(sigth, NULL);
out:
	daemon_free(&d);
	if (lockfd >= 0)
		close(lockfd);
	pthread_cond_destroy(&d.cv);
	pthread_mutex_destroy(&d.mu);
	return rc;
}
