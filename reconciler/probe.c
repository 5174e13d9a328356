/*
 * probe: the remote script that reads a host's state and the parser for
 * its output.  The output is a stream of NUL-terminated fields in
 * sections, each opened by a field "=tend:NONCE:NAME" with a nonce made
 * for this run, so no file name can be mistaken for a section header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "probe.h"
#include "shell.h"

void
probe_nonce(char out[17])
{
	unsigned char r[8];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	for (i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void
quoted_list(struct buf *out, char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		buf_adds(out, i % 8 == 0 ? " \\\n  " : " ");
		sh_quote(out, v[i]);
	}
}

void
probe_script(struct buf *out, const char *app, const struct probe_set *set,
    const char *nonce)
{
	char *dir = xasprintf("%s/%s", RECORD_DIR, app);

	sh_addf(out, "export LC_ALL=C\nS=%Q\nset --", dir);
	quoted_list(out, set->paths, set->npaths);
	/* managed.sh, written by tend's apply, adds what it recorded. */
	buf_adds(out, "\n[ -r \"$S/managed.sh\" ] && . \"$S/managed.sh\"\n");
	sh_addf(out, "sec() { printf '=tend:%s:%%s\\0' \"$1\"; }\n", nonce);
	/* Which paths exist, are files, are links: for a few hundred, test
	 * in shell loops; for more, the loops cost more than the processes
	 * that do without them: stat takes every path (a missing one is an
	 * error, thrown away), find picks files and links as test -f with
	 * ! -L and test -L do (the link a path names is not followed). */
	buf_adds(out,
	    "paths() { printf '%s\\0' \"$@\" | sort -zu; }\n"
	    "if [ $# -lt " PROBE_LOOP_MAX " ]; then\n"
	    "sec stat\n"
	    "for p do if [ -e \"$p\" ] || [ -L \"$p\" ]; then "
	    "printf '%s\\0' \"$p\"; fi; done | sort -zu |\n"
	    "  xargs -0 -r stat --printf '%n\\0%F\\0%a\\0%u\\0%g\\0%U\\0%G\\0%s\\0'"
	    " -- 2>/dev/null\n"
	    "sec hash\n"
	    "for p do if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then "
	    "printf '%s\\0' \"$p\"; fi; done | sort -zu |\n"
	    "  xargs -0 -r sha256sum -z -- 2>/dev/null\n"
	    "sec link\n"
	    "for p do if [ -L \"$p\" ]; then printf '%s\\0' \"$p\"; "
	    "readlink -- \"$p\"; printf '\\0'; fi; done\n"
	    "else\n"
	    "sec stat\n"
	    "paths \"$@\" |\n"
	    "  xargs -0 -r stat --printf '%n\\0%F\\0%a\\0%u\\0%g\\0%U\\0%G\\0%s\\0'"
	    " -- 2>/dev/null\n"
	    "sec hash\n"
	    "paths \"$@\" | xargs -0 -r sh -c 'exec find \"$@\" -maxdepth 0 "
	    "-type f -print0' sh 2>/dev/null |\n"
	    "  xargs -0 -r sha256sum -z -- 2>/dev/null\n"
	    "sec link\n"
	    "paths \"$@\" | xargs -0 -r sh -c 'exec find \"$@\" -maxdepth 0 "
	    "-type l -printf \"%p\\0%l\\n\\0\"' sh 2>/dev/null\n"
	    "fi\n");
	if (set->nreleases) {
		buf_adds(out, "sec rel\nfor r in");
		quoted_list(out, set->releases, set->nreleases);
		buf_adds(out, "; do printf '%s\\0' \"$r\"; "
		    "c=$(readlink -- \"$r/current\" 2>/dev/null); "
		    "printf '%s\\0' \"$c\"; "
		    "ls -1 -- \"$r/releases\" 2>/dev/null | while IFS= read -r i; "
		    "do [ -f \"$r/releases/$i/.tend-files\" ] && printf '%s ' "
		    "\"$i\"; done; printf '\\0'; "
		    "[ -n \"$c\" ] && cat -- \"$r/$c/.tend-files\" 2>/dev/null; "
		    "printf '\\0'; done\n");
	}
	if (set->nunits) {
		buf_adds(out, "sec svc\nfor u in");
		quoted_list(out, set->units, set->nunits);
		buf_adds(out, "; do printf '%s\\0' \"$u\"; "
		    "systemctl show -p ActiveState -p UnitFileState -- \"$u\" "
		    "2>/dev/null | tr '\\n' ' '; printf '\\0'; done\n");
	}
	buf_adds(out,
	    "sec state\n"
	    "cat \"$S/state.json\" 2>/dev/null; printf '\\0'\n"
	    "sec end\n");
	free(dir);
}

