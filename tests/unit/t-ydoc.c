/* Unit tests: ydoc, YAML into a positioned tree, bounded. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "ydoc.h"

static struct ynode *
parse(const char *text, struct diags *d)
{
	diags_free(d);
	return ydoc_parse("t.yaml", text, strlen(text), d);
}

static const char *
first_msg(struct diags *d)
{
	return d->n ? d->v[0].msg : "(no error)";
}

int
main(void)
{
	struct diags d = DIAGS_INIT;
	struct ynode *root, *n;
	struct buf bomb = BUF_INIT;
	int i;

	root = parse("a: 1\nb:\n  - x\n  - 'y'\nc: {d: true, e: 0755, f: yes, "
	    "g: 1.5e3, h: ~, i: \"0x1F\"}\n", &d);
	ok(root != NULL && d.n == 0, "a plain document parses");
	n = ynode_get(root, "b");
	ok(n && n->type == YNODE_SEQ && n->n == 2, "a list has its items");
	is_int(n->line, 3, "a block list starts at its first item's line");
	is_int(n->items[1]->col, 5, "an item's column is its own");
	n = ynode_get(root, "c");
	is_int(ynode_get(n, "d")->kind, YS_BOOL, "true is a boolean");
	is_int(ynode_get(n, "e")->kind, YS_INT, "0755 is an integer (YAML 1.2)");
	is_int(ynode_get(n, "f")->kind, YS_STR, "yes is a string (YAML 1.2)");
	is_int(ynode_get(n, "g")->kind, YS_FLOAT, "1.5e3 is a number");
	is_int(ynode_get(n, "h")->kind, YS_NULL, "~ is null");
	is_int(ynode_get(n, "i")->kind, YS_STR, "a quoted number is a string");
	is_int(ynode_get(root, "a")->col, 4, "a value's column is 1-based");
	ynode_free(root);

	root = parse("x: &a {k: v}\ny: *a\n", &d);
	n = ynode_get(root, "y");
	ok(n && n->type == YNODE_MAP && strcmp(ynode_get(n, "k")->value, "v")
	    == 0, "an alias is a copy of its anchor");
	ynode_free(root);

	root = parse("a: 1\nb: 2\na: 3\n", &d);
	ok(root == NULL, "a duplicate key fails the document");
	is_str(first_msg(&d), "duplicate key 'a' (first defined at line 1)",
	    "and says where the first one is");
	is_int(d.n ? d.v[0].line : 0, 3, "pointing at the second one");

	root = parse("a: [1, 2\n", &d);
	ok(root == NULL && d.n == 1 && strstr(first_msg(&d), "YAML syntax"),
	    "a syntax error is reported once");

	root = parse("a:\n\t- b\n", &d);
	is_str(first_msg(&d), "tab character in indentation; YAML is indented "
	    "with spaces only", "a tab in indentation is named as such");
	is_int(d.n ? d.v[0].line : 0, 2, "on its line");

	root = parse("# \xc3\xa9\xc3\xa9\xc3\xa9\na:\n\t- b\n", &d);
	is_str(first_msg(&d), "tab character in indentation; YAML is indented "
	    "with spaces only", "a tab after multi-byte characters too");

	root = parse("a: x\nb: \"\xe0\x80\xaf\"\n", &d);
	is_str(first_msg(&d), "invalid UTF-8 (byte 0xe0); save the manifest "
	    "as UTF-8", "an overlong UTF-8 form is refused at its first byte");
	is_int(d.n ? d.v[0].col : 0, 5, "at its column");

	root = parse("a: &x {k: v}\nb:\n  c: *x\n", &d);
	n = ynode_get(ynode_get(root, "b"), "c");
	ok(n && n->line == 3 && n->col == 6, "an alias copy stands where the "
	    "alias is");
	ynode_free(root);

	root = parse("a: 'it''s'\nb: \"x\\ty\"\nc: plain\nd: &z v\n", &d);
	ok(root && !ynode_get(root, "a")->exact && !ynode_get(root, "b")->exact
	    && ynode_get(root, "c")->exact && !ynode_get(root, "d")->exact,
	    "values with escapes or anchors are not mapped column by column");
	ynode_free(root);

	root = parse("a: 1\n---\nb: 2\n", &d);
	ok(root == NULL && strstr(first_msg(&d), "more than one YAML document"),
	    "a second document is refused");

	root = parse("a: \"\xc3\x28\"\n", &d);
	ok(root == NULL && strstr(first_msg(&d), "invalid UTF-8"),
	    "invalid UTF-8 is refused");

	root = parse("", &d);
	is_str(first_msg(&d), "the manifest is empty", "an empty file");

	root = parse("a: *nope\n", &d);
	is_str(first_msg(&d), "unknown alias '*nope'", "an unknown alias");

	/* Billion laughs: each level doubles ten times over. */
	buf_adds(&bomb, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 10; i++)
		buf_addf(&bomb, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
		    "*a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1,
		    i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	root = parse(bomb.data, &d);
	ok(root == NULL && strstr(first_msg(&d), "after expanding aliases"),
	    "an alias bomb stops at the node limit");
	buf_free(&bomb);

	for (i = 0; i < 100; i++)
		buf_adds(&bomb, "[");
	root = parse(bomb.data, &d);
	ok(root == NULL && strstr(first_msg(&d), "nesting too deep"),
	    "deep nesting is refused before the stack is");
	buf_free(&bomb);

	root = parse("? [a]\n: b\n", &d);
	is_str(first_msg(&d), "mapping keys must be plain strings",
	    "a list as a key is refused");
	diags_free(&d);
	return tap_done();
}
