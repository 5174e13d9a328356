/*
 * ssh: libssh2 sessions.  Handshake and authentication run in blocking
 * mode with the session timeout; commands run non-blocking with poll, so
 * a large stdin and a chatty command never deadlock on window sizes and
 * a silent peer is noticed after the timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <openssl/evp.h>

#include "log.h"
#include "ssh.h"

#define OUTPUT_MAX (256u * 1024 * 1024)

struct ssh {
	int fd;
	LIBSSH2_SESSION *s;
	const struct ssh_target *t;
	long timeout_ms;
	unsigned execs;
	char where[300];		/* "root@127.0.0.2:22" for messages */
};

void
ssh_global_init(void)
{
	if (libssh2_init(0) != 0)
		fatalx("libssh2_init failed");
}

static const char *
sess_msg(LIBSSH2_SESSION *s)
{
	char *msg = NULL;

	libssh2_session_last_error(s, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown SSH error";
}

char *
ssh_fingerprint(const unsigned char *blob, size_t len)
{
	unsigned char md[32];
	unsigned char b64[64];
	unsigned int mdlen = 0;
	int n;

	EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;	/* OpenSSH prints it without padding */
	b64[n] = '\0';
	return xasprintf("SHA256:%s", b64);
}

static const char *
key_type_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return "ssh-ed25519";
	default:
		return "unknown";
	}
}

static int
knownhost_bit(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:
		return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* TCP connect with a timeout, trying each address the name resolves to. */
static int
tcp_connect(const struct ssh_target *t, long timeout_ms)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	int fd = -1, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", t->port);
	if ((rc = getaddrinfo(t->address, port, &hints, &res)) != 0)
		return err_set("cannot resolve %s: %s (check the address of "
		    "host %s)", t->address, gai_strerror(rc), t->name);
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			goto connected;
		if (errno != EINPROGRESS) {
			err = errno;
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		rc = poll(&pfd, 1, (int)timeout_ms);
		if (rc == 0) {
			err = ETIMEDOUT;
			goto next;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err == 0)
			goto connected;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (err == ETIMEDOUT)
		return err_set("connection to %s port %d timed out after "
		    "%lds: is the host up and port %d open to this machine?",
		    t->address, t->port, timeout_ms / 1000, t->port);
	if (err == ECONNREFUSED)
		return err_set("connection to %s port %d refused: is sshd "
		    "running there, on port %d?", t->address, t->port,
		    t->port);
	return err_set("cannot connect to %s port %d: %s", t->address,
	    t->port, strerror(err));
connected:
	freeaddrinfo(res);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static char *
default_known_hosts(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if ((home == NULL || *home == '\0') && (pw = getpwuid(getuid())))
		home = pw->pw_dir;
	return xasprintf("%s/.ssh/known_hosts", home ? home : "");
}

/* Known_hosts read line by line, so one line libssh2 cannot parse (a
 * certificate authority, a security key) does not hide the others. */
static LIBSSH2_KNOWNHOSTS *
load_known_hosts(LIBSSH2_SESSION *s, const char *file, int *nread)
{
	LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	*nread = -1;
	if (kh == NULL || (f = fopen(file, "r")) == NULL)
		return kh;
	*nread = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		const char *p = line + strspn(line, " \t");

		if (*p == '#' || *p == '\n' || *p == '@')
			continue;
		if (libssh2_knownhost_readline(kh, line, (size_t)n,
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0)
			(*nread)++;
	}
	free(line);
	fclose(f);
	return kh;
}

static int
b64_decode(const char *in, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(in);
	unsigned char *buf = xmalloc(len / 4 * 3 + 3);
	int n;

	if (len % 4 != 0) {
		free(buf);
		return -1;
	}
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(buf);
		return -1;
	}
	while (len > 0 && in[len - 1] == '=') {
		n--;
		len--;
	}
	*out = buf;
	*outlen = (size_t)n;
	return 0;
}

static int
verify_pin(struct ssh *c, const char *key, size_t len, int type,
    const char *fp)
{
	const char *pin = c->t->host_key, *sp = strchr(pin, ' ');
	unsigned char *blob;
	size_t bloblen;
	char *pinfp;
	int rc;

	if (sp == NULL || b64_decode(sp + 1, &blob, &bloblen) < 0)
		return err_set("host_key of host %s cannot be decoded",
		    c->t->name);
	pinfp = ssh_fingerprint(blob, bloblen);
	rc = bloblen == len && memcmp(blob, key, len) == 0;
	free(blob);
	if (!rc) {
		err_set("HOST KEY MISMATCH for %s (%s): it offered %s %s, but "
		    "the manifest pins %.*s %s (host_key). Either the host was "
		    "reinstalled or something is intercepting the connection; "
		    "check with whoever runs the host before you update "
		    "host_key", c->t->name, c->t->address,
		    key_type_name(type), fp, (int)(sp - pin), pin, pinfp);
		free(pinfp);
		return -1;
	}
	free(pinfp);
	return 0;
}

/* Check key against the known_hosts file: 0, or -1 with err_set saying
 * what to do.  s only lends libssh2's known_hosts parser a session. */
static int
check_known(LIBSSH2_SESSION *s, const char *name, const char *address,
    int port, const char *key, size_t len, int type, const char *fp,
    const struct ssh_opts *o)
{
	struct libssh2_knownhost *entry = NULL;
	LIBSSH2_KNOWNHOSTS *kh;
	int rc, nread;
	char *file;

	file = o->known_hosts ? xstrdup(o->known_hosts) : default_known_hosts();
	kh = load_known_hosts(s, file, &nread);
	rc = kh ? libssh2_knownhost_checkp(kh, address, port, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    knownhost_bit(type), &entry) : LIBSSH2_KNOWNHOST_CHECK_FAILURE;
	if (kh)
		libssh2_knownhost_free(kh);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		rc = 0;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		rc = err_set("HOST KEY MISMATCH for %s (%s): it offered %s %s, "
		    "which is not the key %s has for it. Either the host was "
		    "reinstalled or something is intercepting the connection; "
		    "check with whoever runs the host, then replace the old "
		    "entry (ssh-keygen -R %s -f %s)", name, address,
		    key_type_name(type), fp, file, address, file);
		break;
	default:
		rc = err_set("unknown host key for %s (%s): %s %s is not in "
		    "%s%s. Check the fingerprint with whoever runs the host, "
		    "then add it (ssh-keyscan -t %s -p %d %s >> %s)%s; tend "
		    "never trusts a key on first use", name, address,
		    key_type_name(type), fp, file,
		    nread < 0 ? " (which cannot be read)" : "",
		    key_type_name(type), port, address, file,
		    strcmp(name, address) != 0 ? " or pin it as host_key in "
		    "the manifest" : "");
		break;
	}
	free(file);
	return rc;
}

