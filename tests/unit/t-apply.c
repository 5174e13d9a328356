/* Unit tests: the apply script and its payload, built on data; the
 * script must parse in a POSIX shell (dash) for hostile names too. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "log.h"
#include "tap.h"

static enum file_type
mem_stat(void *ctx, const char *path)
{
	(void)ctx;
	return strcmp(path, "app") == 0 ? FT_DIR : FT_FILE;
}

static int
mem_read(void *ctx, const char *path, struct buf *out)
{
	(void)ctx;
	buf_addf(out, "bytes of %s\n", path);
	return 0;
}

static int
mem_list(void *ctx, const char *dir, struct tree_list *out)
{
	static const char *const names[] = { "main.py", "lib/util.py" };
	size_t i;

	(void)ctx;
	(void)dir;
	memset(out, 0, sizeof(*out));
	strcpy(out->id, "abcdef0123456789abcdef0123456789abcdef01");
	for (i = 0; i < 2; i++) {
		GROW(out->v, out->n + 1, out->cap);
		out->v[out->n].path = xstrdup(names[i]);
		out->v[out->n].mode = i ? 0644 : 0755;
		snprintf(out->v[out->n].oid, 41, "%040zu", i);
		out->n++;
	}
	return 0;
}

static const struct files mem = { .stat = mem_stat, .read = mem_read,
	.list = mem_list, .where = "commit 1111111" };
#define COMMIT "1111111111111111111111111111111111111111"
static const struct render_ctx rctx = { .files = &mem, .commit = COMMIT };

static const char manifest[] =
"version: 1\n"
"app: a\n"
"hosts: {h: {address: 127.0.0.2}}\n"
"environments: {prod: {hosts: [h]}}\n"
"resources:\n"
"  - directory: \"/etc/it's $(here)\"\n"
"  - file: \"/etc/it's $(here)/a `b` \\\"c\\\"\\nd\"\n"
"    content: \"x\\n\"\n"
"    owner: nobody\n"
"  - symlink: /etc/l\n"
"    target: \"it's\"\n"
"  - release: /srv/a\n"
"    from: app\n"
"    build: make 'all'\n"
"  - service: a\n"
"    unit: deploy/a.service\n"
"    restart_on: [/srv/a]\n"
"  - command: migrate\n"
"    run: ./migrate --to \"$(cat VERSION)\"\n"
"    cwd: /srv/a/current\n"
"    on_change: [/srv/a]\n"
"    timeout: 1m\n";

/* Whether /bin/sh parses text without running it. */
static int
sh_parses(const char *text, size_t len)
{
	FILE *f = popen("sh -n 2>&1", "w");

	if (f == NULL)
		return 0;
	fwrite(text, 1, len, f);
	return pclose(f) == 0;
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
	struct buf script = BUF_INIT;
	struct payload pl;
	struct record *rec;
	size_t i, total = 0;

	ok(m && m->errors == 0, "the manifest parses");
	if (m == NULL || m->errors) {
		for (i = 0; i < d.n; i++)
			printf("# %d:%d %s\n", d.v[i].line, d.v[i].col,
			    d.v[i].msg);
		return tap_done();
	}
	ok(render_host(&des, m, &m->envs[0], &m->hosts[0], &rctx, &d) == 0,
	    "it renders");
	memset(&o, 0, sizeof(o));
	plan_build(&p, &des, &o, COMMIT);
	is_int(p.add, 5, "everything is new: 5 to add");
	ok(p.v[3].kind == RES_RELEASE && p.v[3].nupload == 2,
	    "a first release sends all its files");
	ok(p.v[5].kind == RES_COMMAND && (p.v[5].changes & CH_RUN),
	    "the command runs: the release it watches changes");
	rec = plan_record(&des, &o, "a", COMMIT, COMMIT);
	ok(apply_script(&script, &pl, &p, "a", rec, NULL, "tend apply by test",
	    "0123456789abcdef", &mem) == 0, "the script builds");
	ok(sh_parses(script.data, script.len), "the script parses in sh, "
	    "hostile names and all");
	ok(strstr(script.data, "'/etc/it'\\''s $(here)'") != NULL,
	    "a quote in a path is closed, escaped and reopened");
	ok(strstr(script.data, "flock -n 9") != NULL, "it takes the lock");
	ok(strstr(script.data, "ln -sfn -- 'releases/abcdef012345'") != NULL,
	    "the release is switched by its tree id");
	ok(strstr(script.data, "(cd '/srv/a/releases/abcdef012345' && sh -c -- "
	    "'make '\\''all'\\''')") != NULL, "the build runs in the new "
	    "release, before the switch");
	ok(strstr(script.data, "timeout 60s sh -c") != NULL, "a command's "
	    "timeout is enforced");
	ok(strstr(script.data, "systemctl daemon-reload") != NULL &&
	    strstr(script.data, "systemctl enable -q -- 'a.service'"),
	    "the unit is installed and enabled");
	for (i = 0; i < pl.n; i++)
		total += pl.v[i].len;
	{
		/* The new files' tar stream, as the host's tar reads it. */
		const char *at = strstr(script.data, "head -c ");
		size_t len = 0, k;
		FILE *f;

		for (; at; at = strstr(at + 1, "head -c ")) {
			char *end;

			len = strtoul(at + 8, &end, 10);
			if (strncmp(end, " | tar -x", 9) == 0)
				break;
		}
		/* it follows the release's three blobs in the stream */
		f = popen("tar -t -f - >tar.list 2>&1", "w");
		for (k = 3; f && k < pl.n && len; k++) {
			size_t n = pl.v[k].len < len ? pl.v[k].len : len;

			fwrite(pl.v[k].data, 1, n, f);
			len -= n;
		}
		ok(f && pclose(f) == 0 && len == 0, "the new files' tar stream "
		    "is one a real tar reads whole");
		f = fopen("tar.list", "r");
		if (f) {
			char line[512] = "";

			ok(fgets(line, sizeof(line), f) && strstr(line,
			    "etc/it's $(here)/.tend-0123456789abcdef/a"),
			    "with each file under its temporary name: %s", line);
			fclose(f);
			remove("tar.list");
		}
	}
	ok(total > 0 && memcmp(pl.v[pl.n - 1].data, "tend-end-0123456789abcdef",
	    25) == 0, "the stream ends with its marker");
	ok(strstr(script.data, "[ \"$(head -c 25)\" = 'tend-end-0123456789abcdef' ]")
	    != NULL, "which the script checks before touching anything");
	{
		const char *mark = strstr(script.data, "tend-end-0123456789abcdef");
		const char *mv = strstr(script.data, "mv -f -T --");

		ok(mark && mv && mv > mark, "files are renamed into place only "
		    "after the end marker arrived");
	}
	host_plan_free(&p);
	{
		/* The host's list of the current release names what a new
		 * one drops; a hostile list must not reach outside it. */
		struct obs_release *r;
		const struct action *ra;
		size_t k;
		int outside = 0, old = 0;

		GROW(o.rel, o.nrel + 1, o.relcap);
		r = &o.rel[o.nrel++];
		r->path = xstrdup("/srv/a");
		r->current = xstrdup("releases/000000000000");
		r->ids = xstrdup("000000000000");
		r->files = xstrdup("0 100644 old.py\n"
		    "0 100644 ../../../etc/passwd\n"
		    "0 100644 /etc/shadow\n"
		    "0 100644 lib/../../x\n"
		    "0 100644 .git/config\n"
		    "0 100644 a//b\n");
		plan_build(&p, &des, &o, COMMIT);
		ra = &p.v[3];
		for (k = 0; ra->kind == RES_RELEASE && k < ra->ndrop; k++) {
			if (strcmp(ra->drop[k], "old.py") == 0)
				old++;
			else
				outside++;
		}
		ok(ra->kind == RES_RELEASE && old == 1 && outside == 0,
		    "a new release drops what the old one had, and nothing a "
		    "hostile list names outside it");
		host_plan_free(&p);
	}
	payload_free(&pl);
	buf_free(&script);
	record_free(rec);
	desired_free(&des);
	observed_free(&o);
	manifest_free(m);
	diags_free(&d);
	err_clear();
	return tap_done();
}
