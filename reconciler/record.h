/*
 * record: tend's on-host record, /var/lib/tend/<app>/state.json: the
 * commit and environment last applied, the last good commit, and every
 * resource tend manages there with what it wrote.  Written last and
 * atomically by apply; read by the probe for prune, drift and status.
 */
#ifndef TEND_RECORD_H
#define TEND_RECORD_H

#include <stddef.h>

#include "manifest.h"
#include "strindex.h"

#define RECORD_DIR "/var/lib/tend"

struct rec_res {
	enum res_kind kind;
	char *key;			/* path or name */
	char hash[65];			/* file: sha256 of the content written */
	unsigned mode;			/* directory, file */
	char *owner, *group;		/* as declared; NULL: not managed */
	char *target;			/* symlink */
	int created;			/* tend created it (else it was there) */
	int sensitive;			/* file: its content held a secret */
};

struct record {
	char *app, *env;
	char *commit;			/* last applied */
	char *last_good;		/* last commit that passed */
	char *applied_at;		/* UTC, ISO 8601 */
	char *applied_by;		/* user@machine */
	struct rec_res *res;
	size_t nres, cap;
	struct strindex idx;		/* key -> res[]; record_parse and
					 * record_add keep it */
	/* Restarts and commands an apply owed when it stopped halfway:
	 * "service:NAME.service" or "command:NAME"; the next apply does them. */
	char **owed;
	size_t nowed;
};

/* Parse state.json text from a host; NULL with err_set if malformed. */
struct record *record_parse(const char *json, size_t len);
/* The JSON text of a record (caller frees). */
char *record_encode(const struct record *r);
void record_free(struct record *r);
const struct rec_res *record_find(const struct record *r, enum res_kind kind,
    const char *key);
/* Set applied_at and applied_by to now and this user@machine. */
void record_stamp(struct record *r);
/* "2026-11-28T13:00:00Z" and "user@machine" (caller frees). */
char *record_now(void);
char *record_whoami(void);
/* Whether r owes the restart or run of "KIND:KEY". */
int record_owes(const struct record *r, const char *kind, const char *key);
void record_owe(struct record *r, const char *kind, const char *key);
/* Add a copy of res to r (strings are duplicated). */
void record_add(struct record *r, const struct rec_res *res);

#endif
