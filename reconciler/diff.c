/*
 * diff: a line diff by longest common subsequence over the part of the
 * two texts that differs (common leading and trailing lines are cut
 * first, which for a config edit leaves a few lines), bounded in size.
 */
#include <stdlib.h>
#include <string.h>

#include "diff.h"

#define DIFF_MAX_CELLS (1000u * 1000u)
#define CONTEXT 3

struct lines {
	const char **s;
	size_t *len;
	size_t n;
};

int
diff_is_text(const char *data, size_t len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0, k, n;

	while (i < len) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = s[i] >= 0xf0 ? 3 : s[i] >= 0xe0 ? 2 : s[i] >= 0xc2 ? 1 : 0;
		if (n == 0 || s[i] > 0xf4 || i + n >= len)
			return 0;
		for (k = 1; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += n + 1;
	}
	return 1;
}

static void
split(struct lines *l, const char *s, size_t len)
{
	size_t i, start = 0, cap = 0;

	l->s = NULL;
	l->len = NULL;
	l->n = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i == len && start == len)
			break;		/* no empty line after a final \n */
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			l->s = xrealloc(l->s, cap * sizeof(*l->s));
			l->len = xrealloc(l->len, cap * sizeof(*l->len));
		}
		l->s[l->n] = s + start;
		l->len[l->n] = i - start;
		l->n++;
		start = i + 1;
	}
}

static int
same(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] &&
	    memcmp(a->s[i], b->s[j], a->len[i]) == 0;
}

/* One line of the edit script: ' ', '-' or '+', and the line. */
struct edit {
	char op;
	const char *s;
	size_t len;
	size_t ai, bi;			/* line numbers before it, 0-based */
};

static void
emit_line(struct buf *out, const char *indent, char op, const char *s,
    size_t len)
{
	buf_adds(out, indent);
	buf_addch(out, op);
	buf_add(out, s, len);
	buf_addch(out, '\n');
}

int
diff_unified(struct buf *out, const char *old, size_t oldlen,
    const char *new, size_t newlen, const char *indent)
{
	struct lines a, b;
	size_t pre = 0, suf = 0, n, m, i, j, ne = 0, k;
	unsigned *t = NULL;
	struct edit *e;
	int rc = -1;

	split(&a, old, oldlen);
	split(&b, new, newlen);
	while (pre < a.n && pre < b.n && same(&a, pre, &b, pre))
		pre++;
	while (suf < a.n - pre && suf < b.n - pre &&
	    same(&a, a.n - 1 - suf, &b, b.n - 1 - suf))
		suf++;
	n = a.n - pre - suf;
	m = b.n - pre - suf;
	if ((n + 1) * (m + 1) > DIFF_MAX_CELLS)
		goto done;
	/* t[i][j]: LCS length of a[pre+i..] and b[pre+j..] */
	t = xcalloc((n + 1) * (m + 1), sizeof(*t));
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;)
			t[i * (m + 1) + j] = same(&a, pre + i, &b, pre + j) ?
			    t[(i + 1) * (m + 1) + j + 1] + 1 :
			    (t[(i + 1) * (m + 1) + j] > t[i * (m + 1) + j + 1] ?
			    t[(i + 1) * (m + 1) + j] : t[i * (m + 1) + j + 1]);
	e = xcalloc(a.n + b.n + 1, sizeof(*e));
	for (i = 0; i < pre; i++)
		e[ne++] = (struct edit){ ' ', a.s[i], a.len[i], i, i };
	i = j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && same(&a, pre + i, &b, pre + j)) {
			e[ne++] = (struct edit){ ' ', a.s[pre + i],
			    a.len[pre + i], pre + i, pre + j };
			i++, j++;
		} else if (i < n && (j == m || t[(i + 1) * (m + 1) + j] >=
		    t[i * (m + 1) + j + 1])) {
			/* Removals before additions, as diff -u shows them. */
			e[ne++] = (struct edit){ '-', a.s[pre + i],
			    a.len[pre + i], pre + i, pre + j };
			i++;
		} else {
			e[ne++] = (struct edit){ '+', b.s[pre + j],
			    b.len[pre + j], pre + i, pre + j };
			j++;
		}
	}
	for (k = 0; k < suf; k++)
		e[ne++] = (struct edit){ ' ', a.s[pre + n + k],
		    a.len[pre + n + k], pre + n + k, pre + m + k };
	/* Hunks: changes with up to CONTEXT lines around them. */
	for (k = 0; k < ne;) {
		size_t start, end, x, da = 0, db = 0, last;

		if (e[k].op == ' ') {
			k++;
			continue;
		}
		start = k > CONTEXT ? k - CONTEXT : 0;
		last = k;
		for (end = k; end < ne; end++) {
			if (e[end].op != ' ')
				last = end;
			else if (end - last > 2 * CONTEXT)
				break;
		}
		end = last + CONTEXT + 1 < ne ? last + CONTEXT + 1 : ne;
		for (x = start; x < end; x++) {
			da += e[x].op != '+';
			db += e[x].op != '-';
		}
		buf_addf(out, "%s@@ -%zu,%zu +%zu,%zu @@\n", indent,
		    e[start].ai + (da > 0), da, e[start].bi + (db > 0), db);
		for (x = start; x < end; x++)
			emit_line(out, indent, e[x].op, e[x].s, e[x].len);
		k = end;
	}
	free(e);
	rc = 0;
done:
	free(t);
	free(a.s);
	free(a.len);
	free(b.s);
	free(b.len);
	return rc;
}
