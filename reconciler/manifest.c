/*
 * manifest: the YAML tree of deploy/tend.yaml checked key by key into the
 * model of manifest.h.  Every error is collected (not only the first) and
 * points at the offending key or value.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

struct ctx {
	const char *file;
	struct diags *diags;
	struct manifest *m;
	size_t errors;
	/* group names, gathered from the hosts */
	char **groups;
	struct pos *group_pos;
	size_t ngroups, groups_cap;
};

static const char *const kind_names[] = {
	"directory", "file", "symlink", "release", "service", "command"
};

const char *
res_kind_name(enum res_kind kind)
{
	return kind_names[kind];
}

int
res_kind_is_path(enum res_kind kind)
{
	return kind == RES_DIRECTORY || kind == RES_FILE ||
	    kind == RES_SYMLINK || kind == RES_RELEASE;
}

static void
error_at(struct ctx *c, int line, int col, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static void
error_at(struct ctx *c, int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	diags_add(c->diags, c->file, line, col, "%s", msg);
	free(msg);
	c->errors++;
}

#define ERR(c, node, ...) error_at((c), (node)->line, (node)->col, __VA_ARGS__)

/* The closest candidate to word, if close enough to be a likely typo. */
static const char *
suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t i, bestd = (size_t)-1, len = strlen(word);

	for (i = 0; i < n; i++) {
		size_t d;

		if (cands[i] == NULL)
			continue;
		/* Far apart in length: no typo, and no need to compare. */
		if (len > 64 || strlen(cands[i]) > len + 2 ||
		    strlen(cands[i]) + 2 < len) {
			if (len >= 4 && strncmp(word, cands[i], 4) == 0 &&
			    len <= 64 && 2 < bestd) {
				bestd = 2;
				best = cands[i];
			}
			continue;
		}
		d = str_distance(word, cands[i]);
		/* A long shared start is a likely typo too: retry, retries. */
		if (d > 2 && len >= 4 && strncmp(word, cands[i], 4) == 0)
			d = 2;
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	if (best && bestd <= 2 && bestd < len)
		return best;
	return NULL;
}

static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static size_t
list_len(const char *const *list)
{
	size_t n = 0;

	while (list[n])
		n++;
	return n;
}

/* Report every key of map that is not in allowed (NULL-terminated). */
static void
check_keys(struct ctx *c, const struct ynode *map, const char *what,
    const char *const *allowed)
{
	size_t i;

	for (i = 0; i < map->n; i++) {
		const struct ynode *k = map->pairs[i].key;
		const char *s;

		if (in_list(k->value, allowed))
			continue;
		s = suggest(k->value, allowed, list_len(allowed));
		if (s)
			ERR(c, k, "unknown key '%s' in %s (did you mean "
			    "'%s'?)", k->value, what, s);
		else
			ERR(c, k, "unknown key '%s' in %s", k->value, what);
	}
}

static int
is_map(struct ctx *c, const struct ynode *n, const char *what)
{
	if (n->type == YNODE_MAP)
		return 1;
	ERR(c, n, "%s must be a mapping, not %s", what, ynode_describe(n));
	return 0;
}

static int
is_str(struct ctx *c, const struct ynode *n, const char *key)
{
	if (n->type == YNODE_SCALAR && n->kind == YS_STR)
		return 1;
	if (n->type == YNODE_SCALAR && n->kind != YS_NULL)
		ERR(c, n, "'%s' must be a string, not %s (put it in quotes)",
		    key, ynode_describe(n));
	else
		ERR(c, n, "'%s' must be a string, not %s", key,
		    ynode_describe(n));
	return 0;
}

static void
missing(struct ctx *c, const struct ynode *map, const char *key,
    const char *what)
{
	ERR(c, map, "missing required key '%s' in %s", key, what);
}

static void
sval_set(struct sval *sv, const struct ynode *n)
{
	sv->s = xstrndup(n->value, n->len);
	sv->pos.line = n->line;
	sv->pos.col = n->col;
	sv->exact = n->exact ? 0 : -1;
	sv->quote = n->quoted == 1;
}

/* A string value; 1 when present and a string, 0 otherwise. */
static int
get_str(struct ctx *c, const struct ynode *map, const char *key,
    struct sval *out)
{
	const struct ynode *n = ynode_get(map, key);

	if (n == NULL || !is_str(c, n, key))
		return 0;
	sval_set(out, n);
	return 1;
}

static int
match_name(const char *s, int lower_only)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
		return 0;
	if (lower_only && isupper((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (lower_only) {
			if (!(islower(ch) || isdigit(ch) || ch == '-'))
				return 0;
		} else if (!(isalnum(ch) || ch == '.' || ch == '_' ||
		    ch == '-')) {
			return 0;
		}
	}
	return 1;
}

#define NAME_RULE "letters, digits, '.', '_' and '-', starting with a " \
	"letter or digit, at most 63 characters"

static int
check_name(struct ctx *c, const struct ynode *n, const char *what)
{
	if (match_name(n->value, 0))
		return 1;
	ERR(c, n, "invalid %s name '%s': use %s", what, n->value, NAME_RULE);
	return 0;
}

static int
get_int(struct ctx *c, const struct ynode *map, const char *key, long min,
    long max, int *out)
{
	const struct ynode *n = ynode_get(map, key);
	char *end;
	long v;

	if (n == NULL)
		return 0;
	if (n->type != YNODE_SCALAR || n->kind != YS_INT) {
		ERR(c, n, "'%s' must be an integer, not %s", key,
		    ynode_describe(n));
		return 0;
	}
	/* YAML 1.2: decimal (leading zeros too), 0o octal, 0x hex. */
	errno = 0;
	if (str_has_prefix(n->value, "0o"))
		v = strtol(n->value + 2, &end, 8);
	else if (str_has_prefix(n->value, "0x"))
		v = strtol(n->value + 2, &end, 16);
	else
		v = strtol(n->value, &end, 10);
	if (errno == ERANGE)
		v = *n->value == '-' ? LONG_MIN : LONG_MAX;
	if (*end != '\0' || v < min || v > max) {
		if (max == INT_MAX && min == INT_MIN)
			ERR(c, n, "'%s' is out of range (got %s)", key,
			    n->value);
		else if (max == INT_MAX)
			ERR(c, n, "'%s' must be at least %ld (got %s)", key,
			    min, n->value);
		else
			ERR(c, n, "'%s' must be from %ld to %ld (got %s)", key,
			    min, max, n->value);
		return 0;
	}
	*out = (int)v;
	return 1;
}

static int
get_bool(struct ctx *c, const struct ynode *map, const char *key, int *out)
{
	const struct ynode *n = ynode_get(map, key);

	if (n == NULL)
		return 0;
	if (n->type != YNODE_SCALAR || n->kind != YS_BOOL) {
		ERR(c, n, "'%s' must be true or false, not %s%s%s%s", key,
		    ynode_describe(n), n->type == YNODE_SCALAR ? " '" : "",
		    n->type == YNODE_SCALAR ? n->value : "",
		    n->type == YNODE_SCALAR ? "'" : "");
		return 0;
	}
	*out = tolower((unsigned char)n->value[0]) == 't';
	return 1;
}

int
parse_duration(const char *s, long *ms)
{
	static const struct {
		const char *unit;
		long ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 } };
	size_t digits = strspn(s, "0123456789"), i;
	long v;

	if (digits == 0 || digits > 9)
		return -1;
	v = strtol(s, NULL, 10);
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(s + digits, units[i].unit) == 0) {
			if (v > LONG_MAX / units[i].ms)
				return -1;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

static int
get_duration(struct ctx *c, const struct ynode *map, const char *key,
    long *out)
{
	const struct ynode *n = ynode_get(map, key);

	if (n == NULL)
		return 0;
	if (n->type != YNODE_SCALAR || n->kind != YS_STR ||
	    parse_duration(n->value, out) < 0) {
		if (n->type == YNODE_SCALAR && n->kind == YS_STR)
			ERR(c, n, "invalid duration '%s' for '%s': write a "
			    "number and a unit, such as 500ms, 5s, 2m or 1h",
			    n->value, key);
		else
			ERR(c, n, "'%s' must be a duration such as 500ms, 5s, "
			    "2m or 1h, not %s", key, ynode_describe(n));
		return 0;
	}
	return 1;
}

static int
get_mode(struct ctx *c, const struct ynode *map, unsigned *out)
{
	const struct ynode *n = ynode_get(map, "mode");
	const char *s;
	size_t len;

	if (n == NULL)
		return 0;
	if (n->type == YNODE_SCALAR && n->kind == YS_INT) {
		ERR(c, n, "'mode' must be a quoted octal string such as "
		    "\"0644\", not an integer (YAML reads %s as a number)",
		    n->value);
		return 0;
	}
	if (!is_str(c, n, "mode"))
		return 0;
	s = n->value;
	len = strlen(s);
	if (len == 4 && s[0] == '0')
		s++, len--;
	if (len != 3 || strspn(s, "01234567") != 3) {
		ERR(c, n, "invalid mode '%s': write an octal string such as "
		    "\"0644\" or \"0755\"", n->value);
		return 0;
	}
	*out = (unsigned)strtoul(s, NULL, 8);
	return 1;
}

static int
match_user(const char *s)
{
	size_t i;

	if (*s && strspn(s, "0123456789") == strlen(s))
		return 1;
	if (!(islower((unsigned char)*s) || *s == '_'))
		return 0;
	for (i = 1; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!(islower(ch) || isdigit(ch) || ch == '_' || ch == '-' ||
		    ch == '.'))
			return 0;
	}
	return 1;
}

static char *
get_user(struct ctx *c, const struct ynode *map, const char *key)
{
	const struct ynode *n = ynode_get(map, key);

	if (n == NULL || !is_str(c, n, key))
		return NULL;
	if (!match_user(n->value)) {
		ERR(c, n, "invalid %s '%s': use a user or group name "
		    "(lower case letters, digits, '_', '-', '.') or a numeric "
		    "id", key, n->value);
		return NULL;
	}
	return xstrdup(n->value);
}

static void
check_path_value(struct ctx *c, const struct sval *sv, const char *key,
    int repo)
{
	const char *why;

	/* With variables in it, the path is checked after expansion. */
	if (sv->s == NULL || strstr(sv->s, "${"))
		return;
	why = repo ? check_repo_path(sv->s) : check_host_path(sv->s);
	if (why)
		error_at(c, sv->pos.line, sv->pos.col, "%s '%s' %s", key,
		    sv->s, why);
}

/* vars: a mapping of names to strings, numbers or booleans. */
static void
parse_vars(struct ctx *c, const struct ynode *n, struct vars *out)
{
	size_t i;

	if (!is_map(c, n, "'vars'"))
		return;
	for (i = 0; i < n->n; i++) {
		const struct ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
		const char *s = k->value;
		struct var *var;

		if (!(isalpha((unsigned char)*s) || *s == '_') ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
		    "VWXYZ0123456789_") != strlen(s)) {
			ERR(c, k, "invalid variable name '%s': use letters, "
			    "digits and '_', starting with a letter or '_'", s);
			continue;
		}
		if (v->type != YNODE_SCALAR || v->kind == YS_NULL) {
			ERR(c, v, "variable '%s' must be a string, number or "
			    "boolean, not %s", s, ynode_describe(v));
			continue;
		}
		GROW(out->v, out->n + 1, out->cap);
		var = &out->v[out->n++];
		var->name = xstrdup(s);
		sval_set(&var->value, v);
	}
}

