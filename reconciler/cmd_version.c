/* cmd_version: `tend version`, what this binary is and what it links. */
#include <stdio.h>

#include <git2.h>
#include <libssh2.h>
#include <yaml.h>

#include "cmd.h"

#ifndef TEND_VERSION
#define TEND_VERSION "0.0.0-dev"
#endif

int
cmd_version(const struct cmd_entry *self, int argc, char **argv)
{
	int major, minor, rev;

	(void)self;
	(void)argc;
	(void)argv;
	git_libgit2_version(&major, &minor, &rev);
	printf("tend %s\n", TEND_VERSION);
	printf("libgit2 %d.%d.%d, libssh2 %s, libyaml %s\n", major, minor, rev,
	    libssh2_version(0), yaml_get_version_string());
	return 0;
}
