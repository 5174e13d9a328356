/* Unit tests: render, variables and templates per host, on data. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "render.h"
#include "tap.h"

/* An in-memory project: NULL-terminated path/content pairs. */
static const char *const tree[] = {
	"deploy/app.conf", "greeting=${greeting}\nhost=${tend.host}\n"
	    "lit=$${greeting} $x\n",
	"deploy/bad.conf", "ok\n  line ${nope}\n",
	"deploy/dir/x", "x",
	"app/main.py", "print()",
	NULL
};

#include "memtree.h"
static const struct render_ctx rctx = { .files = &mem,
	.commit = "0123abcdef0123abcdef0123abcdef0123abcdef" };

static const char manifest[] =
"version: 1\n"
"app: hello\n"
"vars: {greeting: top, port: 80, url: 'http://${tend.address}:${port}'}\n"
"hosts:\n"
"  web1: {address: 127.0.0.2, vars: {greeting: host}}\n"
"  web2: {address: 127.0.0.3}\n"
"environments:\n"
"  prod: {hosts: [web1, web2], vars: {greeting: env, dir: prod}}\n"
"resources:\n"
"  - file: /etc/${tend.app}/${dir}.conf\n"
"    source: deploy/app.conf\n"
"    template: true\n"
"  - file: /etc/raw\n"
"    source: deploy/app.conf\n"
"  - file: /etc/lit\n"
"    content: \"${url}/${tend.commit_short} $${x}\"\n"
"  - release: /srv/hello\n"
"    from: app\n";

static struct manifest *
load(const char *text, struct diags *d)
{
	return manifest_parse("deploy/tend.yaml", text, strlen(text), d);
}

/* Render host 0 of env 0 of text; expect one error. */
static void
one_error(const char *text, const char *file, int line, int col,
    const char *msg, const char *what)
{
	struct diags d = DIAGS_INIT;
	struct manifest *m = load(text, &d);
	struct desired des;
	int pass;

	if (m == NULL || m->errors) {
		ok(0, "%s (manifest did not parse)", what);
		manifest_free(m);
		diags_free(&d);
		return;
	}
	render_check_all(m, &rctx, &d);
	pass = d.n == 1 && strcmp(d.v[0].file, file) == 0 &&
	    d.v[0].line == line && d.v[0].col == col &&
	    strcmp(d.v[0].msg, msg) == 0;
	ok(pass, "%s", what);
	if (!pass) {
		size_t i;

		printf("#   want: %s:%d:%d: %s\n", file, line, col, msg);
		for (i = 0; i < d.n; i++)
			printf("#   got:  %s:%d:%d: %s\n", d.v[i].file,
			    d.v[i].line, d.v[i].col, d.v[i].msg);
	}
	(void)des;
	manifest_free(m);
	diags_free(&d);
}

#define HEAD "version: 1\napp: a\nhosts: {h: {address: x}}\n" \
	"environments: {p: {hosts: [h]}}\n"

/* Variables that use each other n times each, levels deep: v0 expands
 * to n^levels copies of the leaf value. */
static char *
bomb(const char *leaf, int n, int levels, const char *resources)
{
	struct buf b = BUF_INIT;
	int i, j;

	buf_adds(&b, HEAD "vars:\n");
	for (i = 0; i < levels; i++) {
		buf_addf(&b, "  v%d: '", i);
		for (j = 0; j < n; j++)
			buf_addf(&b, "${v%d}", i + 1);
		buf_adds(&b, "'\n");
	}
	buf_addf(&b, "  v%d: '%s'\nresources:\n%s", levels, leaf, resources);
	return buf_detach(&b, NULL);
}

/*
 * Found by fuzzing and by hand: each use of a variable expanded it again,
 * so a 1 KiB manifest made validate work for minutes (16 million empty
 * expansions here), and each of its fields could take 16 MiB per host.
 * The alarm fails the test where the old code would only be slow.
 */
