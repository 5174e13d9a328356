/* Unit tests: plan, desired state against observed state, on data. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"
#include "tap.h"

static enum file_type
no_stat(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return FT_MISSING;
}

static int
no_read(void *ctx, const char *path, struct buf *out)
{
	(void)ctx;
	(void)out;
	return err_set("%s: no files here", path);
}

static const struct files nofiles = { .stat = no_stat, .read = no_read,
	.where = "commit x" };
#define COMMIT "1111111111111111111111111111111111111111"
static const struct render_ctx rctx = { .files = &nofiles, .commit = COMMIT };

static const char manifest[] =
"version: 1\n"
"app: p\n"
"hosts: {h: {address: 127.0.0.2}}\n"
"environments: {prod: {hosts: [h]}}\n"
"resources:\n"
"  - directory: /etc/p\n"
"  - file: /etc/p/a.conf\n"
"    content: \"new\\n\"\n"
"    mode: \"0640\"\n"
"    owner: root\n"
"  - symlink: /etc/p/cur\n"
"    target: a.conf\n"
"  - file: /etc/p/gone\n"
"    state: absent\n"
"  - file: /var/x/y/z.conf\n"
"    content: \"z\\n\"\n";

static void
see(struct observed *o, const char *path, char type, unsigned mode,
    const char *owner, const char *content, const char *target)
{
	struct obs_entry *e;

	GROW(o->v, o->n + 1, o->cap);
	e = &o->v[o->n++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->type = type;
	e->mode = mode;
	e->owner = xstrdup(owner);
	e->group = xstrdup("root");
	if (content) {
		sha256_hex(content, strlen(content), e->hash);
		e->size = (long long)strlen(content);
	}
	e->target = target ? xstrdup(target) : NULL;
}

static const struct action *
find(const struct host_plan *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return &p->v[i];
	return NULL;
}

int
main(void)
{
	struct diags d = DIAGS_INIT;
	struct manifest *m = manifest_parse("deploy/tend.yaml", manifest,
	    strlen(manifest), &d);
	struct desired des;
	struct observed o;
	struct host_plan p;
	const struct action *a;
	struct record *rec;
	struct rec_res rr;

	ok(m && m->errors == 0, "the manifest parses");
	if (m == NULL || m->errors)
		return tap_done();
	render_host(&des, m, &m->envs[0], &m->hosts[0], &rctx, &d);

	/* A host where nothing is there yet. */
	memset(&o, 0, sizeof(o));
	see(&o, "/etc", 'd', 0755, "root", NULL, NULL);
	see(&o, "/var", 'd', 0755, "root", NULL, NULL);
	plan_build(&p, &des, &o, COMMIT);
	is_int(p.add, 4, "a fresh host: four to add");
	is_int(p.remove, 0, "nothing to remove: the absent file is not there");
	a = find(&p, "/var/x/y/z.conf");
	ok(a && a->op == ACT_CREATE && a->parents &&
	    strcmp(a->parents, "/var/x, /var/x/y") == 0 && a->parent_missing,
	    "missing parents are named, top down");
	a = find(&p, "/etc/p/a.conf");
	ok(a && !a->parents && a->parent_missing, "a parent the manifest "
	    "creates is not listed as created on the side");
	ok(p.record_stale, "no record yet: it must be written");
	host_plan_free(&p);

	/* In sync, with a record of this commit. */
	see(&o, "/etc/p", 'd', 0755, "root", NULL, NULL);
	see(&o, "/etc/p/a.conf", 'f', 0640, "root", "new\n", NULL);
	see(&o, "/etc/p/cur", 'l', 0777, "root", NULL, "a.conf");
	see(&o, "/var/x/y/z.conf", 'f', 0644, "root", "z\n", NULL);
	o.rec = plan_record(&des, &o, "p", COMMIT, COMMIT);
	plan_build(&p, &des, &o, COMMIT);
	is_int(p.n, 0, "in sync: no action");
	ok(!p.record_stale, "and the record is current");
	ok(o.rec->nres == 4 && !o.rec->res[0].created, "the record lists what "
	    "is declared; what was there before is not tend's");
	host_plan_free(&p);

	/* Hand edits: content and mode changed on the host. */
	sha256_hex("edited\n", 7, o.v[3].hash);
	o.v[3].mode = 0666;
	free(o.v[4].target);
	o.v[4].target = xstrdup("elsewhere");
	plan_build(&p, &des, &o, COMMIT);
	a = find(&p, "/etc/p/a.conf");
	ok(a && a->op == ACT_UPDATE && a->changes == (CH_CONTENT | CH_MODE) &&
	    a->drift, "a hand edit is an update marked as drift");
	a = find(&p, "/etc/p/cur");
	ok(a && a->changes == CH_TARGET && a->drift, "a re-pointed link too");
	is_int(p.change, 2, "two changes");
	host_plan_free(&p);

	/* The absent file appears; a directory sits where a file goes. */
	see(&o, "/etc/p/gone", 'f', 0644, "root", "old\n", NULL);
	o.v[5].type = 'd';		/* /var/x/y/z.conf */
	plan_build(&p, &des, &o, COMMIT);
	a = find(&p, "/etc/p/gone");
	ok(a && a->op == ACT_DELETE && !a->prune, "state: absent removes");
	a = find(&p, "/var/x/y/z.conf");
	ok(a && a->op == ACT_CONFLICT && strstr(a->why, "a directory is on "
	    "the host"), "a directory where a file goes is a conflict");
	is_int(p.conflicts, 1, "counted");
	host_plan_free(&p);
	o.v[5].type = 'f';

	/* The record lists a file the manifest no longer has. */
	memset(&rr, 0, sizeof(rr));
	rr.kind = RES_FILE;
	rr.key = "/etc/p/old.conf";
	rr.created = 1;
	record_add(o.rec, &rr);
	rr.key = "/etc/p/adopted.conf";
	rr.created = 0;
	record_add(o.rec, &rr);
	rr.kind = RES_DIRECTORY;
	rr.key = "/etc/p/olddir";
	rr.created = 1;
	record_add(o.rec, &rr);
	see(&o, "/etc/p/old.conf", 'f', 0644, "root", "x", NULL);
	see(&o, "/etc/p/adopted.conf", 'f', 0644, "root", "x", NULL);
	see(&o, "/etc/p/olddir", 'd', 0755, "root", NULL, NULL);
	plan_build(&p, &des, &o, COMMIT);
	a = find(&p, "/etc/p/old.conf");
	ok(a && a->op == ACT_DELETE && a->prune, "what tend made and no longer "
	    "declares is pruned");
	a = find(&p, "/etc/p/adopted.conf");
	ok(a && a->op == ACT_FORGET, "what was there before tend is left");
	ok(p.v[p.n - 1].kind == RES_DIRECTORY, "directories are pruned after "
	    "the files in them");
	ok(p.record_stale, "a record listing more than the manifest is stale");
	host_plan_free(&p);

	rec = plan_record(&des, &o, "p", "2222222222222222222222222222222222222222",
	    COMMIT);
	ok(rec->nres == 4 && strcmp(rec->last_good, COMMIT) == 0 &&
	    strcmp(rec->commit, "2222222222222222222222222222222222222222") == 0,
	    "the new record: declared resources, commit and last good");
	ok(rec->res[1].mode == 0640 && rec->res[1].hash[0] &&
	    strcmp(rec->res[1].owner, "root") == 0, "with what was written");
	{
		char *json = record_encode(rec);
		struct record *back = record_parse(json, strlen(json));

		ok(back && back->nres == 4 && back->res[1].mode == 0640 &&
		    strcmp(back->res[2].target, "a.conf") == 0,
		    "the record survives JSON and back");
		record_free(back);
		free(json);
	}
	record_free(rec);
	observed_free(&o);
	desired_free(&des);
	manifest_free(m);
	diags_free(&d);
	err_clear();
	return tap_done();
}
