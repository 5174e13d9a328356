/* health: http checks through libcurl, command checks over SSH. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "health.h"
#include "log.h"
#include "shell.h"

static void
curl_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");
}

void
health_global_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, curl_init);
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* One try of an http check: 0 when the status is the expected one. */
static int
try_http(const struct rendered_check *c, struct buf *seen)
{
	CURL *h = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (h == NULL) {
		buf_adds(seen, "cannot start libcurl");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, c->http);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->check->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->check->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tend-health-check");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	buf_reset(seen);
	if (rc != CURLE_OK) {
		buf_addf(seen, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	if (status != c->check->expect_status) {
		buf_addf(seen, "HTTP %ld, expected %d", status,
		    c->check->expect_status);
		return -1;
	}
	return 0;
}

/* One try of a command check on the host: 0 when it exits 0. */
static int
try_command(struct ssh *ssh, const struct rendered_check *c,
    struct buf *seen)
{
	struct buf cmd = BUF_INIT, out = BUF_INIT;
	int status = 0, rc;

	sh_addf(&cmd, "timeout %lds sh -c -- %Q 2>&1",
	    (c->check->timeout_ms + 999) / 1000, c->command);
	rc = ssh_exec(ssh, cmd.data, NULL, 0, &out, NULL, &status);
	buf_reset(seen);
	if (rc < 0)
		buf_adds(seen, err_msg());
	else if (status != 0) {
		size_t len = out.len > 300 ? 300 : out.len;

		buf_addf(seen, "%s %d", status == 124 ? "timed out, exit" :
		    "exit", status);
		if (len) {
			buf_adds(seen, ": ");
			buf_add(seen, out.data + out.len - len, len);
			while (seen->len && seen->data[seen->len - 1] == '\n')
				seen->data[--seen->len] = '\0';
		}
	}
	buf_free(&cmd);
	buf_free(&out);
	return rc < 0 || status != 0 ? -1 : 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

int
health_run(struct ssh *c, const struct desired *d)
{
	struct buf seen = BUF_INIT;
	size_t i;
	int rc = 0;

	health_global_init();	/* done already, but for a rollback's */
	for (i = 0; i < d->nchecks && rc == 0; i++) {
		const struct rendered_check *hc = &d->checks[i];
		int tries = hc->check->retries + 1, t;

		for (t = 1; t <= tries; t++) {
			rc = hc->http ? try_http(hc, &seen) :
			    try_command(c, hc, &seen);
			if (rc == 0)
				break;
			if (t < tries)
				sleep_ms(hc->check->interval_ms);
		}
		if (rc < 0)
			err_set("health check '%s' failed after %d tr%s: %s",
			    hc->check->name, tries, tries == 1 ? "y" : "ies",
			    buf_str(&seen));
	}
	buf_free(&seen);
	return rc;
}
