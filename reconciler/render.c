/* render: variable expansion and per-host desired state. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "render.h"

#define MAX_VAR_DEPTH 64
/* An expanded field, template or variable may not grow past this, */
#define MAX_EXPANSION (16u * 1024 * 1024)
/* nor all that one host's rendering expands together. */
#define MAX_HOST_EXPANSION (64u * 1024 * 1024)
/* What expand returns, inside a variable, for output past a limit: the
 * outermost text that refers to it reports it. */
#define TOO_BIG (-2)

/*
 * A variable's value, expanded once per host (and per context: in a
 * file's content or not, which decides whether secrets may appear) and
 * then copied wherever it is used: variables that use each other several
 * times each would otherwise be expanded again for every use,
 * exponentially often.
 */
struct memo {
	const struct var *var;
	int in_content;
	struct buf value;
	int rc;				/* expand's: 0, -1 or TOO_BIG */
	int used_secret;		/* the value holds a secret */
};

struct renderer {
	const struct manifest *m;
	const struct env *env;
	const struct host *host;
	const struct render_ctx *rc;
	struct diags *diags;
	int host_own;			/* used the host's name, address or
					 * vars */
	int used_vars;			/* looked up variables */
	int errors;
	/* variables being expanded, outermost first: a loop re-enters one */
	const char *stack[MAX_VAR_DEPTH];
	int depth;
	int in_content;			/* expanding a file's content */
	int used_secret;		/* ... and it used a secret */
	struct memo *memo;
	size_t nmemo, memocap;
	size_t total;			/* bytes expanded for this host */
	int host_full;			/* past MAX_HOST_EXPANSION */
	int host_said;			/* ... and reported */
};

/* Where a piece of text came from, to point errors into it. */
struct origin {
	const char *file;
	const struct sval *sv;		/* a manifest string, or NULL */
	const char *text;		/* a template's whole text */
};

static void
report(struct renderer *r, const char *file, int line, int col,
    const char *fmt, ...) PRINTF_LIKE(5, 6);

static void
report(struct renderer *r, const char *file, int line, int col,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;
	size_t i, keylen;

	r->errors++;
	if (r->diags->n >= DIAGS_MAX) {
		r->diags->dropped++;
		return;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* The same spot fails the same way for every host: say it once.
	 * Messages differ only in their " (host ..." part then. */
	keylen = strcspn(msg, "(");
	for (i = 0; i < r->diags->n; i++) {
		struct diag *g = &r->diags->v[i];

		if (g->line == line && g->col == col &&
		    strcmp(g->file, file) == 0 &&
		    strncmp(g->msg, msg, keylen) == 0) {
			free(msg);
			return;
		}
	}
	diags_add(r->diags, file, line, col, "%s", msg);
	free(msg);
}

/* Line and column of byte offset off in the origin. */
static void
origin_pos(const struct origin *o, size_t off, int *line, int *col)
{
	if (o->sv) {
		*line = o->sv->pos.line;
		*col = o->sv->pos.col;
		if (o->sv->exact == 0)
			*col += o->sv->quote + (int)utf8_count(o->sv->s, off);
		return;
	}
	{
		const char *s = o->text, *ls = s;
		size_t i;

		*line = 1;
		for (i = 0; i < off; i++) {
			if (s[i] == '\n') {
				(*line)++;
				ls = s + i + 1;
			}
		}
		*col = 1 + (int)utf8_count(ls, (size_t)(s + off - ls));
	}
}

static const struct var *
find_var(const struct vars *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->v[i].name, name) == 0)
			return &v->v[i];
	return NULL;
}

static int expand(struct renderer *r, const struct origin *o, const char *s,
    size_t len, struct buf *out);

static const char *const builtins[] = { "tend.app", "tend.env", "tend.host",
	"tend.address", "tend.commit", "tend.commit_short", NULL };

