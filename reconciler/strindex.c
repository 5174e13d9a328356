/* strindex: open addressing over 64-bit FNV-1a hashes, linear probing. */
#include <stdlib.h>
#include <string.h>

#include "strindex.h"
#include "util.h"

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
put(struct strindex_slot *v, size_t cap, uint64_t hash, size_t pos1)
{
	size_t i = (size_t)hash & (cap - 1);

	while (v[i].pos)
		i = (i + 1) & (cap - 1);
	v[i].hash = hash;
	v[i].pos = pos1;
}

void
strindex_add(struct strindex *x, const char *key, size_t pos)
{
	/* At most half full, so probe runs stay short. */
	if ((x->n + 1) * 2 > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64, i;
		struct strindex_slot *v = xcalloc(cap, sizeof(*v));

		for (i = 0; i < x->cap; i++)
			if (x->v[i].pos)
				put(v, cap, x->v[i].hash, x->v[i].pos);
		free(x->v);
		x->v = v;
		x->cap = cap;
	}
	put(x->v, x->cap, hash_str(key), pos + 1);
	x->n++;
}

size_t
strindex_next(const struct strindex *x, struct strindex_iter *it)
{
	while (x->cap && x->v[it->i].pos) {
		const struct strindex_slot *s = &x->v[it->i];

		it->i = (it->i + 1) & (x->cap - 1);
		if (s->hash == it->hash)
			return s->pos - 1;
	}
	return STRINDEX_NONE;
}

size_t
strindex_first(const struct strindex *x, const char *key,
    struct strindex_iter *it)
{
	it->hash = hash_str(key);
	it->i = x->cap ? (size_t)it->hash & (x->cap - 1) : 0;
	return strindex_next(x, it);
}

void
strindex_free(struct strindex *x)
{
	free(x->v);
	memset(x, 0, sizeof(*x));
}