static size_t
obs_index(const struct observed *o, const char *path)
{
	struct strindex_iter it;
	size_t i;

	/* probe_parse keeps paths unique, so the first match is the one. */
	if (o->idx.n == o->n && o->n) {
		for (i = strindex_first(&o->idx, path, &it);
		    i != STRINDEX_NONE; i = strindex_next(&o->idx, &it))
			if (strcmp(o->v[i].path, path) == 0)
				return i;
		return o->n;
	}
	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].path, path) == 0)
			return i;
	return o->n;
}

static struct obs_entry *
obs_get(struct observed *o, const char *path)
{
	size_t i = obs_index(o, path);

	return i < o->n ? &o->v[i] : NULL;
}

const struct obs_entry *
observed_find(const struct observed *o, const char *path)
{
	size_t i = obs_index(o, path);

	return i < o->n ? &o->v[i] : NULL;
}

static char
type_letter(const char *f)
{
	if (strcmp(f, "regular file") == 0 ||
	    strcmp(f, "regular empty file") == 0)
		return 'f';
	if (strcmp(f, "directory") == 0)
		return 'd';
	if (strcmp(f, "symbolic link") == 0)
		return 'l';
	return 'o';
}

static int
parse_uint(const char *s, int base, unsigned long long max,
    unsigned long long *out)
{
	char *end;

	if (*s == '\0' || *s == '-')
		return -1;
	*out = strtoull(s, &end, base);
	return *end == '\0' && *out <= max ? 0 : -1;
}

/* The value of "KEY=value" in a space-separated list, "" if absent. */
static char *
prop(const char *list, const char *key)
{
	const char *p = strstr(list, key);

	if (p == NULL || (p != list && p[-1] != ' '))
		return xstrdup("");
	p += strlen(key);
	return xstrndup(p, strcspn(p, " "));
}

const struct obs_release *
observed_release(const struct observed *o, const char *path)
{
	size_t i;

	for (i = 0; i < o->nrel; i++)
		if (strcmp(o->rel[i].path, path) == 0)
			return &o->rel[i];
	return NULL;
}

const struct obs_service *
observed_service(const struct observed *o, const char *unit)
{
	size_t i;

	for (i = 0; i < o->nsvc; i++)
		if (strcmp(o->svc[i].unit, unit) == 0)
			return &o->svc[i];
	return NULL;
}

