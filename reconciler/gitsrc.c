/* gitsrc: project files at a commit (libgit2) or in the work tree. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pthread.h>

#include <git2.h>

#include "gitsrc.h"
#include "log.h"

struct gitsrc {
	git_repository *repo;		/* NULL: work tree outside git */
	git_commit *commit;		/* NULL: no commit resolved */
	git_tree *root;			/* the project root's tree */
	char *rootdir;			/* absolute project root (work tree) */
	int worktree;
	char commit_id[GIT_OID_HEXSZ + 1];
	char short_id[8];
	char *subject;
	char *where;
	struct files files;
	/* libgit2 objects are not for several threads at once; apply reads
	 * release files from the rollout's threads. */
	pthread_mutex_t mu;
};

static const char *
git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* Walk path through trees one component at a time, so a symbolic link
 * anywhere along it is seen as such rather than followed. */
static enum file_type
tree_walk(struct gitsrc *src, const char *path, git_blob **blob_out)
{
	git_tree *tree = src->root, *sub = NULL;
	enum file_type ft = FT_MISSING;
	char *copy = xstrdup(path), *comp, *next;

	if (blob_out)
		*blob_out = NULL;
	for (comp = copy; comp; comp = next) {
		const git_tree_entry *e;
		git_filemode_t mode;

		next = strchr(comp, '/');
		if (next)
			*next++ = '\0';
		if ((e = git_tree_entry_byname(tree, comp)) == NULL) {
			ft = FT_MISSING;
			break;
		}
		mode = git_tree_entry_filemode(e);
		if (mode == GIT_FILEMODE_LINK) {
			ft = FT_SYMLINK;
			break;
		}
		if (mode == GIT_FILEMODE_TREE) {
			git_tree *t;

			if (git_tree_lookup(&t, src->repo,
			    git_tree_entry_id(e)) < 0) {
				ft = FT_OTHER;
				break;
			}
			if (sub)
				git_tree_free(sub);
			tree = sub = t;
			ft = FT_DIR;
			continue;
		}
		if (next) {
			ft = FT_MISSING;	/* a file used as a directory */
			break;
		}
		if (mode == GIT_FILEMODE_BLOB ||
		    mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
			ft = FT_FILE;
			if (blob_out && git_blob_lookup(blob_out, src->repo,
			    git_tree_entry_id(e)) < 0)
				ft = FT_OTHER;
		} else {
			ft = FT_OTHER;	/* a submodule */
		}
	}
	if (sub)
		git_tree_free(sub);
	free(copy);
	return ft;
}

static enum file_type
wt_stat(struct gitsrc *src, const char *path)
{
	struct buf p = BUF_INIT;
	const char *s = path;
	enum file_type ft = FT_MISSING;
	struct stat st;

	buf_adds(&p, src->rootdir);
	for (;;) {
		size_t len = strcspn(s, "/");

		buf_addch(&p, '/');
		buf_add(&p, s, len);
		if (lstat(p.data, &st) < 0) {
			ft = FT_MISSING;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			ft = FT_SYMLINK;
			break;
		}
		s += len;
		if (*s == '\0') {
			ft = S_ISREG(st.st_mode) ? FT_FILE :
			    S_ISDIR(st.st_mode) ? FT_DIR : FT_OTHER;
			break;
		}
		if (!S_ISDIR(st.st_mode))
			break;
		s++;
	}
	buf_free(&p);
	return ft;
}

static enum file_type
src_stat_unlocked(void *ctx, const char *path)
{
	struct gitsrc *src = ctx;

	if (check_repo_path(path) != NULL)
		return FT_MISSING;	/* nothing outside the project */
	if (src->worktree)
		return wt_stat(src, path);
	return tree_walk(src, path, NULL);
}

