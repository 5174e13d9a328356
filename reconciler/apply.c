/* apply: one script, one stream, one round trip per host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "log.h"
#include "shell.h"

char *
apply_holder(const char *what)
{
	char *by = record_whoami(), *when = record_now(), *h;

	h = xasprintf("%s by %s (pid %d) since %s", what, by, (int)getpid(),
	    when);
	free(by);
	free(when);
	return h;
}

static char *
tmp_name(const char *path, const char *nonce, size_t i)
{
	const char *slash = strrchr(path, '/');

	return xasprintf("%.*s/.tend-%s.%zu", (int)(slash - path), path,
	    nonce, i);
}

/* Where a new file waits until it is renamed into place: a directory of
 * this apply's own beside the target, so that the files of one directory
 * are renamed by one mv. */
static char *
upload_tmp(const char *path, const char *nonce)
{
	const char *slash = strrchr(path, '/');

	return xasprintf("%.*s/.tend-%s/%s", (int)(slash - path), path, nonce,
	    slash + 1);
}

static char *
upload_dir(const char *path, const char *nonce)
{
	const char *slash = strrchr(path, '/');

	return xasprintf("%.*s/.tend-%s", (int)(slash - path), path, nonce);
}

static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
}

/* chmod/chown/chgrp lines for one path as the resource declares. */
static void
attrs(struct buf *s, const struct resource *res, unsigned mode,
    const char *path, const char *what)
{
	if (res->kind == RES_SYMLINK)
		return;
	sh_addf(s, "chmod %o -- %Q || fail %Q\n", mode, path, what);
	if (res->owner && res->group)
		sh_addf(s, "chown -- %Q:%Q %Q || fail %Q\n", res->owner,
		    res->group, path, what);
	else if (res->owner)
		sh_addf(s, "chown -- %Q %Q || fail %Q\n", res->owner, path,
		    what);
	else if (res->group)
		sh_addf(s, "chgrp -- %Q %Q || fail %Q\n", res->group, path,
		    what);
}

static struct piece *
piece_add(struct payload *pl)
{
	struct piece *pc;

	GROW(pl->v, pl->n + 1, pl->cap);
	pc = &pl->v[pl->n++];
	memset(pc, 0, sizeof(*pc));
	return pc;
}

/* Upload a blob and name it on the host: bytes go to the payload, the
 * script reads exactly that many from its stdin. */
static void
stage_blob(struct buf *s, struct payload *pl, const void *data, size_t len,
    const char *to, const char *what)
{
	struct piece *pc = piece_add(pl);

	sh_addf(s, "head -c %zu >%s || fail %Q\n", len, to, what);
	pc->data = data;
	pc->len = len;
}

static const char zeros[1024];

static size_t
round512(size_t n)
{
	return (n + 511) / 512 * 512;
}

/* ustar's name and linkname fields hold 99 bytes here; longer ones go
 * into a pax header in full. */
#define TAR_NAME_MAX 99