static int
verify_host_key(struct ssh *c, const struct ssh_opts *o)
{
	const char *key;
	size_t len;
	int type, rc;
	char *fp;

	if ((key = libssh2_session_hostkey(c->s, &len, &type)) == NULL)
		return err_set("%s sent no host key", c->t->address);
	fp = ssh_fingerprint((const unsigned char *)key, len);
	rc = c->t->host_key ? verify_pin(c, key, len, type, fp) :
	    check_known(c->s, c->t->name, c->t->address, c->t->port, key, len,
	    type, fp, o);
	free(fp);
	return rc;
}

int
ssh_check_known_host(const char *address, int port, const void *key,
    size_t len, int type, const struct ssh_opts *o)
{
	LIBSSH2_SESSION *s = libssh2_session_init();
	char *fp = ssh_fingerprint(key, len);
	int rc;

	if (s == NULL)
		fatalx("out of memory");
	rc = check_known(s, address, address, port, key, len, type, fp, o);
	libssh2_session_free(s);
	free(fp);
	return rc;
}

static size_t
be32(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 |
	    p[3];
}

/* The key type of a private key file, read from its public half. */
static char *
identity_type(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[256];
	struct buf b64 = BUF_INIT;
	unsigned char *blob = NULL;
	size_t len = 0;
	char *type = NULL;
	int in = 0;

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "BEGIN RSA PRIVATE KEY")) {
			type = xstrdup("ssh-rsa");
			break;
		}
		if (strstr(line, "BEGIN OPENSSH PRIVATE KEY")) {
			in = 1;
			continue;
		}
		if (strstr(line, "END OPENSSH"))
			break;
		if (in)
			buf_add(&b64, line, strcspn(line, "\r\n"));
	}
	fclose(f);
	/* "openssh-key-v1\0", then cipher, kdf, kdf options, key count and
	 * the public key, whose first field is its type. */
	if (type == NULL && b64.len && b64_decode(b64.data, &blob, &len) == 0) {
		size_t i, off = 15, n = 0;

		for (i = 0; i < 5 && off + 4 <= len; i++) {
			n = be32(blob + off);
			if (i < 3)
				off += 4 + n;	/* a string: skip it */
			else
				off += 4;	/* count, then key length */
		}
		if (off + 4 <= len && (n = be32(blob + off)) < 64 &&
		    off + 4 + n <= len)
			type = xstrndup((char *)blob + off + 4, n);
	}
	free(blob);
	buf_free(&b64);
	return type;
}

