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

/* A piece of what follows the script: bytes, or a member of the tar
 * stream of new files, whose header is made and whose content is read
 * from the commit only when it is sent. */
struct piece {
	const char *data;		/* bytes or content (borrowed); NULL
					 * with source: read when sent */
	size_t len;			/* bytes, or the content's size */
	char *name;			/* tar member: its path; NULL: bytes */
	char type;			/* tar member: '0' file, '2' link */
	unsigned mode;			/* tar member: permission bits */
	char *link;			/* link member: its target */
	char *source;			/* file member: repository path */
	char *own;			/* data, when the payload owns it */
};

/* What follows the script on the remote shell's stdin: the tar stream of
 * new files and releases, the records, the end marker.  Read it with
 * payload_read; it holds one member's bytes at a time. */
struct payload {
	struct piece *v;
	size_t n, cap;
	char *owned[4];			/* records, managed.sh, end marker */
	const struct files *files;	/* where members' sources are read */
	long mtime;			/* tar members' time */
	/* Where reading is: piece k is out up to its part ipart, off. */
	size_t k;
	struct ssh_chunk part[3];	/* header, content, padding */
	size_t npart, ipart, off;
	struct buf head, body;
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
/* The next up to cap bytes of the payload (an ssh_input reader): fewer
 * only at its end, 0 after; -1 with err_set when a file cannot be read
 * or is not the size the script announced. */
ssize_t payload_read(void *pl, char *buf, size_t cap);
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
