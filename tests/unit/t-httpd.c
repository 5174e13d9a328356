/*
 * Unit tests: the HTTP listener, driven over 127.0.0.1 with libcurl.
 * Signatures are computed here with libcrypto's HMAC.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "httpd.h"
#include "log.h"
#include "tap.h"

#define SECRET "It's a Secret to Everybody"
#define C1 "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f"
#define PUSH "{\"ref\":\"refs/heads/main\",\"after\":\"" C1 "\"}"

/* What on_event saw. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int nevents;
static char last_ref[64], last_after[41], last_forge[16];

static void
on_event(const struct hook_event *ev, void *arg)
{
	pthread_mutex_lock(&seen_lock);
	nevents++;
	snprintf(last_ref, sizeof(last_ref), "%s", ev->ref);
	snprintf(last_after, sizeof(last_after), "%s", ev->after);
	snprintf(last_forge, sizeof(last_forge), "%s", forge_name(ev->forge));
	pthread_mutex_unlock(&seen_lock);
	(void)arg;
}

static int
events(void)
{
	int n;

	pthread_mutex_lock(&seen_lock);
	n = nevents;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

static void
metrics(struct buf *out, void *arg)
{
	buf_addf(out, "tend_test_metric %d", *(int *)arg);
}

struct resp {
	long status;		/* 0: no response */
	struct buf body;
	struct buf headers;
	curl_off_t sent;	/* body bytes curl sent */
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	buf_add(arg, p, size * n);
	return size * n;
}

/* Feeds a chunked upload of want bytes of spaces. */
struct feed {
	size_t want, sent;
};

static size_t
feed(char *p, size_t size, size_t n, void *arg)
{
	struct feed *f = arg;
	size_t len = size * n;

	if (len > f->want - f->sent)
		len = f->want - f->sent;
	memset(p, ' ', len);
	f->sent += len;
	return len;
}

static int port;

/*
 * One request to the server; hdrs is NULL-terminated.  A body of
 * (size_t)-1 bytes means a chunked upload of 3 MiB with no length.
 */
static void
request(struct resp *r, const char *method, const char *path,
    const char **hdrs, const char *body, size_t len)
{
	CURL *h = curl_easy_init();
	struct curl_slist *list = NULL;
	struct feed f = { 3 * 1024 * 1024, 0 };
	char url[256];

	buf_reset(&r->body);
	buf_reset(&r->headers);
	r->status = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
	for (; hdrs && *hdrs; hdrs++)
		list = curl_slist_append(list, *hdrs);
	if (len == (size_t)-1) {
		list = curl_slist_append(list, "Transfer-Encoding: chunked");
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, feed);
		curl_easy_setopt(h, CURLOPT_READDATA, &f);
	} else if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &r->sent);
	curl_easy_cleanup(h);
	curl_slist_free_all(list);
}

/* Whether the response has header line "Name: value" (any case name). */
static int
has_header(struct resp *r, const char *line)
{
	const char *p = buf_str(&r->headers);
	size_t n = strlen(line);

	for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
		if (strncasecmp(p, line, n) == 0 && (p[n] == '\r' ||
		    p[n] == '\n'))
			return 1;
	return 0;
}

static void
sign(const char *body, size_t len, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)body, len, md, &n);
	memcpy(out, "sha256=", 7);
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* A signed GitHub delivery of body. */
static void
github(struct resp *r, const char *event, const char *delivery,
    const char *body, size_t len)
{
	char sig[72], h1[128], h2[128], h3[128];
	const char *hdrs[] = { h1, h2, h3, "Content-Type: application/json",
	    NULL };

	sign(body, len, sig);
	snprintf(h1, sizeof(h1), "X-Hub-Signature-256: %s", sig);
	snprintf(h2, sizeof(h2), "X-GitHub-Event: %s", event);
	snprintf(h3, sizeof(h3), "X-GitHub-Delivery: %s", delivery);
	request(r, "POST", "/hooks/github", hdrs, body, len);
}