static size_t
digits_of(size_t v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Append the pax record "LEN key=value\n", where LEN counts its own
 * digits too; or only count its length when b is NULL. */
static size_t
pax_record(struct buf *b, const char *key, const char *value)
{
	size_t n = strlen(" =\n") + strlen(key) + strlen(value), digits = 1;

	while (digits_of(n + digits) != digits)
		digits++;
	if (b)
		buf_addf(b, "%zu %s=%s\n", n + digits, key, value);
	return n + digits;
}

static size_t
pax_size(const char *name, const char *link)
{
	return (strlen(name) > TAR_NAME_MAX ? pax_record(NULL, "path", name) :
	    0) + (link && strlen(link) > TAR_NAME_MAX ?
	    pax_record(NULL, "linkpath", link) : 0);
}

/* The bytes a member takes in the stream: headers, content, padding. */
static size_t
tar_member_size(const char *name, const char *link, size_t len)
{
	size_t pax = pax_size(name, link);

	return (pax ? 512 + round512(pax) : 0) + 512 + round512(len);
}

/* A ustar header block. */
static void
tar_block(struct buf *b, const char *name, size_t size, char type,
    unsigned mode, const char *link, long mtime)
{
	unsigned char h[512];
	unsigned sum = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%.99s", name);
	snprintf((char *)h + 100, 8, "%07o", mode & 07777);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", size);
	snprintf((char *)h + 136, 12, "%011lo", mtime);
	h[156] = (unsigned char)type;
	if (link)
		snprintf((char *)h + 157, 100, "%.99s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	buf_add(b, h, sizeof(h));
}

/* A member's headers: a pax header first when its name or link target is
 * too long for ustar's fields. */
static void
tar_head(struct buf *b, const struct piece *pc, long mtime)
{
	size_t pax = pax_size(pc->name, pc->link);

	if (pax) {
		size_t at;

		tar_block(b, "PaxHeader", pax, 'x', 0600, NULL, mtime);
		at = b->len;
		if (strlen(pc->name) > TAR_NAME_MAX)
			pax_record(b, "path", pc->name);
		if (pc->link && strlen(pc->link) > TAR_NAME_MAX)
			pax_record(b, "linkpath", pc->link);
		if (b->len - at != pax)
			bug("pax header of %zu bytes, not %zu", b->len - at,
			    pax);
		buf_add(b, zeros, round512(pax) - pax);
	}
	tar_block(b, pc->name, pc->type == '2' ? 0 : pc->len, pc->type,
	    pc->mode, pc->link, mtime);
}

/* Add a member to the tar stream; returns the bytes it takes there. */
static size_t
tar_add(struct payload *pl, const char *name, char type, unsigned mode,
    const char *data, size_t len, const char *source, const char *link)
{
	struct piece *pc = piece_add(pl);

	pc->name = xstrdup(name);
	pc->type = type;
	pc->mode = mode;
	pc->data = data;
	pc->len = type == '2' ? 0 : len;
	pc->source = source ? xstrdup(source) : NULL;
	pc->link = link ? xstrdup(link) : NULL;
	return tar_member_size(pc->name, pc->link, pc->len);
}

/* Start sending piece pc: its parts, with a member's headers made and
 * its content read now. */
static int
piece_start(struct payload *pl, const struct piece *pc)
{
	pl->npart = pl->ipart = pl->off = 0;
	if (pc->name == NULL) {
		pl->part[pl->npart].data = pc->data;
		pl->part[pl->npart++].len = pc->len;
		return 0;
	}
	buf_reset(&pl->head);
	buf_free(&pl->body);
	tar_head(&pl->head, pc, pl->mtime);
	pl->part[pl->npart].data = pl->head.data;
	pl->part[pl->npart++].len = pl->head.len;
	if (pc->type == '2')
		return 0;
	if (pc->data == NULL && pc->source) {
		if (pl->files->read(pl->files->ctx, pc->source, &pl->body) < 0)
			return -1;
		/* The script announced the size; the commit cannot have
		 * changed, but a short stream must never reach tar. */
		if (pl->body.len != pc->len)
			return err_set("%s: %zu bytes, not the %zu planned",
			    pc->source, pl->body.len, pc->len);
		pl->part[pl->npart].data = pl->body.data;
	} else {
		pl->part[pl->npart].data = pc->data;
	}
	pl->part[pl->npart++].len = pc->len;
	pl->part[pl->npart].data = zeros;
	pl->part[pl->npart++].len = round512(pc->len) - pc->len;
	return 0;
}

ssize_t
payload_read(void *arg, char *buf, size_t cap)
{
	struct payload *pl = arg;
	size_t n = 0, take;

	while (n < cap) {
		const struct ssh_chunk *part;

		if (pl->ipart == pl->npart) {
			if (pl->k == pl->n)
				break;
			if (piece_start(pl, &pl->v[pl->k++]) < 0)
				return -1;
			continue;
		}
		part = &pl->part[pl->ipart];
		take = part->len - pl->off;
		if (take > cap - n)
			take = cap - n;
		if (take)
			memcpy(buf + n, (const char *)part->data + pl->off,
			    take);
		n += take;
		pl->off += take;
		if (pl->off == part->len) {
			pl->ipart++;
			pl->off = 0;
		}
	}
	return (ssize_t)n;
}

/* Where an action's new bytes go: a file's path, a unit file; NULL when it
 * sends none. */
static const char *
upload_path(const struct action *a)
{
	if (a->kind == RES_FILE && (a->op == ACT_CREATE ||
	    (a->op == ACT_UPDATE && (a->changes & CH_CONTENT))))
		return a->key;
	if (a->kind == RES_SERVICE && a->op != ACT_DELETE &&
	    (a->changes & CH_UNIT))
		return a->rr->unit_path;
	return NULL;
}

static int
uploads(const struct action *a)
{
	return upload_path(a) != NULL;
}

/* The release's staging directory, beside the releases. */
static char *
release_tmp(const struct action *a, const char *nonce)
{
	return xasprintf("%s/releases/.tend-%s", a->key, nonce);
}

/* The size of a repository file, from its header when files can tell. */
static int
file_size(const struct files *files, const char *path, size_t *size)
{
	struct buf b = BUF_INIT;
	int rc;

	if (files->size)
		return files->size(files->ctx, path, size);
	rc = files->read(files->ctx, path, &b);
	*size = b.len;
	buf_free(&b);
	return rc;
}

/* Stage a new release: a copy of the current one, minus what it no longer
 * has; what changed and its file list go into the tar stream, which
 * replaces whatever the copy has at their paths.  Adds their bytes in the
 * stream to *tarsize. */
static int
stage_release(struct buf *s, struct payload *pl, const struct action *a,
    const char *nonce, const struct files *files, size_t *tarsize)
{
	const struct rendered_res *rr = a->rr;
	char *t = release_tmp(a, nonce), *rel = xasprintf("%s/releases",
	    a->key), *cur = xasprintf("%s/current", a->key), *what, *f;
	struct buf list = BUF_INIT, link = BUF_INIT;
	size_t i, k, size;
	int rc = 0;

	what = xasprintf("could not stage release %s of %s", rr->release_id,
	    a->key);
	sh_addf(s, "mkdir -p -- %Q && rm -rf -- %Q || fail %Q\n", rel, t,
	    what);
	/* The host must still run what the plan was made against: another
	 * tend may have switched it since (we hold the lock from here). */
	sh_addf(s, "[ \"$(readlink -- %Q 2>/dev/null)\" = %Q ] || fail %Q\n",
	    cur, a->probed_current ? a->probed_current : "",
	    "the release on the host changed since tend looked; run tend "
	    "apply again");
	sh_addf(s, "if [ -d %Q/ ]; then cp -a -- %Q/. %Q; else mkdir -- %Q; "
	    "fi && rm -f -- %Q/.tend-files || fail %Q\n", cur, cur, t, t, t,
	    what);
	/* Old files, 200 to an rm. */
	for (k = 0; k < a->ndrop; k++) {
		if (k % 200 == 0)
			buf_adds(s, "rm -f --");
		f = xasprintf("%s/%s", t, a->drop[k]);
		buf_addch(s, ' ');
		sh_quote(s, f);
		free(f);
		if (k % 200 == 199 || k + 1 == a->ndrop)
			buf_addch(s, '\n');
	}
	for (k = 0; k < a->nupload && rc == 0; k++) {
		const struct tree_file *tf = &rr->tree.v[a->upload[k]];
		char *src = xasprintf("%s/%s", rr->from, tf->path);

		f = xasprintf("%s/%s", t + 1, tf->path);
		if (tf->mode == 0120000) {
			buf_reset(&link);
			if (files->readlink(files->ctx, src, &link) < 0)
				rc = -1;
			else
				*tarsize += tar_add(pl, f, '2', 0777, NULL, 0,
				    NULL, buf_str(&link));
		} else if (file_size(files, src, &size) < 0) {
			rc = -1;
		} else {
			*tarsize += tar_add(pl, f, '0', tf->mode, NULL, size,
			    src, NULL);
		}
		free(f);
		free(src);
	}
	for (i = 0; i < rr->tree.n; i++)
		buf_addf(&list, "%s %o %s\n", rr->tree.v[i].oid,
		    rr->tree.v[i].mode, rr->tree.v[i].path);
	/* Named .tend-files only once built: a release without it is
	 * unfinished and never switched to. */
	f = xasprintf("%s/.tend-list", t + 1);
	*tarsize += tar_add(pl, f, '0', 0644, list.data, list.len, NULL, NULL);
	pl->v[pl->n - 1].own = buf_detach(&list, NULL);
	pl->v[pl->n - 1].data = pl->v[pl->n - 1].own;
	free(f);
	buf_free(&link);
	free(t);
	free(rel);
	free(cur);
	free(what);
	return rc;
}

/* Switch current to the release, build it first when it is new; keep the
 * newest `keep`.  current never points at a missing or unbuilt release. */
static void
commit_release(struct buf *s, struct buf *later, const struct action *a,
    const char *nonce)
{
	const struct rendered_res *rr = a->rr;
	char *t = release_tmp(a, nonce);
	char *dir = xasprintf("%s/releases/%s", a->key, rr->release_id);
	char *link = xasprintf("releases/%s", rr->release_id);
	char *tmplink = xasprintf("%s/.tend-current.%s", a->key, nonce);
	char *cur = xasprintf("%s/current", a->key);
	char *rel = xasprintf("%s/releases", a->key);
	char *what = xasprintf("could not switch %s to release %s", a->key,
	    rr->release_id);

	if (a->op == ACT_DELETE) {
		sh_addf(s, "rm -f -- %Q && rm -rf -- %Q || fail %Q\n"
		    "rmdir -- %Q 2>/dev/null\n", cur, rel, what, a->key);
		goto done;
	}
	if (a->changes & CH_RELEASE_NEW) {
		sh_addf(s, "rm -rf -- %Q && mv -T -- %Q %Q || fail %Q\n", dir,
		    t, dir, what);
		if (rr->build)
			sh_addf(s, "(cd %Q && sh -c -- %Q) >\"$S/build.log\" "
			    "2>&1 || { tail -c 3000 \"$S/build.log\" >&2; "
			    "rm -rf -- %Q; fail %Q; }\n", dir, rr->build, dir,
			    "build of the new release failed; current is "
			    "unchanged");
		sh_addf(s, "mv -f -- %Q/.tend-list %Q/.tend-files || fail %Q\n",
		    dir, dir, what);
	} else {
		sh_addf(s, "[ -f %Q/.tend-files ] || fail %Q\n", dir,
		    "the release to switch to is gone from the host; run tend "
		    "apply again");
	}
	sh_addf(s, "ln -sfn -- %Q %Q && mv -f -T -- %Q %Q && touch -- %Q || "
	    "fail %Q\n", link, tmplink, tmplink, cur, dir, what);
	/* Keep the newest `keep`, the one just switched to among them; at
	 * the very end, after services restarted onto the new one. */
	sh_addf(later, "ls -1t -- %Q | grep -v -e '^\\.' | grep -v -x -e %Q | "
	    "tail -n +%d | while IFS= read -r old; do rm -rf -- %Q/\"$old\"; "
	    "done\n", rel, rr->release_id, rr->res->keep, rel);
done:
	free(t);
	free(dir);
	free(link);
	free(tmplink);
	free(cur);
	free(rel);
	free(what);
}

static void
commit_service(struct buf *s, const struct action *a, const char *nonce,
    size_t i)
{
	const struct rendered_res *rr = a->rr;
	/* A pruned unit (no rr) may be gone already: that is fine. */
	const char *u = rr ? rr->unit_name : a->key;
	const char *or = rr ? "||" : "2>/dev/null ||";
	char *path = rr ? xstrdup(rr->unit_path) :
	    xasprintf("/etc/systemd/system/%s", a->key);
	char *tmp = upload_tmp(path, nonce);
	int removing = a->op == ACT_DELETE;

	(void)i;
	if ((a->changes & CH_UNIT) && !removing)
		sh_addf(s, "mv -f -T -- %Q %Q && systemctl daemon-reload || "
		    "fail %Q\n", tmp, path, "could not install the unit file");
	if (a->changes & CH_ENABLE)
		sh_addf(s, "systemctl enable -q -- %Q || fail %Q\n", u,
		    "could not enable the service");
	if (a->changes & CH_STOP)
		sh_addf(s, "systemctl stop -- %Q %s %s\n", u, or, rr ?
		    "fail 'could not stop the service'" : ":");
	if (a->changes & CH_DISABLE)
		sh_addf(s, "systemctl disable -q -- %Q %s %s\n", u, or, rr ?
		    "fail 'could not disable the service'" : ":");
	if ((a->changes & CH_UNIT) && removing)
		sh_addf(s, "rm -f -- %Q && systemctl daemon-reload || "
		    "fail %Q\n", path, "could not remove the unit file");
	/* A unit that failed before (a bad release, a crash loop) must not
	 * stay stuck at its start limit: forget that, then (re)start.
	 * systemctl returns once a simple service is forked: give it a
	 * second, then it must still be running. */
	if (a->changes & (CH_START | CH_RESTART))
		sh_addf(s, "systemctl reset-failed -- %Q 2>/dev/null; "
		    "systemctl restart -- %Q && sleep 1 && systemctl is-active "
		    "-q -- %Q || { systemctl status --no-pager -n 15 -- %Q >&2; "
		    "fail %Q; }\n", u, u, u, u,
		    (a->changes & CH_START) ? "the service did not start" :
		    "the service did not restart");
	free(path);
	free(tmp);
}

static void
commit_command(struct buf *s, const struct action *a)
{
	const struct rendered_res *rr = a->rr;
	char *what = xasprintf("command %s failed", rr->key);
	char *late = xasprintf("command %s timed out after %lds", rr->key,
	    (rr->res->timeout_ms + 999) / 1000);
	struct buf run = BUF_INIT;

	sh_addf(&run, "(cd %Q && ", rr->cwd ? rr->cwd : "/");
	if (rr->res->timeout_ms)
		buf_addf(&run, "timeout %lds ", (rr->res->timeout_ms + 999) /
		    1000);
	sh_addf(&run, "sh -c -- %Q) >\"$S/command.log\" 2>&1 || "
	    "{ rc=$?; tail -c 3000 \"$S/command.log\" >&2; "
	    "[ $rc = 124 ] && fail %Q; fail %Q; }\n"
	    "printf 'tend-ran:%%s\\0' %Q\n", rr->run,
	    late, what, rr->key);
	/* The check gets the command's timeout too (10 minutes without
	 * one): it must never hold the lock for ever. */
	if (a->changes & CH_RUN_UNLESS)
		sh_addf(s, "if ! (cd %Q && timeout %lds sh -c -- %Q) "
		    ">/dev/null 2>&1; then\n%sfi\n", rr->cwd ? rr->cwd : "/",
		    rr->res->timeout_ms ? (rr->res->timeout_ms + 999) / 1000 :
		    600L, rr->unless, run.data);
	else
		buf_adds(s, run.data);
	buf_free(&run);
	free(what);
	free(late);
}

void
payload_free(struct payload *pl)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pl->owned); i++)
		free(pl->owned[i]);
	for (i = 0; i < pl->n; i++) {
		free(pl->v[i].name);
		free(pl->v[i].link);
		free(pl->v[i].source);
		free(pl->v[i].own);
	}
	free(pl->v);
	buf_free(&pl->head);
	buf_free(&pl->body);
	memset(pl, 0, sizeof(*pl));
}

