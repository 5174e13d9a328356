/* Unit tests: what report infers from remote URLs, and how it cuts
 * descriptions to the forges' limit. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "tap.h"
#include "util.h"

static void
repo_is(const char *url, const char *host, const char *want)
{
	char *got = report_repo_on(url, host);

	if (want == NULL)
		ok(got == NULL, "%s is not on %s", url, host);
	else
		is_str(got ? got : "(null)", want, "%s on %s", url, host);
	free(got);
}

int
main(void)
{
	char long_detail[400], *s, *t;

	repo_is("git@github.com:team/app.git", "github.com", "team/app");
	repo_is("https://github.com/team/app", "github.com", "team/app");
	repo_is("https://github.com/team/app.git/", "github.com", "team/app");
	repo_is("ssh://git@github.com/team/app.git", "github.com", "team/app");
	repo_is("ssh://git@github.com:22/team/app.git", "github.com",
	    "team/app");
	repo_is("https://gitlab.com/group/sub/app.git", "gitlab.com",
	    "group/sub/app");
	repo_is("git@gitlab.com:group/app.git", "gitlab.com", "group/app");
	repo_is("https://github.com.evil.example/team/app", "github.com", NULL);
	repo_is("git@gitea.example.com:team/app.git", "github.com", NULL);
	repo_is("/srv/git/app.git", "github.com", NULL);
	repo_is("https://github.com/team", "github.com", NULL);

	s = report_shorten("Deployed to 3/3 hosts in 4.2s");
	is_str(s, "Deployed to 3/3 hosts in 4.2s", "short text is kept");
	free(s);
	memset(long_detail, 'x', sizeof(long_detail) - 1);
	long_detail[sizeof(long_detail) - 1] = '\0';
	t = xasprintf("web2: health check 'web' failed: %s; rolled back to "
	    "1a2b3c4", long_detail);
	s = report_shorten(t);
	ok(utf8_count(s, strlen(s)) <= STATUS_MAX_DESC,
	    "a long description fits in %d characters", STATUS_MAX_DESC);
	ok(str_has_suffix(s, "...; rolled back to 1a2b3c4"),
	    "the last clause survives the cut: %s", s);
	ok(str_has_prefix(s, "web2: health check 'web' failed: xxx"),
	    "the start is kept");
	free(s);
	free(t);
	t = xasprintf("%s é", long_detail);
	s = report_shorten(t);
	ok(utf8_count(s, strlen(s)) <= STATUS_MAX_DESC &&
	    str_has_suffix(s, "..."), "text without a clause is cut with ...");
	free(s);
	free(t);
	s = report_shorten("ééééééééééééééééééééééééééééééééééééééééééééééé"
	    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"
	    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééé");
	ok(utf8_count(s, strlen(s)) == STATUS_MAX_DESC,
	    "characters are counted, not bytes");
	ok(((unsigned char)s[strlen(s) - 4] & 0xc0) != 0xc0,
	    "no character is cut in half");
	free(s);
	return tap_done();
}