static const char *
builtin(struct renderer *r, const char *name, char *shortbuf)
{
	if (strcmp(name, "tend.app") == 0)
		return r->m->app ? r->m->app : "";
	if (strcmp(name, "tend.env") == 0)
		return r->env->name;
	if (strcmp(name, "tend.host") == 0)
		return r->host->name;
	if (strcmp(name, "tend.address") == 0)
		return r->host->address.s ? r->host->address.s : "";
	if (strcmp(name, "tend.commit") == 0)
		return r->rc->commit;
	if (strcmp(name, "tend.commit_short") == 0) {
		memcpy(shortbuf, r->rc->commit, 7);
		shortbuf[7] = '\0';
		return shortbuf;
	}
	return NULL;
}

static const char *
suggest_var(struct renderer *r, const char *name)
{
	const struct vars *scopes[3] = { &r->host->vars, &r->env->vars,
		&r->m->vars };
	const char *best = NULL;
	size_t i, j, bestd = 3, d;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < scopes[i]->n; j++) {
			d = str_distance(name, scopes[i]->v[j].name);
			if (d < bestd && d < strlen(name)) {
				bestd = d;
				best = scopes[i]->v[j].name;
			}
		}
	}
	for (j = 0; builtins[j]; j++) {
		d = str_distance(name, builtins[j]);
		if (d < bestd) {
			bestd = d;
			best = builtins[j];
		}
	}
	return best;
}

/*
 * Append n bytes to out, within the limits: -1 (nothing added) when out
 * or the host's total would pass them.
 */
static int
add(struct renderer *r, struct buf *out, const char *s, size_t n)
{
	if (r->total + n > MAX_HOST_EXPANSION) {
		r->host_full = 1;
		return -1;
	}
	if (out->len + n > MAX_EXPANSION)
		return -1;
	buf_add(out, s, n);
	r->total += n;
	return 0;
}

/* Output past a limit: said once, where the outermost text refers to
 * what grew too big; once per host for the host's limit. */
static int
too_big(struct renderer *r, const struct origin *o, size_t off)
{
	int line, col;

	if (r->depth > 0)
		return TOO_BIG;
	if (r->host_full && r->host_said)
		return -1;
	origin_pos(o, off, &line, &col);
	if (r->host_full) {
		r->host_said = 1;
		report(r, o->file, line, col, "with this, one host's values "
		    "expand to more than 64 MiB in all (host %s); variables "
		    "multiply each other", r->host->name);
	} else {
		report(r, o->file, line, col, "expands to more than 16 MiB; "
		    "variables multiply each other here");
	}
	return -1;
}

/* Append the value of ${secret.NAME}: only into a file's content, where
 * it is kept out of every output; anywhere else it would show. */
static int
expand_secret(struct renderer *r, const struct origin *o, size_t off,
    const char *name, struct buf *out)
{
	const struct secret_source *src = r->rc->secrets;
	const struct buf *value;
	int line, col;

	origin_pos(o, off, &line, &col);
	if (!r->in_content) {
		report(r, o->file, line, col, "secret '%s' used outside a "
		    "file's content: secrets may appear only in a file "
		    "resource's 'content' or template, where tend keeps them "
		    "out of plans and logs", name);
		return -1;
	}
	r->used_secret = 1;
	if (r->rc->secrets_used)
		*r->rc->secrets_used = 1;
	if (src == NULL) {
		if (r->rc->secrets_unchecked)
			return 0;
		report(r, o->file, line, col, "'${secret.%s}' needs the "
		    "secrets directory: pass --secrets DIR (a directory "
		    "outside the repository with one file per secret)", name);
		return -1;
	}
	if (src->get(src->ctx, name, &value) < 0) {
		report(r, o->file, line, col, "%s", err_msg());
		return -1;
	}
	return add(r, out, value->data, value->len) < 0 ? TOO_BIG : 0;
}

