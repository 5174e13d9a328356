/* gitsrc: project files at a commit (libgit2) or in the work tree. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <git2.h>

#include "gitsrc.h"
#include "strindex.h"
#include "ssh.h"
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
	char *author;			/* "Name <email>" */
	long long time;			/* commit time, Unix seconds */
	char *where;
	struct files files;
	/* libgit2 objects are not for several threads at once; apply reads
	 * release files from the rollout's threads. */
	pthread_mutex_t mu;
	struct files kept;		/* files, reads kept for other hosts */
	struct kept_blob *blobs;
	size_t nblobs, blobcap, blobbytes;
	struct strindex blobidx;	/* id -> blobs[] */
};

/* A blob apply sent to one host, for the next: by id, so the same bytes
 * under two names are kept once. */
struct kept_blob {
	char id[GIT_OID_HEXSZ + 1];
	char *data;
	size_t len;
};

#define KEPT_BLOB_MAX (256u * 1024)
#define KEPT_TOTAL_MAX (64u * 1024 * 1024)

static const char *
git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* Walk path through trees one component at a time, so a symbolic link
 * anywhere along it is seen as such rather than followed.  A file's blob
 * goes to blob_out, its id to id_out (either may be NULL). */
static enum file_type
tree_walk(struct gitsrc *src, const char *path, git_blob **blob_out,
    git_oid *id_out)
{
	git_tree *tree = src->root, *sub = NULL;
	enum file_type ft = FT_MISSING;
	char *copy = xstrdup(path), *comp, *next;

	git_error_clear();	/* what is left after is about this path */
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
			if (id_out)
				git_oid_cpy(id_out, git_tree_entry_id(e));
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

/*
 * Whether directory dir (dirlen bytes of it) has an entry named exactly
 * name.  A file system that ignores case finds "Deploy" for "deploy";
 * the commit would not, and validate --worktree must say what the
 * commit will say.
 */
static int
wt_exact(const char *dir, size_t dirlen, const char *name, size_t len)
{
	char *d = xstrndup(dir, dirlen);
	DIR *dh = opendir(d);
	struct dirent *e;
	int found = 0;

	free(d);
	if (dh == NULL)
		return 1;	/* lstat found it; there is no more to know */
	while (!found && (e = readdir(dh)) != NULL)
		found = strlen(e->d_name) == len &&
		    memcmp(e->d_name, name, len) == 0;
	closedir(dh);
	return found;
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
		size_t len = strcspn(s, "/"), dirlen = p.len;

		buf_addch(&p, '/');
		buf_add(&p, s, len);
		if (lstat(p.data, &st) < 0 ||
		    !wt_exact(p.data, dirlen, s, len)) {
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
	return tree_walk(src, path, NULL, NULL);
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
	if ((ft = tree_walk(src, path, &blob, NULL)) != FT_FILE)
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
		/* A blob that is there but cannot be read: say why. */
		if (git_error_last() != NULL)
			return err_set("cannot read %s in %s: %s; the "
			    "repository's objects are damaged or were changed "
			    "in place: check it with git fsck, or clone it "
			    "again", path, src->where, git_msg());
		return err_set("%s is not a regular file in %s", path,
		    src->where);
	}
}

/* The entry of tree whose name is name (len bytes) but for case. */
static const git_tree_entry *
entry_nocase(const git_tree *tree, const char *name, size_t len)
{
	size_t i, n = git_tree_entrycount(tree);

	for (i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *en = git_tree_entry_name(e);

		if (strlen(en) == len && strncasecmp(en, name, len) == 0)
			return e;
	}
	return NULL;
}

/* A path that exists where path does not, taking each component in
 * either case; through real directories only. */
static int
git_suggest(struct gitsrc *src, const char *path, struct buf *out)
{
	git_tree *tree = src->root, *sub = NULL;
	const char *s = path;
	int rc = -1;

	for (;;) {
		size_t len = strcspn(s, "/");
		const git_tree_entry *e = entry_nocase(tree, s, len);

		if (e == NULL)
			break;
		if (out->len)
			buf_addch(out, '/');
		buf_adds(out, git_tree_entry_name(e));
		s += len;
		if (*s == '\0') {
			rc = strcmp(out->data, path) != 0 ? 0 : -1;
			break;
		}
		s++;
		if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE ||
		    git_tree_lookup(&tree, src->repo, git_tree_entry_id(e)) < 0)
			break;
		if (sub)
			git_tree_free(sub);
		sub = tree;
	}
	if (sub)
		git_tree_free(sub);
	if (rc < 0)
		buf_reset(out);
	return rc;
}