static void
parse_name_list(struct ctx *c, const struct ynode *n, const char *key,
    void (*each)(struct ctx *, const struct ynode *, void *), void *arg)
{
	size_t i, j;

	if (n->type != YNODE_SEQ) {
		ERR(c, n, "'%s' must be a list, not %s", key,
		    ynode_describe(n));
		return;
	}
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (!is_str(c, it, key))
			continue;
		for (j = 0; j < i; j++) {
			if (n->items[j]->type == YNODE_SCALAR &&
			    strcmp(n->items[j]->value, it->value) == 0)
				break;
		}
		if (j < i) {
			ERR(c, it, "'%s' is listed twice in '%s'", it->value,
			    key);
			continue;
		}
		each(c, it, arg);
	}
}

static void
add_group(struct ctx *c, const struct ynode *it, void *arg)
{
	struct host *h = arg;
	size_t i;

	if (!check_name(c, it, "group"))
		return;
	h->groups = xrealloc(h->groups, (h->ngroups + 1) * sizeof(char *));
	h->groups[h->ngroups++] = xstrdup(it->value);
	for (i = 0; i < c->ngroups; i++)
		if (strcmp(c->groups[i], it->value) == 0)
			return;
	GROW(c->groups, c->ngroups + 1, c->groups_cap);
	c->group_pos = xrealloc(c->group_pos,
	    c->groups_cap * sizeof(*c->group_pos));
	c->groups[c->ngroups] = xstrdup(it->value);
	c->group_pos[c->ngroups].line = it->line;
	c->group_pos[c->ngroups].col = it->col;
	c->ngroups++;
}