/* Append the value of variable name, itself expanded: 0, -1 after an
 * error was reported, or TOO_BIG. */
static int
expand_var(struct renderer *r, const struct origin *o, size_t off,
    const char *name, struct buf *out)
{
	const struct var *v;
	const char *val, *s;
	char shortbuf[8];
	struct origin vo;
	struct buf value = BUF_INIT;
	struct memo *mv;
	int line, col, i, rc, used_secret;
	size_t k;

	if (strcmp(name, "tend.host") == 0 ||
	    strcmp(name, "tend.address") == 0)
		r->host_own = 1;
	if ((val = builtin(r, name, shortbuf)) != NULL)
		return add(r, out, val, strlen(val)) < 0 ? TOO_BIG : 0;
	if (str_has_prefix(name, "secret."))
		return expand_secret(r, o, off, name + 7, out);
	if (str_has_prefix(name, "tend.")) {
		origin_pos(o, off, &line, &col);
		report(r, o->file, line, col, "unknown built-in variable "
		    "'%s' (there are tend.app, tend.env, tend.host, "
		    "tend.address, tend.commit and tend.commit_short)", name);
		return -1;
	}
	r->used_vars = 1;
	if ((v = find_var(&r->host->vars, name)) != NULL)
		r->host_own = 1;
	if (v == NULL &&
	    (v = find_var(&r->env->vars, name)) == NULL &&
	    (v = find_var(&r->m->vars, name)) == NULL) {
		s = suggest_var(r, name);
		origin_pos(o, off, &line, &col);
		report(r, o->file, line, col, "undefined variable '%s' (host "
		    "%s, environment %s): define it under 'vars'%s%s%s", name,
		    r->host->name, r->env->name, s ? " (did you mean '" : "",
		    s ? s : "", s ? "'?)" : "");
		return -1;
	}
	for (i = 0; i < r->depth; i++) {
		if (strcmp(r->stack[i], name) == 0) {
			origin_pos(o, off, &line, &col);
			report(r, o->file, line, col, "variable '%s' expands "
			    "into itself (a loop through 'vars')", name);
			return -1;
		}
	}
	for (k = 0; k < r->nmemo; k++)
		if (r->memo[k].var == v &&
		    r->memo[k].in_content == r->in_content)
			break;
	if (k == r->nmemo) {
		if (r->depth >= MAX_VAR_DEPTH) {
			origin_pos(o, off, &line, &col);
			report(r, o->file, line, col, "variables nest more "
			    "than %d deep at '%s'", MAX_VAR_DEPTH, name);
			return -1;
		}
		vo.file = r->m->file;
		vo.sv = &v->value;
		vo.text = NULL;
		used_secret = r->used_secret;
		r->used_secret = 0;
		r->stack[r->depth++] = name;
		rc = expand(r, &vo, v->value.s, strlen(v->value.s), &value);
		r->depth--;
		/* Only now: expanding it may have grown the array. */
		GROW(r->memo, r->nmemo + 1, r->memocap);
		mv = &r->memo[r->nmemo];
		mv->var = v;
		mv->in_content = r->in_content;
		mv->value = value;
		mv->rc = rc;
		mv->used_secret = r->used_secret;
		r->used_secret = used_secret;
		k = r->nmemo++;
	}
	mv = &r->memo[k];
	/* A copy of a secret makes the file as sensitive as the original. */
	if (mv->used_secret) {
		r->used_secret = 1;
		if (r->rc->secrets_used)
			*r->rc->secrets_used = 1;
	}
	if (mv->rc != 0)
		return mv->rc;
	return add(r, out, mv->value.data, mv->value.len) < 0 ? TOO_BIG : 0;
}

static int
valid_var_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'))
			return 0;
	}
	return 1;
}

/* Expand s into out: 0, -1 after reporting errors, or (inside a
 * variable) TOO_BIG. */
