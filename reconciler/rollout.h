/*
 * rollout: the hosts of one run, each with its desired state, what the
 * probe saw, its plan and its outcome, and the worker threads that handle
 * them `parallel` at a time.
 */
#ifndef TEND_ROLLOUT_H
#define TEND_ROLLOUT_H

#include "apply.h"
#include "plan.h"
#include "ssh.h"

enum host_state {
	HOST_PENDING,
	HOST_FAILED,		/* unreachable, refused, conflict, error */
	HOST_LOCKED,		/* another tend holds the on-host lock */
	HOST_PLANNED,		/* probed and planned */
	HOST_IN_SYNC,		/* apply: nothing to do */
	HOST_APPLIED,		/* apply: changes made, checks passed */
	HOST_SKIPPED,		/* not touched: the rollout halted first */
	HOST_ROLLED_BACK	/* failed, then returned to its last good */
};

struct host_run {
	const struct host *host;
	struct ssh_target target;
	struct desired d;
	struct observed o;
	struct host_plan plan;
	struct apply_result ar;
	enum host_state state;
	char *error;			/* why it failed */
	unsigned execs;			/* exec channels used */
	long ms;			/* wall time on this host */
	int touched;			/* apply ran on the host */
	int unreachable;		/* it could not be reached */
	int commit_fault;		/* it failed applying or checking the
					 * commit (not unreachable, locked) */
	const char *running;		/* commit the host runs at the end */
	char *rolled_back_to;		/* commit a rollback returned it to */
};

enum { CANCEL_NEWER = 1, CANCEL_STOPPING = 2 };

/* What rollout_host does on each host. */
struct rollout_ctx {
	const char *app;
	const char *commit;
	const struct files *files;	/* the commit's files, for releases */
	const struct ssh_opts *ssh;
	int apply;			/* else only plan */
	int fetch_old;			/* read old contents for diffs */
	/* Called (serialised) when a host is done, for progress output. */
	void (*done)(const struct host_run *r, void *arg);
	void *done_arg;
	/* When set (by another thread) to a CANCEL_* reason, rollout_run
	 * starts no more hosts. */
	const volatile int *cancel;
};

/* Connect, probe, plan, and (ctx->apply) apply one host. */
void rollout_host(struct host_run *r, void *ctx);

/*
 * Apply to runs[0..n) as the policy says: the canary hosts alone first,
 * then `parallel` at a time, halting once more than max_failed hosts have
 * failed (hosts not reached are HOST_SKIPPED).  Returns 1 when it halted,
 * 2 when *ctx->cancel stopped it before a batch, else 0.
 */
int rollout_run(struct host_run *runs, size_t n, const struct rollout *policy,
    struct rollout_ctx *ctx);

/* Run fn on each of runs[0..n), at most parallel at once (threads). */
void rollout_each(struct host_run *runs, size_t n, int parallel,
    void (*fn)(struct host_run *run, void *arg), void *arg);
void host_run_free(struct host_run *r);
const char *host_state_name(enum host_state s);

#endif