static int
wt_suggest(struct gitsrc *src, const char *path, struct buf *out)
{
	struct buf dir = BUF_INIT;
	const char *s = path;
	int rc = -1;

	buf_adds(&dir, src->rootdir);
	for (;;) {
		size_t len = strcspn(s, "/");
		DIR *dh = opendir(dir.data);
		struct dirent *e;
		struct stat st;
		int found = 0;

		if (dh == NULL)
			break;
		while (!found && (e = readdir(dh)) != NULL) {
			if (strlen(e->d_name) != len ||
			    strncasecmp(e->d_name, s, len) != 0)
				continue;
			found = 1;
			if (out->len)
				buf_addch(out, '/');
			buf_adds(out, e->d_name);
			buf_addch(&dir, '/');
			buf_adds(&dir, e->d_name);
		}
		closedir(dh);
		if (!found)
			break;
		s += len;
		if (*s == '\0') {
			rc = strcmp(out->data, path) != 0 ? 0 : -1;
			break;
		}
		s++;
		if (lstat(dir.data, &st) < 0 || !S_ISDIR(st.st_mode))
			break;
	}
	buf_free(&dir);
	if (rc < 0)
		buf_reset(out);
	return rc;
}

static int
src_suggest_unlocked(void *ctx, const char *path, struct buf *out)
{
	struct gitsrc *src = ctx;

	if (check_repo_path(path) != NULL)
		return -1;
	return src->worktree ? wt_suggest(src, path, out) :
	    git_suggest(src, path, out);
}

/* A file's size from the object's header, without reading its bytes. */
static int
src_size_unlocked(void *ctx, const char *path, size_t *size)
{
	struct gitsrc *src = ctx;
	git_object_t type;
	git_odb *odb = NULL;
	git_oid id;
	size_t len = 0;
	struct stat st;
	char *full;
	int rc;

	if (check_repo_path(path) != NULL)
		return err_set("%s: not a path inside the project", path);
	if (src->worktree) {
		if (wt_stat(src, path) != FT_FILE)
			return err_set("%s is not a regular file in %s", path,
			    src->where);
		full = xasprintf("%s/%s", src->rootdir, path);
		rc = lstat(full, &st);
		free(full);
		if (rc < 0)
			return err_set("cannot read %s: %s", path,
			    strerror(errno));
		*size = (size_t)st.st_size;
		return 0;
	}
	if (tree_walk(src, path, NULL, &id) != FT_FILE)
		return err_set("%s is not a regular file in %s", path,
		    src->where);
	if (git_repository_odb(&odb, src->repo) < 0 ||
	    git_odb_read_header(&len, &type, odb, &id) < 0) {
		git_odb_free(odb);
		return err_set("cannot read %s: %s", path, git_msg());
	}
	git_odb_free(odb);
	*size = len;
	return 0;
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
	const char *dir;
	int rc;
};

/*
 * Why a name in a release's tree cannot be shipped, or NULL.  git itself
 * never commits ".", ".." or a name with '/', but a tree object can be
 * made by hand; on the host each would write outside the release.
 */