static int
src_read_unlocked(void *ctx, const char *path, struct buf *out)
{
	struct gitsrc *src = ctx;
	enum file_type ft;
	git_blob *blob = NULL;

	if (check_repo_path(path) != NULL)
		return err_set("%s: not a path inside the project", path);
	if (src->worktree) {
		char *full;
		FILE *f;
		char chunk[65536];
		size_t n;
		int rc = 0;

		if ((ft = wt_stat(src, path)) != FT_FILE)
			goto bad;
		full = xasprintf("%s/%s", src->rootdir, path);
		if ((f = fopen(full, "rb")) == NULL) {
			rc = err_set("cannot read %s: %s", path,
			    strerror(errno));
			free(full);
			return rc;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(out, chunk, n);
		if (ferror(f))
			rc = err_set("cannot read %s: %s", path,
			    strerror(errno));
		fclose(f);
		free(full);
		return rc;
	}
	if ((ft = tree_walk(src, path, &blob)) != FT_FILE)
		goto bad;
	buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return 0;
bad:
	switch (ft) {
	case FT_MISSING:
		return err_set("%s does not exist in %s", path, src->where);
	case FT_SYMLINK:
		return err_set("%s is a symbolic link in %s; tend does not "
		    "follow links in the repository", path, src->where);
	case FT_DIR:
		return err_set("%s is a directory, not a file", path);
	default:
		return err_set("%s is not a regular file in %s", path,
		    src->where);
	}
}

void
tree_list_free(struct tree_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct walk {
	struct tree_list *out;
	int rc;
};

static int
walk_entry(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	git_filemode_t mode = git_tree_entry_filemode(e);
	struct tree_file *f;

	if (mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_COMMIT)
		return 0;	/* directories come with their files */
	GROW(w->out->v, w->out->n + 1, w->out->cap);
	f = &w->out->v[w->out->n++];
	f->path = xasprintf("%s%s", root, git_tree_entry_name(e));
	f->mode = mode == GIT_FILEMODE_LINK ? 0120000 :
	    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
	git_oid_tostr(f->oid, sizeof(f->oid), git_tree_entry_id(e));
	return 0;
}

static int
src_list_unlocked(void *ctx, const char *dir, struct tree_list *out)
{
	struct gitsrc *src = ctx;
	git_tree_entry *e = NULL;
	git_tree *t = NULL;
	struct walk w = { out, 0 };

	memset(out, 0, sizeof(*out));
	if (src->worktree)
		return err_set("the work tree has no tree ids");
	if (check_repo_path(dir) != NULL ||
	    git_tree_entry_bypath(&e, src->root, dir) < 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		git_tree_entry_free(e);
		return err_set("%s is not a directory in %s", dir, src->where);
	}
	git_oid_tostr(out->id, sizeof(out->id), git_tree_entry_id(e));
	if (git_tree_lookup(&t, src->repo, git_tree_entry_id(e)) < 0) {
		git_tree_entry_free(e);
		return err_set("cannot read %s: %s", dir, git_msg());
	}
	git_tree_entry_free(e);
	git_tree_walk(t, GIT_TREEWALK_PRE, walk_entry, &w);
	git_tree_free(t);
	return w.rc;
}

static int
src_readlink_unlocked(void *ctx, const char *path, struct buf *out)
{
	struct gitsrc *src = ctx;
	git_tree_entry *e = NULL;
	git_blob *b = NULL;

	if (src->worktree || check_repo_path(path) != NULL ||
	    git_tree_entry_bypath(&e, src->root, path) < 0 ||
	    git_tree_entry_filemode(e) != GIT_FILEMODE_LINK ||
	    git_blob_lookup(&b, src->repo, git_tree_entry_id(e)) < 0) {
		git_tree_entry_free(e);
		return err_set("%s is not a symbolic link in %s", path,
		    src->where);
	}
	buf_add(out, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	git_blob_free(b);
	git_tree_entry_free(e);
	return 0;
}

#define LOCKED(ret, name, decl, args) \
static ret \
name decl \
{ \
	struct gitsrc *src = ctx; \
	ret rc; \
\
	pthread_mutex_lock(&src->mu); \
	rc = name##_unlocked args; \
	pthread_mutex_unlock(&src->mu); \
	return rc; \
}

LOCKED(enum file_type, src_stat, (void *ctx, const char *path), (ctx, path))
LOCKED(int, src_read, (void *ctx, const char *path, struct buf *out),
    (ctx, path, out))
LOCKED(int, src_list, (void *ctx, const char *dir, struct tree_list *out),
    (ctx, dir, out))
LOCKED(int, src_readlink, (void *ctx, const char *path, struct buf *out),
    (ctx, path, out))

static void
set_commit_info(struct gitsrc *src)
{
	const char *summary;

	git_oid_tostr(src->commit_id, sizeof(src->commit_id),
	    git_commit_id(src->commit));
	memcpy(src->short_id, src->commit_id, 7);
	src->short_id[7] = '\0';
	summary = git_commit_summary(src->commit);
	src->subject = xstrdup(summary ? summary : "");
}

static int
resolve_rev(struct gitsrc *src, const char *rev)
{
	git_object *obj = NULL, *peeled = NULL;
	int rc;

	if (git_repository_head_unborn(src->repo) == 1 &&
	    strcmp(rev, "HEAD") == 0)
		return err_set("the repository has no commits yet: commit "
		    "deploy/tend.yaml first (or use --worktree)");
	rc = git_revparse_single(&obj, src->repo, rev);
	if (rc == GIT_EAMBIGUOUS)
		return err_set("revision '%s' is ambiguous: give more digits "
		    "of the commit id", rev);
	if (rc < 0)
		return err_set("unknown revision '%s': give a branch, a tag "
		    "or a commit id", rev);
	rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc < 0)
		return err_set("revision '%s' does not name a commit", rev);
	src->commit = (git_commit *)peeled;
	set_commit_info(src);
	return 0;
}

/* The project root's tree at the resolved commit. */
static int
find_root(struct gitsrc *src, const char *prefix)
{
	git_tree *top;
	git_tree_entry *e = NULL;
	int rc;

	if (git_commit_tree(&top, src->commit) < 0)
		return err_set("cannot read commit %s: %s", src->short_id,
		    git_msg());
	if (*prefix == '\0') {
		src->root = top;
		return 0;
	}
	rc = git_tree_entry_bypath(&e, top, prefix);
	if (rc < 0 || git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		git_tree_entry_free(e);
		git_tree_free(top);
		return err_set("directory %s does not exist in commit %s "
		    "(is it committed?)", prefix, src->short_id);
	}
	rc = git_tree_lookup(&src->root, src->repo, git_tree_entry_id(e));
	git_tree_entry_free(e);
	git_tree_free(top);
	if (rc < 0)
		return err_set("cannot read %s: %s", prefix, git_msg());
	return 0;
}

struct gitsrc *
gitsrc_open(const char *dir, const char *rev, int worktree)
{
	struct gitsrc *src = xcalloc(1, sizeof(*src));
	char real[PATH_MAX], workreal[PATH_MAX];
	const char *workdir, *prefix = "";
	struct stat st;
	int rc;

	git_libgit2_init();
	/* Every path is looked up through its trees, for every host: keep
	 * big trees in libgit2's cache (by default only those under 4 KiB
	 * are), and small blobs, which the hosts read again and again. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
	    (size_t)4 << 20);
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_BLOB,
	    (size_t)64 << 10);
	pthread_mutex_init(&src->mu, NULL);
	memset(src->commit_id, '0', GIT_OID_HEXSZ);
	memcpy(src->short_id, src->commit_id, 7);
	src->worktree = worktree;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_set("%s: no such directory", dir);
		goto fail;
	}
	if (realpath(dir, real) == NULL) {
		err_set("%s: %s", dir, strerror(errno));
		goto fail;
	}
	src->rootdir = xstrdup(real);
	rc = git_repository_open_ext(&src->repo, real, 0, NULL);
	if (rc < 0 && !worktree) {
		err_set("%s is not in a git repository: tend deploys "
		    "committed files (run 'git init' and commit, or use "
		    "--worktree to check the files as they are)", dir);
		goto fail;
	}
	if (rc < 0)
		src->repo = NULL;
	if (src->repo && !worktree) {
		if ((workdir = git_repository_workdir(src->repo)) == NULL) {
			err_set("%s is a bare repository; give the directory "
			    "of a checkout with -C", dir);
			goto fail;
		}
		if (realpath(workdir, workreal) == NULL) {
			err_set("%s: %s", workdir, strerror(errno));
			goto fail;
		}
		if (strncmp(real, workreal, strlen(workreal)) != 0 ||
		    (real[strlen(workreal)] != '/' &&
		    real[strlen(workreal)] != '\0')) {
			err_set("%s is outside the work tree of its repository "
			    "(%s)", dir, workreal);
			goto fail;
		}
		prefix = real + strlen(workreal);
		while (*prefix == '/')
			prefix++;
	}
	if (worktree) {
		/* The commit, when there is one, still names the built-ins. */
		if (src->repo && git_repository_head_unborn(src->repo) != 1) {
			git_object *obj;

			if (git_revparse_single(&obj, src->repo, "HEAD") == 0) {
				src->commit = (git_commit *)obj;
				set_commit_info(src);
			}
		}
		src->where = xstrdup("the work tree");
	} else {
		if (resolve_rev(src, rev ? rev : "HEAD") < 0 ||
		    find_root(src, prefix) < 0)
			goto fail;
		src->where = xasprintf("commit %s", src->short_id);
	}
	if (src->subject == NULL)
		src->subject = xstrdup("");
	src->files.ctx = src;
	src->files.stat = src_stat;
	src->files.read = src_read;
	src->files.list = src->worktree ? NULL : src_list;
	src->files.readlink = src_readlink;
	src->files.where = src->where;
	return src;
fail:
	gitsrc_free(src);
	return NULL;
}

void
gitsrc_free(struct gitsrc *src)
{
	if (src == NULL)
		return;
	git_tree_free(src->root);
	git_commit_free(src->commit);
	git_repository_free(src->repo);
	free(src->rootdir);
	free(src->subject);
	free(src->where);
	pthread_mutex_destroy(&src->mu);
	free(src);
	git_libgit2_shutdown();
}

const struct files *
gitsrc_files(struct gitsrc *src)
{
	return &src->files;
}

const char *
gitsrc_commit(const struct gitsrc *src)
{
	return src->commit_id;
}

const char *
gitsrc_commit_short(const struct gitsrc *src)
{
	return src->short_id;
}

const char *
gitsrc_subject(const struct gitsrc *src)
{
	return src->subject;
}