/*
 * Capture stderr (the log) from capture_start to capture_end, which
 * returns it; captures nest.  Not around whole tests: a sanitizer's
 * report must reach the terminal.
 */
struct capture {
	int saved;
	FILE *f;
};

static void
capture_start(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	c->saved = dup(2);
	dup2(fileno(c->f), 2);
}

static char *
capture_end(struct capture *c)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->f);
	while ((n = fread(chunk, 1, sizeof(chunk), c->f)) > 0)
		buf_add(&b, chunk, n);
	fclose(c->f);
	return buf_detach(&b, NULL);
}

/* The first line of s, for a test's description. */
#define LINE(s) (int)strcspn((s), "\n"), (s)

static void
test_listen(void)
{
	struct capture cap;
	static const char *bad[] = { "localhost:80", "127.0.0.1", ":80",
	    "127.0.0.1:99999", "127.0.0.1:8x", "[::1]80", "[::1:80",
	    "1.2.3:80", "127.0.0.1:" };
	struct httpd_handlers h = { SECRET, NULL, NULL, NULL };
	struct httpd *d, *d2;
	char addr[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		d = httpd_start(bad[i], &h);
		ok(d == NULL && strstr(err_msg(), "invalid listen address"),
		    "listen \"%s\" is refused: %s", bad[i], err_msg());
		httpd_stop(d);
	}
	d = httpd_start("127.0.0.1:0", &h);
	ok(d && httpd_port(d) > 0, "port 0 binds a free port");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", d ? httpd_port(d) : 1);
	capture_start(&cap);
	d2 = httpd_start(addr, &h);
	free(capture_end(&cap));
	ok(d2 == NULL && strstr(err_msg(), "cannot listen on 127.0.0.1:"),
	    "a port in use: an error saying so: %s", err_msg());
	httpd_stop(d2);
	httpd_stop(d);

	d = httpd_start("[::1]:0", &h);
	if (d == NULL)
		ok(1, "# SKIP no IPv6 loopback here: %s", err_msg());
	else
		ok(httpd_port(d) > 0, "[::1]:0 binds on IPv6");
	httpd_stop(d);
	httpd_stop(NULL);
}

static void
test_routes(void)
{
	struct resp r = { 0, BUF_INIT, BUF_INIT, 0 };

	request(&r, "GET", "/healthz", NULL, NULL, 0);
	is_int(r.status, 200, "GET /healthz: 200");
	is_str(buf_str(&r.body), "ok\n", "GET /healthz: ok");
	request(&r, "HEAD", "/healthz", NULL, NULL, 0);
	is_int(r.status, 200, "HEAD /healthz: 200");
	request(&r, "GET", "/nope", NULL, NULL, 0);
	is_int(r.status, 404, "GET /nope: 404");
	request(&r, "POST", "/hooks/bitbucket", NULL, "{}", 2);
	is_int(r.status, 404, "POST /hooks/bitbucket: 404");
	request(&r, "GET", "/hooks/github/", NULL, NULL, 0);
	is_int(r.status, 404, "a trailing slash: 404");
	request(&r, "GET", "/hooks/github", NULL, NULL, 0);
	is_int(r.status, 405, "GET /hooks/github: 405");
	ok(has_header(&r, "Allow: POST"), "... with Allow: POST");
	request(&r, "POST", "/healthz", NULL, "x", 1);
	is_int(r.status, 405, "POST /healthz: 405");
	ok(has_header(&r, "Allow: GET, HEAD"), "... with Allow: GET, HEAD");
	request(&r, "DELETE", "/metrics", NULL, NULL, 0);
	is_int(r.status, 405, "DELETE /metrics: 405");
	is_int(events(), 0, "no route triggered anything");
	buf_free(&r.body);
	buf_free(&r.headers);
}

