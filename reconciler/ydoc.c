/* ydoc: YAML to a positioned tree, bounded against hostile input. */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "log.h"
#include "ydoc.h"

struct anchor {
	char *name;
	struct ynode *node;
};

struct builder {
	const char *file;
	const char *data;
	size_t len;
	struct diags *diags;
	struct ynode *stack[YDOC_MAX_DEPTH + 1];
	struct ynode *pending_key[YDOC_MAX_DEPTH + 1];
	char *stack_anchor[YDOC_MAX_DEPTH + 1];
	int depth;
	struct ynode *root;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	size_t nodes;
	size_t bytes;			/* scalar bytes, aliases included */
	int failed;
};

static struct ynode *
node_new(enum ynode_type type, yaml_mark_t mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	return n;
}

void
ynode_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	if (n->type == YNODE_SEQ) {
		for (i = 0; i < n->n; i++)
			ynode_free(n->items[i]);
		free(n->items);
	} else if (n->type == YNODE_MAP) {
		for (i = 0; i < n->n; i++) {
			ynode_free(n->pairs[i].key);
			ynode_free(n->pairs[i].val);
		}
		free(n->pairs);
	}
	free(n->value);
	free(n);
}

static int
all_match(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* Type a plain scalar by the YAML 1.2 core schema. */
static enum yscalar_kind
plain_kind(const char *s)
{
	static const char *nulls[] = { "", "~", "null", "Null", "NULL" };
	static const char *bools[] = { "true", "True", "TRUE", "false",
		"False", "FALSE" };
	static const char *floats[] = { ".inf", ".Inf", ".INF", "+.inf",
		"+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN",
		".NAN" };
	const char *p = s;
	size_t i;
	int digits = 0;

	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(s, nulls[i]) == 0)
			return YS_NULL;
	for (i = 0; i < ARRAY_SIZE(bools); i++)
		if (strcmp(s, bools[i]) == 0)
			return YS_BOOL;
	for (i = 0; i < ARRAY_SIZE(floats); i++)
		if (strcmp(s, floats[i]) == 0)
			return YS_FLOAT;
	if (str_has_prefix(s, "0o") && all_match(s + 2, "01234567"))
		return YS_INT;
	if (str_has_prefix(s, "0x") &&
	    all_match(s + 2, "0123456789abcdefABCDEF"))
		return YS_INT;
	if (*p == '-' || *p == '+')
		p++;
	if (all_match(p, "0123456789"))
		return YS_INT;
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (digits == 0)
		return YS_STR;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return YS_STR;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0' ? YS_FLOAT : YS_STR;
}

const char *
ynode_describe(const struct ynode *n)
{
	if (n == NULL)
		return "nothing";
	switch (n->type) {
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	case YNODE_SCALAR:
		break;
	}
	switch (n->kind) {
	case YS_NULL:
		return "null";
	case YS_BOOL:
		return "a boolean";
	case YS_INT:
		return "an integer";
	case YS_FLOAT:
		return "a number";
	case YS_STR:
		break;
	}
	return "a string";
}

struct ynode *
ynode_get(const struct ynode *m, const char *key)
{
	size_t i;

	if (m == NULL || m->type != YNODE_MAP)
		return NULL;
	for (i = 0; i < m->n; i++)
		if (strcmp(m->pairs[i].key->value, key) == 0)
			return m->pairs[i].val;
	return NULL;
}

static void
fail(struct builder *b, int line, int col, const char *msg)
{
	if (!b->failed)
		diags_add(b->diags, b->file, line, col, "%s", msg);
	b->failed = 1;
}

static int
count_node(struct builder *b, const struct ynode *at)
{
	b->bytes += at->len;
	if (b->bytes > YDOC_MAX_BYTES) {
		fail(b, at->line, at->col,
		    "document too large after expanding aliases (more than "
		    "64 MiB of text)");
		return -1;
	}
	if (++b->nodes > YDOC_MAX_NODES) {
		fail(b, at->line, at->col,
		    "document too large after expanding aliases (more than "
		    "200000 nodes); is an alias used recursively?");
		return -1;
	}
	return 0;
}