static int
match_host_key(const char *s)
{
	static const char *const types[] = { "ssh-ed25519 ",
		"ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
		"ecdsa-sha2-nistp521 ", "ssh-rsa ", NULL };
	const char *const *t;
	size_t n;

	for (t = types; *t; t++) {
		if (!str_has_prefix(s, *t))
			continue;
		s += strlen(*t);
		n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
		    "uvwxyz0123456789+/");
		if (n == 0)
			return 0;
		s += n;
		s += strspn(s, "=");
		return *s == '\0';
	}
	return 0;
}

static void
parse_host(struct ctx *c, const struct ynode *k, const struct ynode *v,
    struct host *h)
{
	static const char *const keys[] = { "address", "port", "user",
		"host_key", "groups", "vars", NULL };
	char *what = xasprintf("host '%s'", k->value);
	const struct ynode *n;

	h->name = xstrdup(k->value);
	h->pos.line = k->line;
	h->pos.col = k->col;
	h->port = 22;
	check_name(c, k, "host");
	if (!is_map(c, v, what))
		goto done;
	check_keys(c, v, what, keys);
	if (ynode_get(v, "address") == NULL)
		missing(c, v, "address", what);
	else if (get_str(c, v, "address", &h->address) &&
	    (h->address.s[0] == '\0' || h->address.s[0] == '-' ||
	    strpbrk(h->address.s, " \t\r\n\f\v") != NULL))
		error_at(c, h->address.pos.line, h->address.pos.col,
		    "invalid address '%s': give a DNS name or an IP address",
		    h->address.s);
	get_int(c, v, "port", 1, 65535, &h->port);
	if ((n = ynode_get(v, "user")) != NULL && is_str(c, n, "user")) {
		if (match_user(n->value) && !isdigit((unsigned char)*n->value))
			h->user = xstrdup(n->value);
		else
			ERR(c, n, "invalid user '%s': use a login name",
			    n->value);
	}
	if ((n = ynode_get(v, "host_key")) != NULL &&
	    is_str(c, n, "host_key")) {
		if (match_host_key(n->value))
			h->host_key = xstrdup(n->value);
		else
			ERR(c, n, "invalid host_key: write the key as "
			    "'TYPE BASE64' as in known_hosts, for example "
			    "'ssh-ed25519 AAAAC3...' (see ssh-keyscan)");
	}
	if ((n = ynode_get(v, "groups")) != NULL)
		parse_name_list(c, n, "groups", add_group, h);
	if ((n = ynode_get(v, "vars")) != NULL)
		parse_vars(c, n, &h->vars);
done:
	if (h->user == NULL)
		h->user = xstrdup("root");
	free(what);
}

