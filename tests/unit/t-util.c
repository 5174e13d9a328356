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
	return tap_done();
}
