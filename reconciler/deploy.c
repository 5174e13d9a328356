/*
 * deploy: one rollout and, when it halts, the rollback: shared by
 * `tend apply` and the daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

/* Return one touched host to the last commit that passed there: that
 * commit's manifest, rendered for the host, applied like any other. */
static void
rollback_host(const struct project_opts *opts, const struct env *env,
    const struct rollout_ctx *ctx0, struct host_run *r, FILE *out)
{
	const char *good = r->o.rec ? r->o.rec->last_good : NULL;
	struct project_opts po = *opts;
	struct diags diags = DIAGS_INIT;
	struct project gp;
	struct host_run *rb = NULL;
	struct rollout_ctx ctx;
	const struct host *h;
	const struct env *e;
	size_t idx;
	char *why = NULL;

	if (good == NULL) {
		why = xstrdup("no earlier good commit to roll back to");
		goto done;
	}
	po.rev = good;
	if (project_load(&gp, &po, &diags) < 0) {
		why = xasprintf("commit %.7s cannot be loaded: %s", good,
		    diags.n ? diags.v[0].msg : err_msg());
		project_free(&gp);
		goto done;
	}
	h = manifest_host(gp.m, r->host->name);
	e = manifest_env(gp.m, env->name);
	if (h == NULL || e == NULL) {
		why = xasprintf("host %s or environment %s is not in commit "
		    "%.7s", r->host->name, env->name, good);
		project_free(&gp);
		goto done;
	}
	idx = (size_t)(h - gp.m->hosts);
	rb = runs_prepare(&gp, e, &idx, 1);
	ctx = *ctx0;
	ctx.commit = gitsrc_commit(gp.src);
	ctx.files = gitsrc_files_kept(gp.src);
	ctx.apply = 1;
	ctx.done = NULL;
	rollout_host(rb, &ctx);
	if (rb->state == HOST_APPLIED || rb->state == HOST_IN_SYNC) {
		r->state = HOST_ROLLED_BACK;
		r->rolled_back_to = xstrdup(good);
		if (out == NULL)
			log_info("%s: rolled back to %.7s", r->host->name,
			    good);
		else
			fprintf(out, "%s: rolled back to %.7s\n", r->host->name,
			    good);
	} else {
		why = xasprintf("rollback to %.7s failed: %s", good,
		    rb->error ? rb->error : "unknown");
	}
	host_run_free(rb);
	free(rb);
	project_free(&gp);
done:
	if (why) {
		char *e2 = xasprintf("%s; %s", r->error ? r->error : "failed",
		    why);

		free(r->error);
		r->error = e2;
		free(why);
	}
	diags_free(&diags);
}

static void
rollback(const struct project_opts *po, const struct env *env,
    struct host_run *runs, size_t n, const struct rollout_ctx *ctx,
    FILE *out)
{
	enum rollback policy = env->rollout.rollback;
	size_t i;

	if (policy == ROLLBACK_NONE)
		return;
	for (i = 0; i < n; i++) {
		struct host_run *r = &runs[i];

		if (!r->touched)
			continue;
		if (policy == ROLLBACK_FAILED && r->state != HOST_FAILED)
			continue;
		rollback_host(po, env, ctx, r, out);
	}
}

int
deploy_run(const struct project_opts *po, const struct env *env,
    struct host_run *runs, size_t n, struct rollout_ctx *ctx, FILE *out)
{
	int rc = rollout_run(runs, n, &env->rollout, ctx);

	if (rc == 1) {
		if (out == NULL)
			log_info("rollout of %.7s to %s halted: more than %d "
			    "host%s failed", ctx->commit, env->name,
			    env->rollout.max_failed,
			    env->rollout.max_failed == 1 ? "" : "s");
		else
			fprintf(out, "\nRollout halted: more than %d host%s "
			    "failed.\n", env->rollout.max_failed,
			    env->rollout.max_failed == 1 ? "" : "s");
		rollback(po, env, runs, n, ctx, out);
	}
	return rc;
}

const char *
deploy_host_state(const struct host_run *r, const char *target)
{
	const char *at = r->o.rec ? r->o.rec->commit : NULL;

	switch (r->state) {
	case HOST_FAILED:
		return r->unreachable ? "unreachable" : "failed";
	case HOST_LOCKED:
		return "locked";
	case HOST_SKIPPED:
		return "skipped";
	case HOST_ROLLED_BACK:
		return "rolled_back";
	case HOST_APPLIED:
		return "applied";
	case HOST_PLANNED:
		if (!plan_has_changes(&r->plan))
			return "in_sync";
		return at && target && strcmp(at, target) == 0 ? "drifted" :
		    "pending";
	default:
		return "in_sync";
	}
}

struct store_host *
deploy_hosts(const struct host_run *runs, size_t n, const char *target)
{
	struct store_host *hs = xcalloc(n + 1, sizeof(*hs));
	size_t i;

	for (i = 0; i < n; i++) {
		const struct host_run *r = &runs[i];

		hs[i].host = r->host->name;
		hs[i].state = deploy_host_state(r, target);
		hs[i].commit = r->rolled_back_to ? r->rolled_back_to :
		    r->running ? r->running : r->o.rec ? r->o.rec->commit :
		    NULL;
		hs[i].error = r->error;
		hs[i].changes = (int)r->plan.n;
		hs[i].drifted = strcmp(hs[i].state, "drifted") == 0;
		hs[i].ms = r->ms;
	}
	return hs;
}

/* The first host that failed (with fault set, one at fault). */
static const struct host_run *
first_failed(const struct host_run *runs, size_t n, int fault)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (runs[i].error && (runs[i].state == HOST_FAILED ||
		    runs[i].state == HOST_ROLLED_BACK ||
		    runs[i].state == HOST_LOCKED) &&
		    (!fault || runs[i].commit_fault))
			return &runs[i];
	return NULL;
}

const char *
deploy_judge(const struct host_run *runs, size_t n, int rc, double seconds,
    const struct env *env, char **message)
{
	size_t i, ok = 0, failed = 0, changed = 0, fault = 0;
	const struct host_run *r;

	for (i = 0; i < n; i++) {
		if (runs[i].state == HOST_APPLIED)
			changed++;
		if (runs[i].state == HOST_APPLIED ||
		    runs[i].state == HOST_IN_SYNC)
			ok++;
		else if (runs[i].state != HOST_SKIPPED)
			failed++;
		fault += runs[i].commit_fault;
	}
	if (rc == 2) {
		*message = xasprintf("Cut short by a newer commit after "
		    "%zu/%zu host%s", ok, n, n == 1 ? "" : "s");
		return "superseded";
	}
	if (failed == 0 && changed == 0) {
		*message = xasprintf("No changes: %zu/%zu host%s in sync", ok,
		    n, n == 1 ? "" : "s");
		return "in_sync";
	}
	if (failed == 0) {
		*message = xasprintf("Deployed to %zu/%zu host%s in %.1fs", ok,
		    n, n == 1 ? "" : "s", seconds);
		return "success";
	}
	r = first_failed(runs, n, fault > 0);
	if (r == NULL)
		*message = xasprintf("%zu of %zu hosts failed", failed, n);
	else
		*message = xasprintf("%s%s: %s%s%.7s", r->host->name,
		    r->unreachable ? " unreachable" : "", r->error,
		    r->rolled_back_to ? "; rolled back to " : rc == 1 &&
		    env->rollout.rollback == ROLLBACK_NONE ? "; left as it "
		    "is (rollback: none)" : "", r->rolled_back_to ?
		    r->rolled_back_to : "");
	return fault ? "failed" : "error";
}
