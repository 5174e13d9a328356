/* secrets: the --secrets directory, read by name, values kept in memory. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secrets.h"

struct secret {
	char *name;
	struct buf value;
};

struct secrets {
	char *dir;
	int fd;				/* the directory, O_PATH-like */
	struct secret *v;
	size_t n, cap;
	struct secret_source src;
};

/* Paths already warned about: once per path for the whole process, so
 * the daemon, which opens the directory every pass, says it once. */
static pthread_mutex_t warned_mu = PTHREAD_MUTEX_INITIALIZER;
static char **warned;
static size_t nwarned, warned_cap;

static void
warn_open_mode(const char *path, mode_t mode, int isdir)
{
	size_t i;

	if ((mode & 077) == 0)
		return;
	pthread_mutex_lock(&warned_mu);
	for (i = 0; i < nwarned; i++)
		if (strcmp(warned[i], path) == 0)
			break;
	if (i == nwarned) {
		GROW(warned, nwarned + 1, warned_cap);
		warned[nwarned++] = xstrdup(path);
		log_warnx("the secrets %s %s is open to group or "
		    "others (mode %04o): chmod %s %s", isdir ? "directory" :
		    "file", path, (unsigned)(mode & 07777), isdir ? "700" :
		    "600", path);
	}
	pthread_mutex_unlock(&warned_mu);
}

int
secrets_valid_name(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > 128)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = name[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_')
			continue;
		/* No leading '.' or '-': no "..", no hidden files, no
		 * names that read as options. */
		if ((ch == '.' || ch == '-') && i > 0)
			continue;
		return 0;
	}
	return 1;
}

/* Read name from the directory into value; -1 with err_set. */
static int
read_secret(struct secrets *s, const char *name, struct buf *value)
{
	char *path = xasprintf("%s/%s", s->dir, name);
	char chunk[4096];
	struct stat st;
	ssize_t got;
	int fd, rc = -1;

	fd = openat(s->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			err_set("no secret '%s': there is no file %s in the "
			    "--secrets directory", name, path);
		else if (errno == ELOOP)
			err_set("secret '%s': %s is a symbolic link; tend "
			    "reads secrets only from regular files in the "
			    "--secrets directory itself", name, path);
		else
			err_set("secret '%s': %s: %s", name, path,
			    strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err_set("secret '%s': %s: %s", name, path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("secret '%s': %s is not a regular file", name, path);
		goto done;
	}
	if (st.st_size > SECRET_MAX_SIZE) {
		err_set("secret '%s': %s is larger than 1 MiB", name, path);
		goto done;
	}
	warn_open_mode(path, st.st_mode, 0);
	/* Sized once, so no copy of the value is left behind in memory
	 * freed by a realloc. */
	buf_grow(value, (size_t)st.st_size + 1);
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err_set("secret '%s': %s: %s", name, path,
			    strerror(errno));
			goto done;
		}
		if (got == 0)
			break;
		if (value->len + (size_t)got > SECRET_MAX_SIZE) {
			err_set("secret '%s': %s is larger than 1 MiB", name,
			    path);
			goto done;
		}
		buf_add(value, chunk, (size_t)got);
	}
	/* One trailing newline is how editors and echo end a file, not
	 * part of the value. */
	if (value->len && value->data[value->len - 1] == '\n') {
		value->data[--value->len] = '\0';
		if (value->len && value->data[value->len - 1] == '\r')
			value->data[--value->len] = '\0';
	}
	rc = 0;
done:
	explicit_bzero(chunk, sizeof(chunk));
	if (rc < 0 && value->data) {
		explicit_bzero(value->data, value->cap);
		buf_free(value);
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int
secrets_get(void *ctx, const char *name, const struct buf **value)
{
	struct secrets *s = ctx;
	struct secret *sec;
	size_t i;

	if (!secrets_valid_name(name, strlen(name)))
		return err_set("invalid secret name '%s': letters, digits, "
		    "'_', '.' and '-', not starting with '.' or '-'", name);
	for (i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].name, name) == 0) {
			*value = &s->v[i].value;
			return 0;
		}
	}
	GROW(s->v, s->n + 1, s->cap);
	sec = &s->v[s->n];
	buf_init(&sec->value);
	if (read_secret(s, name, &sec->value) < 0)
		return -1;
	/* An empty value still needs a string to point at. */
	buf_grow(&sec->value, 1);
	sec->value.data[sec->value.len] = '\0';
	sec->name = xstrdup(name);
	s->n++;
	*value = &sec->value;
	return 0;
}

struct secrets *
secrets_open(const char *dir)
{
	struct secrets *s;
	struct stat st;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err_set("--secrets %s: %s", dir, errno == ENOTDIR ?
		    "not a directory" : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		err_set("--secrets %s: %s", dir, strerror(errno));
		close(fd);
		return NULL;
	}
	warn_open_mode(dir, st.st_mode, 1);
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->fd = fd;
	s->src.ctx = s;
	s->src.get = secrets_get;
	return s;
}

const struct secret_source *
secrets_source(struct secrets *s)
{
	return &s->src;
}

void
secrets_free(struct secrets *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].name);
		if (s->v[i].value.data)
			explicit_bzero(s->v[i].value.data,
			    s->v[i].value.cap);
		buf_free(&s->v[i].value);
	}
	free(s->v);
	close(s->fd);
	free(s->dir);
	free(s);
}
