/* rollout: worker threads over the hosts of a run. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "rollout.h"

struct pool {
	struct host_run *runs;
	size_t n, next;
	void (*fn)(struct host_run *, void *);
	void *arg;
	pthread_mutex_t mu;
};

static void *
worker(void *p)
{
	struct pool *pool = p;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&pool->mu);
		i = pool->next++;
		pthread_mutex_unlock(&pool->mu);
		if (i >= pool->n) {
			err_clear();
			return NULL;
		}
		pool->fn(&pool->runs[i], pool->arg);
	}
}

void
rollout_each(struct host_run *runs, size_t n, int parallel,
    void (*fn)(struct host_run *, void *), void *arg)
{
	struct pool pool = { runs, n, 0, fn, arg, PTHREAD_MUTEX_INITIALIZER };
	pthread_t *th;
	size_t i, nth = parallel < 1 ? 1 : (size_t)parallel;

	if (nth > n)
		nth = n;
	if (nth <= 1) {
		worker(&pool);
		return;
	}
	th = xcalloc(nth, sizeof(*th));
	for (i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, worker, &pool) != 0)
			fatalx("cannot start a thread");
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	free(th);
}

int
rollout_run(struct host_run *runs, size_t n, const struct rollout *policy,
    struct rollout_ctx *ctx)
{
	size_t done = 0, failed = 0, batch, i;
	int cancelled = 0;

	while (done < n) {
		if (ctx->cancel && (cancelled = __atomic_load_n(ctx->cancel,
		    __ATOMIC_SEQ_CST)) != 0)
			break;
		/* The canary hosts go first, on their own. */
		batch = done == 0 && policy->canary > 0 ?
		    (size_t)policy->canary : (size_t)policy->parallel;
		if (batch > n - done)
			batch = n - done;
		rollout_each(runs + done, batch, policy->parallel, rollout_host,
		    ctx);
		for (i = done; i < done + batch; i++)
			if (runs[i].state == HOST_FAILED ||
			    runs[i].state == HOST_LOCKED)
				failed++;
		done += batch;
		if (failed > (size_t)policy->max_failed)
			break;
	}
	for (i = done; i < n; i++) {
		runs[i].state = HOST_SKIPPED;
		runs[i].error = xstrdup(cancelled == CANCEL_STOPPING ?
		    "not touched: tend is stopping" : cancelled ? "not "
		    "touched: a newer commit took over" : "not touched: the "
		    "rollout halted");
		runs[i].running = runs[i].o.rec ? runs[i].o.rec->commit : NULL;
	}
	if (cancelled && failed <= (size_t)policy->max_failed)
		return 2;
	return done < n || failed > (size_t)policy->max_failed;
}

void
host_run_free(struct host_run *r)
{
	desired_free(&r->d);
	observed_free(&r->o);
	host_plan_free(&r->plan);
	apply_result_free(&r->ar);
	free(r->error);
	free(r->rolled_back_to);
}