static int
auth_identity(struct ssh *c, const char *identity)
{
	char *type = identity_type(identity);
	int rc;

	if (access(identity, R_OK) < 0) {
		free(type);
		return err_set("cannot read identity %s: %s", identity,
		    strerror(errno));
	}
	if (type && strcmp(type, "ssh-rsa") == 0) {
		free(type);
		return err_set("%s is an RSA key: the libssh2 tend uses signs "
		    "RSA only with SHA-1 (ssh-rsa), which OpenSSH 8.8 and "
		    "later refuse. Use an ed25519 or ECDSA key (ssh-keygen -t "
		    "ed25519) and add its .pub to the host's "
		    "authorized_keys", identity);
	}
	rc = libssh2_userauth_publickey_fromfile_ex(c->s, c->t->user,
	    (unsigned)strlen(c->t->user), NULL, identity, NULL);
	if (rc == 0) {
		free(type);
		return 0;
	}
	if (rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED
	    || rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED) {
		err_set("cannot use identity %s (%s): %s; tend needs an "
		    "unencrypted ed25519 or ECDSA key in OpenSSH format (or "
		    "the key in ssh-agent)", identity, type ? type : "unknown "
		    "type", sess_msg(c->s));
	} else {
		err_set("authentication as %s failed with key %s (%s): is its "
		    "public key in ~%s/.ssh/authorized_keys on the host?",
		    c->where, identity, type ? type : "unknown type",
		    c->t->user);
	}
	free(type);
	return -1;
}

static int
auth_agent(struct ssh *c)
{
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	int rc = -1, tried = 0;

	if (getenv("SSH_AUTH_SOCK") == NULL)
		return err_set("no key to log in to %s with: give -i FILE "
		    "(an ed25519 or ECDSA private key) or start ssh-agent",
		    c->where);
	if ((agent = libssh2_agent_init(c->s)) == NULL ||
	    libssh2_agent_connect(agent) != 0 ||
	    libssh2_agent_list_identities(agent) != 0) {
		if (agent)
			libssh2_agent_free(agent);
		return err_set("cannot use ssh-agent at %s: %s",
		    getenv("SSH_AUTH_SOCK"), sess_msg(c->s));
	}
	while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
		prev = id;
		tried++;
		if (libssh2_agent_userauth(agent, c->t->user, id) == 0) {
			rc = 0;
			break;
		}
	}
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	if (rc < 0)
		err_set("authentication as %s failed: none of the %d key%s in "
		    "ssh-agent was accepted (is one in ~%s/.ssh/"
		    "authorized_keys on the host? RSA keys cannot be used "
		    "by this libssh2 with OpenSSH 8.8 and later)", c->where,
		    tried, tried == 1 ? "" : "s", c->t->user);
	return rc;
}

