/*
 * secrets: values that never live in git.  ${secret.NAME} in a file's
 * content is the content of the file NAME in the directory given with
 * --secrets, on the controller.
 *
 * Names are letters, digits, '_', '.' and '-', starting with a letter,
 * digit or '_', at most 128 bytes: no '/', so a name never leaves the
 * directory, and files are opened without following symbolic links.  A
 * value is the whole file with one trailing newline dropped ("\n" or
 * "\r\n"), so `echo hunter2 >db_password` gives "hunter2".  Each value is
 * read once per secrets_open and kept until secrets_free.
 *
 * A directory or file that group or others may access costs a warning,
 * once per path for the life of the process.
 */
#ifndef TEND_SECRETS_H
#define TEND_SECRETS_H

#include <stddef.h>

#include "buf.h"

/* A secret file larger than this is refused. */
#define SECRET_MAX_SIZE (1024 * 1024)

/* How render reaches secrets: a lookup by name, so render stays pure. */
struct secret_source {
	void *ctx;
	/* 0 with *value borrowed from the source, or -1 with err_set
	 * naming the secret (never its value). */
	int (*get)(void *ctx, const char *name, const struct buf **value);
};

struct secrets;

/* Open the secrets directory dir.  NULL with err_set when it is not a
 * directory that can be read.  Free with secrets_free. */
struct secrets *secrets_open(const char *dir);
void secrets_free(struct secrets *s);
/* The lookup render uses; it lives as long as s. */
const struct secret_source *secrets_source(struct secrets *s);
/* Whether the len bytes at name are a valid secret name. */
int secrets_valid_name(const char *name, size_t len);

#endif
