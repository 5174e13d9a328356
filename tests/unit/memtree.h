/*
 * An in-memory project for unit tests: the including file defines
 *
 *	static const char *const tree[] = { PATH, CONTENT, ..., NULL };
 *
 * before including this, and gets `mem`, a struct files over it (a path
 * with entries below it is a directory).
 */
#ifndef TEND_TEST_MEMTREE_H
#define TEND_TEST_MEMTREE_H

#include <string.h>

#include "gitsrc.h"
#include "log.h"

static enum file_type
mem_stat(void *ctx, const char *path)
{
	size_t i, n = strlen(path);

	(void)ctx;
	for (i = 0; tree[i]; i += 2) {
		if (strcmp(tree[i], path) == 0)
			return FT_FILE;
		if (strncmp(tree[i], path, n) == 0 && tree[i][n] == '/')
			return FT_DIR;
	}
	return FT_MISSING;
}

static int
mem_read(void *ctx, const char *path, struct buf *out)
{
	size_t i;

	(void)ctx;
	for (i = 0; tree[i]; i += 2) {
		if (strcmp(tree[i], path) == 0) {
			buf_adds(out, tree[i + 1]);
			return 0;
		}
	}
	return err_set("%s: not found", path);
}

static const struct files mem = { .ctx = NULL, .stat = mem_stat,
	.read = mem_read, .where = "commit 0123abc" };

#endif
