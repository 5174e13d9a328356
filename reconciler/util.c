/* util: aborting allocation wrappers and string helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "util.h"

NORETURN static void
oom(size_t n)
{
	fprintf(stderr, "tend: fatal: out of memory (allocating %zu bytes)\n",
	    n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

void
xgrow(void **p, size_t *cap, size_t want, size_t sz)
{
	size_t ncap;

	if (want <= *cap)
		return;
	ncap = *cap ? *cap : 8;
	while (ncap < want) {
		if (ncap > ((size_t)-1) / 2 / sz)
			oom(want * sz);
		ncap *= 2;
	}
	*p = xrealloc(*p, ncap * sz);
	*cap = ncap;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	char *p;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		oom(0);
	p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

int
str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

size_t
utf8_count(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

size_t
str_distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), i, j, *row, d;

	row = xmalloc((m + 1) * sizeof(*row));
	for (j = 0; j <= m; j++)
		row[j] = j;
	for (i = 1; i <= n; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= m; j++) {
			size_t up = row[j], best;

			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	d = row[m];
	free(row);
	return d;
}

void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0, i;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

const char *
check_host_path(const char *p)
{
	const char *s;

	if (*p != '/')
		return "must be an absolute path (starting with '/')";
	if (strcmp(p, "/") == 0)
		return "is the root directory, which tend does not manage";
	for (s = p; *s; ) {
		size_t len;

		s++;	/* past '/' */
		len = strcspn(s, "/");
		if (len == 0 || (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return "must be normalised (no '//', '.' or '..' "
			    "components, no trailing '/')";
		s += len;
	}
	return NULL;
}

char *
str_oneline(const char *s)
{
	size_t n = 1;
	const char *p;
	char *out, *o;

	for (p = s; *p; p++)
		n += (unsigned char)*p < 0x20 || *p == 0x7f ? 4 : 1;
	o = out = xmalloc(n);
	for (p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '\n' || ch == '\t') {
			*o++ = '\\';
			*o++ = ch == '\n' ? 'n' : 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(o, 5, "\\x%02x", ch);
			o += 4;
		} else {
			*o++ = (char)ch;
		}
	}
	*o = '\0';
	return out;
}

const char *
check_repo_path(const char *p)
{
	const char *s = p;

	if (*p == '\0')
		return "is empty";
	if (*p == '/')
		return "must be relative to the project root, not absolute";
	for (;;) {
		size_t len = strcspn(s, "/");

		if (len == 2 && s[0] == '.' && s[1] == '.')
			return "leaves the project root ('..' is not allowed)";
		if (len == 0 || (len == 1 && s[0] == '.'))
			return "must be normalised (no '//' or '.' "
			    "components, no trailing '/')";
		/* git's own files: never in a commit, and not what to
		 * deploy from a work tree either (in any case: ".GIT"). */
		if (len == 4 && strncasecmp(s, ".git", 4) == 0)
			return "names git's own directory (.git), which is no "
			    "part of the project";
		s += len;
		if (*s == '\0')
			break;
		s++;
	}
	return NULL;
}

char *
url_redact(const char *url)
{
	const char *scheme = strstr(url, "://"), *host, *at;

	if (scheme == NULL || (!str_has_prefix(url, "http://") &&
	    !str_has_prefix(url, "https://")))
		return xstrdup(url);
	host = scheme + 3;
	at = memchr(host, '@', strcspn(host, "/"));
	if (at == NULL)
		return xstrdup(url);
	return xasprintf("%.*s***%s", (int)(host - url), url, at);
}

long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
