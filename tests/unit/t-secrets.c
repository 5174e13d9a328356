/* Unit tests: the secrets directory, and ${secret.NAME} in render. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "plan.h"
#include "render.h"
#include "secrets.h"
#include "tap.h"

static const char *const tree[] = {
	"deploy/db.conf", "password = ${secret.db_password}\n",
	NULL
};

#include "memtree.h"

/* A fake store: db_password and api-token. */
static int
fake_get(void *ctx, const char *name, const struct buf **value)
{
	static char pwv[] = "hunter2", tokv[] = "tok";
	static struct buf pw = { pwv, 7, 0 }, tok = { tokv, 3, 0 };

	(void)ctx;
	if (strcmp(name, "db_password") == 0) {
		*value = &pw;
		return 0;
	}
	if (strcmp(name, "api-token") == 0) {
		*value = &tok;
		return 0;
	}
	return err_set("no secret '%s'", name);
}

static const struct secret_source fake = { NULL, fake_get };

#define HEAD "version: 1\napp: a\nhosts: {h: {address: x}}\n" \
	"environments: {p: {hosts: [h]}}\n"

static struct manifest *m;

/* Render host 0 of text with ctx into des (free it with done()); the
 * diagnostics' messages, one a line, into msgs. */
static int
render(const char *text, const struct render_ctx *rc, struct desired *des,
    struct buf *msgs)
{
	struct diags d = DIAGS_INIT;
	size_t i;
	int rcode;

	memset(des, 0, sizeof(*des));
	m = manifest_parse("deploy/tend.yaml", text, strlen(text), &d);
	if (m == NULL || m->errors) {
		diags_free(&d);
		return -2;
	}
	rcode = render_host(des, m, &m->envs[0], &m->hosts[0], rc, &d);
	for (i = 0; i < d.n; i++)
		buf_addf(msgs, "%s:%d:%d: %s\n", d.v[i].file, d.v[i].line,
		    d.v[i].col, d.v[i].msg);
	diags_free(&d);
	return rcode;
}

static void
done(struct desired *des)
{
	desired_free(des);
	manifest_free(m);
	m = NULL;
}

static void
test_render(void)
{
	struct render_ctx rc = { .files = &mem,
		.commit = "0123abcdef0123abcdef0123abcdef0123abcdef",
		.secrets = &fake };
	struct buf msgs = BUF_INIT;
	struct desired des;
	int used = 0;

	ok(render(HEAD "vars: {dsn: 'u:${secret.db_password}@db'}\n"
	    "resources:\n"
	    "  - file: /a\n    source: deploy/db.conf\n    template: true\n"
	    "  - file: /b\n    content: '${dsn}'\n"
	    "  - file: /c\n    content: '${secret.api-token}'\n"
	    "    mode: '0640'\n"
	    "  - file: /d\n    content: plain\n"
	    "  - directory: /e\n",
	    &rc, &des, &msgs) == 0, "secrets render in templates and "
	    "content");
	is_str(des.res[0].content.data, "password = hunter2\n",
	    "a template gets the value");
	is_str(des.res[1].content.data, "u:hunter2@db",
	    "through a variable too");
	ok(des.res[0].sensitive && des.res[1].sensitive &&
	    des.res[2].sensitive && !des.res[3].sensitive,
	    "files using a secret are sensitive, others not");
	ok(des.res[0].mode == 0600 && des.res[1].mode == 0600,
	    "a sensitive file's mode defaults to 0600");
	ok(des.res[2].mode == 0640, "a declared mode stays");
	ok(des.res[3].mode == 0644 && des.res[4].mode == 0755,
	    "other defaults are unchanged");
	done(&des);

	/* render expands a variable once per host and copies it after;
	 * the copy must carry the secret's rules as the first use did. */
	buf_reset(&msgs);
	ok(render(HEAD "vars: {dsn: 'u:${secret.db_password}@db'}\n"
	    "resources:\n"
	    "  - file: /a\n    content: '${dsn}'\n"
	    "  - file: /b\n    content: '${dsn}'\n",
	    &rc, &des, &msgs) == 0 && des.res[0].sensitive &&
	    des.res[1].sensitive && des.res[1].mode == 0600 &&
	    strcmp(des.res[1].content.data, "u:hunter2@db") == 0,
	    "a variable holding a secret makes every file using it "
	    "sensitive");
	done(&des);
	buf_reset(&msgs);
	ok(render(HEAD "vars: {dsn: 'u:${secret.db_password}@db'}\n"
	    "resources:\n"
	    "  - file: /a\n    content: '${dsn}'\n"
	    "  - command: c\n    run: 'echo ${dsn}'\n",
	    &rc, &des, &msgs) < 0 && des.res[1].run == NULL &&
	    strstr(msgs.data, ":5:16: secret 'db_password' used outside a "
	    "file's content"), "... and is refused in a command after a "
	    "file used it");
	done(&des);
	buf_reset(&msgs);
	ok(render(HEAD "vars: {dsn: 'u:${secret.db_password}@db'}\n"
	    "resources:\n"
	    "  - command: c\n    run: 'echo ${dsn}'\n"
	    "  - file: /a\n    content: '${dsn}'\n",
	    &rc, &des, &msgs) < 0 && des.res[0].run == NULL &&
	    des.res[1].sensitive && des.res[1].content.data &&
	    strcmp(des.res[1].content.data, "u:hunter2@db") == 0,
	    "... and a file after a command gets it all the same");
	done(&des);

	buf_reset(&msgs);
	ok(render(HEAD "resources:\n  - command: c\n"
	    "    run: 'echo ${secret.db_password}'\n", &rc, &des, &msgs) < 0,
	    "a secret in a command is refused");
	is_str(msgs.data, "deploy/tend.yaml:7:16: secret 'db_password' used "
	    "outside a file's content: secrets may appear only in a file "
	    "resource's 'content' or template, where tend keeps them out of "
	    "plans and logs\n", "... where it stands");
	ok(strstr(msgs.data, "hunter2") == NULL, "the value is in no message");
	done(&des);

	buf_reset(&msgs);
	ok(render(HEAD "vars: {u: 'http://${secret.api-token}@x'}\nhealth:\n"
	    "  - name: w\n    http: '${u}'\n", &rc, &des, &msgs) < 0,
	    "a secret reaching a health check through a variable is refused");
	done(&des);

	buf_reset(&msgs);
	ok(render(HEAD "resources:\n  - file: /a\n"
	    "    content: '${secret.nope} ${secret..x} ${secret.-x}'\n", &rc,
	    &des, &msgs) < 0, "missing and invalid names are errors");
	ok(strstr(msgs.data, ":7:15: no secret 'nope'") &&
	    strstr(msgs.data, ":7:30: invalid secret name in '${secret..x}'") &&
	    strstr(msgs.data, ":7:43: invalid secret name in '${secret.-x}'"),
	    "each at its place");
	if (strstr(msgs.data, ":7:43:") == NULL)
		printf("# %s", msgs.data);
	done(&des);

	rc.secrets = NULL;
	buf_reset(&msgs);
	ok(render(HEAD "resources:\n  - file: /a\n"
	    "    content: 'x${secret.db_password}'\n", &rc, &des, &msgs) < 0,
	    "without --secrets a secret is an error");
	ok(strstr(msgs.data, "deploy/tend.yaml:7:16: '${secret.db_password}' "
	    "needs the secrets directory: pass --secrets DIR") != NULL,
	    "... that says to pass --secrets");
	done(&des);

	rc.secrets_unchecked = 1;
	rc.secrets_used = &used;
	buf_reset(&msgs);
	ok(render(HEAD "resources:\n  - file: /a\n"
	    "    content: 'x${secret.db_password}'\n", &rc, &des, &msgs) == 0 &&
	    used, "validate without --secrets: names only, and noted");
	done(&des);
	buf_free(&msgs);
}

