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
mem_size(void *ctx, const char *path, size_t *size)
{
	(void)ctx;
	*size = strlen("bytes of \n") + strlen(path);
	return 0;
}

/* A link target too long for a tar header's field. */
#define LONG_TARGET "../../../../../../../../../../../../../../../../" \
	"../../../../../../../../../../../../../../../../../../../../../" \
	"usr/share/doc/target"

static int
mem_readlink(void *ctx, const char *path, struct buf *out)
{
	(void)ctx;
	(void)path;
	buf_adds(out, LONG_TARGET);
	return 0;
}

/* A release with a name too long for a tar header's field, and a link. */
#define LONG_NAME "lib/a-directory-with-a-long-name/and-another-one-below-" \
	"it/and-a-file-in-there-too.py"

static int
mem_list(void *ctx, const char *dir, struct tree_list *out)
{
	static const char *const names[] = { "main.py", "lib/util.py",
		LONG_NAME, "doc" };
	static const unsigned modes[] = { 0755, 0644, 0644, 0120000 };
	size_t i;

	(void)ctx;
	(void)dir;
	memset(out, 0, sizeof(*out));
	strcpy(out->id, "abcdef0123456789abcdef0123456789abcdef01");
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		GROW(out->v, out->n + 1, out->cap);
		out->v[out->n].path = xstrdup(names[i]);
		out->v[out->n].mode = modes[i];
		snprintf(out->v[out->n].oid, 41, "%040zu", i);
		out->n++;
	}
	return 0;
}

static const struct files mem = { .stat = mem_stat, .read = mem_read,
	.size = mem_size, .list = mem_list, .readlink = mem_readlink,
	.where = "commit 1111111" };

static int
wrong_size(void *ctx, const char *path, size_t *size)
{
	mem_size(ctx, path, size);
	(*size)++;
	return 0;
}