static void
parse_hosts(struct ctx *c, const struct ynode *n)
{
	struct manifest *m = c->m;
	size_t i, j;

	if (!is_map(c, n, "'hosts'"))
		return;
	if (n->n == 0) {
		ERR(c, n, "'hosts' must list at least one host");
		return;
	}
	m->hosts = xcalloc(n->n, sizeof(*m->hosts));
	for (i = 0; i < n->n; i++)
		parse_host(c, n->pairs[i].key, n->pairs[i].val,
		    &m->hosts[m->nhosts++]);
	for (i = 0; i < c->ngroups; i++) {
		for (j = 0; j < m->nhosts; j++) {
			if (strcmp(c->groups[i], m->hosts[j].name) == 0)
				error_at(c, c->group_pos[i].line,
				    c->group_pos[i].col, "'%s' is both a host "
				    "and a group; give the group another name",
				    c->groups[i]);
		}
	}
}

struct env_add {
	struct env *env;
	const char *envname;
};

static void
env_add_host(struct env *e, size_t idx)
{
	size_t i;

	/* A host named directly and through a group is deployed once. */
	for (i = 0; i < e->nhosts; i++)
		if (e->hosts[i] == idx)
			return;
	e->hosts = xrealloc(e->hosts, (e->nhosts + 1) * sizeof(size_t));
	e->hosts[e->nhosts++] = idx;
}

static void
env_add_target(struct ctx *c, const struct ynode *it, void *arg)
{
	struct env_add *ea = arg;
	struct manifest *m = c->m;
	const char **cands;
	const char *s;
	size_t i, j, found = 0;

	for (i = 0; i < m->nhosts; i++) {
		if (strcmp(m->hosts[i].name, it->value) == 0) {
			env_add_host(ea->env, i);
			return;
		}
	}
	for (i = 0; i < m->nhosts; i++) {
		for (j = 0; j < m->hosts[i].ngroups; j++) {
			if (strcmp(m->hosts[i].groups[j], it->value) == 0) {
				env_add_host(ea->env, i);
				found = 1;
			}
		}
	}
	if (found || m->nhosts == 0)
		return;		/* no hosts at all: reported once, there */
	cands = xcalloc(m->nhosts + c->ngroups + 1, sizeof(*cands));
	for (i = 0; i < m->nhosts; i++)
		cands[i] = m->hosts[i].name;
	for (j = 0; j < c->ngroups; j++)
		cands[i + j] = c->groups[j];
	s = suggest(it->value, cands, m->nhosts + c->ngroups);
	if (s)
		ERR(c, it, "unknown host or group '%s' in environment '%s' "
		    "(did you mean '%s'?)", it->value, ea->envname, s);
	else
		ERR(c, it, "unknown host or group '%s' in environment '%s'",
		    it->value, ea->envname);
	free(cands);
}

static void
parse_rollout(struct ctx *c, const struct ynode *n, struct rollout *r)
{
	static const char *const keys[] = { "canary", "parallel",
		"max_failed", "rollback", NULL };
	const struct ynode *rb;

	if (!is_map(c, n, "'rollout'"))
		return;
	check_keys(c, n, "rollout", keys);
	get_int(c, n, "canary", 0, INT_MAX, &r->canary);
	get_int(c, n, "parallel", 1, INT_MAX, &r->parallel);
	get_int(c, n, "max_failed", 0, INT_MAX, &r->max_failed);
	if ((rb = ynode_get(n, "rollback")) != NULL &&
	    is_str(c, rb, "rollback")) {
		if (strcmp(rb->value, "all") == 0)
			r->rollback = ROLLBACK_ALL;
		else if (strcmp(rb->value, "failed") == 0)
			r->rollback = ROLLBACK_FAILED;
		else if (strcmp(rb->value, "none") == 0)
			r->rollback = ROLLBACK_NONE;
		else
			ERR(c, rb, "invalid rollback '%s': use all, failed or "
			    "none", rb->value);
	}
}