static struct ynode *
node_copy(struct builder *b, const struct ynode *src)
{
	struct ynode *n;
	size_t i;

	if (count_node(b, src) < 0)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	*n = *src;
	n->items = NULL;
	n->pairs = NULL;
	n->n = n->cap = 0;
	if (src->value)
		n->value = xstrndup(src->value, src->len);
	if (src->type == YNODE_SEQ) {
		n->items = xcalloc(src->n, sizeof(*n->items));
		n->cap = src->n;
		for (i = 0; i < src->n; i++) {
			if ((n->items[i] = node_copy(b, src->items[i])) == NULL)
				break;
			n->n++;
		}
	} else if (src->type == YNODE_MAP) {
		n->pairs = xcalloc(src->n, sizeof(*n->pairs));
		n->cap = src->n;
		for (i = 0; i < src->n; i++) {
			n->pairs[i].key = node_copy(b, src->pairs[i].key);
			n->pairs[i].val = n->pairs[i].key ?
			    node_copy(b, src->pairs[i].val) : NULL;
			if (n->pairs[i].val == NULL) {
				ynode_free(n->pairs[i].key);
				break;
			}
			n->n++;
		}
	}
	if (b->failed) {
		ynode_free(n);
		return NULL;
	}
	return n;
}

static void
anchor_add(struct builder *b, const char *name, struct ynode *n)
{
	size_t i;

	/* A redefined anchor replaces the earlier one, as YAML says. */
	for (i = 0; i < b->nanchors; i++) {
		if (strcmp(b->anchors[i].name, name) == 0) {
			b->anchors[i].node = n;
			return;
		}
	}
	GROW(b->anchors, b->nanchors + 1, b->anchors_cap);
	b->anchors[b->nanchors].name = xstrdup(name);
	b->anchors[b->nanchors].node = n;
	b->nanchors++;
}

static int
cmp_key(const void *x, const void *y)
{
	const struct ynode *a = *(struct ynode *const *)x;
	const struct ynode *c = *(struct ynode *const *)y;
	int r = strcmp(a->value, c->value);

	if (r)
		return r;
	return a->line != c->line ? (a->line < c->line ? -1 : 1) :
	    (a->col < c->col ? -1 : a->col > c->col);
}

/* Duplicate keys of a finished mapping, by sorting: maps can be big. */
static void
check_dup_keys(struct builder *b, const struct ynode *map)
{
	struct ynode **keys;
	size_t i;

	if (map->n < 2)
		return;
	keys = xcalloc(map->n, sizeof(*keys));
	for (i = 0; i < map->n; i++)
		keys[i] = map->pairs[i].key;
	qsort(keys, map->n, sizeof(*keys), cmp_key);
	for (i = 1; i < map->n; i++) {
		if (strcmp(keys[i]->value, keys[i - 1]->value) == 0) {
			char *msg = xasprintf("duplicate key '%s' (first "
			    "defined at line %d)", keys[i]->value,
			    keys[i - 1]->line);

			fail(b, keys[i]->line, keys[i]->col, msg);
			free(msg);
			break;
		}
	}
	free(keys);
}

/* Attach a finished node to the open collection, or make it the root. */
static void
attach(struct builder *b, struct ynode *n)
{
	struct ynode *parent;

	if (b->depth == 0) {
		b->root = n;
		return;
	}
	parent = b->stack[b->depth - 1];
	if (parent->type == YNODE_SEQ) {
		GROW(parent->items, parent->n + 1, parent->cap);
		parent->items[parent->n++] = n;
		return;
	}
	if (b->pending_key[b->depth - 1] == NULL) {
		if (n->type != YNODE_SCALAR) {
			fail(b, n->line, n->col,
			    "mapping keys must be plain strings");
			ynode_free(n);
			return;
		}
		b->pending_key[b->depth - 1] = n;
		return;
	}
	GROW(parent->pairs, parent->n + 1, parent->cap);
	parent->pairs[parent->n].key = b->pending_key[b->depth - 1];
	parent->pairs[parent->n].val = n;
	parent->n++;
	b->pending_key[b->depth - 1] = NULL;
}

