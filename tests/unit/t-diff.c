/* Unit tests: unified diffs and text detection. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diff.h"
#include "tap.h"

static char *
udiff(const char *a, const char *b)
{
	struct buf out = BUF_INIT;

	if (diff_unified(&out, a, strlen(a), b, strlen(b), "") < 0)
		return NULL;
	return buf_detach(&out, NULL);
}

int
main(void)
{
	char *d;
	struct buf big = BUF_INIT;
	int i;

	d = udiff("a\nb\nc\n", "a\nB\nc\n");
	is_str(d, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n", "one changed line, "
	    "removal first, with context");
	free(d);
	d = udiff("", "x\n");
	is_str(d, "@@ -0,0 +1,1 @@\n+x\n", "a new file's lines");
	free(d);
	d = udiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
	    "1\nTWO\n3\n4\n5\n6\n7\n8\n9\n10\nELEVEN\n12\n");
	is_str(d, "@@ -1,5 +1,5 @@\n 1\n-2\n+TWO\n 3\n 4\n 5\n"
	    "@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+ELEVEN\n 12\n",
	    "changes far apart make two hunks");
	free(d);
	d = udiff("a\nb\n", "a\nb\nc");
	is_str(d, "@@ -1,2 +1,3 @@\n a\n b\n+c\n", "a last line without "
	    "a newline");
	free(d);
	{
		struct buf other = BUF_INIT;

		for (i = 0; i < 3000; i++) {
			buf_addf(&big, "line %d\n", i);
			buf_addf(&other, "other %d\n", i);
		}
		d = udiff(big.data, other.data);
		ok(d == NULL, "too large to compare: refused, not slow");
		free(d);
		buf_free(&other);
	}
	d = udiff(big.data, "line 0\nnew\n");
	ok(d != NULL && strstr(d, "+new\n"), "a big file against a small one "
	    "is still compared");
	free(d);
	buf_free(&big);
	ok(diff_is_text("caf\xc3\xa9\n", 6), "UTF-8 is text");
	ok(!diff_is_text("a\0b", 3), "a NUL byte is binary");
	ok(!diff_is_text("caf\xe9", 4), "Latin-1 is binary");
	return tap_done();
}