static int
expand(struct renderer *r, const struct origin *o, const char *s, size_t len,
    struct buf *out)
{
	size_t i = 0;
	int rc = 0, vrc, line, col, is_secret;

	while (i < len) {
		const char *dollar = memchr(s + i, '$', len - i);
		size_t n = dollar ? (size_t)(dollar - (s + i)) : len - i;
		const char *end;
		char *name;

		/* Plain text up to the next '$', in one piece. */
		if (n > 0) {
			if (add(r, out, s + i, n) < 0)
				return too_big(r, o, i);
			i += n;
			continue;
		}
		if (i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
			if (add(r, out, "${", 2) < 0)
				return too_big(r, o, i);
			i += 3;
			continue;
		}
		if (i + 1 >= len || s[i + 1] != '{') {
			if (add(r, out, "$", 1) < 0)
				return too_big(r, o, i);
			i++;
			continue;
		}
		end = memchr(s + i + 2, '}', len - i - 2);
		if (end == NULL) {
			origin_pos(o, i, &line, &col);
			report(r, o->file, line, col, "unterminated '${': "
			    "close it with '}' (write $${ for a literal ${)");
			return -1;
		}
		n = (size_t)(end - (s + i + 2));
		is_secret = n >= 7 && strncmp(s + i + 2, "secret.", 7) == 0;
		if (is_secret && !secrets_valid_name(s + i + 9, n - 7)) {
			origin_pos(o, i, &line, &col);
			report(r, o->file, line, col, "invalid secret name "
			    "in '${%.*s}': letters, digits, '_', '.' and '-', "
			    "not starting with '.' or '-', at most 128",
			    (int)(n > 40 ? 40 : n), s + i + 2);
			rc = -1;
		} else if (!is_secret &&
		    !valid_var_name(s + i + 2, n)) {
			origin_pos(o, i, &line, &col);
			report(r, o->file, line, col, "invalid variable "
			    "reference '${%.*s}': names have letters, digits, "
			    "'_' and '.' (write $${ for a literal ${)",
			    (int)(n > 40 ? 40 : n), s + i + 2);
			rc = -1;
		} else {
			name = xstrndup(s + i + 2, n);
			vrc = expand_var(r, o, i, name, out);
			free(name);
			if (vrc == TOO_BIG)
				return too_big(r, o, i);
			if (vrc < 0)
				rc = -1;
			/* One failed variable inside another: stop there. */
			if (rc < 0 && r->depth > 0)
				return rc;
		}
		i += n + 3;
	}
	return rc;
}

