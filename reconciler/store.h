/*
 * store: the controller's history, <state-dir>/tend.db (SQLite).
 *
 * Three things live there: every reconcile that did something or found
 * something new (env, commit, trigger, timing, outcome, per-host results),
 * the state of each watched environment (branch head seen, last good
 * commit, a failed commit held back), and the latest state of each host.
 * The schema carries a version (PRAGMA user_version) and is migrated
 * forward on open.  `tend status` and `tend history` read it; the daemon
 * and `tend apply` write it.
 */
#ifndef TEND_STORE_H
#define TEND_STORE_H

#include <jansson.h>

struct store;

/* One host's part of a reconcile (all strings borrowed). */
struct store_host {
	const char *host;
	const char *state;		/* in_sync, applied, failed, ... */
	const char *commit;		/* what it runs afterwards, or NULL */
	const char *error;		/* why it failed, or NULL */
	int changes;			/* actions planned or applied */
	int drifted;			/* changes on a host already at commit */
	long ms;
};

/* One reconcile (all strings borrowed). */
struct store_reconcile {
	const char *env;
	const char *app;		/* NULL when the manifest is unreadable */
	const char *commit;		/* NULL when nothing could be resolved */
	const char *trigger;		/* "new commit", "drift", "manual", ... */
	const char *woken_by;		/* "interval", "webhook", "start", ... */
	long long started_ms;		/* Unix time, milliseconds */
	long duration_ms;
	const char *outcome;		/* "success", "failed", "error", ... */
	const char *message;		/* one line for people */
	int drift_found, drift_corrected;
	const struct store_host *hosts;
	size_t nhosts;
};

/* A commit's description, kept so status can name what hosts run. */
struct store_commit {
	const char *id, *subject, *author;
	long long time;			/* commit time, Unix seconds */
};

/* What the daemon remembers of an environment (strings owned). */
struct store_env {
	char *env;
	char *repo, *branch;
	char *head;			/* branch head last seen */
	char *good;			/* last commit deployed to every host */
	char *failed;			/* a commit held back after it failed */
	char *failed_why;
	long long checked_ms;		/* last pass */
	char *outcome, *message;	/* of the last pass */
};

/*
 * Open (creating dir, mode 0700, and the database) and migrate.  NULL
 * with err_set on failure.  Safe to open from several processes: writers
 * wait for each other (busy timeout), readers never block.
 */
struct store *store_open(const char *dir);
void store_close(struct store *s);
/* The default state directory: $XDG_STATE_HOME/tend or
 * ~/.local/state/tend (caller frees). */
char *store_default_dir(void);

/* Add a reconcile and its hosts, and update the hosts' latest state. */
int store_add_reconcile(struct store *s, const struct store_reconcile *r);
/* Update the hosts' latest state only (a pass that found nothing new). */
int store_put_hosts(struct store *s, const char *env,
    const struct store_host *hosts, size_t n, long long when_ms);
int store_put_commit(struct store *s, const struct store_commit *c);

/* 1 and *out filled, 0 when the environment is unknown, -1 on error. */
int store_get_env(struct store *s, const char *env, struct store_env *out);
int store_put_env(struct store *s, const struct store_env *e);
void store_env_free(struct store_env *e);

/* The state last posted for a commit and context: 1 and *state (caller
 * frees), 0 when none, -1 on error. */
int store_status_get(struct store *s, const char *sha, const char *context,
    char **state);
int store_status_put(struct store *s, const char *sha, const char *context,
    const char *state, const char *description);
/* Commits whose last status under context is pending, but for except
 * (each and the array caller frees). */
int store_pending_statuses(struct store *s, const char *context,
    const char *except, char ***shas, size_t *n);
/* The last error posting a status (NULL: it worked again). */
int store_report_error(struct store *s, const char *error);

/*
 * The documents `tend status --json` and `tend history --json` print
 * (env NULL: every environment).  New references; NULL with err_set.
 */
json_t *store_status(struct store *s, const char *env);
json_t *store_history(struct store *s, const char *env, int limit);

#endif