static void
test_bombs(void)
{
	struct diags d = DIAGS_INIT;
	struct manifest *m;
	struct desired des;
	char *text;

	alarm(20);
	text = bomb("", 4, 12, "  - command: c\n    run: 'x${v0}y'\n");
	m = load(text, &d);
	ok(m && m->errors == 0 && render_host(&des, m, &m->envs[0],
	    &m->hosts[0], &rctx, &d) == 0 && des.res[0].run &&
	    strcmp(des.res[0].run, "xy") == 0, "4^12 uses of an empty "
	    "variable expand each variable once");
	if (m && m->errors == 0)
		desired_free(&des);
	manifest_free(m);
	diags_free(&d);
	free(text);

	/* v0 is 16 MiB exactly, the most one field may hold. */
	text = bomb("x", 4, 12, "  - command: a\n    run: '${v0}'\n"
	    "  - command: b\n    run: '${v0}'\n"
	    "  - command: c\n    run: '${v0}'\n"
	    "  - command: d\n    run: '${v0}'\n");
	one_error(text, "deploy/tend.yaml", 25, 11, "with this, one host's "
	    "values expand to more than 64 MiB in all (host h); variables "
	    "multiply each other", "a host's values are bounded in all, "
	    "and said once");
	free(text);
	alarm(0);
}

/* Hosts a and b alike, c with a var of its own; resources as given,
 * a health check on each host's address. */
#define ALIKE "version: 1\napp: a\nvars: {v: top, greeting: hi}\nhosts:\n" \
	"  a: {address: x}\n  b: {address: y}\n" \
	"  c: {address: z, vars: {v: own}}\n" \
	"environments: {p: {hosts: [a, b, c]}}\n" \
	"health: [{name: web, http: 'http://${tend.address}/'}]\n" \
	"resources:\n"

/* Whether b and c render like a, for these resources; checks that a
 * shared render is what b's own would be. */
static void
alike(const char *resources, int want_b, int want_c, const char *what)
{
	char *text = xasprintf(ALIKE "%s", resources);
	struct diags d = DIAGS_INIT;
	struct manifest *m = load(text, &d);
	struct desired a, b, own;
	int ab, ac;

	if (m == NULL || m->errors) {
		ok(0, "%s (manifest did not parse)", what);
		goto done;
	}
	render_host(&a, m, &m->envs[0], &m->hosts[0], &rctx, &d);
	ab = render_alike(&a, &m->envs[0], &m->hosts[1]);
	ac = render_alike(&a, &m->envs[0], &m->hosts[2]);
	ok(ab == want_b && ac == want_c && d.n == 0, "%s", what);
	if (ab) {
		render_like(&b, &a, m, &m->hosts[1], &rctx, &d);
		render_host(&own, m, &m->envs[0], &m->hosts[1], &rctx, &d);
		ok(b.res == a.res && b.host == &m->hosts[1] &&
		    strcmp(b.res[0].hash, own.res[0].hash) == 0 &&
		    strcmp(b.checks[0].http, "http://y/") == 0,
		    "shared resources are the host's own; its checks are its "
		    "own");
		desired_free(&b);
		desired_free(&own);
	}
	desired_free(&a);
done:
	manifest_free(m);
	diags_free(&d);
	free(text);
}