static void
parse_envs(struct ctx *c, const struct ynode *n)
{
	static const char *const keys[] = { "hosts", "vars", "rollout", NULL };
	struct manifest *m = c->m;
	size_t i;

	if (!is_map(c, n, "'environments'"))
		return;
	if (n->n == 0) {
		ERR(c, n, "'environments' must define at least one "
		    "environment");
		return;
	}
	m->envs = xcalloc(n->n, sizeof(*m->envs));
	for (i = 0; i < n->n; i++) {
		const struct ynode *k = n->pairs[i].key, *v = n->pairs[i].val;
		struct env *e = &m->envs[m->nenvs++];
		const struct ynode *h, *x;
		char *what = xasprintf("environment '%s'", k->value);
		struct env_add ea = { e, k->value };

		e->name = xstrdup(k->value);
		e->pos.line = k->line;
		e->pos.col = k->col;
		e->rollout.parallel = 5;
		e->rollout.rollback = ROLLBACK_ALL;
		check_name(c, k, "environment");
		if (is_map(c, v, what)) {
			check_keys(c, v, what, keys);
			if ((h = ynode_get(v, "hosts")) == NULL)
				missing(c, v, "hosts", what);
			else if (h->type == YNODE_SEQ && h->n == 0)
				ERR(c, h, "environment '%s' must list at least "
				    "one host or group in 'hosts'", k->value);
			else
				parse_name_list(c, h, "hosts", env_add_target,
				    &ea);
			if ((x = ynode_get(v, "vars")) != NULL)
				parse_vars(c, x, &e->vars);
			if ((x = ynode_get(v, "rollout")) != NULL)
				parse_rollout(c, x, &e->rollout);
		}
		free(what);
	}
}

/* Keys each kind of resource takes, the kind key first. */
static const char *const dir_keys[] = { "directory", "mode", "owner",
	"group", "state", NULL };
static const char *const file_keys[] = { "file", "source", "content",
	"template", "mode", "owner", "group", "state", NULL };
static const char *const symlink_keys[] = { "symlink", "target", "state",
	NULL };
static const char *const release_keys[] = { "release", "from", "keep",
	"build", "state", NULL };
static const char *const service_keys[] = { "service", "unit", "enabled",
	"state", "restart_on", NULL };
static const char *const command_keys[] = { "command", "run", "cwd",
	"on_change", "unless", "timeout", "state", NULL };
static const char *const *const kind_keys[] = { dir_keys, file_keys,
	symlink_keys, release_keys, service_keys, command_keys };

static void
add_ref(struct ctx *c, const struct ynode *it, void *arg)
{
	struct resource *r = arg;

	(void)c;
	r->refs = xrealloc(r->refs, (r->nrefs + 1) * sizeof(*r->refs));
	memset(&r->refs[r->nrefs], 0, sizeof(*r->refs));
	sval_set(&r->refs[r->nrefs].key, it);
	r->nrefs++;
}

static void
parse_state(struct ctx *c, const struct ynode *map, struct resource *r)
{
	const struct ynode *n = ynode_get(map, "state");

	if (n == NULL || !is_str(c, n, "state"))
		return;
	if (strcmp(n->value, "absent") == 0) {
		r->absent = 1;
	} else if (r->kind == RES_SERVICE) {
		if (strcmp(n->value, "running") == 0)
			r->state = SVC_RUNNING;
		else if (strcmp(n->value, "stopped") == 0)
			r->state = SVC_STOPPED;
		else
			ERR(c, n, "invalid service state '%s': use running, "
			    "stopped or absent", n->value);
	} else if (strcmp(n->value, "present") != 0) {
		ERR(c, n, "invalid state '%s' for a %s: use present or "
		    "absent", n->value, kind_names[r->kind]);
	}
}

static int
match_unit(const char *s)
{
	/* No leading '-': a name must never read as a systemctl option. */
	return isalnum((unsigned char)*s) && strspn(s, "ABCDEFGHIJKLMNOPQRS"
	    "TUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._:-") == strlen(s);
}

/* hello and hello.service name one unit. */
static size_t
unit_len(const char *s)
{
	return str_has_suffix(s, ".service") ? strlen(s) - 8 : strlen(s);
}