struct ssh *
ssh_connect(const struct ssh_target *t, const struct ssh_opts *o)
{
	struct ssh *c = xcalloc(1, sizeof(*c));
	/* Only types this libssh2 knows: it mishandles unknown names. */
	static const char *const hostkeys[] = { "ssh-ed25519",
		"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521", "ssh-rsa" };
	struct buf pref = BUF_INIT;
	size_t i, plen = 0;
	int rc;

	c->t = t;
	c->fd = -1;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	snprintf(c->where, sizeof(c->where), "%s@%s", t->user, t->address);
	if ((c->fd = tcp_connect(t, c->timeout_ms)) < 0)
		goto fail;
	if ((c->s = libssh2_session_init()) == NULL) {
		err_set("cannot start an SSH session");
		goto fail;
	}
	libssh2_session_set_blocking(c->s, 1);
	libssh2_session_set_timeout(c->s, c->timeout_ms);
	/* Ask for the pinned key's type first, so the pin can match. */
	if (t->host_key) {
		plen = strcspn(t->host_key, " ");
		for (i = 0; i < ARRAY_SIZE(hostkeys); i++)
			if (strlen(hostkeys[i]) == plen &&
			    strncmp(hostkeys[i], t->host_key, plen) == 0)
				buf_adds(&pref, hostkeys[i]);
	}
	for (i = 0; i < ARRAY_SIZE(hostkeys); i++) {
		if (pref.len && strcmp(pref.data, hostkeys[i]) == 0)
			continue;
		if (pref.len)
			buf_addch(&pref, ',');
		buf_adds(&pref, hostkeys[i]);
	}
	libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, pref.data);
	buf_free(&pref);
	if ((rc = libssh2_session_handshake(c->s, c->fd)) != 0) {
		err_set("SSH handshake with %s port %d failed: %s",
		    t->address, t->port, rc == LIBSSH2_ERROR_TIMEOUT ?
		    "timed out" : sess_msg(c->s));
		goto fail;
	}
	if (verify_host_key(c, o) < 0)
		goto fail;
	if ((o->identity ? auth_identity(c, o->identity) : auth_agent(c)) < 0)
		goto fail;
	libssh2_keepalive_config(c->s, 1, 15);
	libssh2_session_set_blocking(c->s, 0);
	return c;
fail:
	ssh_close(c);
	return NULL;
}