static void
put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void
test_dir(void)
{
	char dir[] = "/tmp/t-secrets.XXXXXX", *p;
	const struct secret_source *src;
	const struct buf *v;
	struct secrets *s;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	p = xasprintf("%s/a", dir);
	put(p, "one\n", 0600);
	free(p);
	p = xasprintf("%s/b", dir);
	put(p, "two\r\n\n", 0600);
	free(p);
	p = xasprintf("%s/c", dir);
	put(p, "", 0600);
	free(p);
	p = xasprintf("%s/link", dir);
	ok(symlink("a", p) == 0, "a symbolic link");
	free(p);
	p = xasprintf("%s/sub", dir);
	mkdir(p, 0700);
	free(p);

	s = secrets_open(dir);
	ok(s != NULL, "the directory opens");
	src = secrets_source(s);
	ok(src->get(src->ctx, "a", &v) == 0 && strcmp(v->data, "one") == 0 &&
	    v->len == 3, "one trailing newline is dropped");
	ok(src->get(src->ctx, "b", &v) == 0 && strcmp(v->data, "two\r\n") ==
	    0, "only one");
	ok(src->get(src->ctx, "c", &v) == 0 && v->len == 0 &&
	    strcmp(v->data, "") == 0, "an empty secret is empty");
	ok(src->get(src->ctx, "a", &v) == 0 && strcmp(v->data, "one") == 0,
	    "a second look gets the same");
	ok(src->get(src->ctx, "link", &v) < 0 &&
	    strstr(err_msg(), "is a symbolic link"), "links are not followed");
	ok(src->get(src->ctx, "sub", &v) < 0 &&
	    strstr(err_msg(), "is not a regular file"), "nor directories read");
	ok(src->get(src->ctx, "gone", &v) < 0 &&
	    strstr(err_msg(), "no secret 'gone'"), "a missing one is named");
	ok(src->get(src->ctx, "../x", &v) < 0 &&
	    strstr(err_msg(), "invalid secret name"), "no way out");
	secrets_free(s);
	ok(secrets_open("/nonexistent/tend") == NULL, "a missing directory "
	    "fails to open");

	p = xasprintf("rm -rf %s", dir);
	ok(system(p) == 0, "cleanup");
	free(p);
}

static void
test_names(void)
{
	ok(secrets_valid_name("db_password", 11), "letters and _");
	ok(secrets_valid_name("tls.key-2", 9), ". and - inside");
	ok(!secrets_valid_name(".x", 2) && !secrets_valid_name("..", 2),
	    "no leading .");
	ok(!secrets_valid_name("-x", 2), "no leading -");
	ok(!secrets_valid_name("a/b", 3), "no /");
	ok(!secrets_valid_name("", 0), "not empty");
}

int
main(void)
{
	test_names();
	test_dir();
	test_render();
	return tap_done();
}
