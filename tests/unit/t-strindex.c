/* Unit tests: strindex, the hash index from strings to positions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strindex.h"
#include "tap.h"
#include "util.h"

static char *keys[5000];

/* Where key is among keys[0..n), through the index. */
static size_t
find(const struct strindex *x, const char *key)
{
	struct strindex_iter it;
	size_t i;

	for (i = strindex_first(x, key, &it); i != STRINDEX_NONE;
	    i = strindex_next(x, &it))
		if (strcmp(keys[i], key) == 0)
			return i;
	return STRINDEX_NONE;
}

int
main(void)
{
	struct strindex x = STRINDEX_INIT;
	struct strindex_iter it;
	size_t i, bad = 0, n;

	ok(strindex_first(&x, "a", &it) == STRINDEX_NONE,
	    "an empty index finds nothing");
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		keys[i] = xasprintf("/srv/app/files/f%04zu.conf", i);
		strindex_add(&x, keys[i], i);
	}
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		bad += find(&x, keys[i]) != i;
	ok(bad == 0, "each of 5000 keys is found at its position, through "
	    "growth");
	ok(find(&x, "/srv/app/files/f9999.conf") == STRINDEX_NONE,
	    "a key not added is not found");
	ok(find(&x, "") == STRINDEX_NONE, "nor is the empty string");
	strindex_add(&x, keys[7], 4999);
	n = 0;
	for (i = strindex_first(&x, keys[7], &it); i != STRINDEX_NONE;
	    i = strindex_next(&x, &it))
		n += i == 7 || i == 4999;
	ok(n == 2, "a key added twice yields both positions");
	ok(x.cap >= 2 * x.n, "the index stays at most half full");
	strindex_free(&x);
	ok(x.v == NULL && x.n == 0 && x.cap == 0, "free leaves it empty");
	ok(strindex_first(&x, keys[0], &it) == STRINDEX_NONE,
	    "and usable again");
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		free(keys[i]);
	return tap_done();
}
