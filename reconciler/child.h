/*
 * child: work the daemon hands to a fresh process of tend itself (the
 * hidden `tend _git` command): libgit2's fetches and pushes, which keep
 * caches, leak a little over SSH and have no timeout.  A new process
 * (spawned, not merely forked: a fork of a threaded process may inherit
 * a lock some other thread held) takes all of that with it, and is
 * killed when it outlives its time or tend is asked to stop.
 */
#ifndef TEND_CHILD_H
#define TEND_CHILD_H

/*
 * Run `tend ARGV...` and wait at most timeout_ms (while *stop, when
 * given, stays 0).  Returns 0 when it exited 0; else -1 with err_set
 * holding what it wrote to stderr (its last line), or why it was killed.
 */
int child_run(const char *const *argv, long timeout_ms,
    const volatile int *stop);

#endif