void
ssh_close(struct ssh *c)
{
	if (c == NULL)
		return;
	if (c->s) {
		libssh2_session_set_blocking(c->s, 1);
		libssh2_session_set_timeout(c->s, 2000);
		libssh2_session_disconnect(c->s, "tend done");
		libssh2_session_free(c->s);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

unsigned
ssh_exec_count(const struct ssh *c)
{
	return c->execs;
}

/* Wait until the socket is ready in the direction libssh2 is blocked on;
 * -1 with err_set after the inactivity timeout. */
static int
wait_socket(struct ssh *c, long *deadline)
{
	struct pollfd pfd;
	int dir = libssh2_session_block_directions(c->s), rc, next;
	long left = *deadline - now_ms();

	if (left <= 0)
		return err_set("%s: no answer for %lds (connection lost or "
		    "host hung)", c->where, c->timeout_ms / 1000);
	pfd.fd = c->fd;
	pfd.events = 0;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (pfd.events == 0)
		pfd.events = POLLIN;
	libssh2_keepalive_send(c->s, &next);
	rc = poll(&pfd, 1, (int)(left < 1000 ? left : 1000));
	if (rc < 0 && errno != EINTR)
		return err_set("%s: poll: %s", c->where, strerror(errno));
	if (rc > 0)
		*deadline = now_ms() + c->timeout_ms;
	return 0;
}

static int
read_stream(struct ssh *c, LIBSSH2_CHANNEL *ch, int stream, struct buf *b,
    int *progress)
{
	char chunk[32768];
	ssize_t n;

	for (;;) {
		n = libssh2_channel_read_ex(ch, stream, chunk, sizeof(chunk));
		if (n == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (n < 0)
			return err_set("%s: reading from the host failed: %s",
			    c->where, sess_msg(c->s));
		if (n == 0)
			return 0;
		*progress = 1;
		if (b) {
			if (b->len + (size_t)n > OUTPUT_MAX)
				return err_set("%s: the command printed more "
				    "than 256 MiB", c->where);
			buf_add(b, chunk, (size_t)n);
		}
	}
}

struct chunks {
	const struct ssh_chunk *v;
	size_t n, k, off;
};

static ssize_t
chunks_read(void *arg, char *buf, size_t cap)
{
	struct chunks *cs = arg;
	size_t n = 0, take;

	while (n < cap && cs->k < cs->n) {
		if (cs->off == cs->v[cs->k].len) {
			cs->k++;
			cs->off = 0;
			continue;
		}
		take = cs->v[cs->k].len - cs->off;
		if (take > cap - n)
			take = cap - n;
		memcpy(buf + n, (const char *)cs->v[cs->k].data + cs->off,
		    take);
		n += take;
		cs->off += take;
	}
	return (ssize_t)n;
}

int
ssh_exec(struct ssh *c, const char *cmd, const struct ssh_chunk *in,
    size_t nin, struct buf *out, struct buf *err, int *status)
{
	struct chunks cs = { in, nin, 0, 0 };
	struct ssh_input input = { chunks_read, &cs };

	return ssh_exec_input(c, cmd, &input, out, err, status);
}

int
ssh_exec_input(struct ssh *c, const char *cmd, const struct ssh_input *in,
    struct buf *out, struct buf *err, int *status)
{
	LIBSSH2_CHANNEL *ch = NULL;
	long deadline = now_ms() + c->timeout_ms;
	size_t slen = 0, soff = 0;
	/* What goes out next, read in full packets: the host's sshd pays
	 * per packet it queues, so small writes cost it dearly. */
	static _Thread_local char stage[32768];
	int rc, in_done = 0, eof_sent = 0, ret = -1;
	char *sig = NULL;

	c->execs++;
	while ((ch = libssh2_channel_open_session(c->s)) == NULL) {
		if (libssh2_session_last_errno(c->s) != LIBSSH2_ERROR_EAGAIN) {
			err_set("%s: cannot open a channel: %s", c->where,
			    sess_msg(c->s));
			return -1;
		}
		if (wait_socket(c, &deadline) < 0)
			return -1;
	}
	while ((rc = libssh2_channel_exec(ch, cmd)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(c, &deadline) < 0)
			goto done;
	if (rc != 0) {
		err_set("%s: cannot run a command: %s", c->where,
		    sess_msg(c->s));
		goto done;
	}
	for (;;) {
		int progress = 0;

		for (;;) {
			ssize_t n;

			if (soff == slen && !in_done) {
				ssize_t got = in->read(in->arg, stage,
				    sizeof(stage));

				if (got < 0)
					goto done;
				slen = (size_t)got;
				soff = 0;
				in_done = got == 0;
			}
			if (soff == slen)
				break;
			n = libssh2_channel_write(ch, stage + soff, slen - soff);
			if (n == LIBSSH2_ERROR_EAGAIN)
				break;
			if (n < 0) {
				err_set("%s: sending to the host failed: %s",
				    c->where, sess_msg(c->s));
				goto done;
			}
			soff += (size_t)n;
			progress = 1;
		}
		if (in_done && soff == slen && !eof_sent) {
			rc = libssh2_channel_send_eof(ch);
			if (rc == 0)
				eof_sent = 1;
			else if (rc != LIBSSH2_ERROR_EAGAIN) {
				err_set("%s: %s", c->where, sess_msg(c->s));
				goto done;
			}
		}
		if (read_stream(c, ch, 0, out, &progress) < 0 ||
		    read_stream(c, ch, SSH_EXTENDED_DATA_STDERR, err,
		    &progress) < 0)
			goto done;
		if (libssh2_channel_eof(ch) && eof_sent)
			break;
		if (progress)
			deadline = now_ms() + c->timeout_ms;
		else if (wait_socket(c, &deadline) < 0)
			goto done;
	}
	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(c, &deadline) < 0)
			goto done;
	while ((rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(c, &deadline) < 0)
			goto done;
	*status = libssh2_channel_get_exit_status(ch);
	libssh2_channel_get_exit_signal(ch, &sig, NULL, NULL, NULL, NULL,
	    NULL);
	if (sig) {
		*status = 128 + 9;
		libssh2_free(c->s, sig);
	}
	ret = 0;
done:
	if (ch)
		libssh2_channel_free(ch);
	return ret;
}