const char *
host_state_name(enum host_state s)
{
	static const char *const names[] = { "pending", "failed", "locked",
		"planned", "in_sync", "applied", "skipped", "rolled_back" };

	return names[s];
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;

/* Old contents of changed files, for diffs: one more round trip, and
 * only for files small enough to show; their new contents are read from
 * the commit then. */
static void
fetch_old(struct ssh *c, struct host_run *r, const struct files *files)
{
	struct host_plan *p = &r->plan;
	const char **paths = xcalloc(p->n + 1, sizeof(*paths));
	struct buf *bufs = xcalloc(p->n + 1, sizeof(*bufs));
	struct action **acts = xcalloc(p->n + 1, sizeof(*acts));
	size_t i, n = 0;

	for (i = 0; i < p->n; i++) {
		struct action *a = &p->v[i];

		/* A secret, new or old, is never read back. */
		if (a->op == ACT_UPDATE && (a->changes & CH_CONTENT) &&
		    !a->sensitive && a->obs->size <= 256 * 1024 && a->rr->size <=
		    256 * 1024) {
			paths[n] = a->key;
			acts[n++] = a;
		}
	}
	if (n && probe_fetch(c, paths, n, bufs) == 0) {
		for (i = 0; i < n; i++) {
			/* The plan borrows the desired state; this is it. */
			struct rendered_res *rr = &r->d.res[acts[i]->rr -
			    r->d.res];

			if (render_load_content(rr, files) < 0)
				continue;
			acts[i]->old = bufs[i];
			acts[i]->have_old = 1;
			buf_init(&bufs[i]);
		}
	}
	for (i = 0; i < n; i++)
		buf_free(&bufs[i]);
	free(paths);
	free(bufs);
	free(acts);
}

static void
fail(struct host_run *r, enum host_state st)
{
	r->state = st;
	r->error = xstrdup(err_msg());
}

void
rollout_host(struct host_run *r, void *arg)
{
	const struct rollout_ctx *ctx = arg;
	long start = now_ms();
	const char *last_good;
	struct ssh *c;

	if ((c = ssh_connect(&r->target, ctx->ssh)) == NULL) {
		fail(r, HOST_FAILED);
		r->unreachable = 1;
		goto done;
	}
	if (probe_run(c, ctx->app, &r->d, &r->o) < 0) {
		fail(r, HOST_FAILED);
		goto done;
	}
	plan_build(&r->plan, &r->d, &r->o, ctx->commit);
	r->state = HOST_PLANNED;
	if (ctx->fetch_old)
		fetch_old(c, r, ctx->files);
	if (!ctx->apply)
		goto done;
	if (r->plan.conflicts) {
		r->state = HOST_FAILED;
		r->commit_fault = 1;
		r->error = xasprintf("%zu conflict%s on the host; nothing was "
		    "changed there", r->plan.conflicts,
		    r->plan.conflicts == 1 ? "" : "s");
		goto done;
	}
	if (!plan_has_changes(&r->plan) && !r->plan.record_stale &&
	    !plan_has_checks(&r->plan)) {
		r->state = HOST_IN_SYNC;
		goto done;
	}
	/* With health checks, the commit is good only once they pass. */
	last_good = !r->d.nchecks ? ctx->commit : r->o.rec ?
	    r->o.rec->last_good : NULL;
	r->touched = plan_has_changes(&r->plan);
	if (apply_run(c, &r->plan, &r->d, &r->o, ctx->app, ctx->commit,
	    last_good, ctx->files, &r->ar) < 0) {
		fail(r, r->ar.locked ? HOST_LOCKED : HOST_FAILED);
		if (r->ar.locked)
			r->touched = 0;
		else
			r->commit_fault = 1;
		goto done;
	}
	if (r->d.nchecks) {
		struct host_plan none;
		struct apply_result ar;
		int rc;

		memset(&ar, 0, sizeof(ar));
		if (health_run(c, &r->d) < 0) {
			fail(r, HOST_FAILED);
			r->commit_fault = 1;
			goto done;
		}
		memset(&none, 0, sizeof(none));
		rc = (last_good == NULL || strcmp(last_good, ctx->commit) != 0) ?
		    apply_run(c, &none, &r->d, &r->o, ctx->app, ctx->commit,
		    ctx->commit, ctx->files, &ar) : 0;
		apply_result_free(&ar);
		if (rc < 0) {
			fail(r, HOST_FAILED);
			goto done;
		}
	}
	r->state = plan_has_changes(&r->plan) || r->ar.ran ? HOST_APPLIED :
	    HOST_IN_SYNC;
	r->running = ctx->commit;
done:
	if (c) {
		r->execs = ssh_exec_count(c);
		ssh_close(c);
	}
	r->ms = now_ms() - start;
	if (ctx->done) {
		pthread_mutex_lock(&done_mu);
		ctx->done(r, ctx->done_arg);
		pthread_mutex_unlock(&done_mu);
	}
}
