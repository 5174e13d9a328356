/* Unit tests: manifest, the model and its defaults, and error positions. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "tap.h"

static const char good[] =
"version: 1\n"
"app: hello\n"
"vars: {greeting: hi, port: 8080, debug: false}\n"
"hosts:\n"
"  web1: {address: 10.0.0.1, groups: [web]}\n"
"  web2:\n"
"    address: 10.0.0.2\n"
"    port: 2222\n"
"    user: deploy\n"
"    host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK\n"
"    groups: [web, db]\n"
"  db1: {address: 'db.example', groups: [db]}\n"
"environments:\n"
"  production:\n"
"    hosts: [web2, web, db]\n"
"    rollout: {canary: 1, parallel: 2, max_failed: 1, rollback: failed}\n"
"  staging:\n"
"    hosts: [web1]\n"
"resources:\n"
"  - directory: /etc/hello\n"
"  - file: /etc/hello/hello.conf\n"
"    source: deploy/hello.conf\n"
"    template: true\n"
"    mode: \"0640\"\n"
"    owner: root\n"
"  - symlink: /etc/hello/active\n"
"    target: hello.conf\n"
"  - release: /srv/hello\n"
"    from: app\n"
"  - service: hello\n"
"    restart_on: [/etc/hello/hello.conf, /srv/hello]\n"
"  - command: migrate\n"
"    run: ./migrate\n"
"    on_change: [/srv/hello]\n"
"    timeout: 2m\n"
"  - file: /etc/hello/old.conf\n"
"    state: absent\n"
"health:\n"
"  - name: web\n"
"    http: http://${tend.address}:${port}/healthz\n"
"  - {name: proc, command: systemctl is-active hello, retries: 3,"
" interval: 250ms}\n";

static struct manifest *
parse(const char *text, struct diags *d)
{
	diags_free(d);
	return manifest_parse("deploy/tend.yaml", text, strlen(text), d);
}

/* Parse a manifest expected to fail with exactly one error. */
static void
one_error(const char *text, int line, int col, const char *msg,
    const char *what)
{
	struct diags d = DIAGS_INIT;
	struct manifest *m = parse(text, &d);
	int pass = d.n == 1 && d.v[0].line == line && d.v[0].col == col &&
	    strcmp(d.v[0].msg, msg) == 0;

	ok(pass, "%s", what);
	if (!pass) {
		size_t i;

		printf("#   want: %d:%d: %s\n", line, col, msg);
		for (i = 0; i < d.n; i++)
			printf("#   got:  %d:%d: %s\n", d.v[i].line,
			    d.v[i].col, d.v[i].msg);
	}
	manifest_free(m);
	diags_free(&d);
}

#define HEAD "version: 1\napp: a\nhosts: {h: {address: x}}\n" \
	"environments: {p: {hosts: [h]}}\n"

