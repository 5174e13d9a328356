/* httpd: webhooks, /healthz and /metrics over libmicrohttpd. */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "httpd.h"
#include "log.h"

enum result {
	RES_ACCEPTED,
	RES_IGNORED,
	RES_DUPLICATE,
	RES_UNAUTHORIZED,
	RES_BAD_REQUEST,
	RES_TOO_LARGE,
	RES_COUNT
};

static const char *const result_names[RES_COUNT] = {
	"accepted", "ignored", "duplicate", "unauthorized", "bad_request",
	"too_large",
};

/*
 * What requests change, under one lock.  Kept apart from struct httpd so
 * httpd_metrics() can take a const server and still lock.
 */
struct tally {
	pthread_mutex_t lock;
	unsigned long count[FORGE_COUNT][RES_COUNT];
	struct {
		enum forge forge;
		char id[sizeof(((struct hook_event *)0)->delivery)];
	} seen[HTTPD_DELIVERIES];	/* a ring of delivery ids */
	size_t nseen, next;
	int starting;		/* MHD's messages go to start_log, not out */
	struct buf start_log;
};

struct httpd {
	struct MHD_Daemon *mhd;
	struct httpd_handlers h;
	char *secret;			/* owned copy; SIGHUP replaces it */
	pthread_mutex_t secret_mu;
	int port;
	struct tally *tally;
};

/* One request in progress: a webhook's body, read in pieces. */
struct request {
	enum forge forge;
	struct buf body;
};

/* The routes; forge -1 for those that are no webhook. */
static const struct route {
	const char *path;
	const char *allow;	/* methods, as in the Allow header */
	int forge;
} routes[] = {
	{ "/hooks/github", "POST", FORGE_GITHUB },
	{ "/hooks/gitlab", "POST", FORGE_GITLAB },
	{ "/hooks/gitea", "POST", FORGE_GITEA },
	{ "/healthz", "GET, HEAD", -1 },
	{ "/metrics", "GET, HEAD", -1 },
};

static void
tally_add(struct httpd *d, enum forge f, enum result r)
{
	pthread_mutex_lock(&d->tally->lock);
	d->tally->count[f][r]++;
	pthread_mutex_unlock(&d->tally->lock);
}

/*
 * Whether forge f's delivery id was seen lately; remembers it if not.
 * Forges retry and users press "redeliver": one push, one reconcile.
 */
static int
seen_before(struct httpd *d, enum forge f, const char *id)
{
	struct tally *t = d->tally;
	size_t i;
	int seen = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nseen && !seen; i++)
		seen = t->seen[i].forge == f && strcmp(t->seen[i].id, id) == 0;
	if (!seen) {
		t->seen[t->next].forge = f;
		snprintf(t->seen[t->next].id, sizeof(t->seen[0].id), "%s", id);
		t->next = (t->next + 1) % HTTPD_DELIVERIES;
		if (t->nseen < HTTPD_DELIVERIES)
			t->nseen++;
	}
	pthread_mutex_unlock(&t->lock);
	return seen;
}

void
httpd_metrics(const struct httpd *d, struct buf *out)
{
	struct tally *t = d->tally;
	int f, r;

	buf_adds(out, "# HELP tend_webhook_requests_total Webhook deliveries "
	    "received, by forge and result.\n"
	    "# TYPE tend_webhook_requests_total counter\n");
	pthread_mutex_lock(&t->lock);
	for (f = 0; f < FORGE_COUNT; f++)
		for (r = 0; r < RES_COUNT; r++)
			buf_addf(out, "tend_webhook_requests_total{forge=\"%s\","
			    "result=\"%s\"} %lu\n", forge_name((enum forge)f),
			    result_names[r], t->count[f][r]);
	pthread_mutex_unlock(&t->lock);
}

/*
 * Queue a response whose body is text (ours to give away).  hname and
 * hval add one header when not NULL.
 */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, struct buf *text,
    const char *ctype, const char *hname, const char *hval)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *data = buf_detach(text, &len);

	if (data == NULL)
		data = xstrdup("");
	resp = MHD_create_response_from_buffer(len, data,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    ctype ? ctype : "text/plain; charset=utf-8");
	if (hname)
		MHD_add_response_header(resp, hname, hval);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *fmt,
    ...) PRINTF_LIKE(3, 4);

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *fmt,
    ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return reply(c, status, &b, NULL, NULL, NULL);
}

