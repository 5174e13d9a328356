/*
 * report: deploy outcomes posted as commit statuses, where developers
 * look: GitHub, GitLab and Gitea/Forgejo status APIs (libcurl), or git
 * notes under refs/notes/tend pushed to the remote.
 *
 * Posting never blocks or fails a deploy: report_status queues and
 * returns; a thread posts, retries with backoff (honouring Retry-After
 * and rate-limit resets), and logs.  Only changes are posted: a status
 * equal to the last one posted for the same commit and context is
 * dropped, across restarts too (the history database remembers).  The
 * token (TEND_STATUS_TOKEN) is sent only in its header, never logged.
 */
#ifndef TEND_REPORT_H
#define TEND_REPORT_H

#include "buf.h"
#include "ssh.h"

enum status_state { ST_PENDING, ST_SUCCESS, ST_FAILURE, ST_ERROR };

/* GitHub's limit on a status description, in characters. */
#define STATUS_MAX_DESC 140

struct report_opts {
	/* --status: "none", "git-notes", "github:OWNER/REPO",
	 * "gitlab:GROUP/PROJECT" (or a numeric id), "gitea:OWNER/REPO";
	 * NULL: inferred from the remote URL (github.com, gitlab.com). */
	const char *status;
	const char *api;		/* --status-api: the API's base URL */
	const char *public_url;		/* --public-url: target_url, or NULL */
	const char *state_dir;		/* its own history connection */
	/* git notes: the repository to write them in and where to push
	 * them (NULL: keep them local), with the keys for an SSH remote. */
	const char *gitdir;
	const char *push_url;
	const struct ssh_opts *ssh;
};

struct reporter;

/*
 * Start a reporter for a repository whose remote is remote_url (may be
 * NULL).  Returns NULL with err_set when the options are wrong (an
 * unknown provider, a provider without its repository, no token for an
 * API).  When statuses are off (--status none, or nothing to infer
 * from) it returns a reporter that posts nothing; report_describe says
 * which.
 */
struct reporter *report_open(const struct report_opts *o,
    const char *remote_url);
/* "github owner/repo at https://api.github.com", "off: ...". */
const char *report_describe(const struct reporter *r);

/* Queue a status for commit sha (40 hex) under context ("tend/prod").
 * The description is cut to STATUS_MAX_DESC characters. */
void report_status(struct reporter *r, const char *sha, const char *context,
    enum status_state state, const char *description);

/* Wait until the queue is empty or ms passed; 0 when empty. */
int report_flush(struct reporter *r, long ms);
/* Stop the thread (what is still queued is dropped, with a log line). */
void report_close(struct reporter *r);
/* Prometheus lines: tend_status_posts_total{result}, queue length. */
void report_metrics(struct reporter *r, struct buf *out);
/* The last error posting, or NULL (caller frees). */
char *report_last_error(struct reporter *r);

const char *status_state_name(enum status_state s);

/* "owner/repo" (or "group/sub/project") of a remote URL on host
 * (github.com, gitlab.com), in any of git's URL forms; NULL when the URL
 * is elsewhere (caller frees). */
char *report_repo_on(const char *url, const char *host);
/* A description cut to STATUS_MAX_DESC characters, keeping its last
 * "; ..." clause whole (caller frees). */
char *report_shorten(const char *s);

#endif
