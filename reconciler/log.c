/* log: stderr logging, the thread-local error message, colour. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int level = LOG_NORMAL;
static int use_color;
static __thread char *last_error;

void
log_init(int lvl)
{
	level = lvl;
}

int
log_level(void)
{
	return level;
}

/* One event, one line: a name with a newline or an escape sequence in it
 * (from a manifest, a repository, a host) is shown escaped, so it cannot
 * forge another log line or drive the terminal. */
static void
vlog(const char *prefix, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char *msg = xvasprintf(fmt, ap), *line = str_oneline(msg);

	fputs("tend: ", stderr);
	if (prefix)
		fputs(prefix, stderr);
	fputs(line, stderr);
	free(line);
	free(msg);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog(NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog(NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("BUG: ", 0, fmt, ap);
	va_end(ap);
	abort();
}

int
err_set(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(last_error);
	last_error = msg;
	return -1;
}

void
err_clear(void)
{
	free(last_error);
	last_error = NULL;
}

const char *
err_msg(void)
{
	return last_error ? last_error : "";
}

void
color_init(int fd, int disabled)
{
	const char *nc = getenv("NO_COLOR");

	use_color = !disabled && isatty(fd) && !(nc && *nc);
}

const char *
color(const char *code)
{
	return use_color ? code : "";
}