static void
commit_action(struct buf *s, struct buf *later, const struct action *a,
    const char *nonce, size_t i)
{
	char *what, *tmp, *parent;
	const struct resource *res = a->rr ? a->rr->res : NULL;

	if (a->op == ACT_FORGET || a->op == ACT_CONFLICT)
		return;
	if (a->kind == RES_RELEASE) {
		commit_release(s, later, a, nonce);
		return;
	}
	if (a->kind == RES_SERVICE) {
		commit_service(s, a, nonce, i);
		return;
	}
	if (a->kind == RES_COMMAND) {
		commit_command(s, a);
		return;
	}
	what = xasprintf("could not %s %s %s", act_name(a->op),
	    res_kind_name(a->kind), a->key);
	tmp = tmp_name(a->key, nonce, i);
	parent = parent_of(a->key);

	switch (a->op) {
	case ACT_CREATE:
	case ACT_UPDATE:
		if (a->kind == RES_DIRECTORY) {
			sh_addf(s, "mkdir -p -- %Q || fail %Q\n", a->key, what);
			attrs(s, res, a->rr->mode, a->key, what);
		} else if (a->kind == RES_FILE && uploads(a)) {
			bug("file uploads are renamed in batches");
		} else if (a->kind == RES_FILE) {
			attrs(s, res, a->rr->mode, a->key, what);
		} else if (a->kind == RES_SYMLINK) {
			if (a->parent_missing)
				sh_addf(s, "mkdir -p -- %Q || fail %Q\n",
				    parent, what);
			sh_addf(s, "ln -s -- %Q %Q && mv -f -T -- %Q %Q || "
			    "fail %Q\n", a->rr->target, tmp, tmp, a->key,
			    what);
		}
		break;
	case ACT_DELETE:
		if (a->kind == RES_DIRECTORY)
			sh_addf(s, "rmdir -- %Q 2>/dev/null || "
			    "printf 'tend-kept:%%s\\0' %Q\n", a->key, a->key);
		else
			sh_addf(s, "rm -f -- %Q || fail %Q\n", a->key, what);
		break;
	default:
		break;
	}
	free(what);
	free(tmp);
	free(parent);
}