int
main(void)
{
	struct diags d = DIAGS_INIT;
	struct manifest *m = load(manifest, &d);
	struct desired des;

	ok(m && m->errors == 0, "the manifest parses");
	if (m == NULL || m->errors)
		return tap_done();
	ok(render_host(&des, m, &m->envs[0], &m->hosts[0], &rctx, &d) == 0,
	    "web1 renders");
	is_str(des.res[0].key, "/etc/hello/prod.conf",
	    "variables expand in paths: built-in and environment vars");
	is_str(des.res[0].content.data, "greeting=host\nhost=web1\n"
	    "lit=${greeting} $x\n", "a template: host vars win, $${ is a "
	    "literal ${, a lone $ stays");
	ok(des.res[1].content_deferred && des.res[1].content.len == 0 &&
	    des.res[1].size == strlen(tree[1]), "a file that is not a "
	    "template is left in the commit, its size known");
	ok(render_load_content(&des.res[1], &mem) == 0 &&
	    !des.res[1].content_deferred, "it is read when asked for");
	is_str(des.res[1].content.data, tree[1], "as it is");
	is_str(des.res[2].content.data, "http://127.0.0.2:80/0123abc ${x}",
	    "content expands; a variable's value expands in turn");
	desired_free(&des);
	ok(render_host(&des, m, &m->envs[0], &m->hosts[1], &rctx, &d) == 0,
	    "web2 renders");
	is_str(des.res[0].content.data, "greeting=env\nhost=web2\n"
	    "lit=${greeting} $x\n", "without a host var, the env's wins");
	desired_free(&des);
	ok(d.n == 0, "no diagnostics for a good manifest");
	{
		struct render_ctx shared = rctx;
		struct blob_cache cache = { NULL, NULL, NULL, 0, 0,
		    STRINDEX_INIT };
		struct desired a, b;

		shared.cache = &cache;
		render_host(&a, m, &m->envs[0], &m->hosts[0], &shared, &d);
		render_host(&b, m, &m->envs[0], &m->hosts[1], &shared, &d);
		ok(strcmp(a.res[1].hash, b.res[1].hash) == 0 &&
		    a.res[1].size == b.res[1].size && cache.n == 1,
		    "a file that is no template is read once for the hosts");
		ok(a.res[0].content.data != b.res[0].content.data,
		    "templates stay per host");
		{
			char h[65];

			sha256_hex(tree[1], strlen(tree[1]), h);
			is_str(b.res[1].hash, h, "its hash is its content's "
			    "sha256");
			sha256_hex(b.res[0].content.data, b.res[0].content.len,
			    h);
			is_str(b.res[0].hash, h, "so is a template's, per "
			    "host");
		}
		desired_free(&a);
		desired_free(&b);
		blob_cache_free(&cache);
	}
	manifest_free(m);
	diags_free(&d);
	/* Found by fuzzing: an empty value rendered as unterminated bytes,
	 * which a command's 'unless' would have put into the apply script. */
	m = load(HEAD "vars: {none: ''}\nresources:\n  - command: c\n"
	    "    run: 'true'\n    unless: ''\n    cwd: '/${none}srv'\n", &d);
	ok(m && m->errors == 0, "a manifest with empty values parses");
	if (m && m->errors == 0) {
		ok(render_host(&des, m, &m->envs[0], &m->hosts[0], &rctx,
		    &d) == 0 && des.res[0].unless &&
		    strcmp(des.res[0].unless, "") == 0 && des.res[0].cwd &&
		    strcmp(des.res[0].cwd, "/srv") == 0, "an empty value "
		    "renders as an empty string");
		desired_free(&des);
	}
	manifest_free(m);
	diags_free(&d);

	one_error(HEAD "resources:\n  - file: /a\n    source: deploy/bad.conf\n"
	    "    template: true\n", "deploy/bad.conf", 2, 8,
	    "undefined variable 'nope' (host h, environment p): define it "
	    "under 'vars'", "an undefined variable points into the template");
	alike("  - file: /etc/x\n    content: 'fixed'\n", 1, 1,
	    "resources with no variables render alike on every host");
	alike("  - file: /etc/x\n    content: '${v} ${tend.env}'\n", 1, 0,
	    "with a variable, alike unless the host has vars of its own");
	alike("  - file: /etc/x\n    content: '${tend.host}'\n", 0, 0,
	    "with the host's name, never alike");
	alike("  - file: /etc/x\n    source: deploy/app.conf\n"
	    "    template: true\n", 0, 0, "nor when a template uses it");
	one_error(HEAD "resources:\n  - file: /a\n    content: 'ab ${nope}'\n",
	    "deploy/tend.yaml", 7, 18, "undefined variable 'nope' (host h, "
	    "environment p): define it under 'vars'", "into a quoted value, "
	    "at the variable's column");
	one_error(HEAD "resources:\n  - file: /a\n    source: deploy/gone\n",
	    "deploy/tend.yaml", 7, 13, "source 'deploy/gone' does not exist "
	    "in commit 0123abc (is it committed?)", "a missing source");
	one_error(HEAD "resources:\n  - release: /a\n    from: deploy/app.conf\n",
	    "deploy/tend.yaml", 7, 11, "from 'deploy/app.conf' is a file, not "
	    "a directory", "a release from a file");
	one_error(HEAD "vars: {d: ..}\nresources:\n  - file: /a\n"
	    "    source: deploy/${d}/x\n", "deploy/tend.yaml", 8, 13,
	    "'source' expands to 'deploy/../x', which leaves the project root "
	    "('..' is not allowed)", "'..' through a variable");
	one_error(HEAD "vars: {a: '${b}', b: '${a}'}\nresources:\n"
	    "  - file: /x\n    content: '${a}'\n", "deploy/tend.yaml", 5, 23,
	    "variable 'a' expands into itself (a loop through 'vars')",
	    "a loop between variables ends with an error");
	one_error(HEAD "resources:\n  - file: /a\n    content: 'x ${oops'\n",
	    "deploy/tend.yaml", 7, 17, "unterminated '${': close it with '}' "
	    "(write $${ for a literal ${)", "an unterminated reference");
	one_error(HEAD "vars: {port: 1}\nhealth:\n  - name: w\n"
	    "    http: '${port}/x'\n", "deploy/tend.yaml", 8, 11,
	    "'http' expands to '1/x', which is not an http:// or https:// URL",
	    "a health URL checked after expansion");
	one_error(HEAD "vars: {x: a}\nresources:\n  - file: /${x}\n"
	    "    content: ''\n  - file: /a\n    content: ''\n",
	    "deploy/tend.yaml", 7, 11, "'/${x}' expands to '/a' on host h, "
	    "which the resource at line 9 declares too",
	    "two resources that expand to one path");
	one_error(HEAD "vars: {a: '${a}${a}${a}${a}${a}${a}${a}${a}'}\n"
	    "resources:\n  - file: /x\n    content: '${a}'\n",
	    "deploy/tend.yaml", 5, 12, "variable 'a' expands into itself (a "
	    "loop through 'vars')", "a variable that uses itself fails at "
	    "once, not exponentially");
	one_error(HEAD "vars: {a0: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',"
	    " a1: '${a0}${a0}${a0}${a0}${a0}${a0}${a0}${a0}${a0}${a0}',"
	    " a2: '${a1}${a1}${a1}${a1}${a1}${a1}${a1}${a1}${a1}${a1}',"
	    " a3: '${a2}${a2}${a2}${a2}${a2}${a2}${a2}${a2}${a2}${a2}',"
	    " a4: '${a3}${a3}${a3}${a3}${a3}${a3}${a3}${a3}${a3}${a3}',"
	    " a5: '${a4}${a4}${a4}${a4}${a4}${a4}${a4}${a4}${a4}${a4}',"
	    " a6: '${a5}${a5}${a5}${a5}${a5}${a5}${a5}${a5}${a5}${a5}'}\n"
	    "resources:\n  - file: /x\n    content: '${a6}'\n",
	    "deploy/tend.yaml", 8, 15, "expands to more than 16 MiB; "
	    "variables multiply each other here", "an expansion bomb stops at "
	    "16 MiB");
	test_bombs();
	one_error(HEAD "resources:\n  - file: /a\n    content: \"\\t\\\"${no}\"\n",
	    "deploy/tend.yaml", 7, 14, "undefined variable 'no' (host h, "
	    "environment p): define it under 'vars'", "with escapes in the "
	    "value, the error points at the value, not a wrong column");
	one_error(HEAD "resources:\n  - file: /a\n    content: |\n"
	    "      x\n      ${one}\n", "deploy/tend.yaml", 7, 14,
	    "undefined variable 'one' (host h, environment p): define it "
	    "under 'vars'", "a block value: the error points at its start");
	return tap_done();
}
