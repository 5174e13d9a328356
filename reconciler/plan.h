/*
 * plan: what apply would do on one host, from its desired state and what
 * the probe saw.  Pure data in, data out: the main unit-test target.
 */
#ifndef TEND_PLAN_H
#define TEND_PLAN_H

#include "probe.h"
#include "record.h"
#include "render.h"

enum act_op {
	ACT_CREATE,		/* +  not there: make it */
	ACT_UPDATE,		/* ~  there, but different */
	ACT_DELETE,		/* -  state: absent, or no longer declared */
	ACT_FORGET,		/* ·  no longer declared; left in place */
	ACT_CONFLICT		/* !  something else is there: refuse the host */
};

enum {
	CH_CONTENT = 1 << 0,
	CH_MODE = 1 << 1,
	CH_OWNER = 1 << 2,
	CH_GROUP = 1 << 3,
	CH_TARGET = 1 << 4,
	CH_RELEASE_NEW = 1 << 5,	/* upload what changed, then switch */
	CH_RELEASE_SWITCH = 1 << 6,	/* the release is there: just switch */
	CH_UNIT = 1 << 7,		/* unit file installed or changed */
	CH_ENABLE = 1 << 8,
	CH_DISABLE = 1 << 9,
	CH_START = 1 << 10,
	CH_STOP = 1 << 11,
	CH_RESTART = 1 << 12,
	CH_RUN = 1 << 13,		/* command: run it */
	CH_RUN_UNLESS = 1 << 14		/* command: run unless `unless` passes */
};

struct action {
	enum act_op op;
	enum res_kind kind;
	const char *key;			/* borrowed */
	const struct rendered_res *rr;		/* desired; NULL when pruned */
	const struct obs_entry *obs;		/* on the host; NULL: nothing */
	const struct rec_res *rec;		/* tend's last write; NULL: none */
	unsigned changes;			/* CH_* for updates */
	int drift;				/* host differs from tend's record */
	int prune;				/* no longer in the manifest */
	char *parents;				/* missing parents it creates */
	int parent_missing;			/* parent not there (yet) */
	char *why;				/* conflict or forget: why */
	char hash[65];				/* file: sha256 of the new content */
	int sensitive;				/* file: its content, new or
						 * old, holds a secret: never
						 * shown, never read back */
	struct buf old;				/* old content, for diffs */
	int have_old;
	/* release: files of the tree to send, and old ones to drop */
	size_t *upload;
	size_t nupload;
	char **drop;
	size_t ndrop;
	char *reason;				/* restart or run: why */
	const char *probed_current;		/* release: current, as probed */
	size_t order;				/* manifest position; prunes last */
};

struct host_plan {
	struct action *v;
	size_t n, cap;
	size_t add, change, remove, conflicts, restarts;
	int record_stale;		/* record needs rewriting anyway */
};

/* Compare d with o; commit is the commit being planned (full id). */
void plan_build(struct host_plan *p, const struct desired *d,
    const struct observed *o, const char *commit);
/* Whether apply has anything to change on the host's files. */
int plan_has_changes(const struct host_plan *p);
/* Whether apply must look on the host first (commands with `unless`). */
int plan_has_checks(const struct host_plan *p);
void host_plan_free(struct host_plan *p);

/*
 * The record apply writes after its actions: every declared resource
 * that is present, with what was written, whether tend created it, and
 * the commit.  last_good is the commit that passed before (or this one).
 */
struct record *plan_record(const struct desired *d,
    const struct observed *o, const char *app, const char *commit,
    const char *last_good);

/* "+", "~", "-", ... and a word for each op. */
const char *act_symbol(enum act_op op);
const char *act_name(enum act_op op);

#endif