/* New files sharing owner and group get them in a few commands: a
 * thousand files are a handful of processes on the host, not a thousand.
 * (Their modes come with them, in the tar stream.) */
struct attr_group {
	const char *owner, *group;	/* borrowed from the manifest */
	char **paths;
	size_t n;
};

struct attr_groups {
	struct attr_group *v;
	size_t n, cap;
};

static int
same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* res NULL: a unit file, left to its owner. */
static void
attr_group_add(struct attr_groups *gs, const struct resource *res,
    const char *path)
{
	const char *owner = res ? res->owner : NULL;
	const char *group = res ? res->group : NULL;
	struct attr_group *g = NULL;
	size_t i;

	if (owner == NULL && group == NULL)
		return;
	for (i = 0; i < gs->n && g == NULL; i++)
		if (same_opt(gs->v[i].owner, owner) &&
		    same_opt(gs->v[i].group, group))
			g = &gs->v[i];
	if (g == NULL) {
		GROW(gs->v, gs->n + 1, gs->cap);
		g = &gs->v[gs->n++];
		memset(g, 0, sizeof(*g));
		g->owner = owner;
		g->group = group;
	}
	g->paths = xrealloc(g->paths, (g->n + 1) * sizeof(*g->paths));
	g->paths[g->n++] = xstrdup(path);
}

