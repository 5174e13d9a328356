/*
 * Unit tests: sh_quote and sh_addf, the one way tend builds remote shell
 * text.  Each quoted word is run through real shells (dash as sh, and
 * bash when installed, in the C and a UTF-8 locale) and must come back
 * byte for byte: every byte 1..255 alone and between letters, all of
 * them in one word, the empty word, and the names a hostile repository
 * would try.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "shell.h"
#include "tap.h"

/* Run script with shell (argv[0] "sh"), its stdout into out; the exit
 * status, or -1 when it could not run. */
static int
run(const char *shell, const char *script, struct buf *out)
{
	int fds[2], status;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	buf_reset(out);
	if (pipe(fds) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(shell, "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		buf_add(out, chunk, (size_t)n);
	close(fds[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Print each of the n words through shell, one printf with each word
 * quoted as its own argument, NUL after each; with eval, the script is
 * quoted once more and eval'ed (apply's script is).  Returns how many
 * words did not come back byte for byte, naming the first.
 */
static int
round_trip(const char *shell, const char *const *words, size_t n,
    int eval)
{
	struct buf inner = BUF_INIT, script = BUF_INIT, out = BUF_INIT;
	size_t i, off = 0;
	int bad = 0;

	buf_adds(&inner, "printf '%s\\0'");
	for (i = 0; i < n; i++)
		sh_addf(&inner, " %Q", words[i]);
	if (eval)
		sh_addf(&script, "eval %Q", inner.data);
	else
		buf_adds(&script, inner.data);
	if (run(shell, script.data, &out) != 0) {
		printf("# %s: the script failed\n", shell);
		bad = (int)n;
	}
	for (i = 0; i < n && !bad; i++) {
		size_t len = strlen(words[i]);

		if (off + len >= out.len || memcmp(out.data + off, words[i],
		    len) != 0 || out.data[off + len] != '\0') {
			printf("# %s: word %zu (first byte 0x%02x) does not "
			    "come back%s\n", shell, i,
			    (unsigned char)words[i][0], eval ? " through eval" :
			    "");
			bad++;
			break;
		}
		off += len + 1;
	}
	if (!bad && off != out.len)
		bad++;
	buf_free(&inner);
	buf_free(&script);
	buf_free(&out);
	return bad;
}

static const char *const hostile[] = {
	"",
	"it's",
	"a\"b",
	"'",
	"''",
	"'\\''",
	"\\",
	"\\'",
	"$(touch /tmp/tend-t-shell-pwned)",
	"`touch /tmp/tend-t-shell-pwned`",
	"${HOME}",
	"$HOME",
	";rm -rf x",
	"a;b|c&d>e<f",
	"line1\nline2",
	"\n",
	"trailing newline\n\n",
	"-n",
	"-e",
	"--",
	"-rf /",
	"*",
	"?[a-z]",
	"~root",
	"!!",
	"#comment",
	" lead and trail ",
	"\t",
	"caf\xc3\xa9 \xe2\x9c\x93",
	"\xff\xfe raw \x80\x81",
	"%s%d%n",
};

static void
check_shell(const char *shell)
{
	char *alone[255], *between[255];
	const char *words[ARRAY_SIZE(hostile) + 1];
	const char *const *a = (const char *const *)alone;
	const char *const *b = (const char *const *)between;
	char all[256];
	const char *lc = getenv("LC_ALL");
	size_t i;
	int c;

	for (c = 1; c < 256; c++) {
		alone[c - 1] = xasprintf("%c", c);
		between[c - 1] = xasprintf("a%cb", c);
		all[c - 1] = (char)(256 - c);	/* high bytes first */
	}
	all[255] = '\0';
	ok(round_trip(shell, a, 255, 0) == 0, "%s (LC_ALL=%s): every byte "
	    "1..255 alone comes back", shell, lc);
	ok(round_trip(shell, b, 255, 0) == 0, "%s (LC_ALL=%s): every byte "
	    "1..255 between letters comes back", shell, lc);
	ok(round_trip(shell, a, 255, 1) == 0 && round_trip(shell, b, 255,
	    1) == 0, "%s (LC_ALL=%s): and through one more eval", shell, lc);
	for (i = 0; i < ARRAY_SIZE(hostile); i++)
		words[i] = hostile[i];
	words[i] = all;
	ok(round_trip(shell, words, ARRAY_SIZE(words), 0) == 0, "%s "
	    "(LC_ALL=%s): %zu hostile words and all bytes 255..1 in one word "
	    "come back", shell, lc, ARRAY_SIZE(hostile));
	ok(round_trip(shell, words, ARRAY_SIZE(words), 1) == 0, "%s "
	    "(LC_ALL=%s): and through one more eval", shell, lc);
	ok(access("/tmp/tend-t-shell-pwned", F_OK) != 0, "%s: no command "
	    "substitution ran", shell);
	for (c = 0; c < 255; c++) {
		free(alone[c]);
		free(between[c]);
	}
}

/* Several %Q arguments stay several words, each literal. */
static void
check_words(const char *shell)
{
	struct buf script = BUF_INIT, out = BUF_INIT;
	const char want[] = "[it's][][a b][-n][\n][$(id)]";

	sh_addf(&script, "printf '[%%s]' %Q %Q %Q %Q %Q %Q", "it's", "",
	    "a b", "-n", "\n", "$(id)");
	ok(run(shell, script.data, &out) == 0 && out.len == strlen(want) &&
	    memcmp(out.data, want, out.len) == 0, "%s: six %%Q arguments are "
	    "six words", shell);
	buf_free(&script);
	buf_free(&out);
}

int
main(void)
{
	static const char *const shells[] = { "/bin/sh", "/bin/bash" };
	static const char *const locales[] = { "C", "C.UTF-8" };
	struct buf b = BUF_INIT;
	size_t i, k;

	unlink("/tmp/tend-t-shell-pwned");
	sh_quote(&b, "");
	is_str(b.data, "''", "the empty string is one empty word");
	buf_reset(&b);
	sh_quote(&b, "it's");
	is_str(b.data, "'it'\\''s'", "a single quote closes, escapes, reopens");
	buf_reset(&b);
	sh_quote(&b, "-rf");
	is_str(b.data, "'-rf'", "a leading '-' is quoted like any byte "
	    "(commands take such words after --)");
	buf_reset(&b);
	sh_addf(&b, "chmod %o -- %Q %s %d %u %zu %ld %%", 0640u, "a b", "x",
	    -1, 7u, (size_t)8, 9L);
	is_str(b.data, "chmod 0640 -- 'a b' x -1 7 8 9 %", "sh_addf's "
	    "formats");
	buf_free(&b);

	for (k = 0; k < ARRAY_SIZE(locales); k++) {
		setenv("LC_ALL", locales[k], 1);
		for (i = 0; i < ARRAY_SIZE(shells); i++) {
			if (access(shells[i], X_OK) != 0) {
				ok(1, "# SKIP %s is not installed", shells[i]);
				continue;
			}
			check_shell(shells[i]);
			check_words(shells[i]);
		}
	}
	return tap_done();
}