int
probe_parse(struct observed *o, const char *data, size_t len,
    const char *nonce)
{
	char *hdr = xasprintf("=tend:%s:", nonce);
	size_t hlen = strlen(hdr), off = 0, nf = 0, cap = 0, i, k;
	const char **f = NULL;
	const char *sec = NULL, *seen[8];
	size_t nseen = 0;
	int rc = -1;

	if (len == 0 || data[len - 1] != '\0') {
		err_set("the probe's output was cut short");
		goto done;
	}
	/* Split into fields; remember where sections start. */
	while (off < len) {
		GROW(f, nf + 1, cap);
		f[nf++] = data + off;
		off += strlen(data + off) + 1;
	}
	i = 0;
	while (i < nf) {
		if (strncmp(f[i], hdr, hlen) != 0) {
			err_set("unexpected probe output at field %zu", i);
			goto done;
		}
		sec = f[i++] + hlen;
		/* The script writes each section once: a repeat is not its
		 * output (and a second record would replace the first). */
		for (k = 0; k < nseen; k++) {
			if (strcmp(seen[k], sec) == 0) {
				err_set("probe section '%s' appears twice", sec);
				goto done;
			}
		}
		if (nseen < ARRAY_SIZE(seen))
			seen[nseen++] = sec;
		if (strcmp(sec, "stat") == 0) {
			for (; i + 8 <= nf && strncmp(f[i], hdr, hlen); i += 8) {
				struct obs_entry e;
				unsigned long long v[4];

				memset(&e, 0, sizeof(e));
				if (parse_uint(f[i + 2], 8, 07777, &v[0]) ||
				    parse_uint(f[i + 3], 10, 0xffffffffu, &v[1]) ||
				    parse_uint(f[i + 4], 10, 0xffffffffu, &v[2]) ||
				    parse_uint(f[i + 7], 10, 1ULL << 62, &v[3])) {
					err_set("malformed stat output for %s",
					    f[i]);
					goto done;
				}
				if (obs_get(o, f[i]))
					continue;
				e.path = xstrdup(f[i]);
				e.type = type_letter(f[i + 1]);
				e.mode = (unsigned)v[0];
				e.uid = (unsigned)v[1];
				e.gid = (unsigned)v[2];
				e.owner = xstrdup(f[i + 5]);
				e.group = xstrdup(f[i + 6]);
				e.size = (long long)v[3];
				GROW(o->v, o->n + 1, o->cap);
				o->v[o->n++] = e;
				strindex_add(&o->idx, e.path, o->n - 1);
			}
		} else if (strcmp(sec, "hash") == 0) {
			for (; i < nf && strncmp(f[i], hdr, hlen); i++) {
				struct obs_entry *e;

				/* "HASH  PATH" */
				if (strlen(f[i]) < 67 || f[i][64] != ' ' ||
				    f[i][65] != ' ') {
					err_set("malformed hash output");
					goto done;
				}
				if ((e = obs_get(o, f[i] + 66)) != NULL) {
					memcpy(e->hash, f[i], 64);
					e->hash[64] = '\0';
				}
			}
		} else if (strcmp(sec, "link") == 0) {
			for (; i + 2 <= nf && strncmp(f[i], hdr, hlen); i += 2) {
				struct obs_entry *e = obs_get(o, f[i]);
				size_t tl = strlen(f[i + 1]);

				if (e == NULL || e->target)
					continue;
				/* readlink ends the target with a newline */
				if (tl > 0 && f[i + 1][tl - 1] == '\n')
					tl--;
				e->target = xstrndup(f[i + 1], tl);
			}
		} else if (strcmp(sec, "rel") == 0) {
			for (; i + 4 <= nf && strncmp(f[i], hdr, hlen); i += 4) {
				struct obs_release *r;

				GROW(o->rel, o->nrel + 1, o->relcap);
				r = &o->rel[o->nrel++];
				r->path = xstrdup(f[i]);
				r->current = xstrdup(f[i + 1]);
				r->ids = xstrdup(f[i + 2]);
				r->files = xstrdup(f[i + 3]);
			}
		} else if (strcmp(sec, "svc") == 0) {
			for (; i + 2 <= nf && strncmp(f[i], hdr, hlen); i += 2) {
				struct obs_service *sv;

				GROW(o->svc, o->nsvc + 1, o->svccap);
				sv = &o->svc[o->nsvc++];
				sv->unit = xstrdup(f[i]);
				sv->active = prop(f[i + 1], "ActiveState=");
				sv->enabled = prop(f[i + 1], "UnitFileState=");
			}
		} else if (strcmp(sec, "state") == 0) {
			if (i < nf && strncmp(f[i], hdr, hlen) != 0) {
				if (*f[i] && (o->rec = record_parse(f[i],
				    strlen(f[i]))) == NULL)
					o->rec_error = xstrdup(err_msg());
				i++;
			}
		} else if (strcmp(sec, "end") == 0) {
			rc = 0;
			break;
		} else {
			err_set("unknown probe section '%s'", sec);
			goto done;
		}
	}
	if (rc < 0)
		err_set("the probe's output ended early (a command missing on "
		    "the host?)");
done:
	free(f);
	free(hdr);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add_path(char ***v, size_t *n, size_t *cap, const char *path, int parents)
{
	char *p;
	size_t k;

	GROW(*v, *n + 1, *cap);
	(*v)[(*n)++] = xstrdup(path);
	if (!parents)
		return;
	p = xstrdup(path);
	while ((k = (size_t)(strrchr(p, '/') - p)) > 0) {
		p[k] = '\0';
		GROW(*v, *n + 1, *cap);
		(*v)[(*n)++] = xstrdup(p);
	}
	free(p);
}

static void
sort_unique(char **v, size_t *n)
{
	size_t i, j;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), cmp_str);
	for (i = j = 1; i < *n; i++) {
		if (strcmp(v[i], v[j - 1]) == 0)
			free(v[i]);
		else
			v[j++] = v[i];
	}
	*n = j;
}

/* What to look at: every declared path and the directories above it (so
 * plan can say which parents an apply creates), unit files, releases. */
static void
probe_set_build(struct probe_set *set, const struct desired *d)
{
	size_t i, cap = 0, rcap = 0, ucap = 0;

	memset(set, 0, sizeof(*set));
	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *rr = &d->res[i];

		if (rr->key == NULL)
			continue;
		if (rr->res->kind == RES_RELEASE) {
			add_path(&set->releases, &set->nreleases, &rcap,
			    rr->key, 0);
			add_path(&set->paths, &set->npaths, &cap, rr->key, 1);
		} else if (rr->res->kind == RES_SERVICE) {
			add_path(&set->units, &set->nunits, &ucap,
			    rr->unit_name, 0);
			add_path(&set->paths, &set->npaths, &cap,
			    rr->unit_path, 0);
		} else if (res_kind_is_path(rr->res->kind)) {
			add_path(&set->paths, &set->npaths, &cap, rr->key, 1);
		}
	}
	sort_unique(set->paths, &set->npaths);
	sort_unique(set->releases, &set->nreleases);
	sort_unique(set->units, &set->nunits);
}

