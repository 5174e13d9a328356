/* signers: ssh-keygen -Y over a commit's signature and bytes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "signers.h"

extern char **environ;

/* What ssh-keygen may print that tend keeps. */
#define MAX_OUTPUT (64 * 1024)

/* The files of one check, in a directory only this user can enter. */
struct work {
	char dir[64];
	char *sig, *data, *out;
};

static int
write_file(const char *path, const void *bytes, size_t len)
{
	const char *p = bytes;
	ssize_t w;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return err_set("%s: %s", path, strerror(errno));
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			return err_set("%s: %s", path, strerror(errno));
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd) < 0)
		return err_set("%s: %s", path, strerror(errno));
	return 0;
}

static int
work_open(struct work *w, const struct buf *sig, const struct buf *data)
{
	const char *tmp = getenv("TMPDIR");

	memset(w, 0, sizeof(*w));
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(w->dir, sizeof(w->dir), "%s/tend-sig.XXXXXX", tmp);
	if (mkdtemp(w->dir) == NULL) {
		err_set("cannot make a temporary directory in %s: %s", tmp,
		    strerror(errno));
		w->dir[0] = '\0';
		return -1;
	}
	w->sig = xasprintf("%s/sig", w->dir);
	w->data = xasprintf("%s/data", w->dir);
	w->out = xasprintf("%s/out", w->dir);
	if (write_file(w->sig, sig->data ? sig->data : "", sig->len) < 0 ||
	    write_file(w->data, data->data ? data->data : "", data->len) < 0)
		return -1;
	return 0;
}

static void
work_close(struct work *w)
{
	if (w->dir[0]) {
		unlink(w->sig);
		unlink(w->data);
		unlink(w->out);
		rmdir(w->dir);
	}
	free(w->sig);
	free(w->data);
	free(w->out);
}

/*
 * Run ssh-keygen with args (after "ssh-keygen"), stdin from in (or
 * /dev/null), stdout and stderr into out.  Returns its exit status, or
 * -1 with err_set when it could not run.
 */
static int
keygen(struct work *w, const char *const *args, const char *in,
    struct buf *out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[16], chunk[4096];
	sigset_t none, def;
	int rc, status, fd;
	ssize_t got;
	size_t n;
	pid_t pid;

	/* posix_spawn wants char *[]: copies, not casts. */
	argv[0] = xstrdup("ssh-keygen");
	for (n = 0; args[n] && n + 2 < ARRAY_SIZE(argv); n++)
		argv[n + 1] = xstrdup(args[n]);
	argv[n + 1] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, w->out,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	/* The daemon blocks signals for its signal thread and ignores
	 * SIGPIPE; ssh-keygen starts with neither. */
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&pid, "ssh-keygen", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (n = 0; argv[n]; n++)
		free(argv[n]);
	if (rc != 0)
		return err_set("cannot run ssh-keygen (it comes with "
		    "openssh-client): %s", strerror(rc));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_set("waitpid: %s", strerror(errno));
	buf_reset(out);
	if ((fd = open(w->out, O_RDONLY | O_CLOEXEC)) >= 0) {
		while ((got = read(fd, chunk, sizeof(chunk))) > 0 &&
		    out->len < MAX_OUTPUT)
			buf_add(out, chunk, (size_t)got);
		close(fd);
	}
	while (out->len && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
	if (!WIFEXITED(status))
		return err_set("ssh-keygen died (signal %d)",
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

/* The last line of ssh-keygen's output, for messages. */
static const char *
last_line(const struct buf *b)
{
	const char *nl;

	if (b->len == 0)
		return "no output";
	nl = strrchr(b->data, '\n');
	return nl ? nl + 1 : b->data;
}

/* "SHA256:..." from "Good "git" signature with ED25519 key SHA256:...". */
static char *
fingerprint(const struct buf *b)
{
	const char *k = b->data ? strstr(b->data, "key SHA256:") : NULL;

	if (k == NULL)
		return xstrdup("(unknown fingerprint)");
	k += 4;
	return xstrndup(k, strcspn(k, " \n"));
}

/* Try ssh-keygen -Y verify with principal p; 0 when it verifies. */
static int
verify_as(struct work *w, const char *allowed, const char *p,
    struct buf *out)
{
	const char *args[] = { "-Y", "verify", "-f", allowed, "-I", p, "-n",
		"git", "-s", w->sig, NULL };

	return keygen(w, args, w->data, out);
}

int
signers_check(const char *allowed, const struct buf *sig,
    const struct buf *data, char **why)
{
	const char *novalidate[] = { "-Y", "check-novalidate", "-n", "git",
		"-s", NULL, NULL };
	const char *find[] = { "-Y", "find-principals", "-f", allowed, "-s",
		NULL, NULL };
	struct buf out = BUF_INIT, principals = BUF_INIT;
	struct work w;
	char *fp = NULL, *line, *next, *item, *save;
	int rc = -1, st, fd;

	*why = NULL;
	if ((fd = open(allowed, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set("cannot read the allowed signers file %s: %s",
		    allowed, strerror(errno));
	close(fd);
	if (sig->len == 0 || !str_has_prefix(sig->data,
	    "-----BEGIN SSH SIGNATURE-----")) {
		*why = xstrdup(sig->data && strstr(sig->data,
		    "BEGIN PGP SIGNATURE") ? "it has an OpenPGP signature, "
		    "and tend checks SSH signatures only" : "it has a "
		    "signature of a kind tend does not check (not SSH)");
		return 1;
	}
	if (work_open(&w, sig, data) < 0)
		goto done;
	novalidate[5] = w.sig;
	find[5] = w.sig;
	/* First whether the signature holds at all, whoever made it. */
	if ((st = keygen(&w, novalidate, w.data, &out)) < 0)
		goto done;
	if (st != 0) {
		*why = xasprintf("its signature does not match the commit "
		    "(changed after signing?): ssh-keygen: %s",
		    last_line(&out));
		rc = 1;
		goto done;
	}
	fp = fingerprint(&out);
	if ((st = keygen(&w, find, NULL, &principals)) < 0)
		goto done;
	if (st != 0 || principals.len == 0) {
		*why = xasprintf("it is signed by key %s, which is not in %s",
		    fp, allowed);
		rc = 1;
		goto done;
	}
	/* A line of the file may name several principals, "a,b". */
	for (line = principals.data; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		if ((st = verify_as(&w, allowed, line, &out)) < 0)
			goto done;
		if (st == 0) {
			rc = 0;
			goto done;
		}
		for (item = strtok_r(line, ",", &save); item;
		    item = strtok_r(NULL, ",", &save)) {
			if ((st = verify_as(&w, allowed, item, &out)) < 0)
				goto done;
			if (st == 0) {
				rc = 0;
				goto done;
			}
		}
	}
	*why = xasprintf("key %s is in %s but may not sign this commit "
	    "(namespaces, validity): ssh-keygen: %s", fp, allowed,
	    last_line(&out));
	rc = 1;
done:
	work_close(&w);
	free(fp);
	buf_free(&out);
	buf_free(&principals);
	return rc;
}