/* Expand a manifest string field; NULL stays NULL. */
static char *
expand_field(struct renderer *r, const struct sval *sv)
{
	struct origin o = { r->m->file, sv, NULL };
	struct buf out = BUF_INIT;

	if (sv->s == NULL)
		return NULL;
	/* NULL after an error, so no later check reports it again. */
	if (expand(r, &o, sv->s, strlen(sv->s), &out) < 0) {
		buf_free(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

static void
check_path(struct renderer *r, const struct sval *sv, const char *value,
    const char *key)
{
	const char *why;

	/* Literal paths were checked when the manifest was read. */
	if (value == NULL || strstr(sv->s, "${") == NULL)
		return;
	if ((why = check_host_path(value)) != NULL)
		report(r, r->m->file, sv->pos.line, sv->pos.col, "'%s' "
		    "expands to '%s', which %s", key, value, why);
}

/* "is a symbolic link (to T)" or "passes through the symbolic link
 * 'P' (to T)" for path, which is or passes through one. */
static void
link_on_path(const struct files *f, const char *path, struct buf *out)
{
	struct buf target = BUF_INIT;
	char *p = xstrdup(path);
	size_t len = 0;

	/* The first prefix that is a link: the one stat stopped at. */
	for (;;) {
		len += strcspn(p + len, "/");
		p[len] = '\0';
		if (path[len] == '\0' || f->stat(f->ctx, p) == FT_SYMLINK)
			break;
		p[len++] = '/';
	}
	if (path[len] == '\0')
		buf_adds(out, "is a symbolic link");
	else
		buf_addf(out, "passes through the symbolic link '%s'", p);
	if (f->readlink && f->readlink(f->ctx, p, &target) == 0)
		buf_addf(out, " (to '%s')", buf_str(&target));
	else
		err_clear();
	buf_free(&target);
	free(p);
}

/* A repository path must be a file (or, for from, a directory). */
static int
check_repo_file(struct renderer *r, const struct sval *sv, const char *value,
    const char *key, enum file_type want)
{
	const struct files *f = r->rc->files;
	struct buf hint = BUF_INIT;
	const char *why;
	enum file_type ft;

	if (value == NULL)
		return 0;
	/* Never look at a path that leaves the project root; a literal one
	 * was reported when the manifest was read. */
	if ((why = check_repo_path(value)) != NULL) {
		if (strstr(sv->s, "${"))
			report(r, r->m->file, sv->pos.line, sv->pos.col, "'%s' "
			    "expands to '%s', which %s", key, value, why);
		return -1;
	}
	if ((ft = f->stat(f->ctx, value)) == want)
		return 0;
	switch (ft) {
	case FT_MISSING:
		/* On a file system that ignores case the name may look
		 * right to its author; in git it is not. */
		if (f->suggest && f->suggest(f->ctx, value, &hint) == 0)
			report(r, r->m->file, sv->pos.line, sv->pos.col, "%s "
			    "'%s' does not exist in %s; names are exact, "
			    "case too (did you mean '%s'?)", key, value,
			    f->where, hint.data);
		else
			report(r, r->m->file, sv->pos.line, sv->pos.col, "%s "
			    "'%s' does not exist in %s%s", key, value,
			    f->where, strcmp(f->where, "the work tree") ?
			    " (is it committed?)" : "");
		break;
	case FT_SYMLINK:
		link_on_path(f, value, &hint);
		report(r, r->m->file, sv->pos.line, sv->pos.col, "%s '%s' "
		    "%s; tend reads only real files and directories of the "
		    "repository, never following a link", key, value,
		    hint.data);
		break;
	case FT_DIR:
	case FT_FILE:
		report(r, r->m->file, sv->pos.line, sv->pos.col, "%s '%s' "
		    "is a %s, not a %s", key, value,
		    ft == FT_DIR ? "directory" : "file",
		    want == FT_DIR ? "directory" : "file");
		break;
	default:
		report(r, r->m->file, sv->pos.line, sv->pos.col, "%s '%s' "
		    "is not a regular file or directory (a submodule?)", key,
		    value);
		break;
	}
	buf_free(&hint);
	return -1;
}

/* A file that is no template: its hash and size, from the cache when
 * another host read it already; its bytes are left in the commit. */
static void
render_file_blob(struct renderer *r, struct rendered_res *rr)
{
	const struct files *f = r->rc->files;
	struct blob_cache *c = r->rc->cache;
	struct strindex_iter it;
	struct buf raw = BUF_INIT;
	size_t i;

	rr->content_deferred = 1;
	for (i = c ? strindex_first(&c->idx, rr->source, &it) : STRINDEX_NONE;
	    i != STRINDEX_NONE; i = strindex_next(&c->idx, &it)) {
		if (strcmp(c->paths[i], rr->source) == 0) {
			memcpy(rr->hash, c->hashes[i], sizeof(rr->hash));
			rr->size = c->sizes[i];
			return;
		}
	}
	if (f->read(f->ctx, rr->source, &raw) < 0) {
		report(r, r->m->file, rr->res->source.pos.line,
		    rr->res->source.pos.col, "%s", err_msg());
		rr->content_deferred = 0;
		return;
	}
	sha256_hex(raw.data ? raw.data : "", raw.len, rr->hash);
	rr->size = raw.len;
	buf_free(&raw);
	if (c == NULL)
		return;
	GROW(c->paths, c->n + 1, c->cap);
	c->sizes = xrealloc(c->sizes, c->cap * sizeof(*c->sizes));
	c->hashes = xrealloc(c->hashes, c->cap * sizeof(*c->hashes));
	c->paths[c->n] = xstrdup(rr->source);
	c->sizes[c->n] = rr->size;
	memcpy(c->hashes[c->n], rr->hash, sizeof(rr->hash));
	strindex_add(&c->idx, c->paths[c->n], c->n);
	c->n++;
}

static void
render_file_content(struct renderer *r, struct rendered_res *rr)
{
	const struct resource *res = rr->res;
	const struct files *f = r->rc->files;
	struct buf raw = BUF_INIT;
	struct origin o;

	if (res->absent || (rr->source == NULL && res->content.s == NULL))
		return;
	if (rr->source == NULL) {
		o.file = r->m->file;
		o.sv = &res->content;
		o.text = NULL;
		r->in_content = 1;
		expand(r, &o, res->content.s, strlen(res->content.s),
		    &rr->content);
		r->in_content = 0;
		return;
	}
	if (f->stat(f->ctx, rr->source) != FT_FILE)
		return;		/* reported by check_repo_file */
	if (!res->template) {
		render_file_blob(r, rr);
		return;
	}
	if (f->read(f->ctx, rr->source, &raw) < 0) {
		report(r, r->m->file, res->source.pos.line,
		    res->source.pos.col, "%s", err_msg());
		return;
	}
	o.file = rr->source;
	o.sv = NULL;
	o.text = buf_str(&raw);
	if (memchr(raw.data, '\0', raw.len))
		report(r, rr->source, 1, 1, "template is a binary file (it has "
		    "NUL bytes); set template: false");
	else {
		r->in_content = 1;
		expand(r, &o, raw.data, raw.len, &rr->content);
		r->in_content = 0;
	}
	buf_free(&raw);
}

static void
render_res(struct renderer *r, const struct resource *res,
    struct rendered_res *rr)
{
	memset(rr, 0, sizeof(*rr));
	rr->res = res;
	rr->key = expand_field(r, &res->key);
	rr->source = expand_field(r, &res->source);
	rr->target = expand_field(r, &res->target);
	rr->from = expand_field(r, &res->from);
	rr->build = expand_field(r, &res->build);
	rr->unit = expand_field(r, &res->unit);
	rr->run = expand_field(r, &res->run);
	rr->cwd = expand_field(r, &res->cwd);
	rr->unless = expand_field(r, &res->unless);
	if (res_kind_is_path(res->kind))
		check_path(r, &res->key, rr->key, res_kind_name(res->kind));
	check_path(r, &res->cwd, rr->cwd, "cwd");
	if (check_repo_file(r, &res->source, rr->source, "source",
	    FT_FILE) < 0) {
		free(rr->source);
		rr->source = NULL;
		free(rr->key);		/* nothing to write without it */
		rr->key = NULL;
	}
	if (check_repo_file(r, &res->unit, rr->unit, "unit", FT_FILE) < 0) {
		free(rr->unit);
		rr->unit = NULL;
	}
	if (check_repo_file(r, &res->from, rr->from, "from", FT_DIR) < 0) {
		free(rr->from);
		rr->from = NULL;
	}
	rr->mode = res->mode;
	if (res->kind == RES_FILE && rr->key != NULL) {
		r->used_secret = 0;
		render_file_content(r, rr);
		/* Readable by the owner alone unless the manifest says. */
		if (r->used_secret) {
			rr->sensitive = 1;
			if (!res->has_mode)
				rr->mode = 0600;
		}
	}
	/* Plans compare hashes, host after host: made once here. */
	if (res->kind == RES_FILE && !rr->content_deferred) {
		sha256_hex(rr->content.data ? rr->content.data : "",
		    rr->content.len, rr->hash);
		rr->size = rr->content.len;
	}
	if (res->kind == RES_RELEASE && rr->from && !res->absent &&
	    r->rc->files->list) {
		if (r->rc->files->list(r->rc->files->ctx, rr->from,
		    &rr->tree) < 0)
			report(r, r->m->file, res->from.pos.line,
			    res->from.pos.col, "%s", err_msg());
		memcpy(rr->release_id, rr->tree.id, 12);
	}
	if (res->kind == RES_SERVICE && rr->key) {
		/* A name without a type suffix is a .service unit. */
		rr->unit_name = strchr(rr->key, '.') ? xstrdup(rr->key) :
		    xasprintf("%s.service", rr->key);
		rr->unit_path = xasprintf("/etc/systemd/system/%s",
		    rr->unit_name);
		if (rr->unit && !res->absent && r->rc->files->read(
		    r->rc->files->ctx, rr->unit, &rr->content) < 0)
			report(r, r->m->file, res->unit.pos.line,
			    res->unit.pos.col, "%s", err_msg());
		sha256_hex(rr->content.data ? rr->content.data : "",
		    rr->content.len, rr->hash);
	}
}

static void
check_rendered_dups(struct renderer *r, const struct desired *d)
{
	size_t i, j;

	for (i = 0; i < d->nres; i++) {
		const struct rendered_res *a = &d->res[i];

		if (!res_kind_is_path(a->res->kind) || a->key == NULL ||
		    strstr(a->res->key.s, "${") == NULL)
			continue;
		for (j = 0; j < d->nres; j++) {
			const struct rendered_res *b = &d->res[j];

			if (j == i || !res_kind_is_path(b->res->kind) ||
			    b->key == NULL || strcmp(a->key, b->key) != 0)
				continue;
			report(r, r->m->file, a->res->key.pos.line,
			    a->res->key.pos.col, "'%s' expands to '%s' on "
			    "host %s, which the resource at line %d declares "
			    "too", a->res->key.s, a->key, r->host->name,
			    b->res->key.pos.line);
			break;
		}
	}
}

/* The health checks of a host, rendered. */
static void
render_checks(struct renderer *r, struct desired *out)
{
	const struct manifest *m = r->m;
	size_t i;

	out->checks = xcalloc(m->nhealth ? m->nhealth : 1,
	    sizeof(*out->checks));
	for (i = 0; i < m->nhealth; i++) {
		struct rendered_check *c = &out->checks[out->nchecks++];
		const struct health *hc = &m->health[i];

		c->check = hc;
		c->http = expand_field(r, &hc->http);
		c->command = expand_field(r, &hc->command);
		if (c->http && strstr(hc->http.s, "${") &&
		    !str_has_prefix(c->http, "http://") &&
		    !str_has_prefix(c->http, "https://"))
			report(r, m->file, hc->http.pos.line,
			    hc->http.pos.col, "'http' expands to '%s', which "
			    "is not an http:// or https:// URL", c->http);
	}
}

static void
renderer_init(struct renderer *r, const struct manifest *m,
    const struct env *e, const struct host *h, const struct render_ctx *rc,
    struct diags *diags)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->env = e;
	r->host = h;
	r->rc = rc;
	r->diags = diags;
}

/* The variables' values kept for the host; those that held a secret
 * are wiped first. */
static void
renderer_done(struct renderer *r)
{
	size_t i;

	for (i = 0; i < r->nmemo; i++) {
		struct buf *v = &r->memo[i].value;

		if (r->memo[i].used_secret && v->data)
			explicit_bzero(v->data, v->len);
		buf_free(v);
	}
	free(r->memo);
	r->memo = NULL;
	r->nmemo = 0;
}

int
render_host(struct desired *out, const struct manifest *m,
    const struct env *e, const struct host *h, const struct render_ctx *rc,
    struct diags *diags)
{
	struct renderer r;
	size_t i;

	renderer_init(&r, m, e, h, rc, diags);
	memset(out, 0, sizeof(*out));
	out->env = e;
	out->host = h;
	out->res = xcalloc(m->nres ? m->nres : 1, sizeof(*out->res));
	for (i = 0; i < m->nres; i++)
		render_res(&r, &m->res[i], &out->res[out->nres++]);
	check_rendered_dups(&r, out);
	/* What the resources took from the host; checks, rendered for
	 * each host anyway, are not counted. */
	out->host_own = r.host_own;
	out->used_vars = r.used_vars;
	render_checks(&r, out);
	renderer_done(&r);
	return r.errors ? -1 : 0;
}

int
render_alike(const struct desired *like, const struct env *e,
    const struct host *h)
{
	return like && like->env == e && !like->host_own &&
	    (!like->used_vars || h->vars.n == 0);
}

int
render_like(struct desired *out, const struct desired *like,
    const struct manifest *m, const struct host *h,
    const struct render_ctx *rc, struct diags *diags)
{
	struct renderer r;

	renderer_init(&r, m, like->env, h, rc, diags);
	*out = *like;
	out->host = h;
	out->like = like->like ? like->like : like;
	out->checks = NULL;
	out->nchecks = 0;
	render_checks(&r, out);
	renderer_done(&r);
	return r.errors ? -1 : 0;
}

void
desired_free(struct desired *d)
{
	size_t i;

	for (i = 0; !d->like && i < d->nres; i++) {
		struct rendered_res *rr = &d->res[i];

		free(rr->key);
		free(rr->source);
		free(rr->target);
		free(rr->from);
		free(rr->build);
		free(rr->unit);
		free(rr->run);
		free(rr->cwd);
		free(rr->unless);
		free(rr->unit_path);
		free(rr->unit_name);
		if (rr->sensitive && rr->content.data)
			explicit_bzero(rr->content.data, rr->content.len);
		buf_free(&rr->content);
		tree_list_free(&rr->tree);
	}
	if (!d->like)
		free(d->res);
	for (i = 0; i < d->nchecks; i++) {
		free(d->checks[i].http);
		free(d->checks[i].command);
	}
	free(d->checks);
	memset(d, 0, sizeof(*d));
}

int
render_load_content(struct rendered_res *rr, const struct files *f)
{
	/* Alike hosts share rr: their threads take turns. */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	int rc = 0;

	pthread_mutex_lock(&mu);
	if (rr->content_deferred) {
		buf_reset(&rr->content);
		if ((rc = f->read(f->ctx, rr->source, &rr->content)) == 0)
			rr->content_deferred = 0;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

void
blob_cache_free(struct blob_cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->sizes);
	free(c->hashes);
	strindex_free(&c->idx);
	memset(c, 0, sizeof(*c));
}

int
render_check_all(const struct manifest *m, const struct render_ctx *rc,
    struct diags *diags)
{
	size_t i, j;
	int rcode = 0;

	for (i = 0; i < m->nenvs; i++) {
		const struct env *e = &m->envs[i];
		struct desired like, d;
		int have = 0;

		for (j = 0; j < e->nhosts; j++) {
			const struct host *h = &m->hosts[e->hosts[j]];

			/* Resources rendered alike have like's (lack of)
			 * errors; only its checks are its own. */
			if (have && render_alike(&like, e, h)) {
				if (render_like(&d, &like, m, h, rc, diags) < 0)
					rcode = -1;
				desired_free(&d);
				continue;
			}
			if (render_host(&d, m, e, h, rc, diags) < 0) {
				rcode = -1;
				desired_free(&d);
			} else if (!have) {
				like = d;
				have = 1;
			} else {
				desired_free(&d);
			}
		}
		if (have)
			desired_free(&like);
	}
	return rcode;
}