/* One command over paths, 200 at a time (argument lists are finite). */
static void
emit_over(struct buf *s, const char *cmd, char **paths, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 200 == 0)
			buf_adds(s, cmd);
		buf_addch(s, ' ');
		sh_quote(s, paths[i]);
		if (i % 200 == 199 || i + 1 == n)
			buf_adds(s, " || fail 'could not set owners of the new "
			    "files'\n");
	}
}

static void
attr_groups_emit(struct buf *s, struct attr_groups *gs)
{
	struct buf cmd = BUF_INIT;
	size_t i, k;

	for (i = 0; i < gs->n; i++) {
		struct attr_group *g = &gs->v[i];

		buf_reset(&cmd);
		if (g->owner && g->group)
			sh_addf(&cmd, "chown -- %Q:%Q", g->owner, g->group);
		else if (g->owner)
			sh_addf(&cmd, "chown -- %Q", g->owner);
		else if (g->group)
			sh_addf(&cmd, "chgrp -- %Q", g->group);
		emit_over(s, cmd.data, g->paths, g->n);
		for (k = 0; k < g->n; k++)
			free(g->paths[k]);
		free(g->paths);
	}
	buf_free(&cmd);
	free(gs->v);
}

/* Rename new files into place: the run of file uploads from p->v[i] that
 * share a directory, with one mv for up to 200 of them (each rename on
 * its own is atomic).  Returns the index after the run. */