static void
parse_kind_fields(struct ctx *c, const struct ynode *map, struct resource *r,
    const char *what)
{
	const struct ynode *n;

	switch (r->kind) {
	case RES_DIRECTORY:
	case RES_FILE:
		r->mode = r->kind == RES_DIRECTORY ? 0755 : 0644;
		r->has_mode = get_mode(c, map, &r->mode);
		r->owner = get_user(c, map, "owner");
		r->group = get_user(c, map, "group");
		if (r->kind == RES_DIRECTORY)
			break;
		get_str(c, map, "source", &r->source);
		get_str(c, map, "content", &r->content);
		get_bool(c, map, "template", &r->template);
		check_path_value(c, &r->source, "source", 1);
		if (ynode_get(map, "source") && ynode_get(map, "content"))
			ERR(c, map, "%s takes either 'source' or 'content', "
			    "not both", what);
		else if (!r->absent && !ynode_get(map, "source") &&
		    !ynode_get(map, "content"))
			ERR(c, map, "%s needs 'source' (a file in the "
			    "repository) or 'content'", what);
		break;
	case RES_SYMLINK:
		if (!get_str(c, map, "target", &r->target)) {
			if (!r->absent && !ynode_get(map, "target"))
				missing(c, map, "target", what);
		} else if (r->target.s[0] == '\0') {
			error_at(c, r->target.pos.line, r->target.pos.col,
			    "'target' is empty");
		}
		break;
	case RES_RELEASE:
		r->keep = 5;
		if (get_str(c, map, "from", &r->from))
			check_path_value(c, &r->from, "from", 1);
		else if (!r->absent && !ynode_get(map, "from"))
			missing(c, map, "from", what);
		get_int(c, map, "keep", 1, INT_MAX, &r->keep);
		get_str(c, map, "build", &r->build);
		break;
	case RES_SERVICE:
		r->enabled = 1;
		if (get_str(c, map, "unit", &r->unit))
			check_path_value(c, &r->unit, "unit", 1);
		get_bool(c, map, "enabled", &r->enabled);
		if ((n = ynode_get(map, "restart_on")) != NULL)
			parse_name_list(c, n, "restart_on", add_ref, r);
		break;
	case RES_COMMAND:
		if (!get_str(c, map, "run", &r->run) && !r->absent &&
		    !ynode_get(map, "run"))
			missing(c, map, "run", what);
		else if (r->run.s && r->run.s[strspn(r->run.s, " \t\n")] ==
		    '\0')
			error_at(c, r->run.pos.line, r->run.pos.col,
			    "'run' is empty: give the command to run");
		if (get_str(c, map, "cwd", &r->cwd))
			check_path_value(c, &r->cwd, "cwd", 0);
		get_str(c, map, "unless", &r->unless);
		if (get_duration(c, map, "timeout", &r->timeout_ms) &&
		    r->timeout_ms == 0)
			ERR(c, ynode_get(map, "timeout"), "'timeout' must be "
			    "more than 0 (leave it out for no timeout)");
		if ((n = ynode_get(map, "on_change")) != NULL)
			parse_name_list(c, n, "on_change", add_ref, r);
		break;
	}
}

/* Which kind a resource mapping is; -1 after reporting why not. */
static int
resource_kind(struct ctx *c, const struct ynode *map)
{
	int kind = -1;
	size_t i, k;

	for (k = 0; k < ARRAY_SIZE(kind_names); k++) {
		const struct ynode *n = ynode_get(map, kind_names[k]);

		if (n == NULL)
			continue;
		if (kind >= 0) {
			ERR(c, n, "resource has two kinds, '%s' and '%s'; "
			    "declare them as two resources", kind_names[kind],
			    kind_names[k]);
			return -1;
		}
		kind = (int)k;
	}
	if (kind >= 0)
		return kind;
	for (i = 0; i < map->n; i++) {
		const struct ynode *key = map->pairs[i].key;
		const char *s = suggest(key->value, kind_names,
		    ARRAY_SIZE(kind_names));

		if (s) {
			ERR(c, key, "unknown key '%s' in resource (did you "
			    "mean '%s'?)", key->value, s);
			return -1;
		}
	}
	ERR(c, map, "resource has no kind: start it with one of directory, "
	    "file, symlink, release, service or command");
	return -1;
}

static void
parse_resource(struct ctx *c, const struct ynode *map)
{
	struct manifest *m = c->m;
	struct resource *r;
	const struct ynode *key;
	char *what;
	int kind;

	if (!is_map(c, map, "a resource"))
		return;
	if ((kind = resource_kind(c, map)) < 0)
		return;
	r = &m->res[m->nres++];
	r->kind = (enum res_kind)kind;
	r->pos.line = map->line;
	r->pos.col = map->col;
	key = ynode_get(map, kind_names[kind]);
	what = xasprintf("%s resource", kind_names[kind]);
	check_keys(c, map, what, kind_keys[kind]);
	free(what);
	if (!is_str(c, key, kind_names[kind]))
		return;
	sval_set(&r->key, key);
	if (res_kind_is_path(r->kind)) {
		check_path_value(c, &r->key, "path", 0);
	} else if (r->kind == RES_SERVICE && !match_unit(key->value)) {
		ERR(c, key, "invalid service name '%s': give the systemd unit "
		    "name, such as 'hello' or 'hello.service'", key->value);
	} else if (r->kind == RES_COMMAND && !match_name(key->value, 0)) {
		ERR(c, key, "invalid command name '%s': use %s", key->value,
		    NAME_RULE);
	}
	parse_state(c, map, r);
	what = xasprintf("%s %s", kind_names[kind], key->value);
	parse_kind_fields(c, map, r, what);
	free(what);
}

/* Unit and command names and host paths each name one resource. */
static int
same_resource(const struct resource *a, const struct resource *b)
{
	if (res_kind_is_path(a->kind) != res_kind_is_path(b->kind))
		return 0;
	if (!res_kind_is_path(a->kind) && a->kind != b->kind)
		return 0;
	if (a->kind == RES_SERVICE)
		return unit_len(a->key.s) == unit_len(b->key.s) &&
		    strncmp(a->key.s, b->key.s, unit_len(a->key.s)) == 0;
	return strcmp(a->key.s, b->key.s) == 0;
}