static const struct files lying = { .stat = mem_stat, .read = mem_read,
	.size = wrong_size, .list = mem_list, .readlink = mem_readlink,
	.where = "commit 1111111" };
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
"    timeout: 1m\n"
"  - file: /etc/a.conf\n"
"    source: deploy/a.conf\n"
"    mode: \"0640\"\n";

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
	struct buf script = BUF_INIT, stream = BUF_INIT;
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
	is_int(p.add, 6, "everything is new: 6 to add");
	ok(p.v[3].kind == RES_RELEASE && p.v[3].nupload == 4,
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
	{
		/* The stream, read as ssh sends it, in odd-sized pieces. */
		char chunk[1000];
		ssize_t got;

		while ((got = payload_read(&pl, chunk, sizeof(chunk))) > 0)
			buf_add(&stream, chunk, (size_t)got);
		ok(got == 0, "the payload reads to its end");
	}
	{
		/* The host reads it with the script's head -c commands, in
		 * order: the tar stream of new files and releases first. */
		const char *at = strstr(script.data, "head -c ");
		size_t off = 0, len, ntar = 0;
		FILE *f;

		for (; at; at = strstr(at + 1, "head -c ")) {
			char *end;

			len = strtoul(at + 8, &end, 10);
			if (strncmp(end, " | tar -x", 9) == 0 &&
			    off + len <= stream.len) {
				ntar++;
				f = popen("rm -rf t.tar.d && mkdir t.tar.d && "
				    "tar -x -f - -C t.tar.d -m -p -U "
				    "--recursive-unlink --no-same-owner", "w");
				ok(f && fwrite(stream.data + off, 1, len, f) ==
				    len && pclose(f) == 0, "the tar stream is "
				    "one a real tar unpacks whole");
			}
			off += len;
		}
		ok(ntar == 1, "one tar for all new files and releases");
		ok(off == stream.len, "every byte of the stream is read by one "
		    "head -c: %zu of %zu", off, stream.len);
		total = stream.len;
	}
	{
		struct buf got = BUF_INIT;
		char line[512];
		FILE *f = popen("cd t.tar.d && find . -type f -o -type l && "
		    "stat -c '%a %n' srv/a/releases/.tend-*/"
		    "main.py etc/.tend-*/a.conf && readlink srv/a/releases/.tend-*/doc && "
		    "cat srv/a/releases/.tend-*/" LONG_NAME
		    " etc/.tend-*/a.conf", "r");

		while (f && fgets(line, sizeof(line), f))
			buf_adds(&got, line);
		ok(f && pclose(f) == 0, "the unpacked files can be looked at");
		ok(strstr(buf_str(&got), "./etc/it's $(here)/"
		    ".tend-0123456789abcdef/a `b` \"c\"\nd\n") != NULL,
		    "a new file is under its temporary name");
		ok(strstr(buf_str(&got), "./srv/a/releases/.tend-0123456789abcd"
		    "ef/" LONG_NAME "\n") != NULL, "a release's file is in "
		    "its staging directory, a long name whole");
		ok(strstr(buf_str(&got), "/.tend-list\n") != NULL,
		    "so is its file list");
		ok(strstr(buf_str(&got), "755 srv/a/releases/") != NULL,
		    "with its mode");
		ok(strstr(buf_str(&got), "640 etc/.tend-") != NULL,
		    "a new file has its mode as it is unpacked");
		ok(strstr(script.data, "chmod 640") == NULL &&
		    strstr(script.data, "chown -- 'nobody'") != NULL,
		    "so only owners are set after");
		ok(strstr(buf_str(&got), "\n" LONG_TARGET "\n") != NULL,
		    "a link gets its target, a long one whole");
		ok(strstr(buf_str(&got), "\nbytes of app/" LONG_NAME "\n") !=
		    NULL, "a release file's content is read from the commit");
		ok(strstr(buf_str(&got),
		    "./etc/.tend-0123456789abcdef/a.conf\n") &&
		    strstr(buf_str(&got), "\nbytes of deploy/a.conf\n"),
		    "so is a file's that is no template");
		buf_free(&got);
		system("rm -rf t.tar.d");
	}
	ok(total > 0 && memcmp(stream.data + stream.len - 25,
	    "tend-end-0123456789abcdef", 25) == 0,
	    "the stream ends with its marker");
	ok(strstr(script.data, "[ \"$(head -c 25)\" = 'tend-end-0123456789abcdef' ]")
	    != NULL, "which the script checks before touching anything");
	{
		const char *mark = strstr(script.data, "tend-end-0123456789abcdef");
		const char *mv = strstr(script.data, "mv -f -T --");

		ok(mark && mv && mv > mark, "files are renamed into place only "
		    "after the end marker arrived");
	}
	{
		/* The host's list of the current release names what a new
		 * one drops; a hostile list must not reach outside it. */
		struct host_plan p2;
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
		plan_build(&p2, &des, &o, COMMIT);
		ra = &p2.v[3];
		for (k = 0; ra->kind == RES_RELEASE && k < ra->ndrop; k++) {
			if (strcmp(ra->drop[k], "old.py") == 0)
				old++;
			else
				outside++;
		}
		ok(ra->kind == RES_RELEASE && old == 1 && outside == 0,
		    "a new release drops what the old one had, and nothing a "
		    "hostile list names outside it");
		host_plan_free(&p2);
	}
	payload_free(&pl);
	buf_reset(&script);
	{
		char chunk[4096];
		ssize_t got;

		apply_script(&script, &pl, &p, "a", rec, NULL, "tend apply by "
		    "test", "0123456789abcdef", &lying);
		while ((got = payload_read(&pl, chunk, sizeof(chunk))) > 0)
			;
		ok(got < 0 && strstr(err_msg(), "bytes, not the"),
		    "a file that is not the size announced stops the stream: "
		    "%s", err_msg());
		payload_free(&pl);
	}
	host_plan_free(&p);
	buf_free(&script);
	buf_free(&stream);
	record_free(rec);
	desired_free(&des);
	observed_free(&o);
	manifest_free(m);
	diags_free(&d);
	err_clear();
	return tap_done();
}