static const char *
header(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/* The peer's address, for logs. */
static void
remote_addr(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	socklen_t len = 0;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (ci && ci->client_addr &&
	    ci->client_addr->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	if (len == 0 || getnameinfo(ci->client_addr, len, out, (socklen_t)size,
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, size, "unknown address");
}

/* A body over HTTPD_MAX_BODY: logged and counted, nothing triggered. */
static void
too_large(struct httpd *d, struct MHD_Connection *c, enum forge f)
{
	char addr[NI_MAXHOST];

	remote_addr(c, addr, sizeof(addr));
	log_warnx("webhook: %s delivery from %s rejected: body over %d bytes",
	    forge_name(f), addr, HTTPD_MAX_BODY);
	tally_add(d, f, RES_TOO_LARGE);
}

/* A whole webhook body has arrived: verify, parse, hand on, answer. */
static enum MHD_Result
deliver(struct httpd *d, struct MHD_Connection *c, struct request *r)
{
	const char *fname = forge_name(r->forge);
	char addr[NI_MAXHOST];
	struct hook_event ev;
	enum MHD_Result ret;
	char *secret;
	int rc;

	remote_addr(c, addr, sizeof(addr));
	pthread_mutex_lock(&d->secret_mu);
	secret = d->secret ? xstrdup(d->secret) : NULL;
	pthread_mutex_unlock(&d->secret_mu);
	rc = hook_verify(r->forge, secret, header, c, r->body.data,
	    r->body.len);
	free(secret);
	if (rc < 0) {
		log_warnx("webhook: %s delivery from %s rejected: %s", fname,
		    addr, err_msg());
		tally_add(d, r->forge, RES_UNAUTHORIZED);
		ret = reply_text(c, MHD_HTTP_UNAUTHORIZED, "%s\n", err_msg());
		err_clear();
		return ret;
	}
	if (hook_parse(r->forge, header, c, r->body.data, r->body.len,
	    &ev) < 0) {
		log_warnx("webhook: %s delivery from %s: %s", fname, addr,
		    err_msg());
		tally_add(d, r->forge, RES_BAD_REQUEST);
		ret = reply_text(c, MHD_HTTP_BAD_REQUEST, "%s\n", err_msg());
		err_clear();
		return ret;
	}
	if (ev.delivery[0] && seen_before(d, r->forge, ev.delivery)) {
		log_info("webhook: %s %s (delivery %s) seen before, ignored",
		    fname, ev.kind, ev.delivery);
		tally_add(d, r->forge, RES_DUPLICATE);
		ret = reply_text(c, MHD_HTTP_OK,
		    "duplicate delivery ID, ignored\n");
	} else if (strcmp(ev.kind, "push") == 0) {
		log_info("webhook: %s push %s %.7s (delivery %s)", fname,
		    ev.ref, ev.after, ev.delivery[0] ? ev.delivery : "none");
		tally_add(d, r->forge, RES_ACCEPTED);
		if (d->h.on_event)
			d->h.on_event(&ev, d->h.arg);
		ret = reply_text(c, MHD_HTTP_ACCEPTED, "accepted\n");
	} else if (strcmp(ev.kind, "ping") == 0) {
		log_info("webhook: %s ping from %s (delivery %s)", fname, addr,
		    ev.delivery[0] ? ev.delivery : "none");
		tally_add(d, r->forge, RES_IGNORED);
		ret = reply_text(c, MHD_HTTP_OK, "pong\n");
	} else {
		log_debug("webhook: %s %s ignored", fname, ev.kind);
		tally_add(d, r->forge, RES_IGNORED);
		ret = reply_text(c, MHD_HTTP_OK, "ignored: %s\n", ev.kind);
	}
	hook_event_free(&ev);
	return ret;
}

static enum MHD_Result
get_metrics(struct httpd *d, struct MHD_Connection *c)
{
	struct buf b = BUF_INIT;

	if (d->h.metrics) {
		d->h.metrics(&b, d->h.arg);
		if (b.len && b.data[b.len - 1] != '\n')
			buf_addch(&b, '\n');
	}
	httpd_metrics(d, &b);
	return reply(c, MHD_HTTP_OK, &b, "text/plain; version=0.0.4", NULL,
	    NULL);
}

static int
method_allowed(const struct route *rt, const char *method)
{
	if (rt->forge >= 0)
		return strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* A first look at a request, before any of its body is read. */
static enum MHD_Result
begin(struct httpd *d, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
	const struct route *rt = NULL;
	const char *cl;
	struct request *r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(routes) && rt == NULL; i++)
		if (strcmp(url, routes[i].path) == 0)
			rt = &routes[i];
	if (rt == NULL)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (!method_allowed(rt, method)) {
		struct buf b = BUF_INIT;

		buf_addf(&b, "method not allowed: use %s\n", rt->allow);
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, &b, NULL,
		    MHD_HTTP_HEADER_ALLOW, rt->allow);
	}
	if (strcmp(rt->path, "/healthz") == 0)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (strcmp(rt->path, "/metrics") == 0)
		return get_metrics(d, c);
	/* An announced length too large is refused before reading any. */
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > HTTPD_MAX_BODY) {
		struct buf b = BUF_INIT;

		too_large(d, c, (enum forge)rt->forge);
		buf_addf(&b, "body too large: over %d bytes\n",
		    HTTPD_MAX_BODY);
		/* The body is left unread, so the connection must go. */
		return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, &b, NULL,
		    MHD_HTTP_HEADER_CONNECTION, "close");
	}
	r = xcalloc(1, sizeof(*r));
	r->forge = (enum forge)rt->forge;
	*con_cls = r;
	return MHD_YES;
}