static void
test_github(void)
{
	struct capture cap;
	struct resp r = { 0, BUF_INIT, BUF_INIT, 0 };
	char sig[72], h1[128], *log;
	const char *badsig[] = { h1, "X-GitHub-Event: push",
	    "X-GitHub-Delivery: d-bad", NULL };
	const char *nosig[] = { "X-GitHub-Event: push", NULL };
	/* As `curl -d` sends it: lower case, labelled a form. */
	const char *lower[] = { h1, "x-github-event: push",
	    "x-github-delivery: d-lower", NULL };

	capture_start(&cap);
	github(&r, "push", "d-1", PUSH, strlen(PUSH));
	log = capture_end(&cap);
	is_int(r.status, 202, "a signed push: 202");
	is_str(buf_str(&r.body), "accepted\n", "... accepted");
	is_int(events(), 1, "... on_event called once");
	is_str(last_ref, "refs/heads/main", "... with the ref");
	is_str(last_after, C1, "... and the new head");
	is_str(last_forge, "github", "... from github");
	ok(strstr(log, "webhook: github push refs/heads/main 5e6f7a8 "
	    "(delivery d-1)"), "... logged: %.*s", LINE(log));
	free(log);

	capture_start(&cap);
	github(&r, "push", "d-1", PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 200, "the same delivery id again: 200");
	is_str(buf_str(&r.body), "duplicate delivery ID, ignored\n",
	    "... duplicate delivery ID, ignored");
	is_int(events(), 1, "... and nothing triggered");

	sign("{}", 2, sig);
	snprintf(h1, sizeof(h1), "X-Hub-Signature-256: %s", sig);
	capture_start(&cap);
	request(&r, "POST", "/hooks/github", badsig, PUSH, strlen(PUSH));
	log = capture_end(&cap);
	is_int(r.status, 401, "a push signed over another body: 401");
	is_str(buf_str(&r.body), "signature does not match: check the "
	    "webhook secret\n", "... with the reason");
	ok(strstr(log, "webhook: github delivery from 127.0.0.1 rejected: "
	    "signature does not match"), "... logged with forge, address "
	    "and reason: %.*s", LINE(log));
	free(log);
	capture_start(&cap);
	request(&r, "POST", "/hooks/github", nosig, PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 401, "an unsigned push: 401");
	is_str(buf_str(&r.body), "missing X-Hub-Signature-256 header\n",
	    "... with the reason");
	is_int(events(), 0 + 1, "rejected pushes trigger nothing");

	capture_start(&cap);
	github(&r, "push", "d-2", "{\"ref\":", 7);
	log = capture_end(&cap);
	is_int(r.status, 400, "a signed push with broken JSON: 400");
	ok(strstr(buf_str(&r.body), "malformed JSON body"), "... saying so: "
	    "%.*s", LINE(buf_str(&r.body)));
	ok(strstr(log, "webhook: github delivery from 127.0.0.1: malformed "
	    "JSON body"), "... logged: %.*s", LINE(log));
	free(log);
	capture_start(&cap);
	github(&r, "push", "d-3", "{\"ref\":\"refs/heads/main\"}", 25);
	is_int(r.status, 400, "a signed push without after: 400");
	github(&r, "ping", "d-4", "{\"zen\":\"z\"}", 11);
	is_int(r.status, 200, "ping: 200");
	is_str(buf_str(&r.body), "pong\n", "... pong");
	github(&r, "issues", "d-5", "{\"action\":\"opened\"}", 19);
	is_int(r.status, 200, "another event: 200");
	is_str(buf_str(&r.body), "ignored: issues\n", "... ignored: issues");
	free(capture_end(&cap));
	is_int(events(), 1, "none of these triggered anything");

	sign(PUSH, strlen(PUSH), sig);
	snprintf(h1, sizeof(h1), "x-hub-signature-256: %s", sig);
	capture_start(&cap);
	request(&r, "POST", "/hooks/github", lower, PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 202, "lower-case header names work too, and JSON "
	    "sent with curl's default form Content-Type");
	is_int(events(), 2, "... and trigger");
	buf_free(&r.body);
	buf_free(&r.headers);
}

