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

static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
}

/* chmod/chown/chgrp lines for one path as the resource declares. */
static void
attrs(struct buf *s, const struct resource *res, const char *path,
    const char *what)
{
	if (res->kind == RES_SYMLINK)
		return;
	sh_addf(s, "chmod %o -- %Q || fail %Q\n", res->mode, path, what);
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

static int
uploads(const struct action *a)
{
	return a->kind == RES_FILE && (a->op == ACT_CREATE ||
	    (a->op == ACT_UPDATE && (a->changes & CH_CONTENT)));
}

/* Upload a blob and name it on the host: bytes go to the payload, the
 * script reads exactly that many from its stdin. */
static void
stage_blob(struct buf *s, struct payload *pl, const void *data, size_t len,
    const char *to, const char *what)
{
	sh_addf(s, "head -c %zu >%s || fail %Q\n", len, to, what);
	GROW(pl->v, pl->n + 1, pl->cap);
	pl->v[pl->n].data = data;
	pl->v[pl->n].len = len;
	pl->n++;
}

void
payload_free(struct payload *pl)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pl->owned); i++)
		free(pl->owned[i]);
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

static void
commit_action(struct buf *s, const struct action *a, const char *nonce,
    size_t i)
{
	char *what, *tmp, *parent;
	const struct resource *res = a->rr ? a->rr->res : NULL;

	if (!res_kind_is_path(a->kind) || a->op == ACT_SKIP ||
	    a->op == ACT_FORGET || a->op == ACT_CONFLICT)
		return;
	what = xasprintf("%s %s %s", act_name(a->op), res_kind_name(a->kind),
	    a->key);
	tmp = tmp_name(a->key, nonce, i);
	parent = parent_of(a->key);

	switch (a->op) {
	case ACT_CREATE:
	case ACT_UPDATE:
		if (a->kind == RES_DIRECTORY) {
			sh_addf(s, "mkdir -p -- %Q || fail %Q\n", a->key, what);
			attrs(s, res, a->key, what);
		} else if (a->kind == RES_FILE && uploads(a)) {
			sh_addf(s, "mv -f -T -- %Q %Q || fail %Q\n", tmp,
			    a->key, what);
		} else if (a->kind == RES_FILE) {
			attrs(s, res, a->key, what);
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

void
apply_script(struct buf *s, struct payload *payload,
    const struct host_plan *p, const char *app, const struct record *rec,
    const char *holder, const char *nonce)
{
	char *dir = xasprintf("%s/%s", RECORD_DIR, app);
	char *json = record_encode(rec), *tmp, *what, *end;
	struct buf tmps = BUF_INIT, managed = BUF_INIT;

	memset(payload, 0, sizeof(*payload));
	size_t i;

	sh_addf(s, "set -u\nexport LC_ALL=C\numask 022\nS=%Q\nN=%Q\n", dir,
	    nonce);
	buf_adds(s,
	    "fail() { printf 'tend-failed:%s\\0' \"$1\"; exit 1; }\n"
	    "mkdir -p \"$S\" || fail \"create $S\"\n"
	    "exec 9>>\"$S/lock\" || fail \"open $S/lock\"\n"
	    "if ! flock -n 9; then printf 'tend-locked:'; cat \"$S/lock\"; "
	    "printf '\\0'; exit 75; fi\n");
	sh_addf(s, "printf '%%s\\n' %Q >\"$S/lock\"\n", holder);

	/* Temporary names are removed on any exit; once renamed into place
	 * they are gone, so this removes only what did not land. */
	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		if (uploads(a) || (a->kind == RES_SYMLINK &&
		    (a->op == ACT_CREATE || a->op == ACT_UPDATE))) {
			tmp = tmp_name(a->key, nonce, i);
			buf_addch(&tmps, ' ');
			sh_quote(&tmps, tmp);
			free(tmp);
		}
	}
	buf_adds(s, "cleanup() { rm -f --");
	buf_adds(s, buf_str(&tmps));
	buf_adds(s, " \"$S/state.json.$N\" \"$S/managed.sh.$N\"; "
	    ": >\"$S/lock\"; }\n"
	    "trap cleanup EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\n"
	    "trap 'exit 143' TERM\ntrap 'exit 141' PIPE\n");

	/* Stage: each new file's bytes beside its target, mode and owner
	 * set; nothing visible changes yet. */
	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];
		char *parent;
		struct buf q = BUF_INIT;

		if (!uploads(a))
			continue;
		parent = parent_of(a->key);
		tmp = tmp_name(a->key, nonce, i);
		what = xasprintf("write %s", a->key);
		if (a->parent_missing)
			sh_addf(s, "mkdir -p -- %Q || fail %Q\n", parent, what);
		sh_quote(&q, tmp);
		stage_blob(s, payload, a->rr->content.data, a->rr->content.len,
		    q.data, what);
		attrs(s, a->rr->res, tmp, what);
		buf_free(&q);
		free(parent);
		free(tmp);
		free(what);
	}
	stage_blob(s, payload, json, strlen(json), "\"$S/state.json.$N\"",
	    "write the record");
	/* managed.sh lets the next probe look at what tend recorded. */
	buf_adds(&managed, "# written by tend: the paths it manages here\n");
	for (i = 0; i < rec->nres; i++) {
		if (!res_kind_is_path(rec->res[i].kind))
			continue;
		buf_adds(&managed, "set -- \"$@\" ");
		sh_quote(&managed, rec->res[i].key);
		buf_addch(&managed, '\n');
	}
	stage_blob(s, payload, managed.data, managed.len,
	    "\"$S/managed.sh.$N\"", "write the record");
	/* The end marker proves that the whole stream arrived. */
	end = xasprintf("tend-end-%s", nonce);
	sh_addf(s, "[ \"$(head -c %zu)\" = %Q ] || fail 'the upload was cut "
	    "short'\n", strlen(end), end);
	GROW(payload->v, payload->n + 1, payload->cap);
	payload->v[payload->n].data = end;
	payload->v[payload->n++].len = strlen(end);
	payload->owned[0] = json;
	payload->owned[1] = buf_detach(&managed, NULL);
	payload->owned[2] = end;

	/* Commit, in the manifest's order, then the record, last. */
	for (i = 0; i < p->n; i++)
		commit_action(s, &p->v[i], nonce, i);
	buf_adds(s,
	    "mv -f -- \"$S/managed.sh.$N\" \"$S/managed.sh\" &&\n"
	    "mv -f -- \"$S/state.json.$N\" \"$S/state.json\" || "
	    "fail 'write the record'\n"
	    "printf 'tend-ok\\0'\n");
	buf_free(&tmps);
	free(dir);
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

int
apply_run(struct ssh *c, const struct host_plan *p, const struct desired *d,
    const struct observed *o, const char *app, const char *commit,
    struct apply_result *res)
{
	struct buf script = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	struct payload pl;
	struct ssh_chunk *in;
	struct record *rec;
	char nonce[17], *holder, *cmd, *what;
	const char *f;
	size_t off = 0;
	int status = 0, rc = -1;

	memset(res, 0, sizeof(*res));
	probe_nonce(nonce);
	what = xasprintf("tend apply of commit %.7s", commit);
	holder = apply_holder(what);
	free(what);
	rec = plan_record(d, o, app, commit, commit);
	record_stamp(rec);
	/* One stream: the script, which the remote shell reads first, then
	 * the bytes it reads from its stdin. */
	apply_script(&script, &pl, p, app, rec, holder, nonce);
	cmd = xasprintf("sh -c 'eval \"$(head -c %zu)\"'", script.len);
	in = xcalloc(pl.n + 1, sizeof(*in));
	in[0].data = script.data;
	in[0].len = script.len;
	memcpy(in + 1, pl.v, pl.n * sizeof(*in));
	rc = ssh_exec(c, cmd, in, pl.n + 1, &out, &err, &status);
	free(in);
	payload_free(&pl);
	if (rc < 0)
		goto done;
	rc = -1;
	if (status == 75 && (f = find_field(&out, "tend-locked:", NULL))) {
		res->locked = 1;
		err_set("locked: another tend is applying there (%.*s); it "
		    "was not touched, try again when that one is done",
		    (int)strcspn(f, "\n"), f);
		goto done;
	}
	if (status != 0 || find_field(&out, "tend-ok", NULL) == NULL) {
		f = find_field(&out, "tend-failed:", NULL);
		err_set("%s failed (exit %d)%s%.*s", f ? f : "the apply script",
		    status, err.len ? ": " : "", (int)strcspn(buf_str(&err),
		    "\n"), buf_str(&err));
		goto done;
	}
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
	memset(r, 0, sizeof(*r));
}
