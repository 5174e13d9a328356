/* record: the on-host state.json, in and out through jansson. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "record.h"

static char *
get_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int
kind_from_name(const char *s, enum res_kind *out)
{
	int k;

	for (k = RES_DIRECTORY; k <= RES_COMMAND; k++) {
		if (strcmp(res_kind_name((enum res_kind)k), s) == 0) {
			*out = (enum res_kind)k;
			return 0;
		}
	}
	return -1;
}

struct record *
record_parse(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *root, *list, *it;
	struct record *r;
	size_t i;

	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		err_set("state.json is not valid JSON (line %d: %s)",
		    jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		err_set("state.json is not a JSON object");
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->app = get_string(root, "app");
	r->env = get_string(root, "env");
	r->commit = get_string(root, "commit");
	r->last_good = get_string(root, "last_good");
	r->applied_at = get_string(root, "applied_at");
	r->applied_by = get_string(root, "applied_by");
	list = json_object_get(root, "resources");
	json_array_foreach(list, i, it) {
		struct rec_res rr;
		json_t *v;
		const char *kind = json_string_value(json_object_get(it,
		    "kind"));
		const char *key = json_string_value(json_object_get(it, "key"));
		const char *hash = json_string_value(json_object_get(it,
		    "hash"));

		memset(&rr, 0, sizeof(rr));
		if (kind == NULL || key == NULL ||
		    kind_from_name(kind, &rr.kind) < 0)
			continue;	/* from a newer tend: not ours to judge */
		rr.key = xstrdup(key);
		if (hash && strlen(hash) == 64)
			memcpy(rr.hash, hash, 65);
		if (json_is_string(v = json_object_get(it, "mode")))
			rr.mode = (unsigned)strtoul(json_string_value(v), NULL,
			    8) & 07777;
		rr.owner = get_string(it, "owner");
		rr.group = get_string(it, "group");
		rr.target = get_string(it, "target");
		rr.created = json_is_true(json_object_get(it, "created"));
		rr.sensitive = json_is_true(json_object_get(it, "sensitive"));
		GROW(r->res, r->nres + 1, r->cap);
		r->res[r->nres++] = rr;	/* takes the strings */
		strindex_add(&r->idx, rr.key, r->nres - 1);
	}
	json_array_foreach(json_object_get(root, "owed"), i, it)
		if (json_is_string(it)) {
			r->owed = xrealloc(r->owed, (r->nowed + 1) *
			    sizeof(*r->owed));
			r->owed[r->nowed++] = xstrdup(json_string_value(it));
		}
	json_decref(root);
	return r;
}

int
record_owes(const struct record *r, const char *kind, const char *key)
{
	size_t i, kl = strlen(kind);

	for (i = 0; r && i < r->nowed; i++)
		if (strncmp(r->owed[i], kind, kl) == 0 &&
		    r->owed[i][kl] == ':' && strcmp(r->owed[i] + kl + 1, key) == 0)
			return 1;
	return 0;
}

void
record_owe(struct record *r, const char *kind, const char *key)
{
	r->owed = xrealloc(r->owed, (r->nowed + 1) * sizeof(*r->owed));
	r->owed[r->nowed++] = xasprintf("%s:%s", kind, key);
}

static void
set_str(json_t *o, const char *key, const char *val)
{
	if (val)
		json_object_set_new(o, key, json_string(val));
}

/* Append v's JSON_INDENT(1) text to b, its lines after the first indented
 * by depth more: as it would be inside a document, at that depth. */
static void
add_json_at(struct buf *b, json_t *v, int depth)
{
	char *text = json_dumps(v, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	const char *p, *nl;

	if (text == NULL)
		bug("json_dumps failed");
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		buf_add(b, p, (size_t)(nl + 1 - p));
		buf_addf(b, "%*s", depth, "");
	}
	buf_adds(b, p);
	free(text);
}

/* The text is what one json_dumps of the whole record would be, made a
 * resource at a time: the whole as jansson objects would take several
 * times the text's size, on every host being applied at once. */