static void
test_gitlab_gitea(void)
{
	struct capture cap;
	struct resp r = { 0, BUF_INIT, BUF_INIT, 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char h1[128];
	const char *gl[] = { "X-Gitlab-Token: " SECRET,
	    "X-Gitlab-Event: Push Hook", "X-Gitlab-Event-UUID: u-1",
	    "Content-Type: application/json", NULL };
	const char *glbad[] = { "X-Gitlab-Token: guess",
	    "X-Gitlab-Event: Push Hook", NULL };
	const char *gt[] = { h1, "X-Gitea-Event: push",
	    "X-Gitea-Delivery: g-1", "Content-Type: application/json", NULL };

	capture_start(&cap);
	request(&r, "POST", "/hooks/gitlab", glbad, PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 401, "gitlab: a wrong token: 401");
	is_int(events(), 2, "... nothing triggered");
	capture_start(&cap);
	request(&r, "POST", "/hooks/gitlab", gl, PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 202, "gitlab: the right token: 202");
	is_int(events(), 3, "... on_event called");
	is_str(last_forge, "gitlab", "... from gitlab");

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)PUSH, strlen(PUSH), md, &n);
	snprintf(h1, sizeof(h1), "X-Gitea-Signature: ");
	for (i = 0; i < n; i++)
		snprintf(h1 + strlen(h1), 3, "%02x", md[i]);
	capture_start(&cap);
	request(&r, "POST", "/hooks/gitea", gt, PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 202, "gitea: a signed push: 202");
	is_int(events(), 4, "... on_event called");
	is_str(last_forge, "gitea", "... from gitea");
	capture_start(&cap);
	request(&r, "POST", "/hooks/github", gt, PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 401, "gitea's headers sent to /hooks/github: 401");
	buf_free(&r.body);
	buf_free(&r.headers);
}

static void
test_size(void)
{
	struct capture cap;
	struct resp r = { 0, BUF_INIT, BUF_INIT, 0 };
	struct buf big = BUF_INIT;
	const char *chunked[] = { "X-GitHub-Event: push", NULL };
	char *log;

	/* Exactly at the limit: still read and verified. */
	buf_adds(&big, PUSH);
	while (big.len < HTTPD_MAX_BODY)
		buf_addch(&big, ' ');
	capture_start(&cap);
	github(&r, "push", "s-1", big.data, big.len);
	free(capture_end(&cap));
	is_int(r.status, 202, "a push of exactly %d bytes: 202",
	    HTTPD_MAX_BODY);
	is_int(events(), 5, "... triggers");

	buf_addch(&big, ' ');
	capture_start(&cap);
	github(&r, "push", "s-2", big.data, big.len);
	log = capture_end(&cap);
	is_int(r.status, 413, "one byte more, signed: 413");
	ok(r.sent < HTTPD_MAX_BODY, "... refused before the body was sent "
	    "(%ld bytes were)", (long)r.sent);
	ok(has_header(&r, "Connection: close"), "... and the connection "
	    "closed");
	is_int(events(), 5, "... nothing triggered");
	ok(strstr(log, "webhook: github delivery from 127.0.0.1 rejected: "
	    "body over 1048576 bytes"), "... logged: %.*s", LINE(log));
	free(log);

	capture_start(&cap);
	request(&r, "POST", "/hooks/gitlab", chunked, NULL, (size_t)-1);
	log = capture_end(&cap);
	is_int(r.status, 0, "a chunked body crossing the limit: the "
	    "connection is dropped");
	ok(strstr(log, "webhook: gitlab delivery from 127.0.0.1 rejected: "
	    "body over 1048576 bytes"), "... logged: %.*s", LINE(log));
	free(log);
	is_int(events(), 5, "... nothing triggered");
	request(&r, "GET", "/healthz", NULL, NULL, 0);
	is_int(r.status, 200, "the server still answers after that");
	buf_free(&big);
	buf_free(&r.body);
	buf_free(&r.headers);
}

