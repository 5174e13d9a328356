/* child: spawn tend itself, collect its stderr, enforce a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "log.h"

extern char **environ;

int
child_run(const char *const *argv, long timeout_ms, const volatile int *stop)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct buf msg = BUF_INIT;
	struct pollfd pfd;
	const char *why = NULL;
	char chunk[512], **args;
	long waited = 0;
	int fds[2], status = 0, rc, done = 0;
	size_t n, i;
	sigset_t none;
	pid_t pid;
	ssize_t got;

	for (n = 0; argv[n]; n++)
		;
	args = xcalloc(n + 2, sizeof(*args));
	args[0] = xstrdup("tend");
	for (i = 0; i < n; i++)
		args[i + 1] = xstrdup(argv[i]);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(args);
		return err_set("pipe: %s", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawnattr_init(&attr);
	/* The daemon blocks its signals for its signal thread; the child
	 * starts with none blocked, so it can be stopped. */
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (i = 0; i <= n; i++)
		free(args[i]);
	free(args);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return err_set("cannot start tend: %s", strerror(rc));
	}
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (!done) {
		int r = poll(&pfd, 1, 200);

		if (r > 0) {
			got = read(fds[0], chunk, sizeof(chunk));
			if (got > 0 && msg.len < 8192)
				buf_add(&msg, chunk, (size_t)got);
			else if (got <= 0)
				done = 1;
			continue;
		}
		if (r < 0 && errno != EINTR)
			break;
		waited += 200;
		if ((stop && *stop) || waited >= timeout_ms) {
			kill(pid, SIGKILL);
			why = stop && *stop ? "stopped: tend is stopping" :
			    "no answer in time";
			done = 1;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (why == NULL && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		buf_free(&msg);
		return 0;
	}
	/* The last line it wrote is the error. */
	while (msg.len && msg.data[msg.len - 1] == '\n')
		msg.data[--msg.len] = '\0';
	if (why)
		rc = err_set("%s (after %lds)", why, waited / 1000);
	else if (msg.len)
		rc = err_set("%s", strrchr(msg.data, '\n') ?
		    strrchr(msg.data, '\n') + 1 : msg.data);
	else
		rc = err_set("tend _git %s died (status %d)", argv[0], status);
	buf_free(&msg);
	return rc;
}
