/*
 * ssh: one SSH session per host (libssh2), host keys always verified,
 * and commands run with stdin, stdout, stderr and an inactivity timeout.
 * Everything tend does on a host goes through here.
 */
#ifndef TEND_SSH_H
#define TEND_SSH_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct ssh_opts {
	const char *identity;		/* -i FILE; NULL: ssh-agent */
	const char *known_hosts;	/* file; NULL: ~/.ssh/known_hosts */
	long timeout_ms;		/* connect and inactivity timeout */
};

struct ssh_target {
	const char *name;		/* host name in the manifest */
	const char *address;
	int port;
	const char *user;
	const char *host_key;		/* manifest pin "TYPE BASE64" or NULL */
};

struct ssh;

/* Call once before any thread uses ssh. */
void ssh_global_init(void);

/*
 * Connect, verify the host key (pin, else known_hosts; an unknown or
 * changed key is refused), authenticate.  Returns the session or NULL
 * with err_set saying what happened and what to do.
 */
struct ssh *ssh_connect(const struct ssh_target *t, const struct ssh_opts *o);
void ssh_close(struct ssh *c);

/* A piece of a command's stdin; the pieces are sent in order, uncopied. */
struct ssh_chunk {
	const void *data;
	size_t len;
};

/*
 * Run cmd through the remote user's shell, feeding it the chunks in[0..n)
 * as stdin.  Output is collected into out and err (either may be NULL:
 * discarded), each bounded at 256 MiB.  *status gets the exit status, or
 * 128 + signal when killed.  Returns 0, or -1 with err_set when the
 * channel failed (connection dropped, timeout).
 */
int ssh_exec(struct ssh *c, const char *cmd, const struct ssh_chunk *in,
    size_t nin, struct buf *out, struct buf *err, int *status);

/*
 * A command's stdin made while it is sent, so that a large one is never
 * whole in memory: read(arg, buf, cap) puts up to cap bytes into buf and
 * returns how many (fewer than cap only at the end, 0 once it is over),
 * or -1 with err_set to abandon the command.
 */
struct ssh_input {
	ssize_t (*read)(void *arg, char *buf, size_t cap);
	void *arg;
};

/* ssh_exec with stdin from in; -1 with in's error when in fails. */
int ssh_exec_input(struct ssh *c, const char *cmd,
    const struct ssh_input *in, struct buf *out, struct buf *err,
    int *status);

/* How many exec channels this session opened (for tests and bench). */
unsigned ssh_exec_count(const struct ssh *c);

/*
 * Check a host key (type: LIBSSH2_HOSTKEY_TYPE_*) offered by address:port
 * against the known_hosts file of o, as ssh_connect does; for git remotes
 * reached over SSH.  0, or -1 with err_set saying what to do.
 */
int ssh_check_known_host(const char *address, int port, const void *key,
    size_t len, int type, const struct ssh_opts *o);

/* "SHA256:..." fingerprint of a key blob, as OpenSSH prints it. */
char *ssh_fingerprint(const unsigned char *blob, size_t len);

#endif
