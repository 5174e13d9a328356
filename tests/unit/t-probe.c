/* Unit tests: the probe's output parser, on crafted and hostile output. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "probe.h"
#include "tap.h"

#define N "0123456789abcdef"
#define SEC(name) "=tend:" N ":" name "\0"
#define HASH "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int
parse(struct observed *o, const char *data, size_t len)
{
	memset(o, 0, sizeof(*o));
	return probe_parse(o, data, len, N);
}

/* probe_fetch's output: sizes on lines, each followed by the bytes. */
static void
test_fetch(void)
{
	static const char out[] = "6\nhello\n0\n3\na\0b";
	struct buf c[3];
	size_t i;
	int rc;

	for (i = 0; i < 3; i++)
		buf_init(&c[i]);
	rc = probe_fetch_parse(c, 3, out, sizeof(out) - 1);
	ok(rc == 0 && c[0].len == 6 && memcmp(c[0].data, "hello\n", 6) == 0 &&
	    c[1].len == 0 && c[2].len == 3 && memcmp(c[2].data, "a\0b", 3) ==
	    0, "fetch: three files, an empty one and a binary one");
	for (i = 0; i < 3; i++)
		buf_free(&c[i]);
	ok(probe_fetch_parse(c, 1, "7\nhello\n", 8) < 0 &&
	    strstr(err_msg(), "malformed"), "fetch: a size past the end fails");
	buf_free(&c[0]);
	ok(probe_fetch_parse(c, 2, "1\nx", 3) < 0 &&
	    strstr(err_msg(), "cut short"), "fetch: a missing file fails");
	buf_free(&c[0]);
	ok(probe_fetch_parse(c, 1, "-1\n", 3) < 0 &&
	    probe_fetch_parse(c, 1, "99999999999999999999999\n", 24) < 0,
	    "fetch: negative and overlong sizes fail");
	/* ssh_exec leaves an empty output as a NULL buffer. */
	ok(probe_fetch_parse(c, 1, NULL, 0) < 0 &&
	    strstr(err_msg(), "cut short"), "fetch: no output fails");
	ok(probe_fetch_parse(c, 0, NULL, 0) == 0, "fetch: no files, no output");
	buf_free(&c[0]);
}

/* The probe script, run by the local sh over a directory made here,
 * parsed: what a host would report.  With many, as if there were more
 * paths than PROBE_LOOP_MAX. */
static void
probe_here(int many)
{
	char dir[] = "/tmp/t-probe.XXXXXX", *p[8], *cmd, h[65];
	struct probe_set set;
	struct buf script = BUF_INIT, out = BUF_INIT;
	struct observed o;
	const struct obs_entry *e;
	char chunk[4096];
	size_t n, i;
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		ok(0, "a directory to probe");
		return;
	}
	p[0] = xasprintf("%s/file", dir);
	p[1] = xasprintf("%s/sub", dir);
	p[2] = xasprintf("%s/link", dir);
	p[3] = xasprintf("%s/dangling", dir);
	p[4] = xasprintf("%s/missing", dir);
	p[5] = xasprintf("%s/odd\nname 'q'", dir);
	p[6] = xasprintf("%s/via/file", dir);	/* via: a link to . */
	p[7] = xasprintf("%s/file", dir);	/* twice */
	cmd = xasprintf("cd %s && printf 'abc\\n' >file && mkdir sub && "
	    "ln -s file link && ln -s nowhere dangling && "
	    ": >\"odd\nname 'q'\" && ln -s . via", dir);
	ok(system(cmd) == 0, "a directory to probe");
	free(cmd);
	memset(&set, 0, sizeof(set));
	set.paths = p;
	set.npaths = ARRAY_SIZE(p);
	probe_script(&script, "tend-unit-test-no-such-app", &set, N);
	{
		const char *lt = "[ $# -lt " PROBE_LOOP_MAX " ]";
		char *at = strstr(script.data, lt);

		ok(at != NULL, "the probe chooses by the number of paths");
		if (at && many)
			buf_insert(&script, (size_t)(at - script.data) +
			    strlen("[ $# -lt "), "-");	/* -1000: never */
	}
	cmd = xasprintf("%s/probe.sh", dir);
	f = fopen(cmd, "w");
	if (f) {
		fwrite(script.data, 1, script.len, f);
		fclose(f);
	}
	free(cmd);
	cmd = xasprintf("sh %s/probe.sh", dir);
	f = popen(cmd, "r");
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&out, chunk, n);
	ok(f && pclose(f) == 0, "the probe script runs in sh, %s",
	    many ? "without loops" : "with loops");
	free(cmd);
	ok(parse(&o, out.data ? out.data : "", out.len) == 0,
	    "and its output parses");
	is_int(o.n, 6, "six of the paths exist, each once");
	sha256_hex("abc\n", 4, h);
	e = observed_find(&o, p[0]);
	ok(e && e->type == 'f' && e->size == 4 && strcmp(e->hash, h) == 0,
	    "a file: its size and hash");
	e = observed_find(&o, p[1]);
	ok(e && e->type == 'd' && e->hash[0] == '\0', "a directory, unhashed");
	e = observed_find(&o, p[2]);
	ok(e && e->type == 'l' && e->target && strcmp(e->target, "file") ==
	    0 && e->hash[0] == '\0', "a link: its target, not followed");
	e = observed_find(&o, p[3]);
	ok(e && e->type == 'l' && e->target && strcmp(e->target, "nowhere") ==
	    0, "a dangling link");
	ok(observed_find(&o, p[4]) == NULL, "a missing path is absent");
	e = observed_find(&o, p[5]);
	ok(e && e->type == 'f' && e->size == 0 && e->hash[0] == 'e',
	    "an empty file with a newline and quotes in its name");
	e = observed_find(&o, p[6]);
	ok(e && e->type == 'f' && strcmp(e->hash, h) == 0,
	    "a file through a linked directory");
	observed_free(&o);
	cmd = xasprintf("rm -rf %s", dir);
	system(cmd);
	free(cmd);
	for (i = 0; i < ARRAY_SIZE(p); i++)
		free(p[i]);
	buf_free(&script);
	buf_free(&out);
}