static size_t
rename_batch(struct buf *s, const struct host_plan *p, size_t i,
    const char *nonce)
{
	char *dir = upload_dir(p->v[i].key, nonce);
	char *parent = parent_of(p->v[i].key);
	size_t j = i, n = 0;

	for (; j < p->n && p->v[j].kind == RES_FILE && uploads(&p->v[j]);
	    j++) {
		char *pj = parent_of(p->v[j].key), *t;

		if (strcmp(pj, parent) != 0) {
			free(pj);
			break;
		}
		free(pj);
		if (n % 200 == 0)
			sh_addf(s, "mv -f -t %Q --", parent);
		t = upload_tmp(p->v[j].key, nonce);
		buf_addch(s, ' ');
		sh_quote(s, t);
		free(t);
		if (++n % 200 == 0)
			buf_adds(s, " || fail 'could not rename the new files "
			    "into place'\n");
	}
	if (n % 200)
		buf_adds(s, " || fail 'could not rename the new files into "
		    "place'\n");
	sh_addf(s, "rmdir -- %Q 2>/dev/null\n", dir);
	free(dir);
	free(parent);
	return j;
}

/* Add path as a quoted word to list (" 'a' 'b' "), once. */
static void
add_word(struct buf *list, const char *path)
{
	struct buf q = BUF_INIT;

	if (list->len == 0)
		buf_addch(list, ' ');
	buf_addch(&q, ' ');
	sh_quote(&q, path);
	buf_addch(&q, ' ');
	if (strstr(list->data, q.data) == NULL)
		buf_add(list, q.data + 1, q.len - 1);
	buf_free(&q);
}