static void
check_resources(struct ctx *c)
{
	struct manifest *m = c->m;
	size_t i, j, k;

	for (i = 0; i < m->nres; i++) {
		struct resource *r = &m->res[i];

		if (r->key.s == NULL)
			continue;
		for (j = 0; j < i; j++) {
			if (m->res[j].key.s && same_resource(r, &m->res[j])) {
				error_at(c, r->key.pos.line, r->key.pos.col,
				    "duplicate resource: '%s' is already "
				    "declared as a %s at line %d", r->key.s,
				    kind_names[m->res[j].kind],
				    m->res[j].key.pos.line);
				break;
			}
		}
		for (k = 0; k < r->nrefs; k++) {
			struct ref *ref = &r->refs[k];
			const char *what = r->kind == RES_SERVICE ?
			    "restart_on" : "on_change";
			const char **cands;
			const char *s;

			for (j = 0; j < m->nres; j++)
				if (m->res[j].key.s &&
				    strcmp(m->res[j].key.s, ref->key.s) == 0)
					break;
			if (j == i) {
				error_at(c, ref->key.pos.line,
				    ref->key.pos.col, "'%s' names the resource "
				    "itself", what);
				continue;
			}
			if (j < m->nres && j > i) {
				error_at(c, ref->key.pos.line,
				    ref->key.pos.col, "'%s' names '%s', which "
				    "is declared after this %s (line %d); "
				    "resources apply in order, so move it above",
				    what, ref->key.s, kind_names[r->kind],
				    m->res[j].key.pos.line);
				continue;
			}
			if (j < m->nres) {
				ref->res = j;
				continue;
			}
			cands = xcalloc(m->nres + 1, sizeof(*cands));
			for (j = 0; j < m->nres; j++)
				cands[j] = m->res[j].key.s;
			s = suggest(ref->key.s, cands, m->nres);
			error_at(c, ref->key.pos.line, ref->key.pos.col,
			    "'%s' names '%s', which is not a resource in this "
			    "manifest%s%s%s", what, ref->key.s,
			    s ? " (did you mean '" : "", s ? s : "",
			    s ? "'?)" : "");
			free(cands);
		}
	}
}

static void
parse_resources(struct ctx *c, const struct ynode *n)
{
	size_t i;

	if (n->type != YNODE_SEQ) {
		ERR(c, n, "'resources' must be a list, not %s",
		    ynode_describe(n));
		return;
	}
	c->m->res = xcalloc(n->n ? n->n : 1, sizeof(*c->m->res));
	for (i = 0; i < n->n; i++)
		parse_resource(c, n->items[i]);
	check_resources(c);
}

static void
parse_check(struct ctx *c, const struct ynode *map)
{
	static const char *const keys[] = { "name", "http", "command",
		"expect_status", "timeout", "retries", "interval", NULL };
	struct manifest *m = c->m;
	struct health *h;
	const struct ynode *name;
	size_t i;

	if (!is_map(c, map, "a health check"))
		return;
	h = &m->health[m->nhealth++];
	h->pos.line = map->line;
	h->pos.col = map->col;
	h->expect_status = 200;
	h->timeout_ms = 5000;
	h->interval_ms = 1000;
	check_keys(c, map, "health check", keys);
	if ((name = ynode_get(map, "name")) == NULL) {
		missing(c, map, "name", "health check");
	} else if (is_str(c, name, "name") && check_name(c, name,
	    "health check")) {
		h->name = xstrdup(name->value);
		for (i = 0; i + 1 < m->nhealth; i++) {
			if (m->health[i].name &&
			    strcmp(m->health[i].name, h->name) == 0)
				ERR(c, name, "duplicate health check '%s'",
				    h->name);
		}
	}
	get_str(c, map, "http", &h->http);
	get_str(c, map, "command", &h->command);
	if (ynode_get(map, "http") && ynode_get(map, "command"))
		ERR(c, map, "a health check is either 'http' or 'command', "
		    "not both");
	else if (!ynode_get(map, "http") && !ynode_get(map, "command"))
		ERR(c, map, "health check needs 'http' (a URL tend fetches) "
		    "or 'command' (run on the host)");
	if (h->http.s && !strstr(h->http.s, "${") &&
	    !str_has_prefix(h->http.s, "http://") &&
	    !str_has_prefix(h->http.s, "https://"))
		error_at(c, h->http.pos.line, h->http.pos.col, "'http' must "
		    "be an http:// or https:// URL");
	if (ynode_get(map, "expect_status") && !ynode_get(map, "http"))
		ERR(c, ynode_get(map, "expect_status"), "'expect_status' "
		    "applies only to http checks");
	get_int(c, map, "expect_status", 100, 599, &h->expect_status);
	if (get_duration(c, map, "timeout", &h->timeout_ms) &&
	    h->timeout_ms == 0)
		ERR(c, ynode_get(map, "timeout"), "'timeout' must be more "
		    "than 0");
	get_int(c, map, "retries", 0, INT_MAX, &h->retries);
	get_duration(c, map, "interval", &h->interval_ms);
}

static void
parse_health(struct ctx *c, const struct ynode *n)
{
	size_t i;

	if (n->type != YNODE_SEQ) {
		ERR(c, n, "'health' must be a list, not %s",
		    ynode_describe(n));
		return;
	}
	c->m->health = xcalloc(n->n ? n->n : 1, sizeof(*c->m->health));
	for (i = 0; i < n->n; i++)
		parse_check(c, n->items[i]);
}

