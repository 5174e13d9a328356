/*
 * log: messages to stderr, one event a line, and the one error API.
 *
 * log_warn() appends strerror(errno), log_warnx() does not; fatal() and
 * fatalx() likewise, then exit(1).  Only main and the daemon loop call
 * fatal*.
 *
 * Library-style code reports failure as `return err_set("...")`: it keeps
 * the message (thread-local) and returns -1; the caller that decides to
 * give up prints err_msg().
 */
#ifndef TEND_LOG_H
#define TEND_LOG_H

#include "util.h"

enum log_level { LOG_QUIET = -1, LOG_NORMAL = 0, LOG_VERBOSE = 1 };

void log_init(int level);
int log_level(void);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void fatalx(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* An impossible state: a bug in tend, not in the input. */
NORETURN void bug(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Set the thread's last error message; always returns -1. */
int err_set(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* The thread's last error message, "" if none; valid until the next set. */
const char *err_msg(void);
/* Forget the thread's message; a thread calls this before it ends. */
void err_clear(void);

/* Colour: on only for a TTY, never with NO_COLOR or --no-color. */
void color_init(int fd, int disabled);
const char *color(const char *code);

#endif