int
apply_script(struct buf *s, struct payload *payload,
    const struct host_plan *p, const char *app, const struct record *rec,
    const struct record *pending, const char *holder, const char *nonce,
    const struct files *files)
{
	int rc = 0;
	char *dir = xasprintf("%s/%s", RECORD_DIR, app);
	char *json = record_encode(rec), *tmp, *end;
	struct buf tmps = BUF_INIT, managed = BUF_INIT, later = BUF_INIT;
	struct attr_groups groups = { NULL, 0, 0 };
	size_t i, tarsize = 0;
	unsigned mode;

	memset(payload, 0, sizeof(*payload));
	payload->files = files;
	payload->mtime = (long)time(NULL);

	sh_addf(s, "set -u\nexport LC_ALL=C\numask 022\nS=%Q\nN=%Q\n", dir,
	    nonce);
	buf_adds(s,
	    "fail() { printf 'tend-failed:%s\\0' \"$1\"; exit 1; }\n"
	    /* The record holds hashes of files that may hold secrets: a
	     * guess at a secret could be checked against them. */
	    "mkdir -p \"$S\" && chmod 700 \"$S\" || "
	    "fail \"could not create $S\"\n"
	    "exec 9>>\"$S/lock\" || fail \"could not open $S/lock\"\n"
	    "if ! flock -n 9; then printf 'tend-locked:'; cat \"$S/lock\"; "
	    "printf '\\0'; exit 75; fi\n");
	sh_addf(s, "printf '%%s\\n' %Q >\"$S/lock\"\n", holder);

	/* Temporary names are removed on any exit; once renamed into place
	 * they are gone, so this removes only what did not land. */
	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		if (uploads(a)) {
			/* One staging directory per target directory. */
			tmp = upload_dir(upload_path(a), nonce);
			add_word(&tmps, tmp);
			free(tmp);
		}
		if (a->kind == RES_SYMLINK &&
		    (a->op == ACT_CREATE || a->op == ACT_UPDATE)) {
			tmp = tmp_name(a->key, nonce, i);
			add_word(&tmps, tmp);
			free(tmp);
		}
		if (a->kind == RES_RELEASE && (a->changes & CH_RELEASE_NEW)) {
			tmp = release_tmp(a, nonce);
			add_word(&tmps, tmp);
			free(tmp);
		}
		if (a->kind == RES_RELEASE && a->op != ACT_DELETE) {
			tmp = xasprintf("%s/.tend-current.%s", a->key, nonce);
			add_word(&tmps, tmp);
			free(tmp);
		}
	}
	buf_adds(s, "cleanup() { rm -rf --");
	buf_adds(s, buf_str(&tmps));
	buf_adds(s, " \"$S/state.json.$N\" \"$S/state.json.pending.$N\" "
	    "\"$S/managed.sh.$N\"; "
	    ": >\"$S/lock\"; }\n"
	    "trap cleanup EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\n"
	    "trap 'exit 143' TERM\ntrap 'exit 141' PIPE\n");

	/* Stage: each new file beside its target and each new release
	 * beside the others, mode and owner set; nothing visible changes
	 * yet.  The files travel as one tar stream, unpacked by one tar
	 * (which makes missing parents too, and replaces what a copied
	 * release has at a path) behind head -c, so that it reads exactly
	 * its own bytes of the stream. */
	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		if (a->kind == RES_RELEASE && (a->changes & CH_RELEASE_NEW) &&
		    stage_release(s, payload, a, nonce, files, &tarsize) < 0)
			rc = -1;
		if (!uploads(a))
			continue;
		tmp = upload_tmp(upload_path(a), nonce);
		/* Unpacked with its mode (tar -p): the host's mode of the
		 * file (0600 when it holds a secret), a unit file 0644. */
		mode = a->kind == RES_FILE ? a->rr->mode : 0644;
		if (a->rr->content_deferred)
			tarsize += tar_add(payload, tmp + 1, '0', mode, NULL,
			    a->rr->size, a->rr->source, NULL);
		else
			tarsize += tar_add(payload, tmp + 1, '0', mode,
			    a->rr->content.data, a->rr->content.len, NULL,
			    NULL);
		attr_group_add(&groups, a->kind == RES_FILE ? a->rr->res : NULL,
		    tmp);
		free(tmp);
	}
	if (tarsize) {
		struct piece *pc = piece_add(payload);	/* the end */

		pc->data = zeros;
		pc->len = sizeof(zeros);
		tarsize += sizeof(zeros);
		sh_addf(s, "head -c %zu | tar -x -f - -C / -m -p -U "
		    "--recursive-unlink --no-same-owner || fail %Q\n", tarsize,
		    "could not write the new files");
	}
	attr_groups_emit(s, &groups);
	stage_blob(s, payload, json, strlen(json), "\"$S/state.json.$N\"",
	    "could not write the record");
	if (pending) {
		char *pj = record_encode(pending);

		payload->owned[3] = pj;
		stage_blob(s, payload, pj, strlen(pj),
		    "\"$S/state.json.pending.$N\"",
		    "could not write the record");
	}
	/* managed.sh lets the next probe look at what tend recorded; from
	 * the pending record, so it covers what a halfway apply made too. */
	buf_adds(&managed, "# written by tend: the paths it manages here\n"
	    "set -- \"$@\"");
	for (i = 0; i < (pending ? pending : rec)->nres; i++) {
		const struct rec_res *rr = &(pending ? pending : rec)->res[i];

		if (!res_kind_is_path(rr->kind))
			continue;
		buf_adds(&managed, " \\\n  ");
		sh_quote(&managed, rr->key);
	}
	buf_addch(&managed, '\n');
	stage_blob(s, payload, managed.data, managed.len,
	    "\"$S/managed.sh.$N\"", "could not write the record");
	/* The end marker proves that the whole stream arrived. */
	end = xasprintf("tend-end-%s", nonce);
	sh_addf(s, "[ \"$(head -c %zu)\" = %Q ] || fail 'the upload was cut "
	    "short'\n", strlen(end), end);
	piece_add(payload)->data = end;
	payload->v[payload->n - 1].len = strlen(end);
	payload->owned[0] = json;
	payload->owned[1] = buf_detach(&managed, NULL);
	payload->owned[2] = end;

	/* From here the host changes: first a record naming what it may
	 * end up with, then each action in the manifest's order, then the
	 * record of the result, last. */
	buf_adds(s, "mv -f -- \"$S/managed.sh.$N\" \"$S/managed.sh\" || "
	    "fail 'could not write the record'\n");
	if (pending)
		buf_adds(s, "mv -f -- \"$S/state.json.pending.$N\" "
		    "\"$S/state.json\" || fail 'could not write the record'\n");
	for (i = 0; i < p->n; i++) {
		if (p->v[i].kind == RES_FILE && uploads(&p->v[i]))
			i = rename_batch(s, p, i, nonce) - 1;
		else
			commit_action(s, &later, &p->v[i], nonce, i);
	}
	buf_adds(s, buf_str(&later));
	buf_free(&later);
	buf_adds(s,
	    "mv -f -- \"$S/state.json.$N\" \"$S/state.json\" || "
	    "fail 'could not write the record'\n"
	    "printf 'tend-ok\\0'\n");
	buf_free(&tmps);
	free(dir);
	return rc;
}

