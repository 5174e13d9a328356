/*
 * strindex: a hash index from strings to positions in an array that the
 * caller owns, so that finding a path among thousands costs one probe,
 * not a scan.  The index holds no keys, only their hashes: a lookup
 * yields the positions whose key hashes alike, and the caller compares
 * its own key at each.
 *
 *	struct strindex x = STRINDEX_INIT;
 *	strindex_add(&x, v[i].path, i);
 *	for (i = strindex_first(&x, path, &it); i != STRINDEX_NONE;
 *	    i = strindex_next(&x, &it))
 *		if (strcmp(v[i].path, path) == 0)
 *			return &v[i];
 *	strindex_free(&x);
 */
#ifndef TEND_STRINDEX_H
#define TEND_STRINDEX_H

#include <stddef.h>
#include <stdint.h>

#define STRINDEX_NONE ((size_t)-1)

struct strindex_slot {
	uint64_t hash;
	size_t pos;			/* position + 1; 0: empty */
};

struct strindex {
	struct strindex_slot *v;	/* cap slots, a power of two */
	size_t cap;
	size_t n;			/* positions added */
};

struct strindex_iter {
	uint64_t hash;
	size_t i;
};

#define STRINDEX_INIT { NULL, 0, 0 }

/* Record that key is at pos; one key may be at several positions. */
void strindex_add(struct strindex *x, const char *key, size_t pos);
/* The first position whose key may be key, or STRINDEX_NONE. */
size_t strindex_first(const struct strindex *x, const char *key,
    struct strindex_iter *it);
/* The next such position, or STRINDEX_NONE. */
size_t strindex_next(const struct strindex *x, struct strindex_iter *it);
void strindex_free(struct strindex *x);

#endif
