/*
 * fuzz/manifest: libFuzzer target for the manifest's way in, the path
 * `tend validate` takes: YAML text parsed and checked (manifest_parse),
 * every host of every environment rendered (render_check_all) against a
 * small in-memory project, and the diagnostics printed.
 *
 * Input: the manifest text; after the first NUL byte (which no manifest
 * may hold), the content of every file the manifest reads, so templates
 * are fuzzed too.  Every secret exists but those named "missing...".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "render.h"
#include "secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const char *content;		/* what every file read returns */
	size_t len;
};

static const char default_content[] = "greeting=${greeting}\n"
    "host=${tend.host} ${tend.commit_short}\nlit=$${x}\n";

/*
 * A project that has whatever a manifest asks for, told apart by name,
 * so the fuzzer reaches every answer render handles: a name holding
 * "missing" is absent, one holding "link" a symbolic link, "sub" a
 * submodule; a last component with a '.' is a file, else a directory.
 */
static enum file_type
mem_stat(void *ctx, const char *path)
{
	const char *base = strrchr(path, '/');

	(void)ctx;
	if (strstr(path, "missing"))
		return FT_MISSING;
	if (strstr(path, "link"))
		return FT_SYMLINK;
	if (strstr(path, "sub"))
		return FT_OTHER;
	return strchr(base ? base : path, '.') ? FT_FILE : FT_DIR;
}

static int
mem_read(void *ctx, const char *path, struct buf *out)
{
	const struct input *in = ctx;

	if (mem_stat(ctx, path) != FT_FILE)
		return err_set("%s: not a file", path);
	buf_add(out, in->content, in->len);
	return 0;
}

static int
mem_list(void *ctx, const char *dir, struct tree_list *out)
{
	static const char *const names[] = { "VERSION", "bin/run" };
	size_t i;

	if (mem_stat(ctx, dir) != FT_DIR)
		return err_set("%s: not a directory", dir);
	memset(out->id, 'a', 40);
	out->id[40] = '\0';
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		GROW(out->v, out->n + 1, out->cap);
		out->v[out->n].path = xstrdup(names[i]);
		out->v[out->n].mode = i ? 0755 : 0644;
		memset(out->v[out->n].oid, 'b', 40);
		out->v[out->n].oid[40] = '\0';
		out->n++;
	}
	return 0;
}

static int
mem_readlink(void *ctx, const char *path, struct buf *out)
{
	(void)ctx;
	(void)path;
	buf_adds(out, "target");
	return 0;
}

/* A name with capitals "exists" in lower case. */
static int
mem_suggest(void *ctx, const char *path, struct buf *out)
{
	const char *p;

	(void)ctx;
	if (strpbrk(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL)
		return -1;
	for (p = path; *p; p++)
		buf_addch(out, *p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return 0;
}

static int
secret_get(void *ctx, const char *name, const struct buf **value)
{
	static struct buf v;

	(void)ctx;
	if (str_has_prefix(name, "missing"))
		return err_set("no secret '%s'", name);
	if (v.data == NULL)
		buf_adds(&v, "hunter2");
	*value = &v;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t len = nul ? (size_t)(nul - text) : size;
	struct input in = { default_content, sizeof(default_content) - 1 };
	struct files files = { .ctx = &in, .stat = mem_stat,
		.read = mem_read, .list = mem_list, .readlink = mem_readlink,
		.suggest = mem_suggest, .where = "commit 0123abc" };
	static const struct secret_source secrets = { NULL, secret_get };
	struct blob_cache cache;
	int used = 0;
	struct render_ctx rc = { .files = &files,
		.commit = "0123abcdef0123abcdef0123abcdef0123abcdef",
		.cache = &cache, .secrets = &secrets, .secrets_used = &used };
	struct diags diags = DIAGS_INIT;
	struct manifest *m;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	if (nul) {
		in.content = nul + 1;
		in.len = size - len - 1;
	}
	memset(&cache, 0, sizeof(cache));
	if ((m = manifest_parse("deploy/tend.yaml", text, len, &diags)) !=
	    NULL) {
		/* As project_load: a faulty model is rendered too. */
		render_check_all(m, &rc, &diags);
		manifest_free(m);
	}
	diags_print(&diags, devnull);
	diags_free(&diags);
	blob_cache_free(&cache);
	err_clear();
	return 0;
}
