/*
 * util: allocation that aborts on out-of-memory, and small string helpers.
 *
 * Every x* function either succeeds or terminates the process with a
 * message, so call sites carry no NULL checks.  Returned pointers belong
 * to the caller, who frees them with free().
 */
#ifndef TEND_UTIL_H
#define TEND_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow *p (an array of *cap elements of size sz) to hold at least want. */
void xgrow(void **p, size_t *cap, size_t want, size_t sz);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);

/* Convenience for growing an array field: GROW(arr, n + 1, cap). */
#define GROW(arr, want, cap) \
	xgrow((void **)&(arr), &(cap), (want), sizeof(*(arr)))

int str_has_prefix(const char *s, const char *prefix);
int str_has_suffix(const char *s, const char *suffix);
/* How many UTF-8 characters the first n bytes of s hold. */
size_t utf8_count(const char *s, size_t n);
/* s with control bytes shown as \n, \t or \xNN: text from a manifest, a
 * repository or a host printed on its one line, unable to forge other
 * lines or drive a terminal (caller frees). */
char *str_oneline(const char *s);
/* Levenshtein distance, for "did you mean" suggestions. */
size_t str_distance(const char *a, const char *b);

/*
 * Path rules.  NULL when path is fine, else the reason it is not,
 * phrased to follow the path: "must be an absolute path ...".
 * Host paths are absolute and normalised; repository paths are relative
 * to the project root, normalised, and never leave it.
 */
const char *check_host_path(const char *path);
const char *check_repo_path(const char *path);

/* url with the credentials of an http(s) URL ("https://user:TOKEN@host")
 * replaced by "***", for logs and messages (caller frees). */
char *url_redact(const char *url);

/* The time of day in milliseconds since the epoch, for records and
 * history (durations on one host use a monotonic clock instead). */
long long wall_ms(void);

/* sha256 of data as 64 lower-case hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