/*
 * MHD calls this once when the headers are in, once per piece of body,
 * and once more (upload size 0) when the body is complete.
 */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct httpd *d = cls;
	struct request *r = *con_cls;

	(void)version;
	if (r == NULL)
		return begin(d, c, url, method, con_cls);
	if (*upload_size == 0)
		return deliver(d, c, r);
	if (*upload_size > HTTPD_MAX_BODY - r->body.len) {
		/*
		 * No length was announced (chunked) and the limit is crossed.
		 * libmicrohttpd 0.9.75 cannot answer in mid-upload: drop the
		 * connection rather than read on.
		 */
		too_large(d, c, r->forge);
		return MHD_NO;
	}
	buf_add(&r->body, upload, *upload_size);
	*upload_size = 0;
	return MHD_YES;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r) {
		buf_free(&r->body);
		free(r);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages: kept while starting, else logged. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct tally *t = cls;
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pthread_mutex_lock(&t->lock);
	if (t->starting) {
		buf_addf(&t->start_log, "%s%s", t->start_log.len ? "; " : "",
		    msg);
		n = 0;
	}
	pthread_mutex_unlock(&t->lock);
	if (n)
		log_warnx("http listener: %s", msg);
	free(msg);
}

/* "1.2.3.4:80" or "[::1]:80" into *ss. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *h = listen, *hend, *p;
	unsigned long port = 0;
	int v6 = listen[0] == '[';

	if (v6) {
		h++;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			goto bad;
		p = hend + 2;
	} else {
		if ((hend = strchr(h, ':')) == NULL)
			goto bad;
		p = hend + 1;
	}
	if ((size_t)(hend - h) >= sizeof(host) || *p == '\0' ||
	    strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
		goto bad;
	port = strtoul(p, NULL, 10);
	if (port > 65535)
		goto bad;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1)
			return 0;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1)
			return 0;
	}
bad:
	return err_set("invalid listen address \"%s\": expected ADDR:PORT, "
	    "e.g. 127.0.0.1:9400 or [::1]:9400", listen);
}

struct httpd *
httpd_start(const char *listen, const struct httpd_handlers *h)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct httpd *d;
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD |
	    MHD_USE_ERROR_LOG;

	if (parse_listen(listen, &ss) < 0)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = xcalloc(1, sizeof(*d));
	d->h = *h;
	d->secret = h->secret ? xstrdup(h->secret) : NULL;
	pthread_mutex_init(&d->secret_mu, NULL);
	d->tally = xcalloc(1, sizeof(*d->tally));
	pthread_mutex_init(&d->tally->lock, NULL);
	d->tally->starting = 1;
	/* The logger first, or MHD prints to stderr itself until it. */
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, d,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)d->tally,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_CONNECTIONS,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, (void *)NULL,
	    MHD_OPTION_END);
	pthread_mutex_lock(&d->tally->lock);
	d->tally->starting = 0;
	pthread_mutex_unlock(&d->tally->lock);
	if (d->mhd == NULL) {
		err_set("cannot listen on %s: %s", listen,
		    d->tally->start_log.len ? d->tally->start_log.data :
		    "libmicrohttpd would not start");
		httpd_stop(d);
		return NULL;
	}
	if (d->tally->start_log.len)
		log_warnx("http listener: %s", d->tally->start_log.data);
	buf_free(&d->tally->start_log);
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	d->port = info ? info->port : 0;
	return d;
}

int
httpd_port(const struct httpd *d)
{
	return d->port;
}

void
httpd_stop(struct httpd *d)
{
	if (d == NULL)
		return;
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	pthread_mutex_destroy(&d->tally->lock);
	pthread_mutex_destroy(&d->secret_mu);
	free(d->secret);
	buf_free(&d->tally->start_log);
	free(d->tally);
	free(d);
}

void
httpd_set_secret(struct httpd *d, const char *secret)
{
	char *old;

	pthread_mutex_lock(&d->secret_mu);
	old = d->secret;
	d->secret = secret ? xstrdup(secret) : NULL;
	pthread_mutex_unlock(&d->secret_mu);
	free(old);
}
