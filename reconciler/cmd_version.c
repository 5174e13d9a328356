/* cmd_version: `tend version`, what this binary is and what it links. */
#include <stdio.h>

#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <libssh2.h>
#include <microhttpd.h>
#include <sqlite3.h>
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
	printf("libgit2 %d.%d.%d, libssh2 %s, libyaml %s, libcurl %s,\n",
	    major, minor, rev, libssh2_version(0), yaml_get_version_string(),
	    curl_version_info(CURLVERSION_NOW)->version);
	printf("sqlite %s, libmicrohttpd %s, jansson %s\n", sqlite3_libversion(),
	    MHD_get_version(), jansson_version_str());
	return 0;
}