int
main(void)
{
	static const char good[] =
	    SEC("stat")
	    "/etc/a\0regular file\0" "640\0" "0\0" "0\0root\0root\0" "12\0"
	    "/etc/d\0directory\0" "755\0" "0\0" "0\0root\0root\0" "60\0"
	    "/etc/l\0symbolic link\0" "777\0" "0\0" "0\0root\0root\0" "5\0"
	    "/etc/odd\nname\0regular empty file\0" "644\0" "65534\0"
	    "65534\0nobody\0nogroup\0" "0\0"
	    SEC("hash")
	    HASH "  /etc/a\0"
	    HASH "  /etc/odd\nname\0"
	    SEC("link")
	    "/etc/l\0a.conf\n\0"
	    SEC("state")
	    "{\"app\": \"x\", \"env\": \"prod\", \"commit\": \"c1\", "
	    "\"resources\": [{\"kind\": \"file\", \"key\": \"/etc/a\", "
	    "\"hash\": \"" HASH "\", \"mode\": \"0640\", \"created\": true}, "
	    "{\"kind\": \"teleporter\", \"key\": \"/x\"}]}\0"
	    SEC("end");
	struct observed o;
	const struct obs_entry *e;

	ok(parse(&o, good, sizeof(good) - 1) == 0, "a well-formed probe parses");
	is_int(o.n, 4, "four paths exist");
	e = observed_find(&o, "/etc/a");
	ok(e && e->type == 'f' && e->mode == 0640 && e->size == 12,
	    "a file: type, mode (octal), size");
	ok(e && strcmp(e->hash, HASH) == 0, "and its hash");
	e = observed_find(&o, "/etc/l");
	ok(e && e->type == 'l' && e->target && strcmp(e->target, "a.conf") == 0,
	    "a link and its target, without readlink's newline");
	e = observed_find(&o, "/etc/odd\nname");
	ok(e && e->type == 'f' && e->uid == 65534 && strcmp(e->owner,
	    "nobody") == 0 && e->hash[0] == 'a', "a name with a newline");
	ok(observed_find(&o, "/etc/missing") == NULL, "a missing path is absent");
	ok(o.rec && strcmp(o.rec->commit, "c1") == 0 && o.rec->nres == 1,
	    "the record, skipping kinds it does not know");
	ok(o.rec && o.rec->res[0].mode == 0640 && o.rec->res[0].created,
	    "with the mode and created flag");
	observed_free(&o);

	{
		static const char cut[] = SEC("stat") "/etc/a\0regular file\0";

		ok(parse(&o, cut, sizeof(cut) - 1) < 0,
		    "output cut short in the middle of a record fails");
		observed_free(&o);
	}
	{
		static const char forged[] = "=tend:ffffffffffffffff:end\0";

		ok(parse(&o, forged, sizeof(forged) - 1) < 0,
		    "a section header with another nonce is not trusted");
		observed_free(&o);
	}
	{
		static const char badmode[] = SEC("stat")
		    "/etc/a\0regular file\0" "9z\0" "0\0" "0\0r\0r\0" "1\0"
		    SEC("end");

		ok(parse(&o, badmode, sizeof(badmode) - 1) < 0 &&
		    strstr(err_msg(), "malformed stat output"),
		    "a malformed mode fails");
		observed_free(&o);
	}
	{
		static const char badhash[] = SEC("hash") "short  /x\0" SEC("end");

		ok(parse(&o, badhash, sizeof(badhash) - 1) < 0,
		    "a malformed hash line fails");
		observed_free(&o);
	}
	{
		static const char badjson[] = SEC("state") "{not json\0" SEC("end");

		ok(parse(&o, badjson, sizeof(badjson) - 1) == 0 && !o.rec &&
		    o.rec_error && strstr(o.rec_error, "not valid JSON"),
		    "a broken record is reported, not fatal");
		observed_free(&o);
	}
	{
		/* Found by fuzzing: the second record leaked the first. */
		static const char twice[] = SEC("state") "{}\0"
		    SEC("state") "{}\0" SEC("end");

		ok(parse(&o, twice, sizeof(twice) - 1) < 0 &&
		    strstr(err_msg(), "probe section 'state' appears twice"),
		    "a section twice fails (and leaks nothing)");
		observed_free(&o);
	}
	ok(parse(&o, "", 0) < 0, "no output at all fails");
	observed_free(&o);
	test_fetch();
	probe_here(0);
	probe_here(1);
	err_clear();
	return tap_done();
}
