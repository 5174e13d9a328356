/*
 * signers: a commit's SSH signature checked against an OpenSSH
 * allowed-signers file, the way git checks it with gpg.format=ssh:
 * ssh-keygen -Y find-principals names the principals of the signing key
 * in the file, and ssh-keygen -Y verify with one of them (namespace git)
 * checks the signature over the commit's bytes.  ssh-keygen runs
 * without a shell, its files in a private temporary directory.
 */
#ifndef TEND_SIGNERS_H
#define TEND_SIGNERS_H

#include "buf.h"

/*
 * Check sig (the commit's gpgsig header) over data (the commit without
 * it) against the allowed-signers file allowed.  Returns 0 when a
 * principal of the file signed it; 1 when not, with *why saying why for
 * people ("it is signed by key SHA256:..., which is not in FILE"; caller
 * frees); -1 with err_set when the check could not be made (ssh-keygen
 * missing, the file unreadable).
 */
int signers_check(const char *allowed, const struct buf *sig,
    const struct buf *data, char **why);

#endif
