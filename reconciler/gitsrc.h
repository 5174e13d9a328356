/*
 * gitsrc: the project's files as of one commit, read from the git object
 * database with libgit2 (or, for `validate --worktree`, from the work
 * tree), never following symbolic links.
 *
 * The project root is the directory given with -C, which may be a
 * subdirectory of the repository (a monorepo); every path handed to
 * gitsrc is relative to that root.
 */
#ifndef TEND_GITSRC_H
#define TEND_GITSRC_H

#include "buf.h"

enum file_type { FT_MISSING, FT_FILE, FT_DIR, FT_SYMLINK, FT_OTHER };

/* One entry of a directory tree, as a release ships it.  Names are
 * checked as the tree is listed: none is empty, ".", "..", holds '/' or
 * a newline (the release's file list on the host is line based), and
 * none at the top is one of the names tend keeps there (.tend-files). */
struct tree_file {
	char *path;			/* relative to the listed directory */
	unsigned mode;			/* 0644, 0755, or 0120000 for a link */
	char oid[41];			/* git blob id: same id, same bytes */
};

struct tree_list {
	char id[41];			/* the directory's git tree id */
	struct tree_file *v;
	size_t n, cap;
};

void tree_list_free(struct tree_list *l);

/* Read access to the project's files; what render and apply use. */
struct files {
	void *ctx;
	/* What path is, without following links anywhere along it. */
	enum file_type (*stat)(void *ctx, const char *path);
	/* The whole content of a regular file; 0, or -1 with err_set. */
	int (*read)(void *ctx, const char *path, struct buf *out);
	/* Its size, without reading it; 0, or -1 with err_set.  May be
	 * NULL: then read tells the size. */
	int (*size)(void *ctx, const char *path, size_t *size);
	/* Every file under directory dir, recursively, with the tree id;
	 * NULL for the work tree, which has no ids.  0, or -1 with err_set. */
	int (*list)(void *ctx, const char *dir, struct tree_list *out);
	/* A link's target (FT_SYMLINK paths); 0, or -1 with err_set. */
	int (*readlink)(void *ctx, const char *path, struct buf *out);
	/* For a path that does not exist: the one that does when letters
	 * of any component are taken in either case ("Deploy/App.conf" for
	 * "deploy/app.conf"), into out; 0, or -1 when there is none.  May
	 * be NULL. */
	int (*suggest)(void *ctx, const char *path, struct buf *out);
	/* Where the files come from, for messages: "commit 3f2a1c9". */
	const char *where;
};

struct gitsrc;

/*
 * Open the repository containing dir, take dir as the project root and
 * resolve rev (a branch, tag, or short or full commit id; NULL: HEAD).
 * With worktree set, files come from the work tree instead (dir need not
 * be in a repository then).  Returns NULL with err_set on failure.
 * Free with gitsrc_free.
 */
/* Whether objects read from now on are hashed to check their ids (off
 * by default, for speed; on with --allowed-signers). */
void gitsrc_verify_hashes(int on);
struct gitsrc *gitsrc_open(const char *dir, const char *rev, int worktree);
/* The same from a bare repository (the daemon's cache), with the project
 * root at path inside it ("" or NULL: the top). */
struct gitsrc *gitsrc_open_bare(const char *gitdir, const char *path,
    const char *rev);
void gitsrc_free(struct gitsrc *src);

const struct files *gitsrc_files(struct gitsrc *src);
/* The same files for apply, which reads what it sends to each host: each
 * blob read is kept (up to 256 KiB each, 64 MiB in all) for the next host
 * until gitsrc_free.  Render, which only hashes, reads gitsrc_files. */
const struct files *gitsrc_files_kept(struct gitsrc *src);
/* Full and 7-digit commit ids; all zeros for a work tree with no HEAD. */
const char *gitsrc_commit(const struct gitsrc *src);
const char *gitsrc_commit_short(const struct gitsrc *src);
/* First line of the commit message, "" for the work tree. */
const char *gitsrc_subject(const struct gitsrc *src);
/* "Name <email>" of the author, and the commit time (Unix seconds). */
const char *gitsrc_author(const struct gitsrc *src);
long long gitsrc_time(const struct gitsrc *src);

/*
 * The commit's signature (its gpgsig header, as text) into sig and the
 * bytes it signs (the commit without that header) into data.  Returns 1
 * when the commit is signed, 0 when it is not (or for a work tree), -1
 * with err_set.
 */
int gitsrc_signature(struct gitsrc *src, struct buf *sig, struct buf *data);

/* The URL of remote name ("origin"), or NULL (caller frees). */
char *gitsrc_remote_url(const struct gitsrc *src, const char *name);
/* The repository's git directory, or NULL for a work tree outside git. */
const char *gitsrc_gitdir(const struct gitsrc *src);

struct ssh_opts;

/*
 * Bring the bare repository gitdir (created on first use) up to date
 * with url: every branch of the remote becomes the same branch here, and
 * branches gone there are removed.  url is a local path, file://, ssh://
 * or user@host:path (SSH keys and host keys as for hosts: ssh's identity
 * or agent, its known_hosts), or http(s)://.  With pulls, also the heads
 * of pull and merge requests.  0, or -1 with err_set.
 */
int gitsrc_fetch(const char *gitdir, const char *url,
    const struct ssh_opts *ssh, int pulls);

/* A pull or merge request head in the cache (with pulls fetched). */
struct pull_head {
	char *ref;			/* "refs/pull/12/head" */
	char sha[41];
};
/* Every pull request head in gitdir: refs/pull/N/head (GitHub, Gitea)
 * and refs/merge-requests/N/head (GitLab).  Free each ref and *out. */
int gitsrc_pull_heads(const char *gitdir, struct pull_head **out,
    size_t *n);
/*
 * Set this context's line ("tend/production: success: ...") in the note
 * on commit sha under refs/notes/tend of the repository at gitdir (bare
 * or not), keeping the other contexts' lines.  0, or -1 with err_set.
 */
int gitsrc_note(const char *gitdir, const char *sha, const char *context,
    const char *line);
/* Push refs/notes/tend of gitdir to url.  0, or -1 with err_set. */
int gitsrc_push_notes(const char *gitdir, const char *url,
    const struct ssh_opts *ssh);

/* The commit branch (NULL: the remote's default branch, as of the last
 * fetch) points at in gitdir (40 hex digits into out).
 * 0, or -1 with err_set when there is no such branch. */
int gitsrc_branch_head(const char *gitdir, const char *branch,
    char out[41]);

#endif