static void
parse_top(struct ctx *c, const struct ynode *root)
{
	static const char *const keys[] = { "version", "app", "vars", "hosts",
		"environments", "resources", "health", NULL };
	const struct ynode *n;
	int version;

	if (root->type != YNODE_MAP) {
		ERR(c, root, "the manifest must be a mapping with version, "
		    "app, hosts, environments and resources, not %s",
		    ynode_describe(root));
		return;
	}
	check_keys(c, root, "the manifest", keys);
	if ((n = ynode_get(root, "version")) == NULL)
		missing(c, root, "version", "the manifest (write 'version: "
		    "1')");
	else if (n->type == YNODE_SCALAR && n->kind == YS_INT &&
	    strcmp(n->value, "1") != 0)
		ERR(c, n, "unsupported manifest version %s; this tend reads "
		    "version 1 (write 'version: 1')", n->value);
	else
		get_int(c, root, "version", 1, 1, &version);
	if ((n = ynode_get(root, "app")) == NULL)
		missing(c, root, "app", "the manifest");
	else if (is_str(c, n, "app")) {
		if (match_name(n->value, 1))
			c->m->app = xstrdup(n->value);
		else
			ERR(c, n, "invalid app name '%s': use lower case "
			    "letters, digits and '-', starting with a letter "
			    "or digit, at most 63 characters", n->value);
	}
	if ((n = ynode_get(root, "vars")) != NULL)
		parse_vars(c, n, &c->m->vars);
	if ((n = ynode_get(root, "hosts")) == NULL)
		missing(c, root, "hosts", "the manifest");
	else
		parse_hosts(c, n);
	if ((n = ynode_get(root, "environments")) == NULL)
		missing(c, root, "environments", "the manifest");
	else
		parse_envs(c, n);
	if ((n = ynode_get(root, "resources")) != NULL)
		parse_resources(c, n);
	if ((n = ynode_get(root, "health")) != NULL)
		parse_health(c, n);
}

struct manifest *
manifest_parse(const char *file, const char *data, size_t len,
    struct diags *diags)
{
	struct ctx c;
	struct ynode *root;
	size_t i;

	if (len > MANIFEST_MAX_SIZE) {
		diags_add(diags, file, 0, 0, "the manifest is %zu bytes; the "
		    "limit is 1 MiB (1048576 bytes): move large contents into "
		    "files named with 'source:'", len);
		return NULL;
	}
	if ((root = ydoc_parse(file, data, len, diags)) == NULL)
		return NULL;
	memset(&c, 0, sizeof(c));
	c.file = file;
	c.diags = diags;
	c.m = xcalloc(1, sizeof(*c.m));
	c.m->file = xstrdup(file);
	parse_top(&c, root);
	ynode_free(root);
	for (i = 0; i < c.ngroups; i++)
		free(c.groups[i]);
	free(c.groups);
	free(c.group_pos);
	c.m->errors = c.errors;
	return c.m;
}

static void
vars_free(struct vars *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		free(v->v[i].name);
		free(v->v[i].value.s);
	}
	free(v->v);
}

void
manifest_free(struct manifest *m)
{
	size_t i, j;

	if (m == NULL)
		return;
	for (i = 0; i < m->nhosts; i++) {
		struct host *h = &m->hosts[i];

		free(h->name);
		free(h->address.s);
		free(h->user);
		free(h->host_key);
		for (j = 0; j < h->ngroups; j++)
			free(h->groups[j]);
		free(h->groups);
		vars_free(&h->vars);
	}
	free(m->hosts);
	for (i = 0; i < m->nenvs; i++) {
		free(m->envs[i].name);
		free(m->envs[i].hosts);
		vars_free(&m->envs[i].vars);
	}
	free(m->envs);
	for (i = 0; i < m->nres; i++) {
		struct resource *r = &m->res[i];

		free(r->key.s);
		free(r->owner);
		free(r->group);
		free(r->source.s);
		free(r->content.s);
		free(r->target.s);
		free(r->from.s);
		free(r->build.s);
		free(r->unit.s);
		free(r->run.s);
		free(r->cwd.s);
		free(r->unless.s);
		for (j = 0; j < r->nrefs; j++)
			free(r->refs[j].key.s);
		free(r->refs);
	}
	free(m->res);
	for (i = 0; i < m->nhealth; i++) {
		free(m->health[i].name);
		free(m->health[i].http.s);
		free(m->health[i].command.s);
	}
	free(m->health);
	vars_free(&m->vars);
	free(m->app);
	free(m->file);
	free(m);
}

struct env *
manifest_env(const struct manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nenvs; i++)
		if (strcmp(m->envs[i].name, name) == 0)
			return &m->envs[i];
	return NULL;
}

struct host *
manifest_host(const struct manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nhosts; i++)
		if (strcmp(m->hosts[i].name, name) == 0)
			return &m->hosts[i];
	return NULL;
}