/* The fields "tend-X:..." the script printed, NUL-terminated. */
static const char *
find_field(const struct buf *out, const char *prefix, size_t *from)
{
	size_t off = from ? *from : 0, plen = strlen(prefix);

	while (out->data && off < out->len) {
		const char *f = out->data + off;
		size_t flen = strnlen(f, out->len - off);

		off += flen + 1;
		if (flen >= plen && strncmp(f, prefix, plen) == 0) {
			if (from)
				*from = off;
			return f + plen;
		}
	}
	return NULL;
}

/* The record while the apply is under way: the commit the host ran, and
 * what it had plus what this apply may create, so a failure halfway still
 * lets the next apply (or a rollback) prune what it made. */
static struct record *
pending_record(const struct host_plan *p, const struct desired *d,
    const struct observed *o, const char *app)
{
	struct record *r = plan_record(d, o, app, o->rec && o->rec->commit ?
	    o->rec->commit : "", o->rec ? o->rec->last_good : NULL);
	size_t i;

	for (i = 0; o->rec && i < o->rec->nres; i++)
		if (!record_find(r, o->rec->res[i].kind, o->rec->res[i].key))
			record_add(r, &o->rec->res[i]);
	/* What this apply owes if it stops before doing it. */
	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		if (a->kind == RES_SERVICE && a->rr &&
		    (a->changes & CH_RESTART))
			record_owe(r, "service", a->rr->unit_name);
		if (a->kind == RES_COMMAND && (a->changes & CH_RUN))
			record_owe(r, "command", a->key);
	}
	record_stamp(r);
	return r;
}

int
apply_run(struct ssh *c, const struct host_plan *p, const struct desired *d,
    const struct observed *o, const char *app, const char *commit,
    const char *last_good, const struct files *files,
    struct apply_result *res)
{
	struct buf script = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	struct payload pl;
	struct ssh_input in = { payload_read, &pl };
	struct record *rec, *pending;
	char nonce[17], *holder, *cmd = NULL, *what;
	const char *f;
	size_t off = 0;
	int status = 0, rc = -1;

	memset(res, 0, sizeof(*res));
	probe_nonce(nonce);
	what = xasprintf("tend apply of commit %.7s", commit);
	holder = apply_holder(what);
	free(what);
	rec = plan_record(d, o, app, commit, last_good);
	record_stamp(rec);
	pending = pending_record(p, d, o, app);
	/* One stream: the script, which the remote shell reads first, then
	 * the bytes it reads from its stdin. */
	if (apply_script(&script, &pl, p, app, rec, pending, holder, nonce,
	    files) < 0) {
		payload_free(&pl);
		goto done;
	}
	cmd = xasprintf("sh -c 'eval \"$(head -c %zu)\"'", script.len);
	piece_add(&pl);
	memmove(pl.v + 1, pl.v, (pl.n - 1) * sizeof(*pl.v));
	memset(pl.v, 0, sizeof(*pl.v));
	pl.v[0].data = script.data;
	pl.v[0].len = script.len;
	rc = ssh_exec_input(c, cmd, &in, &out, &err, &status);
	payload_free(&pl);
	if (rc < 0)
		goto done;
	rc = -1;
	if (status == 75 && (f = find_field(&out, "tend-locked:", NULL))) {
		res->locked = 1;
		err_set("another tend is applying there (%.*s); it was not "
		    "touched, try again when that one is done",
		    (int)strcspn(f, "\n"), f);
		goto done;
	}
	if (status != 0 || find_field(&out, "tend-ok", NULL) == NULL) {
		f = find_field(&out, "tend-failed:", NULL);
		if (f == NULL && status > 128)
			err_set("the apply was interrupted on the host (signal "
			    "%d): it may be partly applied; run tend apply "
			    "again", status - 128);
		else
			err_set("%s (exit %d)", f ? f :
			    "the apply script failed", status);
		/* What the failing step printed: the end is what matters. */
		if (err.len) {
			size_t keep = err.len > 3000 ? 3000 : err.len;

			res->output = xstrndup(err.data + err.len - keep, keep);
		}
		goto done;
	}
	res->ran = find_field(&out, "tend-ran:", NULL) != NULL;
	while ((f = find_field(&out, "tend-kept:", &off)) != NULL) {
		res->kept = xrealloc(res->kept, (res->nkept + 1) *
		    sizeof(char *));
		res->kept[res->nkept++] = xstrdup(f);
	}
	rc = 0;
done:
	free(cmd);
	free(holder);
	record_free(rec);
	record_free(pending);
	buf_free(&script);
	buf_free(&out);
	buf_free(&err);
	return rc;
}

void
apply_result_free(struct apply_result *r)
{
	size_t i;

	for (i = 0; i < r->nkept; i++)
		free(r->kept[i]);
	free(r->kept);
	free(r->output);
	memset(r, 0, sizeof(*r));
}