int
main(void)
{
	struct diags d = DIAGS_INIT;
	struct manifest *m = parse(good, &d);
	struct env *e;
	struct resource *r;

	ok(m && m->errors == 0 && d.n == 0, "the full example parses");
	if (m == NULL || m->errors)
		return tap_done();
	is_str(m->app, "hello", "app");
	is_int(m->nhosts, 3, "three hosts");
	is_int(m->hosts[0].port, 22, "port defaults to 22");
	is_str(m->hosts[0].user, "root", "user defaults to root");
	is_int(m->hosts[1].port, 2222, "port as given");
	ok(m->hosts[1].host_key != NULL, "host_key kept");
	e = manifest_env(m, "production");
	ok(e != NULL, "environment found by name");
	is_int(e->nhosts, 3, "hosts and groups expand, each host once");
	is_int(e->hosts[0], 1, "in the order listed: web2 first");
	is_int(e->hosts[1], 0, "then web1 from group web");
	is_int(e->hosts[2], 2, "then db1 from group db");
	is_int(e->rollout.canary, 1, "canary");
	is_int(e->rollout.rollback, ROLLBACK_FAILED, "rollback");
	e = manifest_env(m, "staging");
	is_int(e->rollout.parallel, 5, "parallel defaults to 5");
	is_int(e->rollout.rollback, ROLLBACK_ALL, "rollback defaults to all");
	is_int(m->nres, 7, "seven resources");
	r = &m->res[0];
	is_int(r->mode, 0755, "a directory's mode defaults to 0755");
	r = &m->res[1];
	is_int(r->mode, 0640, "mode as given, octal");
	ok(r->template, "template flag");
	is_str(r->owner, "root", "owner");
	ok(r->group == NULL, "group left alone when not given");
	is_int(r->key.pos.line, 21, "a key remembers its line");
	is_int(r->key.pos.col, 11, "and its column");
	r = &m->res[3];
	is_int(r->keep, 5, "a release keeps 5 by default");
	r = &m->res[4];
	ok(r->enabled && r->state == SVC_RUNNING, "a service defaults to "
	    "enabled and running");
	is_int(r->nrefs, 2, "restart_on resolved");
	is_int(r->refs[1].res, 3, "to the release");
	r = &m->res[5];
	is_int(r->timeout_ms, 120000, "2m is 120000 ms");
	ok(m->res[6].absent, "state: absent");
	is_int(m->health[0].expect_status, 200, "expect_status defaults 200");
	is_int(m->health[0].timeout_ms, 5000, "timeout defaults to 5s");
	is_int(m->health[1].interval_ms, 250, "interval as given");
	is_int(m->health[1].retries, 3, "retries as given");
	manifest_free(m);

	one_error(HEAD "resources:\n  - file: /x\n    mdoe: \"0644\"\n"
	    "    content: x\n", 7, 5, "unknown key 'mdoe' in file resource "
	    "(did you mean 'mode'?)", "a typo gets a suggestion");
	one_error(HEAD "resources:\n  - file: x\n    content: x\n", 6, 11,
	    "path 'x' must be an absolute path (starting with '/')",
	    "a relative host path");
	one_error(HEAD "resources:\n  - file: /a/./b\n    content: x\n", 6, 11,
	    "path '/a/./b' must be normalised (no '//', '.' or '..' "
	    "components, no trailing '/')", "an unnormalised host path");
	one_error(HEAD "resources:\n  - file: /a\n    source: /etc/passwd\n",
	    7, 13, "source '/etc/passwd' must be relative to the "
	    "project root, not absolute", "an absolute source");
	one_error(HEAD "resources:\n  - file: /a\n    source: a/../../b\n",
	    7, 13, "source 'a/../../b' leaves the project root ('..' "
	    "is not allowed)", "'..' in a source");
	one_error(HEAD "resources:\n  - directory: /a\n  - file: /a\n"
	    "    content: x\n", 7, 11, "duplicate resource: '/a' is already "
	    "declared as a directory at line 6", "one path, two resources");
	one_error(HEAD "resources:\n  - service: s\n    restart_on: [/nope]\n",
	    7, 18, "'restart_on' names '/nope', which is not a resource in "
	    "this manifest", "restart_on names a resource");
	one_error("version: 1\napp: a\nhosts: {h: {address: x}}\n"
	    "environments: {p: {hosts: [hh]}}\n", 4, 28, "unknown host or "
	    "group 'hh' in environment 'p' (did you mean 'h'?)",
	    "an unknown host in an environment");
	one_error(HEAD "health:\n  - name: x\n    command: c\n"
	    "    expect_status: 200\n", 8, 20, "'expect_status' applies only "
	    "to http checks", "expect_status without http");
	one_error(HEAD "resources:\n  - file: /a\n    content: x\n"
	    "    mode: 644\n", 8, 11, "'mode' must be a quoted octal string "
	    "such as \"0644\", not an integer (YAML reads 644 as a number)",
	    "an unquoted mode");
	one_error(HEAD "resources:\n  - service: s\n    enabled: yes\n", 7, 14,
	    "'enabled' must be true or false, not a string 'yes'",
	    "yes is not a boolean");
	one_error("version: 1\napp: a\nhosts: {h: {address: x, groups: [h]}}\n"
	    "environments: {p: {hosts: [h]}}\n", 3, 34, "'h' is both a host "
	    "and a group; give the group another name", "host/group clash");

	m = parse("version: 1\napp: a\nhosts: {h: {address: x, port: 0022}}\n"
	    "environments: {p: {hosts: [h]}}\n", &d);
	ok(m && m->errors == 0 && m->hosts[0].port == 22, "a leading zero is "
	    "decimal, as in YAML 1.2: port 0022 is 22");
	manifest_free(m);
	one_error(HEAD "resources:\n  - service: --now\n", 6, 14, "invalid "
	    "service name '--now': give the systemd unit name, such as "
	    "'hello' or 'hello.service'", "a unit name cannot look like an "
	    "option");
	one_error(HEAD "resources:\n  - service: a\n  - service: a.service\n",
	    7, 14, "duplicate resource: 'a.service' is already declared as a "
	    "service at line 6", "a and a.service are one unit");
	one_error(HEAD "resources:\n  - command: c\n    run: '  '\n", 7, 10,
	    "'run' is empty: give the command to run", "an empty command");
	one_error(HEAD "resources:\n  - file: /a\n    mode: !!str 0644\n"
	    "    content: x\n    owner: !foo root\n", 9, 12, "unsupported "
	    "YAML tag '!foo'", "!!str makes a string; other tags are refused");
	one_error("version: 08\napp: a\nhosts: {h: {address: x}}\n"
	    "environments: {p: {hosts: [h]}}\n", 1, 10, "unsupported manifest "
	    "version 08; this tend reads version 1 (write 'version: 1')",
	    "a version that is not 1");
	m = parse("version: 1\n", &d);
	ok(m && d.n == 3, "every missing key is reported, not only the first");
	manifest_free(m);
	diags_free(&d);
	{
		/* Found by fuzzing: qsort was handed the NULL array of an
		 * empty list. */
		FILE *null = fopen("/dev/null", "w");

		ok(null && diags_print(&d, null) == 0, "an empty list prints "
		    "nothing");
		if (null)
			fclose(null);
	}
	return tap_done();
}