static void
test_metrics(void)
{
	struct resp r = { 0, BUF_INIT, BUF_INIT, 0 };
	static const char *want[] = {
		"# TYPE tend_webhook_requests_total counter\n",
		"# HELP tend_webhook_requests_total ",
		"{forge=\"github\",result=\"accepted\"} 3\n",
		"{forge=\"github\",result=\"duplicate\"} 1\n",
		"{forge=\"github\",result=\"unauthorized\"} 3\n",
		"{forge=\"github\",result=\"bad_request\"} 2\n",
		"{forge=\"github\",result=\"ignored\"} 2\n",
		"{forge=\"github\",result=\"too_large\"} 1\n",
		"{forge=\"gitlab\",result=\"accepted\"} 1\n",
		"{forge=\"gitlab\",result=\"unauthorized\"} 1\n",
		"{forge=\"gitlab\",result=\"too_large\"} 1\n",
		"{forge=\"gitea\",result=\"accepted\"} 1\n",
		"{forge=\"gitea\",result=\"unauthorized\"} 0\n",
	};
	const char *p;
	size_t i, n;

	request(&r, "GET", "/metrics", NULL, NULL, 0);
	is_int(r.status, 200, "GET /metrics: 200");
	ok(has_header(&r, "Content-Type: text/plain; version=0.0.4"),
	    "... Prometheus' content type");
	ok(str_has_prefix(buf_str(&r.body), "tend_test_metric 42\n# HELP"),
	    "... the handler's text first, ended by a newline");
	for (i = 0; i < ARRAY_SIZE(want); i++)
		ok(strstr(buf_str(&r.body), want[i]), "... has %.*s",
		    (int)strcspn(want[i], "\n"), want[i]);
	for (p = buf_str(&r.body); tap_failed && *p; p += n + !!p[n]) {
		n = strcspn(p, "\n");
		printf("# %.*s\n", (int)n, p);
	}
	buf_free(&r.body);
	buf_free(&r.headers);
}

/* A server without a secret refuses every delivery. */
static void
test_no_secret(void)
{
	struct capture cap;
	struct httpd_handlers h = { NULL, on_event, NULL, NULL };
	struct resp r = { 0, BUF_INIT, BUF_INIT, 0 };
	struct httpd *d;
	int before = events();

	d = httpd_start("127.0.0.1:0", &h);
	port = d ? httpd_port(d) : 0;
	capture_start(&cap);
	github(&r, "push", "n-1", PUSH, strlen(PUSH));
	free(capture_end(&cap));
	is_int(r.status, 401, "no secret: a signed push gets 401");
	ok(strstr(buf_str(&r.body), "TEND_WEBHOOK_SECRET is not set"),
	    "... saying TEND_WEBHOOK_SECRET is not set");
	is_int(events(), before, "... nothing triggered");
	request(&r, "GET", "/metrics", NULL, NULL, 0);
	ok(r.status == 200 && str_has_prefix(buf_str(&r.body), "# HELP"),
	    "no metrics handler: only the listener's counters");
	httpd_stop(d);
	buf_free(&r.body);
	buf_free(&r.headers);
}

/* Stopping with a kept-alive connection open still frees everything. */
static void
test_stop_with_open_connection(void)
{
	struct httpd_handlers h = { SECRET, on_event, NULL, NULL };
	struct httpd *d = httpd_start("127.0.0.1:0", &h);
	struct buf body = BUF_INIT;
	CURL *c = curl_easy_init();
	char url[64];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz",
	    d ? httpd_port(d) : 1);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	is_int(status, 200, "a kept-alive connection is served");
	httpd_stop(d);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	ok(curl_easy_perform(c) != CURLE_OK, "after httpd_stop, with that "
	    "connection still open, the port answers no more");
	curl_easy_cleanup(c);
	buf_free(&body);
}

int
main(void)
{
	int value = 42;
	struct httpd_handlers h = { SECRET, on_event, metrics, &value };
	struct httpd *d;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_listen();
	d = httpd_start("127.0.0.1:0", &h);
	if (d == NULL) {
		printf("Bail out! cannot start: %s\n", err_msg());
		return 1;
	}
	port = httpd_port(d);
	test_routes();
	test_github();
	test_gitlab_gitea();
	test_size();
	test_metrics();
	httpd_stop(d);
	test_no_secret();
	test_stop_with_open_connection();
	curl_global_cleanup();
	err_clear();
	return tap_done();
}
