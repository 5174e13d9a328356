/*
 * cmd_git: `tend _git`, not for people: the daemon runs it as a child
 * (child.c) to fetch into its repository cache and to write and push git
 * notes, so libgit2 never runs inside the long-lived process.
 *
 *	tend _git fetch GITDIR URL IDENTITY KNOWN_HOSTS pulls|-
 *	tend _git note GITDIR SHA CONTEXT LINE PUSH_URL IDENTITY KNOWN_HOSTS
 *
 * "-" stands for an absent IDENTITY (ssh-agent), KNOWN_HOSTS (the
 * default) or PUSH_URL (keep the note local).  The last line on stderr
 * is the error; the exit status says whether it worked.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "gitsrc.h"
#include "log.h"

static const char *
opt(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : s;
}

int
cmd_git(const struct cmd_entry *self, int argc, char **argv)
{
	struct ssh_opts ssh;
	int rc;

	(void)self;
	memset(&ssh, 0, sizeof(ssh));
	if (argc == 7 && strcmp(argv[1], "fetch") == 0) {
		ssh.identity = opt(argv[4]);
		ssh.known_hosts = opt(argv[5]);
		rc = gitsrc_fetch(argv[2], argv[3], &ssh,
		    strcmp(argv[6], "pulls") == 0);
	} else if (argc == 9 && strcmp(argv[1], "note") == 0) {
		ssh.identity = opt(argv[7]);
		ssh.known_hosts = opt(argv[8]);
		rc = gitsrc_note(argv[2], argv[3], argv[4], argv[5]);
		if (rc == 0 && opt(argv[6]))
			rc = gitsrc_push_notes(argv[2], argv[6], &ssh);
	} else {
		fprintf(stderr, "tend _git: for tend's own use\n");
		return 2;
	}
	if (rc < 0)
		fprintf(stderr, "%s\n", err_msg());
	fflush(stderr);
	/* _exit: what libgit2 leaves allocated ends with this process, by
	 * design, without a leak report from the sanitizer build. */
	_exit(rc < 0 ? 1 : 0);
}
