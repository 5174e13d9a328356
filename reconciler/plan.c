/* plan: desired state against observed state, per host. */
#include <stdlib.h>
#include <string.h>

#include "plan.h"

const char *
act_symbol(enum act_op op)
{
	static const char *const s[] = { "+", "~", "-", ".", "!" };

	return s[op];
}

const char *
act_name(enum act_op op)
{
	static const char *const s[] = { "create", "update", "delete",
		"forget", "conflict" };

	return s[op];
}

static struct action *
add(struct host_plan *p, enum act_op op, enum res_kind kind, const char *key)
{
	struct action *a;

	GROW(p->v, p->n + 1, p->cap);
	a = &p->v[p->n++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->kind = kind;
	a->key = key;
	return a;
}

static const char *
type_word(char t)
{
	switch (t) {
	case 'f':
		return "a file";
	case 'd':
		return "a directory";
	case 'l':
		return "a symbolic link";
	default:
		return "a special file";
	}
}

static char
kind_type(enum res_kind k)
{
	return k == RES_FILE ? 'f' : k == RES_DIRECTORY ? 'd' : 'l';
}

/* Owner or group as declared (name or id) against what is there. */
static int
same_user(const char *want, const char *name, unsigned id)
{
	char *end;
	unsigned long v;

	if (want == NULL)
		return 1;
	v = strtoul(want, &end, 10);
	if (*want && *end == '\0')
		return v == id;
	return strcmp(want, name) == 0;
}

static int
same_str(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Missing parents of path that no earlier action creates. */
static char *
missing_parents(const struct host_plan *p, const struct observed *o,
    const char *path)
{
	struct buf b = BUF_INIT;
	char *dir = xstrdup(path), *s;
	size_t i;

	while ((s = strrchr(dir, '/')) != NULL && s != dir) {
		*s = '\0';
		if (observed_find(o, dir))
			break;
		for (i = 0; i < p->n; i++)
			if (p->v[i].kind == RES_DIRECTORY &&
			    p->v[i].op == ACT_CREATE &&
			    strcmp(p->v[i].key, dir) == 0)
				break;
		if (i < p->n)
			break;
		/* Collected bottom-up, shown top-down. */
		if (b.len)
			buf_insert(&b, 0, ", ");
		buf_insert(&b, 0, dir);
	}
	free(dir);
	return b.len ? buf_detach(&b, NULL) : NULL;
}

static void
conflict(struct host_plan *p, struct action *a, const char *fmt,
    const char *arg)
{
	a->op = ACT_CONFLICT;
	a->why = xasprintf(fmt, arg);
	p->conflicts++;
}

static void
plan_present(struct host_plan *p, const struct rendered_res *rr,
    const struct observed *o)
{
	const struct resource *res = rr->res;
	const struct obs_entry *e = observed_find(o, rr->key);
	const struct rec_res *rec = record_find(o->rec, res->kind, rr->key);
	struct action *a = add(p, ACT_UPDATE, res->kind, rr->key);
	char want = kind_type(res->kind);

	a->rr = rr;
	a->obs = e;
	a->rec = rec;
	/* What tend wrote there before may have held a secret too. */
	a->sensitive = rr->sensitive || (rec && rec->sensitive);
	if (res->kind == RES_FILE)
		memcpy(a->hash, rr->hash, sizeof(a->hash));
	if (e == NULL) {
		char *parent = xstrndup(rr->key, (size_t)(strrchr(rr->key,
		    '/') - rr->key));

		a->op = ACT_CREATE;
		a->drift = rec != NULL;		/* tend made it; now gone */
		a->parents = missing_parents(p, o, rr->key);
		a->parent_missing = *parent && !observed_find(o, parent);
		free(parent);
		p->add++;
		return;
	}
	if (e->type != want) {
		conflict(p, a, "%s is on the host where the manifest declares "
		    "this; tend does not replace it: remove or move it by "
		    "hand, or change the manifest", type_word(e->type));
		return;
	}
	if (res->kind == RES_FILE && strcmp(e->hash, a->hash) != 0)
		a->changes |= CH_CONTENT;
	if (res->kind == RES_SYMLINK &&
	    strcmp(e->target ? e->target : "", rr->target) != 0)
		a->changes |= CH_TARGET;
	if (res->kind != RES_SYMLINK) {
		if (e->mode != rr->mode)
			a->changes |= CH_MODE;
		if (!same_user(res->owner, e->owner, e->uid))
			a->changes |= CH_OWNER;
		if (!same_user(res->group, e->group, e->gid))
			a->changes |= CH_GROUP;
	}
	if (a->changes == 0) {
		p->n--;			/* in sync: nothing to do */
		return;
	}
	/* Drift: the manifest did not change this since tend last wrote
	 * it, so the host did. */
	if (rec)
		a->drift = ((a->changes & CH_CONTENT) &&
		    strcmp(rec->hash, a->hash) == 0) ||
		    ((a->changes & CH_MODE) && rec->mode == rr->mode) ||
		    ((a->changes & CH_TARGET) && rec->target &&
		    strcmp(rec->target, rr->target) == 0) ||
		    ((a->changes & CH_OWNER) && same_str(rec->owner,
		    res->owner)) ||
		    ((a->changes & CH_GROUP) && same_str(rec->group,
		    res->group));
	p->change++;
}

static void
plan_absent(struct host_plan *p, const struct rendered_res *rr,
    const struct observed *o)
{
	const struct obs_entry *e = observed_find(o, rr->key);
	struct action *a;

	if (e == NULL)
		return;
	a = add(p, ACT_DELETE, rr->res->kind, rr->key);
	a->rr = rr;
	a->obs = e;
	if (e->type != kind_type(rr->res->kind)) {
		conflict(p, a, "it is %s on the host, not what the manifest "
		    "declares absent; tend removes only what matches",
		    type_word(e->type));
		return;
	}
	p->remove++;
}

/* Whether r is still declared in d; keys indexes d's keys and unit names. */
static int
declared(const struct desired *d, const struct strindex *keys,
    const struct rec_res *r)
{
	struct strindex_iter it;
	size_t i;

	for (i = strindex_first(keys, r->key, &it); i != STRINDEX_NONE;
	    i = strindex_next(keys, &it)) {
		const struct rendered_res *rr = &d->res[i];

		/* Declared absent counts: plan_absent removes it. */
		if (rr->key == NULL)
			continue;
		if (rr->res->kind == RES_SERVICE && r->kind == RES_SERVICE &&
		    strcmp(rr->unit_name, r->key) == 0)
			return 1;
		if (strcmp(rr->key, r->key) != 0)
			continue;
		/* One path, declared now as another kind: not a prune. */
		if (rr->res->kind == r->kind || (res_kind_is_path(r->kind) &&
		    res_kind_is_path(rr->res->kind)))
			return 1;
	}
	return 0;
}

static int
cmp_prune(const void *x, const void *y)
{
	const struct action *a = x, *b = y;
	size_t la = strlen(a->key), lb = strlen(b->key);

	/* Files and links first, then directories, deepest first. */
	if ((a->kind == RES_DIRECTORY) != (b->kind == RES_DIRECTORY))
		return a->kind == RES_DIRECTORY ? 1 : -1;
	if (la != lb)
		return la > lb ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void
plan_prune(struct host_plan *p, const struct desired *d,
    const struct observed *o)
{
	struct strindex keys = STRINDEX_INIT;
	size_t i, first = p->n;

	if (o->rec == NULL)
		return;
	for (i = 0; i < d->nres; i++) {
		if (d->res[i].key)
			strindex_add(&keys, d->res[i].key, i);
		if (d->res[i].key && d->res[i].res->kind == RES_SERVICE)
			strindex_add(&keys, d->res[i].unit_name, i);
	}
	for (i = 0; i < o->rec->nres; i++) {
		const struct rec_res *r = &o->rec->res[i];
		const struct obs_entry *e;
		struct action *a;

		if (r->kind == RES_SERVICE && !declared(d, &keys, r)) {
			/* Gone from the manifest: when tend installed its
			 * unit, stopped, disabled and the unit removed; else
			 * left as it runs. */
			a = add(p, r->created ? ACT_DELETE : ACT_FORGET,
			    RES_SERVICE, r->key);
			a->rec = r;
			a->prune = 1;
			if (r->created) {
				a->changes = CH_STOP | CH_DISABLE | CH_UNIT;
				p->remove++;
			} else {
				a->why = xstrdup("its unit was there before "
				    "tend managed it");
			}
			continue;
		}
		if (!res_kind_is_path(r->kind) || r->kind == RES_RELEASE ||
		    declared(d, &keys, r))
			continue;
		if ((e = observed_find(o, r->key)) == NULL)
			continue;	/* already gone */
		a = add(p, ACT_DELETE, r->kind, r->key);
		a->obs = e;
		a->rec = r;
		a->prune = 1;
		if (!r->created) {
			a->op = ACT_FORGET;
			a->why = xstrdup("it was there before tend managed it");
		} else if (e->type != kind_type(r->kind)) {
			a->op = ACT_FORGET;
			a->why = xasprintf("it is %s now, not what tend made",
			    type_word(e->type));
		} else {
			p->remove++;
		}
	}
	strindex_free(&keys);
	if (p->n > first)
		qsort(p->v + first, p->n - first, sizeof(*p->v), cmp_prune);
}

static int
record_matches(const struct desired *d, const struct observed *o,
    const char *commit)
{
	size_t i, n = 0;

	if (o->rec == NULL || o->rec->commit == NULL || o->rec->env == NULL ||
	    strcmp(o->rec->commit, commit) != 0 ||
	    strcmp(o->rec->env, d->env->name) != 0)
		return 0;
	/* Applied but never passed its checks: check again. */
	if (d->nchecks && (o->rec->last_good == NULL ||
	    strcmp(o->rec->last_good, commit) != 0))
		return 0;
	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *rr = &d->res[i];

		const char *key = rr->res->kind == RES_SERVICE ?
		    rr->unit_name : rr->key;
		const struct rec_res *r;

		if (rr->key == NULL || rr->res->absent ||
		    rr->res->kind == RES_COMMAND)
			continue;
		if ((r = record_find(o->rec, rr->res->kind, key)) == NULL)
			return 0;
		if (rr->res->kind == RES_RELEASE && (r->target == NULL ||
		    strcmp(r->target, rr->release_id) != 0))
			return 0;
		n++;
	}
	return n == o->rec->nres;
}

/* Whether ids, a space-separated list, holds id. */
static int
has_word(const char *ids, const char *id)
{
	size_t n = strlen(id);
	const char *s = ids;

	while ((s = strstr(s, id)) != NULL) {
		if ((s == ids || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0'))
			return 1;
		s += n;
	}
	return 0;
}

/* In the previous release's list ("OID MODE PATH" lines), the line for
 * path, if its oid and mode are f's. */
static int
unchanged(const char *files, const struct tree_file *f)
{
	char *needle = xasprintf("%s %o %s\n", f->oid, f->mode, f->path);
	const char *s = files;
	int found = 0;

	while ((s = strstr(s, needle)) != NULL) {
		if (s == files || s[-1] == '\n') {
			found = 1;
			break;
		}
		s++;
	}
	free(needle);
	return found;
}

static int
in_tree(const struct tree_list *t, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strlen(t->v[i].path) == len &&
		    strncmp(t->v[i].path, path, len) == 0)
			return 1;
	return 0;
}

static void
plan_release(struct host_plan *p, const struct rendered_res *rr,
    const struct observed *o)
{
	const struct obs_release *r = observed_release(o, rr->key);
	const struct obs_entry *e = observed_find(o, rr->key);
	char *cur = xasprintf("releases/%s", rr->release_id);
	struct action *a;
	size_t i;

	if (rr->res->absent) {
		if (e && e->type == 'd' && r && (*r->current || *r->ids)) {
			a = add(p, ACT_DELETE, RES_RELEASE, rr->key);
			a->rr = rr;
			a->obs = e;
			p->remove++;
		}
		free(cur);
		return;
	}
	if (r && strcmp(r->current, cur) == 0 &&
	    has_word(r->ids, rr->release_id)) {
		free(cur);
		return;			/* running this release already */
	}
	free(cur);
	a = add(p, r && *r->current ? ACT_UPDATE : ACT_CREATE, RES_RELEASE,
	    rr->key);
	a->rr = rr;
	a->obs = e;
	a->rec = record_find(o->rec, RES_RELEASE, rr->key);
	a->probed_current = r ? r->current : "";
	if (e && e->type != 'd') {
		conflict(p, a, "%s is on the host where the release directory "
		    "goes; remove or move it by hand", type_word(e->type));
		return;
	}
	if (r && has_word(r->ids, rr->release_id)) {
		a->changes = CH_RELEASE_SWITCH;
	} else {
		const char *files = r && *r->current ? r->files : "";
		const char *s;

		a->changes = CH_RELEASE_NEW;
		a->upload = xcalloc(rr->tree.n + 1, sizeof(*a->upload));
		for (i = 0; i < rr->tree.n; i++)
			if (!unchanged(files, &rr->tree.v[i]))
				a->upload[a->nupload++] = i;
		/* Files of the old release that this one no longer has. */
		for (s = files; *s; s += strcspn(s, "\n") + (s[strcspn(s,
		    "\n")] == '\n')) {
			const char *path = strchr(s, ' ');
			size_t len;

			if (path == NULL || (path = strchr(path + 1, ' ')) ==
			    NULL)
				break;
			path++;
			len = strcspn(path, "\n");
			if (!in_tree(&rr->tree, path, len)) {
				char *drop = xstrndup(path, len);

				/* The list comes from the host: only ever a
				 * path inside the release is removed. */
				if (check_repo_path(drop) != NULL) {
					free(drop);
					continue;
				}
				a->drop = xrealloc(a->drop, (a->ndrop + 1) *
				    sizeof(*a->drop));
				a->drop[a->ndrop++] = drop;
			}
		}
	}
	if (a->op == ACT_CREATE)
		p->add++;
	else
		p->change++;
}

/* Whether the resource with raw key changes in this plan. */
static const struct action *
changed(const struct host_plan *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];

		if (a->rr && strcmp(a->rr->res->key.s, key) == 0 &&
		    (a->op == ACT_CREATE || a->op == ACT_UPDATE))
			return a;
	}
	return NULL;
}

static char *
changed_refs(const struct host_plan *p, const struct resource *res)
{
	struct buf b = BUF_INIT;
	size_t k;

	for (k = 0; k < res->nrefs; k++) {
		if (!changed(p, res->refs[k].key.s))
			continue;
		if (b.len)
			buf_adds(&b, ", ");
		buf_adds(&b, res->refs[k].key.s);
	}
	return b.len ? buf_detach(&b, NULL) : NULL;
}

static void
plan_service(struct host_plan *p, const struct rendered_res *rr,
    const struct observed *o)
{
	const struct resource *res = rr->res;
	const struct obs_service *sv = observed_service(o, rr->unit_name);
	const struct obs_entry *uf = observed_find(o, rr->unit_path);
	const char *active = sv ? sv->active : "inactive";
	const char *enabled = sv ? sv->enabled : "";
	int running = strcmp(active, "active") == 0;
	int is_enabled = strcmp(enabled, "enabled") == 0;
	struct action *a = add(p, ACT_UPDATE, RES_SERVICE, rr->key);
	char *refs;

	a->rr = rr;
	a->obs = uf;
	a->rec = record_find(o->rec, RES_SERVICE, rr->unit_name);
	if (res->absent) {
		if (running)
			a->changes |= CH_STOP;
		if (is_enabled)
			a->changes |= CH_DISABLE;
		if (uf && a->rec && a->rec->created)
			a->changes |= CH_UNIT;	/* remove the unit file */
		if (a->changes == 0) {
			p->n--;
			return;
		}
		a->op = ACT_DELETE;
		p->remove++;
		return;
	}
	if (rr->unit) {
		memcpy(a->hash, rr->hash, sizeof(a->hash));
		if (uf == NULL || strcmp(uf->hash, a->hash) != 0)
			a->changes |= CH_UNIT;
	}
	if (res->enabled && !is_enabled)
		a->changes |= CH_ENABLE;
	if (!res->enabled && is_enabled)
		a->changes |= CH_DISABLE;
	if (res->state == SVC_RUNNING && !running)
		a->changes |= CH_START;
	if (res->state == SVC_STOPPED && running)
		a->changes |= CH_STOP;
	refs = changed_refs(p, res);
	if (res->state == SVC_RUNNING && running &&
	    (refs || (a->changes & CH_UNIT) ||
	    record_owes(o->rec, "service", rr->unit_name))) {
		a->changes |= CH_RESTART;
		a->reason = refs ? xasprintf("%s changed", refs) :
		    (a->changes & CH_UNIT) ? xstrdup("unit file changed") :
		    xstrdup("an earlier apply stopped before restarting it");
		p->restarts++;
	}
	free(refs);
	if (a->changes == 0) {
		p->n--;
		return;
	}
	if (rr->unit ? uf == NULL : (!running && !is_enabled))
		a->op = ACT_CREATE;
	if (a->changes & ~CH_RESTART) {
		if (a->op == ACT_CREATE)
			p->add++;
		else
			p->change++;
	}
}

static void
plan_command(struct host_plan *p, const struct rendered_res *rr,
    const struct observed *o)
{
	const struct resource *res = rr->res;
	struct action *a;
	char *refs;

	if (res->absent)
		return;
	refs = changed_refs(p, res);
	if (refs == NULL && record_owes(o->rec, "command", rr->key))
		refs = xstrdup("an earlier apply stopped before running it: "
		    "what it watches");
	if (res->nrefs && refs == NULL)
		return;		/* nothing it watches changed */
	if (res->nrefs == 0 && rr->unless == NULL && !plan_has_changes(p))
		return;		/* runs only with other changes */
	a = add(p, ACT_UPDATE, RES_COMMAND, rr->key);
	a->rr = rr;
	if (refs && rr->unless) {
		a->changes = CH_RUN_UNLESS;
		a->reason = xasprintf("%s changed, unless '%s' succeeds on "
		    "the host", refs, rr->unless);
	} else if (refs) {
		a->changes = CH_RUN;
		a->reason = xasprintf("%s changed", refs);
	} else if (rr->unless) {
		a->changes = CH_RUN_UNLESS;
		a->reason = xasprintf("unless '%s' succeeds on the host",
		    rr->unless);
	} else {
		a->changes = CH_RUN;
		a->reason = xstrdup("the host changes in this apply");
	}
	free(refs);
	/* An unless-command may well not run: not counted as a change. */
	if (a->changes == CH_RUN)
		p->change++;
}

static int
cmp_order(const void *x, const void *y)
{
	const struct action *a = x, *b = y;

	return a->order < b->order ? -1 : a->order > b->order;
}

/* Manifest order; prunes keep theirs (files before directories). */
static void
sort_by_order(struct host_plan *p)
{
	if (p->n > 1)
		qsort(p->v, p->n, sizeof(*p->v), cmp_order);
}

void
plan_build(struct host_plan *p, const struct desired *d,
    const struct observed *o, const char *commit)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *rr = &d->res[i];

		if (rr->key == NULL)
			continue;
		switch (rr->res->kind) {
		case RES_DIRECTORY:
		case RES_FILE:
		case RES_SYMLINK:
			if (rr->res->absent)
				plan_absent(p, rr, o);
			else
				plan_present(p, rr, o);
			break;
		case RES_RELEASE:
			plan_release(p, rr, o);
			break;
		case RES_SERVICE:
		case RES_COMMAND:
			break;		/* after everything they depend on */
		}
	}
	for (i = 0; i < p->n; i++)
		p->v[i].order = (size_t)(p->v[i].rr - d->res);
	plan_prune(p, d, o);
	for (i = 0; i < p->n; i++)
		if (p->v[i].rr == NULL)
			p->v[i].order = d->nres + i;
	/* Services, then commands, react to what changes: decided once
	 * everything else is, carried out at their place in the manifest
	 * (what they watch is declared before them). */
	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *rr = &d->res[i];

		if (rr->key && rr->res->kind == RES_SERVICE) {
			plan_service(p, rr, o);
			if (p->n && p->v[p->n - 1].rr == rr)
				p->v[p->n - 1].order = i;
		}
	}
	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *rr = &d->res[i];

		if (rr->key && rr->res->kind == RES_COMMAND) {
			plan_command(p, rr, o);
			if (p->n && p->v[p->n - 1].rr == rr)
				p->v[p->n - 1].order = i;
		}
	}
	sort_by_order(p);
	p->record_stale = !record_matches(d, o, commit);
}

