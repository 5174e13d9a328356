/*
 * apply: carry out a host's plan in one remote command.  Everything the
 * host needs travels in one stream: a script, then the bytes of every
 * changed file, then the new record.  The script takes the on-host lock,
 * writes each file beside its target, checks that the whole stream
 * arrived, and only then renames files into place, makes directories and
 * links, removes what is to go, and writes the record last.  A dropped
 * connection before that point changes nothing; after it, each file is
 * either old or new, never partial, and the next apply converges.
 */
#ifndef TEND_APPLY_H
#define TEND_APPLY_H

#include "plan.h"
#include "ssh.h"

struct apply_result {
	int locked;			/* another tend holds the lock */
	char **kept;			/* directories not removed: not empty */
	size_t nkept;
	char *output;			/* a failed step's output (its end) */
	int ran;			/* an unless-command ran */
};

/* What follows the script on the remote shell's stdin: file contents
 * (borrowed from the desired state), the record, the end marker. */
struct payload {
	struct ssh_chunk *v;
	size_t n, cap;
	char *owned[4];			/* records, managed.sh, end marker */
	struct buf *blobs;		/* release files read from the commit */
	size_t nblobs;
};

/* Build the script and payload for plan p; release files are read from
 * files.  rec is the record written last; pending (may be NULL) is written
 * before anything changes, so a failure halfway leaves a record naming
 * everything this apply may have created.  -1 with err_set when a file
 * cannot be read. */
int apply_script(struct buf *script, struct payload *payload,
    const struct host_plan *p, const char *app, const struct record *rec,
    const struct record *pending, const char *holder, const char *nonce,
    const struct files *files);
void payload_free(struct payload *pl);

/*
 * Apply p on session c and write the record for commit.  Returns 0, or -1
 * with err_set (res->locked tells a held lock apart).
 */
int apply_run(struct ssh *c, const struct host_plan *p,
    const struct desired *d, const struct observed *o, const char *app,
    const char *commit, const char *last_good, const struct files *files,
    struct apply_result *res);
void apply_result_free(struct apply_result *r);

/* "user@machine (pid N) at TIME": who holds the lock while tend applies. */
char *apply_holder(const char *what);

#endif