char *
record_encode(const struct record *r)
{
	json_t *head = json_object();
	struct buf b = BUF_INIT;
	char *text;
	size_t i;

	json_object_set_new(head, "tend", json_integer(1));
	set_str(head, "app", r->app);
	set_str(head, "env", r->env);
	set_str(head, "commit", r->commit);
	set_str(head, "last_good", r->last_good);	/* none: never passed */
	set_str(head, "applied_at", r->applied_at);
	set_str(head, "applied_by", r->applied_by);
	add_json_at(&b, head, 0);
	json_decref(head);
	b.len -= 2;			/* all but "\n}" */
	buf_adds(&b, ",\n \"resources\": [");
	for (i = 0; i < r->nres; i++) {
		const struct rec_res *rr = &r->res[i];
		json_t *o = json_object();

		set_str(o, "kind", res_kind_name(rr->kind));
		set_str(o, "key", rr->key);
		if (rr->hash[0])
			set_str(o, "hash", rr->hash);
		if (rr->kind == RES_FILE || rr->kind == RES_DIRECTORY) {
			char mode[8];

			snprintf(mode, sizeof(mode), "%04o", rr->mode);
			set_str(o, "mode", mode);
		}
		set_str(o, "owner", rr->owner);
		set_str(o, "group", rr->group);
		set_str(o, "target", rr->target);
		json_object_set_new(o, "created", json_boolean(rr->created));
		if (rr->sensitive)
			json_object_set_new(o, "sensitive", json_true());
		buf_adds(&b, i ? ",\n  " : "\n  ");
		add_json_at(&b, o, 2);
		json_decref(o);
	}
	buf_adds(&b, r->nres ? "\n ]" : "]");
	if (r->nowed) {
		json_t *owed = json_array();

		for (i = 0; i < r->nowed; i++)
			json_array_append_new(owed, json_string(r->owed[i]));
		buf_adds(&b, ",\n \"owed\": ");
		add_json_at(&b, owed, 1);
		json_decref(owed);
	}
	buf_adds(&b, "\n}\n");
	/* Held while the host is applied: without the buffer's slack. */
	text = buf_detach(&b, &i);
	return xrealloc(text, i + 1);
}

void
record_add(struct record *r, const struct rec_res *res)
{
	struct rec_res *n;

	GROW(r->res, r->nres + 1, r->cap);
	n = &r->res[r->nres++];
	*n = *res;
	n->key = xstrdup(res->key);
	n->owner = res->owner ? xstrdup(res->owner) : NULL;
	n->group = res->group ? xstrdup(res->group) : NULL;
	n->target = res->target ? xstrdup(res->target) : NULL;
	strindex_add(&r->idx, n->key, r->nres - 1);
}

const struct rec_res *
record_find(const struct record *r, enum res_kind kind, const char *key)
{
	struct strindex_iter it;
	size_t i, first = STRINDEX_NONE;

	if (r == NULL)
		return NULL;
	if (r->idx.n == r->nres && r->nres) {
		/* The first of equal entries, as a scan would find. */
		for (i = strindex_first(&r->idx, key, &it);
		    i != STRINDEX_NONE; i = strindex_next(&r->idx, &it))
			if (i < first && r->res[i].kind == kind &&
			    strcmp(r->res[i].key, key) == 0)
				first = i;
		return first == STRINDEX_NONE ? NULL : &r->res[first];
	}
	for (i = 0; i < r->nres; i++)
		if (r->res[i].kind == kind && strcmp(r->res[i].key, key) == 0)
			return &r->res[i];
	return NULL;
}

void
record_free(struct record *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nres; i++) {
		free(r->res[i].key);
		free(r->res[i].owner);
		free(r->res[i].group);
		free(r->res[i].target);
	}
	free(r->res);
	strindex_free(&r->idx);
	for (i = 0; i < r->nowed; i++)
		free(r->owed[i]);
	free(r->owed);
	free(r->app);
	free(r->env);
	free(r->commit);
	free(r->last_good);
	free(r->applied_at);
	free(r->applied_by);
	free(r);
}

char *
record_now(void)
{
	time_t now = time(NULL);
	struct tm tm;
	char when[32];

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(when);
}

char *
record_whoami(void)
{
	char host[256] = "", pwbuf[1024];
	const char *user = getenv("USER");
	struct passwd pwd, *pw = NULL;

	/* getpwuid_r: this runs in the rollout's threads too. */
	if ((user == NULL || *user == '\0') && getpwuid_r(getuid(), &pwd,
	    pwbuf, sizeof(pwbuf), &pw) == 0 && pw)
		user = pw->pw_name;

	if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
		strcpy(host, "unknown");
	return xasprintf("%s@%s", user && *user ? user : "unknown", host);
}

void
record_stamp(struct record *r)
{
	free(r->applied_at);
	free(r->applied_by);
	r->applied_at = record_now();
	r->applied_by = record_whoami();
}