/* Line and column (1-based) of a byte offset in the input. */
static void
offset_pos(const struct builder *b, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < b->len; i++) {
		if (b->data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)b->data[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* The byte at a mark's line and column (columns count characters). */
static int
byte_at(const struct builder *b, size_t line, size_t col)
{
	size_t i = 0, l = 0, c = 0;

	while (i < b->len && l < line)
		if (b->data[i++] == '\n')
			l++;
	for (; i < b->len && b->data[i] != '\n'; i++) {
		if (((unsigned char)b->data[i] & 0xc0) == 0x80)
			continue;
		if (c++ == col)
			return (unsigned char)b->data[i];
	}
	return -1;
}

/* Offset of the first byte that is not valid UTF-8, or len. */
static size_t
utf8_invalid(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0, n, k;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 1;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			n = 2;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			n = 3;
		else
			return i;
		if (i + n >= len)
			return i;
		for (k = 1; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		/* overlong forms, surrogates, past U+10FFFF */
		if ((s[i] == 0xe0 && s[i + 1] < 0xa0) ||
		    (s[i] == 0xed && s[i + 1] >= 0xa0) ||
		    (s[i] == 0xf0 && s[i + 1] < 0x90) ||
		    (s[i] == 0xf4 && s[i + 1] >= 0x90))
			return i;
		i += n + 1;
	}
	return len;
}

static void
parser_error(struct builder *b, yaml_parser_t *p)
{
	int line, col;
	char *msg;

	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset;
		int byte = p->problem_value;

		/* libyaml points past the start of a bad sequence: find it. */
		if (strstr(p->problem, "UTF-8")) {
			off = utf8_invalid(b->data, b->len);
			if (off >= b->len)
				off = p->problem_offset;
			byte = off < b->len ? (unsigned char)b->data[off] : 0;
			offset_pos(b, off, &line, &col);
			msg = xasprintf("invalid UTF-8 (byte 0x%02x); save the "
			    "manifest as UTF-8", (unsigned)byte & 0xff);
		} else {
			offset_pos(b, off, &line, &col);
			msg = byte >= 0 ? xasprintf("%s in YAML (byte 0x%02x)",
			    p->problem, (unsigned)byte) :
			    xasprintf("%s", p->problem);
		}
		fail(b, line, col, msg);
		free(msg);
		return;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		fail(b, 0, 0, "out of memory while reading YAML");
		return;
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	if (byte_at(b, p->problem_mark.line, p->problem_mark.column) == '\t') {
		fail(b, line, col, "tab character in indentation; YAML is "
		    "indented with spaces only");
		return;
	}
	if (p->context)
		msg = xasprintf("YAML syntax error: %s (%s at line %d, "
		    "column %d)", p->problem, p->context,
		    (int)p->context_mark.line + 1,
		    (int)p->context_mark.column + 1);
	else
		msg = xasprintf("YAML syntax error: %s", p->problem);
	fail(b, line, col, msg);
	free(msg);
}

static struct ynode *
scalar_node(struct builder *b, yaml_event_t *ev)
{
	struct ynode *n = node_new(YNODE_SCALAR, ev->start_mark);
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t span = ev->end_mark.index - ev->start_mark.index;

	n->len = ev->data.scalar.length;
	n->value = xstrndup((const char *)ev->data.scalar.value, n->len);
	if (tag && strcmp(tag, "!") != 0 &&
	    !str_has_prefix(tag, "tag:yaml.org,2002:")) {
		char *msg = xasprintf("unsupported YAML tag '%s'", tag);

		fail(b, n->line, n->col, msg);
		free(msg);
	}
	switch (ev->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		n->quoted = 1;
		break;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE:
		n->quoted = 2;
		break;
	default:
		break;
	}
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == NULL)
		n->kind = plain_kind(n->value);
	else if (tag && strcmp(tag, "tag:yaml.org,2002:int") == 0)
		n->kind = YS_INT;
	else if (tag && strcmp(tag, "tag:yaml.org,2002:bool") == 0)
		n->kind = YS_BOOL;
	else
		n->kind = YS_STR;
	/* Marks count characters: the value maps onto its line exactly when
	 * it spans as many characters as it has (plus its quotes). */
	n->exact = n->quoted != 2 && ev->start_mark.line == ev->end_mark.line &&
	    span == utf8_count(n->value, n->len) + (n->quoted ? 2 : 0);
	return n;
}

/* One event into the tree; returns 1 at the end of the stream. */
static int
handle_event(struct builder *b, yaml_event_t *ev, int *docs)
{
	struct ynode *n;
	const char *anchor = NULL;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			fail(b, (int)ev->start_mark.line + 1,
			    (int)ev->start_mark.column + 1,
			    "more than one YAML document in the file; a "
			    "manifest is a single document");
		return 0;
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		size_t i;

		for (i = 0; i < b->nanchors; i++)
			if (strcmp(b->anchors[i].name, name) == 0)
				break;
		if (i == b->nanchors) {
			char *msg = xasprintf("unknown alias '*%s'", name);

			fail(b, (int)ev->start_mark.line + 1,
			    (int)ev->start_mark.column + 1, msg);
			free(msg);
			return 0;
		}
		if ((n = node_copy(b, b->anchors[i].node)) != NULL) {
			/* Errors about it point at the alias, not the anchor. */
			n->line = (int)ev->start_mark.line + 1;
			n->col = (int)ev->start_mark.column + 1;
			n->exact = 0;
			attach(b, n);
		}
		return 0;
	}
	case YAML_SCALAR_EVENT:
		n = scalar_node(b, ev);
		/* A C string would silently end at an embedded NUL. */
		if (strlen(n->value) != n->len) {
			fail(b, n->line, n->col, "a value contains a NUL "
			    "character (\\0), which no name, path or text "
			    "in a manifest may hold");
			ynode_free(n);
			return 0;
		}
		if (count_node(b, n) < 0) {
			ynode_free(n);
			return 0;
		}
		if (ev->data.scalar.anchor)
			anchor_add(b, (const char *)ev->data.scalar.anchor, n);
		attach(b, n);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n = node_new(ev->type == YAML_SEQUENCE_START_EVENT ?
		    YNODE_SEQ : YNODE_MAP, ev->start_mark);
		if (b->depth >= YDOC_MAX_DEPTH) {
			fail(b, n->line, n->col, "nesting too deep (more than "
			    "64 levels)");
			ynode_free(n);
			return 0;
		}
		if (count_node(b, n) < 0) {
			ynode_free(n);
			return 0;
		}
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			anchor = (const char *)ev->data.sequence_start.anchor;
		else
			anchor = (const char *)ev->data.mapping_start.anchor;
		b->stack_anchor[b->depth] = anchor ? xstrdup(anchor) : NULL;
		b->pending_key[b->depth] = NULL;
		b->stack[b->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		n = b->stack[--b->depth];
		if (n->type == YNODE_MAP)
			check_dup_keys(b, n);
		if (b->stack_anchor[b->depth]) {
			anchor_add(b, b->stack_anchor[b->depth], n);
			free(b->stack_anchor[b->depth]);
			b->stack_anchor[b->depth] = NULL;
		}
		attach(b, n);
		return 0;
	default:
		return 0;
	}
}

struct ynode *
ydoc_parse(const char *file, const char *data, size_t len,
    struct diags *diags)
{
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int docs = 0, done = 0;
	size_t i;

	memset(&b, 0, sizeof(b));
	b.file = file;
	b.data = data;
	b.len = len;
	b.diags = diags;
	if (!yaml_parser_initialize(&parser))
		bug("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data,
	    len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done && !b.failed) {
		if (!yaml_parser_parse(&parser, &ev)) {
			parser_error(&b, &parser);
			break;
		}
		done = handle_event(&b, &ev, &docs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	/* Unwind whatever was left open by an error. */
	while (b.depth > 0) {
		b.depth--;
		ynode_free(b.pending_key[b.depth]);
		ynode_free(b.stack[b.depth]);
		free(b.stack_anchor[b.depth]);
	}
	for (i = 0; i < b.nanchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	if (b.failed) {
		ynode_free(b.root);
		return NULL;
	}
	if (b.root == NULL || (b.root->type == YNODE_SCALAR &&
	    b.root->kind == YS_NULL)) {
		diags_add(diags, file, 0, 0, "the manifest is empty");
		ynode_free(b.root);
		return NULL;
	}
	return b.root;
}