static const char *
bad_tree_name(const char *root, const char *name)
{
	if (*name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/'))
		return "is not a valid file name (a tree object made by hand?)";
	if (strchr(name, '\n'))
		return "has a newline in its name, which tend's list of a "
		    "release's files cannot hold; rename it";
	if (*root == '\0' && (strcmp(name, ".tend-files") == 0 ||
	    strcmp(name, ".tend-list") == 0))
		return "is a name tend keeps for its own list of a release's "
		    "files; rename it";
	return NULL;
}

static int
walk_entry(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk *w = payload;
	git_filemode_t mode = git_tree_entry_filemode(e);
	const char *name = git_tree_entry_name(e), *why;
	struct tree_file *f;

	if ((why = bad_tree_name(root, name)) != NULL) {
		w->rc = err_set("%s/%s%s %s", w->dir, root, name, why);
		return -1;	/* stops the walk */
	}
	if (mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_COMMIT)
		return 0;	/* directories come with their files */
	GROW(w->out->v, w->out->n + 1, w->out->cap);
	f = &w->out->v[w->out->n++];
	f->path = xasprintf("%s%s", root, name);
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
	struct walk w = { out, dir, 0 };

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

	if (src->worktree && check_repo_path(path) == NULL) {
		char *full = xasprintf("%s/%s", src->rootdir, path);
		char target[PATH_MAX];
		ssize_t n = readlink(full, target, sizeof(target));

		free(full);
		if (n >= 0 && (size_t)n < sizeof(target)) {
			buf_add(out, target, (size_t)n);
			return 0;
		}
	}
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
LOCKED(int, src_size, (void *ctx, const char *path, size_t *size),
    (ctx, path, size))

/* src_read, keeping what it reads for the next host: hosts applying the
 * same commit send the same blobs, and reading one again costs a zlib
 * inflate and a hash check. */
static int
src_read_kept(void *ctx, const char *path, struct buf *out)
{
	struct gitsrc *src = ctx;
	struct strindex_iter it;
	struct kept_blob *k;
	git_blob *blob = NULL;
	git_oid id;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i, len;

	pthread_mutex_lock(&src->mu);
	if (src->worktree || check_repo_path(path) != NULL ||
	    tree_walk(src, path, NULL, &id) != FT_FILE) {
		pthread_mutex_unlock(&src->mu);
		return src_read(ctx, path, out);	/* and says why not */
	}
	git_oid_tostr(hex, sizeof(hex), &id);
	for (i = strindex_first(&src->blobidx, hex, &it); i != STRINDEX_NONE;
	    i = strindex_next(&src->blobidx, &it)) {
		if (strcmp(src->blobs[i].id, hex) == 0) {
			buf_add(out, src->blobs[i].data, src->blobs[i].len);
			pthread_mutex_unlock(&src->mu);
			return 0;
		}
	}
	if (git_blob_lookup(&blob, src->repo, &id) < 0) {
		pthread_mutex_unlock(&src->mu);
		return err_set("cannot read %s: %s", path, git_msg());
	}
	len = (size_t)git_blob_rawsize(blob);
	buf_add(out, git_blob_rawcontent(blob), len);
	if (len <= KEPT_BLOB_MAX && src->blobbytes + len <= KEPT_TOTAL_MAX) {
		GROW(src->blobs, src->nblobs + 1, src->blobcap);
		k = &src->blobs[src->nblobs];
		memcpy(k->id, hex, sizeof(k->id));
		k->data = xmalloc(len);
		memcpy(k->data, git_blob_rawcontent(blob), len);
		k->len = len;
		strindex_add(&src->blobidx, k->id, src->nblobs++);
		src->blobbytes += len;
	}
	git_blob_free(blob);
	pthread_mutex_unlock(&src->mu);
	return 0;
}
LOCKED(int, src_list, (void *ctx, const char *dir, struct tree_list *out),
    (ctx, dir, out))
LOCKED(int, src_readlink, (void *ctx, const char *path, struct buf *out),
    (ctx, path, out))
LOCKED(int, src_suggest, (void *ctx, const char *path, struct buf *out),
    (ctx, path, out))

static void
set_commit_info(struct gitsrc *src)
{
	const git_signature *sig;
	const char *summary;

	git_oid_tostr(src->commit_id, sizeof(src->commit_id),
	    git_commit_id(src->commit));
	memcpy(src->short_id, src->commit_id, 7);
	src->short_id[7] = '\0';
	summary = git_commit_summary(src->commit);
	src->subject = xstrdup(summary ? summary : "");
	sig = git_commit_author(src->commit);
	src->author = sig ? xasprintf("%s <%s>", sig->name, sig->email) :
	    xstrdup("");
	src->time = (long long)git_commit_time(src->commit);
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

static int verify_hashes;

void
gitsrc_verify_hashes(int on)
{
	verify_hashes = on;
}

static struct gitsrc *
src_new(void)
{
	struct gitsrc *src = xcalloc(1, sizeof(*src));

	git_libgit2_init();
	/* Every path is looked up through its trees, for every host: keep
	 * big trees in libgit2's cache (by default only those under 4 KiB
	 * are).  Blobs are read once into the project's blob cache. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
	    (size_t)4 << 20);
	/* libgit2 hashes every object it reads to check its id.  These come
	 * from the repository's own store, guarded by zlib's checksums and
	 * checked when fetched; the hash (SHA-1 with collision detection)
	 * was a fifth of a plan's CPU.  Only when a signature is to be
	 * trusted is every object checked: what was signed names trees and
	 * blobs by id, and a store edited in place must not pass for it. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION,
	    verify_hashes);
	pthread_mutex_init(&src->mu, NULL);
	memset(src->commit_id, '0', GIT_OID_HEXSZ);
	memcpy(src->short_id, src->commit_id, 7);
	return src;
}

static struct gitsrc *
src_finish(struct gitsrc *src)
{
	if (src->subject == NULL)
		src->subject = xstrdup("");
	if (src->author == NULL)
		src->author = xstrdup("");
	src->files.ctx = src;
	src->files.stat = src_stat;
	src->files.read = src_read;
	src->files.size = src_size;
	src->files.list = src->worktree ? NULL : src_list;
	src->files.readlink = src_readlink;
	src->files.suggest = src_suggest;
	src->files.where = src->where;
	src->kept = src->files;
	src->kept.read = src_read_kept;
	return src;
}

struct gitsrc *
gitsrc_open(const char *dir, const char *rev, int worktree)
{
	struct gitsrc *src = src_new();
	char real[PATH_MAX], workreal[PATH_MAX];
	const char *workdir, *prefix = "";
	struct stat st;
	int rc;

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
	return src_finish(src);
fail:
	gitsrc_free(src);
	return NULL;
}

struct gitsrc *
gitsrc_open_bare(const char *gitdir, const char *path, const char *rev)
{
	struct gitsrc *src = src_new();
	char *prefix = xstrdup(path ? path : "");
	size_t n = strlen(prefix);

	while (n > 0 && prefix[n - 1] == '/')
		prefix[--n] = '\0';
	if (*prefix && check_repo_path(prefix) != NULL) {
		err_set("--path %s %s", prefix, check_repo_path(prefix));
		goto fail;
	}
	src->rootdir = xstrdup(gitdir);
	if (git_repository_open_bare(&src->repo, gitdir) < 0) {
		err_set("cannot open the repository cache %s: %s", gitdir,
		    git_msg());
		goto fail;
	}
	if (resolve_rev(src, rev) < 0 || find_root(src, prefix) < 0)
		goto fail;
	src->where = xasprintf("commit %s", src->short_id);
	free(prefix);
	return src_finish(src);
fail:
	free(prefix);
	gitsrc_free(src);
	return NULL;
}

void
gitsrc_free(struct gitsrc *src)
{
	size_t i;

	if (src == NULL)
		return;
	git_tree_free(src->root);
	git_commit_free(src->commit);
	git_repository_free(src->repo);
	free(src->rootdir);
	free(src->subject);
	free(src->author);
	free(src->where);
	for (i = 0; i < src->nblobs; i++)
		free(src->blobs[i].data);
	free(src->blobs);
	strindex_free(&src->blobidx);
	pthread_mutex_destroy(&src->mu);
	free(src);
	git_libgit2_shutdown();
}

const struct files *
gitsrc_files(struct gitsrc *src)
{
	return &src->files;
}

const struct files *
gitsrc_files_kept(struct gitsrc *src)
{
	return &src->kept;
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

const char *
gitsrc_author(const struct gitsrc *src)
{
	return src->author;
}

long long
gitsrc_time(const struct gitsrc *src)
{
	return src->time;
}

/* ------------------------------------------------------------ fetching */

/* Where deploy outcomes are kept as notes (--status git-notes). */
#define NOTES_REF "refs/notes/tend"

struct fetch_ctx {
	const struct ssh_opts *ssh;
	int port;			/* of an SSH remote */
	int tries;			/* credential attempts */
	char *why;			/* our own reason to refuse */
};

/* The port of an ssh:// URL; scp-style user@host:path is port 22. */
static int
url_port(const char *url)
{
	const char *p, *end;

	if (strncmp(url, "ssh://", 6) != 0)
		return 22;
	p = url + 6;
	end = p + strcspn(p, "/");
	if ((p = memchr(p, '@', (size_t)(end - p))) == NULL)
		p = url + 6;
	if (*p == '[' && (p = memchr(p, ']', (size_t)(end - p))) == NULL)
		return 22;
	if ((p = memchr(p, ':', (size_t)(end - p))) == NULL)
		return 22;
	return atoi(p + 1) > 0 ? atoi(p + 1) : 22;
}

static int
fetch_cred(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	struct fetch_ctx *fc = payload;

	(void)url;
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || fc->tries++ > 0) {
		free(fc->why);
		fc->why = xstrdup(allowed & GIT_CREDENTIAL_SSH_KEY ?
		    "the remote refused the SSH key: add its public key as a "
		    "deploy key (read access) of the repository" :
		    "the remote asks for a password: tend reads repositories "
		    "over SSH with a deploy key, or public http(s)");
		return GIT_EUSER;
	}
	if (user == NULL)
		user = "git";
	if (fc->ssh->identity)
		return git_credential_ssh_key_new(out, user, NULL,
		    fc->ssh->identity, NULL);
	return git_credential_ssh_key_from_agent(out, user);
}

static int
fetch_cert(git_cert *cert, int valid, const char *host, void *payload)
{
	struct fetch_ctx *fc = payload;
	git_cert_hostkey *hk = (git_cert_hostkey *)cert;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_ECERTIFICATE;
	if (!(hk->type & GIT_CERT_SSH_RAW) || hk->raw_type ==
	    GIT_CERT_SSH_RAW_TYPE_UNKNOWN) {
		free(fc->why);
		fc->why = xasprintf("%s sent a host key tend cannot check",
		    host);
		return GIT_EUSER;
	}
	/* libgit2 numbers raw key types as libssh2 does. */
	if (ssh_check_known_host(host, fc->port, hk->hostkey, hk->hostkey_len,
	    (int)hk->raw_type, fc->ssh) < 0) {
		free(fc->why);
		fc->why = xstrdup(err_msg());
		return GIT_EUSER;
	}
	return 0;
}

/*
 * An in-memory remote for url: nothing read from the repository's config
 * (with libgit2 1.5 its pattern lookups leak on every call), with tend's
 * key and host key checks as callbacks.  NULL on failure (git_msg).
 */
static git_remote *
remote_for(git_repository *repo, const char *url, git_remote_callbacks *cb,
    struct fetch_ctx *fc)
{
	git_remote_create_options ro;
	git_remote *remote;

	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0)
		return NULL;
	cb->credentials = fetch_cred;
	cb->certificate_check = fetch_cert;
	cb->payload = fc;
	return remote;
}

static git_repository *
open_cache(const char *gitdir)
{
	git_repository *repo = NULL;

	if (git_repository_open_bare(&repo, gitdir) < 0 &&
	    git_repository_init(&repo, gitdir, 1) < 0) {
		err_set("cannot create the repository cache %s: %s", gitdir,
		    git_msg());
		return NULL;
	}
	return repo;
}

int
gitsrc_fetch(const char *gitdir, const char *url, const struct ssh_opts *ssh,
    int pulls)
{
	git_fetch_options fo;
	struct fetch_ctx fc = { ssh, url_port(url), 0, NULL };
	git_buf head = GIT_BUF_INIT;
	char *spec[] = { "+refs/heads/*:refs/heads/*",
		"+" NOTES_REF ":" NOTES_REF,
		"+refs/pull/*/head:refs/pull/*/head",
		"+refs/merge-requests/*/head:refs/merge-requests/*/head" };
	git_strarray specs = { spec, pulls ? 4 : 2 };
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	int rc = -1;

	git_libgit2_init();
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if (strstr(url, "://") == NULL && strchr(url, ':') == NULL &&
	    access(url, F_OK) < 0) {
		err_set("cannot fetch %s: %s; check --repo (a path, "
		    "file://, ssh://, user@host:path or https://)", url,
		    strerror(errno));
		goto out;
	}
	if ((repo = open_cache(gitdir)) == NULL)
		goto out;
	if ((remote = remote_for(repo, url, &fo.callbacks, &fc)) == NULL) {
		err_set("cannot fetch %s: %s", url, git_msg());
		goto out;
	}
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	if (git_remote_fetch(remote, &specs, &fo, NULL) < 0) {
		err_set("cannot fetch %s: %s", url, fc.why ? fc.why :
		    git_msg());
		goto out;
	}
	/* The cache's HEAD follows the remote's default branch. */
	if (git_remote_default_branch(&head, remote) == 0 &&
	    git_repository_set_head(repo, head.ptr) < 0)
		log_warnx("%s: cannot follow the default branch %s: %s",
		    gitdir, head.ptr, git_msg());
	git_buf_dispose(&head);
	rc = 0;
out:
	free(fc.why);
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int
gitsrc_branch_head(const char *gitdir, const char *branch, char out[41])
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	char *name = branch ? xasprintf("refs/heads/%s", branch) :
	    xstrdup("HEAD");
	int rc = -1;

	git_libgit2_init();
	if (git_repository_open_bare(&repo, gitdir) < 0) {
		err_set("cannot open the repository cache %s: %s", gitdir,
		    git_msg());
		goto out;
	}
	if (git_reference_lookup(&ref, repo, name) < 0) {
		err_set(branch ? "the remote has no branch '%s'" : "the remote "
		    "has no default branch%s: name one with -e ENV@BRANCH",
		    branch ? branch : "");
		goto out;
	}
	if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		err_set("branch '%s' does not point at a commit",
		    branch ? branch : "HEAD");
		goto out;
	}
	git_oid_tostr(out, 41, git_object_id(obj));
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(ref);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(name);
	return rc;
}

int
gitsrc_note(const char *gitdir, const char *sha, const char *context,
    const char *line)
{
	git_repository *repo = NULL;
	git_signature *sig = NULL;
	git_note *old = NULL;
	struct buf text = BUF_INIT;
	git_oid oid, out;
	const char *msg, *p, *nl;
	size_t clen = strlen(context);
	int rc = -1;

	git_libgit2_init();
	if (git_oid_fromstr(&oid, sha) < 0) {
		err_set("'%s' is not a commit id", sha);
		goto out;
	}
	if (git_repository_open_ext(&repo, gitdir, 0, NULL) < 0) {
		err_set("cannot open %s: %s", gitdir, git_msg());
		goto out;
	}
	/* One line per context: keep the other contexts' lines. */
	if (git_note_read(&old, repo, NOTES_REF, &oid) == 0 &&
	    (msg = git_note_message(old)) != NULL) {
		for (p = msg; *p; p = nl) {
			nl = strchr(p, '\n');
			nl = nl ? nl + 1 : p + strlen(p);
			if (strncmp(p, context, clen) == 0 && p[clen] == ':')
				continue;
			buf_add(&text, p, (size_t)(nl - p));
			if (nl[-1] != '\n')
				buf_addch(&text, '\n');
		}
	}
	buf_addf(&text, "%s\n", line);
	if (git_signature_now(&sig, "tend", "tend@localhost") < 0 ||
	    git_note_create(&out, repo, NOTES_REF, sig, sig, &oid,
	    buf_str(&text), 1) < 0) {
		err_set("cannot write the note on %.7s: %s", sha, git_msg());
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	git_note_free(old);
	git_signature_free(sig);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

int
gitsrc_push_notes(const char *gitdir, const char *url,
    const struct ssh_opts *ssh)
{
	git_push_options po;
	struct fetch_ctx fc = { ssh, url_port(url), 0, NULL };
	char *spec[] = { "+" NOTES_REF ":" NOTES_REF };
	git_strarray specs = { spec, 1 };
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	int rc = -1;

	git_libgit2_init();
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	if (git_repository_open_ext(&repo, gitdir, 0, NULL) < 0) {
		err_set("cannot open %s: %s", gitdir, git_msg());
		goto out;
	}
	if ((remote = remote_for(repo, url, &po.callbacks, &fc)) == NULL) {
		err_set("cannot push to %s: %s", url, git_msg());
		goto out;
	}
	if (git_remote_push(remote, &specs, &po) < 0) {
		err_set("cannot push %s to %s: %s", NOTES_REF, url, fc.why ?
		    fc.why : git_msg());
		goto out;
	}
	rc = 0;
out:
	free(fc.why);
	git_remote_free(remote);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

char *
gitsrc_remote_url(const struct gitsrc *src, const char *name)
{
	git_config *cfg = NULL;
	git_buf buf = GIT_BUF_INIT;
	char *key = xasprintf("remote.%s.url", name), *url = NULL;

	/* The config key itself: git_remote_lookup's pattern lookups leak
	 * in libgit2 1.5. */
	if (src->repo && git_repository_config_snapshot(&cfg, src->repo) == 0 &&
	    git_config_get_string_buf(&buf, cfg, key) == 0)
		url = xstrdup(buf.ptr);
	git_buf_dispose(&buf);
	git_config_free(cfg);
	free(key);
	return url;
}

const char *
gitsrc_gitdir(const struct gitsrc *src)
{
	return src->repo ? git_repository_path(src->repo) : NULL;
}

int
gitsrc_signature(struct gitsrc *src, struct buf *sig, struct buf *data)
{
	git_buf s = GIT_BUF_INIT, d = GIT_BUF_INIT;
	git_oid id;
	int rc;

	if (src->repo == NULL || src->commit == NULL || src->worktree)
		return 0;
	git_oid_cpy(&id, git_commit_id(src->commit));
	pthread_mutex_lock(&src->mu);
	rc = git_commit_extract_signature(&s, &d, src->repo, &id, NULL);
	pthread_mutex_unlock(&src->mu);
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return err_set("cannot read the signature of commit %s: %s",
		    src->short_id, git_msg());
	buf_add(sig, s.ptr, s.size);
	buf_add(data, d.ptr, d.size);
	git_buf_dispose(&s);
	git_buf_dispose(&d);
	return 1;
}

int
gitsrc_pull_heads(const char *gitdir, struct pull_head **out, size_t *n)
{
	static const char *const globs[] = { "refs/pull/*/head",
		"refs/merge-requests/*/head" };
	git_repository *repo = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref;
	size_t g, cap = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	git_libgit2_init();
	if (git_repository_open_bare(&repo, gitdir) < 0) {
		err_set("cannot open the repository cache %s: %s", gitdir,
		    git_msg());
		goto done;
	}
	for (g = 0; g < ARRAY_SIZE(globs); g++) {
		if (git_reference_iterator_glob_new(&it, repo, globs[g]) < 0)
			continue;
		while (git_reference_next(&ref, it) == 0) {
			const git_oid *oid = git_reference_target(ref);

			if (oid) {
				GROW(*out, *n + 1, cap);
				(*out)[*n].ref = xstrdup(git_reference_name(ref));
				git_oid_tostr((*out)[*n].sha, 41, oid);
				(*n)++;
			}
			git_reference_free(ref);
		}
		git_reference_iterator_free(it);
		it = NULL;
	}
	rc = 0;
done:
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