int
plan_has_changes(const struct host_plan *p)
{
	return p->add + p->change + p->remove > 0;
}

int
plan_has_checks(const struct host_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->v[i].changes & CH_RUN_UNLESS)
			return 1;
	return 0;
}

void
host_plan_free(struct host_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		size_t k;

		free(p->v[i].parents);
		free(p->v[i].why);
		free(p->v[i].reason);
		free(p->v[i].upload);
		for (k = 0; k < p->v[i].ndrop; k++)
			free(p->v[i].drop[k]);
		free(p->v[i].drop);
		buf_free(&p->v[i].old);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

struct record *
plan_record(const struct desired *d, const struct observed *o,
    const char *app, const char *commit, const char *last_good)
{
	struct record *out = xcalloc(1, sizeof(*out));
	size_t i;

	out->app = xstrdup(app);
	out->env = xstrdup(d->env->name);
	out->commit = xstrdup(commit);
	out->last_good = last_good ? xstrdup(last_good) : NULL;
	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *rr = &d->res[i];
		const struct resource *res = rr->res;
		const struct rec_res *prev;
		struct rec_res r;
		char relid[13];

		if (rr->key == NULL || res->absent || res->kind == RES_COMMAND)
			continue;
		memset(&r, 0, sizeof(r));
		r.kind = res->kind;
		r.key = res->kind == RES_SERVICE ? rr->unit_name : rr->key;
		prev = record_find(o->rec, res->kind, r.key);
		if (res->kind == RES_RELEASE || res->kind == RES_SERVICE) {
			const struct obs_entry *uf = res->kind == RES_SERVICE ?
			    observed_find(o, rr->unit_path) : NULL;

			/* A unit file tend installed is tend's to remove. */
			r.created = prev ? prev->created :
			    res->kind == RES_SERVICE && rr->unit && !uf;
			if (res->kind == RES_RELEASE) {
				memcpy(relid, rr->release_id, sizeof(relid));
				r.target = relid;
			}
			else if (rr->unit)
				memcpy(r.hash, rr->hash, sizeof(r.hash));
			record_add(out, &r);
			continue;
		}
		/* Created by tend: absent before its first apply. */
		r.created = prev ? prev->created :
		    observed_find(o, rr->key) == NULL;
		if (res->kind == RES_FILE)
			memcpy(r.hash, rr->hash, sizeof(r.hash));
		if (res->kind != RES_SYMLINK)
			r.mode = rr->mode;
		r.sensitive = rr->sensitive;
		r.owner = res->owner;
		r.group = res->group;
		r.target = rr->target;
		record_add(out, &r);
	}
	return out;
}
