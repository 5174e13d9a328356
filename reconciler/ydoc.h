/*
 * ydoc: a YAML document read into a small tree that remembers where every
 * node came from (line and column), on top of libyaml's event parser.
 *
 * Limits that keep hostile input harmless: one document per file, aliases
 * are expanded by copy but the total node count is bounded (an "alias
 * bomb" fails with an error instead of eating memory), nesting depth is
 * bounded, duplicate mapping keys are errors.  Plain scalars are typed by
 * the YAML 1.2 core schema, so `yes` is a string and `0755` an integer.
 */
#ifndef TEND_YDOC_H
#define TEND_YDOC_H

#include <stddef.h>

#include "diag.h"

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

/* What a scalar means under the YAML 1.2 core schema. */
enum yscalar_kind { YS_STR, YS_NULL, YS_BOOL, YS_INT, YS_FLOAT };

struct ypair;

struct ynode {
	enum ynode_type type;
	int line, col;			/* 1-based position in the file */
	/* scalar */
	char *value;			/* NUL-terminated; len excludes NUL */
	size_t len;
	enum yscalar_kind kind;
	int quoted;			/* 1 for '...' or "...", 2 for | or > */
	/* Whether the value's characters stand one for one on its line
	 * from col (+1 when quoted): no escapes, folds, anchors or tags. */
	int exact;
	/* sequence */
	struct ynode **items;
	/* mapping: keys are scalars */
	struct ypair *pairs;
	size_t n, cap;			/* items or pairs */
};

struct ypair {
	struct ynode *key;
	struct ynode *val;
};

#define YDOC_MAX_NODES 200000
#define YDOC_MAX_BYTES (64u * 1024 * 1024)	/* scalars, aliases expanded */
#define YDOC_MAX_DEPTH 64

/*
 * Parse len bytes of data named file (used in diagnostics).  Returns the
 * root node (owned by the caller, free with ynode_free) or NULL after
 * adding at least one diagnostic to diags.  An empty document is an error.
 */
struct ynode *ydoc_parse(const char *file, const char *data, size_t len,
    struct diags *diags);
void ynode_free(struct ynode *n);

/* The value for key in mapping m, or NULL. */
struct ynode *ynode_get(const struct ynode *m, const char *key);
/* "a string", "an integer", "a mapping", ... for messages. */
const char *ynode_describe(const struct ynode *n);

#endif
