/*
 * httpd: the daemon's HTTP listener (libmicrohttpd), for webhooks,
 * health and metrics.
 *
 *	POST /hooks/github, /hooks/gitlab, /hooks/gitea
 *		202 "accepted" for a verified push (on_event is called),
 *		200 "pong" for a ping, "ignored: EVENT" for other events,
 *		200 "duplicate delivery ID, ignored" for a delivery id seen
 *		among the last HTTPD_DELIVERIES, 401 when verification fails,
 *		400 for a malformed body, 413 for one announced over
 *		HTTPD_MAX_BODY (a chunked one that crosses it has its
 *		connection dropped).  Only a 202 triggers anything.
 *	GET /healthz	200 "ok"
 *	GET /metrics	200, Prometheus text: the handler's, then the
 *			listener's own counters
 *
 * Other paths get 404, a known path with another method 405 and Allow.
 * Requests are served by one thread of libmicrohttpd's; handlers run on
 * it and must be thread-safe and quick.
 */
#ifndef TEND_HTTPD_H
#define TEND_HTTPD_H

#include "buf.h"
#include "hooks.h"

#define HTTPD_MAX_BODY (1024 * 1024)	/* webhook bodies, bytes */
#define HTTPD_DELIVERIES 64		/* delivery ids remembered */
#define HTTPD_TIMEOUT 10		/* seconds a connection may idle */
#define HTTPD_CONNECTIONS 64		/* connections served at once */

struct httpd_handlers {
	const char *secret;	/* webhook secret (borrowed; may be NULL) */
	/* A verified delivery (from MHD's thread; must be thread-safe). */
	void (*on_event)(const struct hook_event *ev, void *arg);
	/* Append the Prometheus text exposition for GET /metrics. */
	void (*metrics)(struct buf *out, void *arg);
	void *arg;
};

struct httpd;

/*
 * Listen on "ADDR:PORT": an IPv4 address in dots or "[IPv6]", port 0
 * for any free one.  h is copied; h->secret and h->arg are borrowed and
 * must outlive the server; either callback may be NULL.  Returns the
 * server (free with httpd_stop), or NULL with err_set.
 */
struct httpd *httpd_start(const char *listen, const struct httpd_handlers *h);

/* The port the server is bound to. */
int httpd_port(const struct httpd *d);

/* Replace the webhook secret (copied; NULL refuses every delivery). */
void httpd_set_secret(struct httpd *d, const char *secret);

/* Stop listening, wait for requests in flight, free d (NULL is fine). */
void httpd_stop(struct httpd *d);

/*
 * Append the listener's counters in Prometheus text format: # HELP,
 * # TYPE, and tend_webhook_requests_total{forge="..",result=".."} for
 * every forge and result: "accepted" (a push, handed on), "ignored" (a
 * ping or another event), "duplicate", "unauthorized", "bad_request",
 * "too_large".  Thread-safe.
 */
void httpd_metrics(const struct httpd *d, struct buf *out);

#endif
