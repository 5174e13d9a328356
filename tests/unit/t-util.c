/* Unit tests: buf and the string helpers in util. */
#include <stdarg.h>
#include <stdlib.h>

#include "buf.h"
#include "tap.h"
#include "util.h"

int
main(void)
{
	struct buf b = BUF_INIT;
	char *p;
	size_t len;
	int i;

	is_str(buf_str(&b), "", "an empty buffer reads as an empty string");
	buf_adds(&b, "abc");
	buf_addch(&b, '-');
	buf_addf(&b, "%d:%s", 42, "x");
	is_str(b.data, "abc-42:x", "add, addch and addf append in order");
	is_int(b.len, 8, "length counts the bytes added");
	for (i = 0; i < 10000; i++)
		buf_addch(&b, 'z');
	is_int(b.len, 10008, "the buffer grows past its first capacity");
	ok(b.data[b.len] == '\0', "the data stays NUL-terminated");
	buf_add(&b, "\0bin", 4);
	is_int(b.len, 10012, "binary data with NUL bytes is kept whole");
	p = buf_detach(&b, &len);
	is_int(len, 10012, "detach hands over the length");
	ok(b.data == NULL && b.len == 0, "detach leaves the buffer empty");
	free(p);
	/* Found by fuzzing: "" came back unterminated. */
	p = buf_detach(&b, &len);
	ok(p && len == 0 && strcmp(p, "") == 0, "detaching an empty buffer "
	    "gives an empty string");
	free(p);
	buf_reset(&b);
	buf_free(&b);

	is_int(str_distance("mdoe", "mode"), 2, "a swap costs two edits");
	is_int(str_distance("adress", "address"), 1, "a missing letter: one");
	is_int(str_distance("", "abc"), 3, "from nothing: one per letter");
	ok(str_has_prefix("deploy/x", "deploy/"), "prefix matches");
	ok(!str_has_suffix("a.yml", ".yaml"), "suffix does not match");
	p = xasprintf("%s-%03d", "r", 7);
	is_str(p, "r-007", "xasprintf formats");
	free(p);
	p = url_redact("https://user:TOKEN@git.example.com/team/app.git");
	is_str(p, "https://***@git.example.com/team/app.git",
	    "url_redact hides the credentials of an https URL");
	free(p);
	p = url_redact("https://git.example.com/a@b");
	is_str(p, "https://git.example.com/a@b", "an @ in the path is no credential");
	free(p);
	p = url_redact("ssh://git@git.example.com/team/app.git");
	is_str(p, "ssh://git@git.example.com/team/app.git",
	    "an ssh user is no secret and stays");
	free(p);

	{
		/* Repository paths: relative, normalised, inside the root,
		 * never through git's own directory. */
		static const char *const bad[] = {
			"", "/etc/passwd", "..", "../x", "deploy/../../x",
			"deploy/..", "./deploy/x", "deploy/./x", "deploy//x",
			"deploy/", ".git/config", "deploy/.git/hooks/x",
			".GIT/config", "a/.Git", "//x",
		};
		static const char *const good[] = {
			"deploy/x", "a", "..a", "a..", "a/...", ".gitignore",
			"deploy/.github/x", "it's $(x) `y`/-rf", "-n",
			"caf\xc3\xa9/\xff\xfe", "new\nline",
		};
		size_t k;
		int n = 0;

		for (k = 0; k < ARRAY_SIZE(bad); k++)
			if (check_repo_path(bad[k]) == NULL) {
				printf("# accepted: '%s'\n", bad[k]);
				n++;
			}
		ok(n == 0, "check_repo_path refuses absolute, '..', '.', "
		    "'//', trailing '/' and .git in any case (%zu paths)",
		    ARRAY_SIZE(bad));
		for (k = n = 0; k < ARRAY_SIZE(good); k++)
			if (check_repo_path(good[k]) != NULL) {
				printf("# refused: '%s': %s\n", good[k],
				    check_repo_path(good[k]));
				n++;
			}
		ok(n == 0, "and takes any other name, dots, quotes, leading "
		    "'-' and raw bytes too (%zu paths)", ARRAY_SIZE(good));
		is_str(check_repo_path("a/../../etc"), "leaves the project "
		    "root ('..' is not allowed)", "'..' is named as leaving "
		    "the root");
		is_str(check_repo_path(".GIT/config"), "names git's own "
		    "directory (.git), which is no part of the project",
		    "'.GIT' is git's directory on a file system that ignores "
		    "case");
	}
	p = str_oneline("a\nb\tc\x1b[2J\x7f\xc3\xa9 \\n");
	is_str(p, "a\\nb\\tc\\x1b[2J\\x7f\xc3\xa9 \\n", "str_oneline "
	    "escapes control bytes, keeps UTF-8 and everything else");
	free(p);
	return tap_done();
}