static void
probe_set_free(struct probe_set *set)
{
	size_t i;

	for (i = 0; i < set->npaths; i++)
		free(set->paths[i]);
	for (i = 0; i < set->nreleases; i++)
		free(set->releases[i]);
	for (i = 0; i < set->nunits; i++)
		free(set->units[i]);
	free(set->paths);
	free(set->releases);
	free(set->units);
}

int
probe_run(struct ssh *c, const char *app, const struct desired *d,
    struct observed *o)
{
	struct buf script = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	struct ssh_chunk chunk;
	char nonce[17];
	struct probe_set set;
	int status = 0, rc = -1;

	memset(o, 0, sizeof(*o));
	probe_nonce(nonce);
	probe_set_build(&set, d);
	probe_script(&script, app, &set, nonce);
	probe_set_free(&set);
	/* The script goes in on stdin: no argument length limit, and any
	 * login shell passes "sh -s" on unchanged. */
	chunk.data = script.data;
	chunk.len = script.len;
	if (ssh_exec(c, "sh -s", &chunk, 1, &out, &err, &status) < 0)
		goto done;
	if (status != 0 || probe_parse(o, out.data ? out.data : "", out.len,
	    nonce) < 0) {
		err_set("probing the host failed (exit %d): %s%s", status,
		    status ? "" : err_msg(), err.len ? buf_str(&err) : "");
		goto done;
	}
	rc = 0;
done:
	buf_free(&script);
	buf_free(&out);
	buf_free(&err);
	return rc;
}

int
probe_fetch_parse(struct buf *contents, size_t n, const char *data,
    size_t len)
{
	size_t i, off = 0, k;

	for (i = 0; i < n; i++) {
		const char *nl = off < len ? memchr(data + off, '\n',
		    len - off) : NULL;
		unsigned long long sz;
		char size[21];

		if (nl == NULL)
			return err_set("reading files from the host was cut "
			    "short");
		/* The size line is copied out: data stays untouched. */
		k = (size_t)(nl - (data + off));
		if (k >= sizeof(size))
			return err_set("malformed file contents from the host");
		memcpy(size, data + off, k);
		size[k] = '\0';
		off += k + 1;
		if (parse_uint(size, 10, len - off, &sz) < 0)
			return err_set("malformed file contents from the host");
		buf_add(&contents[i], data + off, (size_t)sz);
		off += (size_t)sz;
	}
	return 0;
}

int
probe_fetch(struct ssh *c, const char *const *paths, size_t n,
    struct buf *contents)
{
	struct buf script = BUF_INIT, out = BUF_INIT;
	struct ssh_chunk chunk;
	size_t i;
	int status, rc = -1;

	/* Each file's size on a line, then its bytes: binary-safe. */
	buf_adds(&script, "set --");
	for (i = 0; i < n; i++) {
		buf_addch(&script, ' ');
		sh_quote(&script, paths[i]);
	}
	buf_adds(&script, "\nfor p do s=$(wc -c <\"$p\" 2>/dev/null) || "
	    "s=0; printf '%s\\n' \"$s\"; [ \"$s\" -gt 0 ] && head -c \"$s\" "
	    "-- \"$p\"; done\n");
	chunk.data = script.data;
	chunk.len = script.len;
	if (ssh_exec(c, "sh -s", &chunk, 1, &out, NULL, &status) < 0)
		goto done;
	rc = probe_fetch_parse(contents, n, out.data, out.len);
done:
	buf_free(&script);
	buf_free(&out);
	return rc;
}

void
observed_free(struct observed *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].path);
		free(o->v[i].owner);
		free(o->v[i].group);
		free(o->v[i].target);
	}
	free(o->v);
	strindex_free(&o->idx);
	for (i = 0; i < o->nrel; i++) {
		free(o->rel[i].path);
		free(o->rel[i].current);
		free(o->rel[i].ids);
		free(o->rel[i].files);
	}
	free(o->rel);
	for (i = 0; i < o->nsvc; i++) {
		free(o->svc[i].unit);
		free(o->svc[i].active);
		free(o->svc[i].enabled);
	}
	free(o->svc);
	record_free(o->rec);
	free(o->rec_error);
	memset(o, 0, sizeof(*o));
}
