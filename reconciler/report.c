/* report: the commit status providers and the thread that posts. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "child.h"
#include "log.h"
#include "report.h"
#include "store.h"

#ifndef TEND_VERSION
#define TEND_VERSION "0.0.0-dev"
#endif

enum provider { P_NONE, P_GITHUB, P_GITLAB, P_GITEA, P_NOTES };

static const char *const provider_names[] = { "none", "github", "gitlab",
	"gitea", "git-notes" };

/* Tries before a status is given up (the backoff caps at five minutes). */
#define MAX_TRIES 12

struct post {
	char sha[41];
	char *context;
	enum status_state state;
	char *desc;
	int tries;
	long long not_before_ms;	/* retry after */
	struct post *next;
};

struct reporter {
	enum provider p;
	char *repo;			/* owner/repo or project path or id */
	char *api;
	char *token;
	char *public_url;
	char *describe;
	char *state_dir;
	char *gitdir, *push_url;
	const struct ssh_opts *ssh;
	struct store *db;		/* its own connection, under dbmu */
	pthread_mutex_t dbmu;
	pthread_t th;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct post *queue;
	int busy;			/* a post in progress */
	int stop;
	char *last_error;
	unsigned long long ok, failed, retried, dropped;
};


const char *
status_state_name(enum status_state s)
{
	static const char *const names[] = { "pending", "success", "failure",
		"error" };

	return names[s];
}

/* ----------------------------------------------------------- the setup */

char *
report_repo_on(const char *url, const char *host)
{
	const char *p = NULL, *at;
	size_t hl = strlen(host), n;
	char *s;

	if (str_has_prefix(url, "https://") || str_has_prefix(url, "ssh://") ||
	    str_has_prefix(url, "http://")) {
		p = strstr(url, "://") + 3;
		if ((at = strchr(p, '@')) != NULL && at < p + strcspn(p, "/"))
			p = at + 1;
		if (strncmp(p, host, hl) != 0 || (p[hl] != '/' && p[hl] != ':'))
			return NULL;
		p += hl;
		if (*p == ':')
			p += strcspn(p, "/");
		if (*p == '\0')
			return NULL;
		p++;
	} else if ((at = strchr(url, '@')) != NULL && strncmp(at + 1, host,
	    hl) == 0 && at[1 + hl] == ':') {
		p = at + 1 + hl + 1;
	} else {
		return NULL;
	}
	s = xstrdup(p);
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	if (str_has_suffix(s, ".git"))
		s[n - 4] = '\0';
	if (*s == '\0' || strchr(s, '/') == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static int
valid_repo(enum provider p, const char *repo)
{
	const char *c;

	if (*repo == '\0' || *repo == '/' || repo[strlen(repo) - 1] == '/')
		return 0;
	for (c = repo; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_./", *c))
			return 0;
	if (strstr(repo, ".."))
		return 0;
	/* GitLab also takes a numeric project id. */
	return p == P_GITLAB || strchr(repo, '/') != NULL;
}

static int
setup(struct reporter *r, const struct report_opts *o, const char *url)
{
	const char *colon;
	size_t i;

	if (o->status && strcmp(o->status, "none") == 0) {
		r->describe = xstrdup("off (--status none)");
		return 0;
	}
	if (o->status && strcmp(o->status, "git-notes") == 0) {
		if (o->gitdir == NULL)
			return err_set("--status git-notes needs a repository");
		r->p = P_NOTES;
		char *shown = o->push_url ? url_redact(o->push_url) : NULL;

		r->describe = xasprintf("git notes under refs/notes/tend%s%s",
		    shown ? ", pushed to " : " (kept local)",
		    shown ? shown : "");
		free(shown);
		return 0;
	}
	if (o->status) {
		if ((colon = strchr(o->status, ':')) == NULL)
			return err_set("--status %s: write PROVIDER:OWNER/REPO "
			    "(github, gitlab, gitea), git-notes or none",
			    o->status);
		for (i = P_GITHUB; i <= P_GITEA; i++)
			if (strlen(provider_names[i]) == (size_t)(colon -
			    o->status) && strncmp(o->status, provider_names[i],
			    (size_t)(colon - o->status)) == 0)
				r->p = (enum provider)i;
		if (r->p == P_NONE)
			return err_set("--status %s: unknown provider '%.*s' "
			    "(github, gitlab, gitea, git-notes or none)",
			    o->status, (int)(colon - o->status), o->status);
		r->repo = xstrdup(colon + 1);
	} else if (url && (r->repo = report_repo_on(url, "github.com")) != NULL) {
		r->p = P_GITHUB;
	} else if (url && (r->repo = report_repo_on(url, "gitlab.com")) != NULL) {
		r->p = P_GITLAB;
	} else {
		r->describe = xstrdup("off: the forge of the remote is not "
		    "github.com or gitlab.com; name it with --status "
		    "PROVIDER:OWNER/REPO and --status-api URL");
		return 0;
	}
	if (!valid_repo(r->p, r->repo))
		return err_set("--status %s: '%s' is not a repository path "
		    "(OWNER/REPO)", provider_names[r->p], r->repo);
	if (o->api)
		r->api = xstrdup(o->api);
	else if (r->p == P_GITHUB)
		r->api = xstrdup("https://api.github.com");
	else if (r->p == P_GITLAB)
		r->api = xstrdup("https://gitlab.com/api/v4");
	else
		return err_set("--status gitea:%s needs --status-api URL (the "
		    "server's API, such as https://gitea.example.com/api/v1)",
		    r->repo);
	while (*r->api && r->api[strlen(r->api) - 1] == '/')
		r->api[strlen(r->api) - 1] = '\0';
	if (!str_has_prefix(r->api, "https://") &&
	    !str_has_prefix(r->api, "http://"))
		return err_set("--status-api %s: give an http(s) URL", r->api);
	if (getenv("TEND_STATUS_TOKEN") == NULL ||
	    *getenv("TEND_STATUS_TOKEN") == '\0')
		return err_set("commit statuses to %s %s need a token in "
		    "TEND_STATUS_TOKEN (or --status none)",
		    provider_names[r->p], r->repo);
	r->token = xstrdup(getenv("TEND_STATUS_TOKEN"));
	r->describe = xasprintf("%s %s at %s", provider_names[r->p], r->repo,
	    r->api);
	return 0;
}

/* ------------------------------------------------------- one HTTP post */

struct reply {
	struct buf body;
	long retry_after;		/* seconds, -1: none */
	long long reset;		/* x-ratelimit-reset, epoch s; 0: none */
	int ratelimited;		/* x-ratelimit-remaining: 0 */
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *rp = arg;

	if (rp->body.len < 4096)
		buf_add(&rp->body, p, size * n);
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *rp = arg;
	size_t len = size * n;
	char line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	if (strncasecmp(line, "retry-after:", 12) == 0)
		rp->retry_after = strtol(line + 12, NULL, 10);
	else if (strncasecmp(line, "x-ratelimit-reset:", 18) == 0)
		rp->reset = strtoll(line + 18, NULL, 10);
	else if (strncasecmp(line, "x-ratelimit-remaining:", 22) == 0)
		rp->ratelimited = strtol(line + 22, NULL, 10) == 0;
	return len;
}

static char *
url_escape(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s; s++) {
		if (isalnum((unsigned char)*s) || strchr("-_.~", *s))
			buf_addch(&b, *s);
		else
			buf_addf(&b, "%%%02X", (unsigned char)*s);
	}
	return buf_detach(&b, NULL);
}

/* The status in the provider's words. */
static const char *
state_word(enum provider p, enum status_state s)
{
	if (p == P_GITLAB)
		return s == ST_PENDING ? "running" : s == ST_SUCCESS ?
		    "success" : "failed";
	return status_state_name(s);
}

/*
 * Post one status.  Returns 0; 1 to retry after *wait_ms; -1 to give up.
 * *why gets the reason when it did not work (never the token).
 */
static int
http_post(struct reporter *r, const struct post *ps, long *wait_ms,
    char **why)
{
	struct curl_slist *hdrs = NULL;
	struct reply rp = { BUF_INIT, -1, 0, 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	char *url, *auth, *body, *proj;
	json_t *doc;
	long code = 0;
	CURLcode cc;
	CURL *h;
	int rc;

	if (r->p == P_GITLAB) {
		proj = url_escape(r->repo);
		url = xasprintf("%s/projects/%s/statuses/%s", r->api, proj,
		    ps->sha);
		free(proj);
		auth = xasprintf("PRIVATE-TOKEN: %s", r->token);
		doc = json_pack("{s:s,s:s,s:s}", "state",
		    state_word(r->p, ps->state), "name", ps->context,
		    "description", ps->desc);
	} else {
		url = xasprintf("%s/repos/%s/statuses/%s", r->api, r->repo,
		    ps->sha);
		auth = xasprintf("Authorization: %s %s", r->p == P_GITHUB ?
		    "Bearer" : "token", r->token);
		doc = json_pack("{s:s,s:s,s:s}", "state",
		    state_word(r->p, ps->state), "context", ps->context,
		    "description", ps->desc);
	}
	if (r->public_url)
		json_object_set_new(doc, "target_url",
		    json_string(r->public_url));
	body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, r->p == P_GITHUB ?
	    "Accept: application/vnd.github+json" : "Accept: application/json");
	hdrs = curl_slist_append(hdrs, auth);
	if ((h = curl_easy_init()) == NULL)
		fatalx("cannot start libcurl");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tend/" TEND_VERSION);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &rp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &rp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	/* The header held the token: wipe it before it is freed. */
	memset(auth, 0, strlen(auth));
	free(auth);
	free(body);
	*wait_ms = 0;
	if (cc != CURLE_OK) {
		*why = xasprintf("%s: %s", url, *errbuf ? errbuf :
		    curl_easy_strerror(cc));
		rc = 1;
	} else if (code >= 200 && code < 300) {
		rc = 0;
	} else {
		json_t *j = json_loadb(rp.body.data ? rp.body.data : "",
		    rp.body.len, 0, NULL);
		const char *msg = json_string_value(json_object_get(j,
		    "message"));
		size_t i;

		*why = xasprintf("%s: HTTP %ld%s%.200s", url, code,
		    msg || rp.body.len ? ": " : "", msg ? msg :
		    rp.body.data ? rp.body.data : "");
		for (i = 0; (*why)[i]; i++)
			if ((unsigned char)(*why)[i] < ' ')
				(*why)[i] = ' ';
		json_decref(j);
		if (rp.retry_after >= 0)
			*wait_ms = rp.retry_after * 1000;
		else if (rp.reset > 0 && (code == 403 || code == 429))
			*wait_ms = (rp.reset - wall_ms() / 1000) * 1000;
		if (*wait_ms < 0)
			*wait_ms = 0;
		rc = 1;
	}
	free(url);
	buf_free(&rp.body);
	return rc;
}

/* ------------------------------------------------------------ git notes */

static int
notes_post(struct reporter *r, const struct post *ps, char **why)
{
	char *line = xasprintf("%s: %s: %s", ps->context,
	    status_state_name(ps->state), ps->desc);
	const char *argv[] = { "_git", "note", r->gitdir, ps->sha,
		ps->context, line, r->push_url ? r->push_url : "-",
		r->ssh && r->ssh->identity ? r->ssh->identity : "-",
		r->ssh && r->ssh->known_hosts ? r->ssh->known_hosts : "-",
		NULL };
	int rc;

	/* A child does the libgit2 work and the push (child.c). */
	rc = child_run(argv, 5 * 60 * 1000L, &r->stop);
	free(line);
	if (rc == 0)
		return 0;
	*why = xstrdup(err_msg());
	return 1;
}

/* ------------------------------------------------------------ the queue */

static char *shorten_clean(const char *s);

static void
post_free(struct post *ps)
{
	free(ps->context);
	free(ps->desc);
	free(ps);
}

static void
set_error(struct reporter *r, const char *why)
{
	pthread_mutex_lock(&r->mu);
	free(r->last_error);
	r->last_error = why ? xstrdup(why) : NULL;
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_lock(&r->dbmu);
	if (r->db && store_report_error(r->db, why) < 0)
		log_warnx("history: %s", err_msg());
	pthread_mutex_unlock(&r->dbmu);
}

/* The next post due, taken off the queue; NULL and *wait when none is
 * due yet. */
static struct post *
next_due(struct reporter *r, long long *wait)
{
	struct post **pp, *ps;
	long long now = wall_ms();

	*wait = -1;
	for (pp = &r->queue; (ps = *pp) != NULL; pp = &ps->next) {
		if (ps->not_before_ms <= now) {
			*pp = ps->next;
			return ps;
		}
		if (*wait < 0 || ps->not_before_ms - now < *wait)
			*wait = ps->not_before_ms - now;
	}
	return NULL;
}

static void *
poster(void *arg)
{
	struct reporter *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct post *ps;
		long long wait;
		long retry_ms = 0;
		char *why = NULL;
		int rc;

		if ((ps = next_due(r, &wait)) == NULL) {
			struct timespec ts;
			long long until = wall_ms() + (wait < 0 ? 60000 : wait);

			ts.tv_sec = until / 1000;
			ts.tv_nsec = (until % 1000) * 1000000L;
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
			continue;
		}
		r->busy = 1;
		pthread_mutex_unlock(&r->mu);
		rc = r->p == P_NOTES ? notes_post(r, ps, &why) :
		    http_post(r, ps, &retry_ms, &why);
		if (r->p == P_NOTES)
			retry_ms = 0;
		if (rc == 0) {
			log_info("status %s %s on %.7s: %s", ps->context,
			    status_state_name(ps->state), ps->sha, ps->desc);
			pthread_mutex_lock(&r->dbmu);
			if (r->db && store_status_put(r->db, ps->sha,
			    ps->context, status_state_name(ps->state),
			    ps->desc) < 0)
				log_warnx("history: %s", err_msg());
			pthread_mutex_unlock(&r->dbmu);
			set_error(r, NULL);
		} else {
			long backoff = 1000L << (ps->tries < 9 ? ps->tries : 9);

			if (backoff > 300000)
				backoff = 300000;
			if (retry_ms > backoff)
				backoff = retry_ms > 3600000 ? 3600000 :
				    retry_ms;
			ps->tries++;
			log_warnx("status %s %s on %.7s not posted (try %d of "
			    "%d): %s%s", ps->context,
			    status_state_name(ps->state), ps->sha, ps->tries,
			    MAX_TRIES, why, ps->tries < MAX_TRIES ? "" :
			    "; giving up");
			set_error(r, why);
			ps->not_before_ms = wall_ms() + backoff;
		}
		free(why);
		err_clear();
		pthread_mutex_lock(&r->mu);
		r->busy = 0;
		if (rc == 0) {
			r->ok++;
			post_free(ps);
		} else if (ps->tries >= MAX_TRIES) {
			r->failed++;
			post_free(ps);
		} else {
			struct post *q;

			r->retried++;
			/* A newer status for the same commit and context
			 * queued meanwhile wins; else retry this one. */
			for (q = r->queue; q; q = q->next)
				if (!strcmp(q->sha, ps->sha) &&
				    !strcmp(q->context, ps->context))
					break;
			if (q) {
				post_free(ps);
			} else {
				ps->next = r->queue;
				r->queue = ps;
			}
		}
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	err_clear();
	return NULL;
}

struct reporter *
report_open(const struct report_opts *o, const char *remote_url)
{
	struct reporter *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->dbmu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (setup(r, o, remote_url) < 0) {
		report_close(r);
		return NULL;
	}
	if (r->p == P_NONE)
		return r;
	r->public_url = o->public_url ? xstrdup(o->public_url) : NULL;
	r->gitdir = o->gitdir ? xstrdup(o->gitdir) : NULL;
	r->push_url = o->push_url ? xstrdup(o->push_url) : NULL;
	r->ssh = o->ssh;
	if (o->state_dir && (r->db = store_open(o->state_dir)) == NULL)
		log_warnx("commit statuses: %s (posting without remembering "
		    "what was posted)", err_msg());
	if (pthread_create(&r->th, NULL, poster, r) != 0)
		fatalx("cannot start the status thread");
	r->running = 1;
	return r;
}

const char *
report_describe(const struct reporter *r)
{
	return r->describe ? r->describe : "off";
}

/* Cut s to at most max characters (not bytes), ending in "..." then. */
static char *
cut(const char *s, size_t max)
{
	size_t n = strlen(s), i, chars = 0;

	if (utf8_count(s, n) <= max)
		return xstrdup(s);
	for (i = 0; i < n && chars < max - 3; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	/* i is at the start of the next character: keep what is before. */
	return xasprintf("%.*s...", (int)i, s);
}

/* Bytes that are not UTF-8 (from a host's output, say) as '?': the
 * APIs take JSON, which is UTF-8. */
static char *
clean_utf8(const char *s)
{
	json_t *j = json_string(s);
	char *out, *p;

	if (j) {
		json_decref(j);
		return xstrdup(s);
	}
	out = xstrdup(s);
	for (p = out; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return out;
}

char *
report_shorten(const char *in)
{
	char *s = clean_utf8(in), *res = shorten_clean(s);

	free(s);
	return res;
}

static char *
shorten_clean(const char *s)
{
	const char *tail = strstr(s, "; ");
	char *pre, *head, *out;
	size_t tl;

	while (tail && strstr(tail + 2, "; "))
		tail = strstr(tail + 2, "; ");
	if (utf8_count(s, strlen(s)) <= STATUS_MAX_DESC || tail == NULL ||
	    (tl = utf8_count(tail, strlen(tail))) > STATUS_MAX_DESC / 2)
		return cut(s, STATUS_MAX_DESC);
	pre = xstrndup(s, (size_t)(tail - s));
	head = cut(pre, STATUS_MAX_DESC - tl);
	out = xasprintf("%s%s", head, tail);
	free(pre);
	free(head);
	return out;
}

void
report_status(struct reporter *r, const char *sha, const char *context,
    enum status_state state, const char *description)
{
	struct post *ps, **pp;
	char *last = NULL;
	int same;

	if (r == NULL || r->p == P_NONE || sha == NULL || strlen(sha) != 40)
		return;
	ps = xcalloc(1, sizeof(*ps));
	memcpy(ps->sha, sha, 40);
	ps->context = xstrdup(context);
	ps->state = state;
	ps->desc = report_shorten(description);
	pthread_mutex_lock(&r->mu);
	/* A queued status for the same commit and context is replaced:
	 * the newest word wins, whatever was posted before. */
	for (pp = &r->queue; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->sha, sha) && !strcmp((*pp)->context,
		    context)) {
			struct post *old = *pp;

			ps->next = old->next;
			*pp = ps;
			post_free(old);
			pthread_cond_broadcast(&r->cv);
			pthread_mutex_unlock(&r->mu);
			return;
		}
	}
	pthread_mutex_unlock(&r->mu);
	/* Only changes: the state last posted is not posted again. */
	pthread_mutex_lock(&r->dbmu);
	same = r->db && store_status_get(r->db, sha, context, &last) == 1 &&
	    strcmp(last, status_state_name(state)) == 0;
	pthread_mutex_unlock(&r->dbmu);
	free(last);
	if (same) {
		post_free(ps);
		return;
	}
	pthread_mutex_lock(&r->mu);
	for (pp = &r->queue; *pp; pp = &(*pp)->next)
		;
	*pp = ps;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

int
report_flush(struct reporter *r, long ms)
{
	long long until = wall_ms() + ms;
	struct timespec ts;
	int rc;

	if (r == NULL || !r->running)
		return 0;
	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000L;
	pthread_mutex_lock(&r->mu);
	while ((r->queue || r->busy) && wall_ms() < until)
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	rc = r->queue || r->busy ? -1 : 0;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
report_close(struct reporter *r)
{
	struct post *ps;
	size_t n = 0;

	if (r == NULL)
		return;
	if (r->running) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->th, NULL);
	}
	while ((ps = r->queue) != NULL) {
		r->queue = ps->next;
		post_free(ps);
		n++;
	}
	if (n)
		log_warnx("%zu commit status%s not posted: tend is stopping", n,
		    n == 1 ? "" : "es");
	store_close(r->db);
	if (r->token)
		memset(r->token, 0, strlen(r->token));
	free(r->token);
	free(r->repo);
	free(r->api);
	free(r->public_url);
	free(r->describe);
	free(r->gitdir);
	free(r->push_url);
	free(r->last_error);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->dbmu);
	free(r);
}

void
report_metrics(struct reporter *r, struct buf *out)
{
	size_t n = 0;
	struct post *ps;

	if (r == NULL || r->p == P_NONE)
		return;
	pthread_mutex_lock(&r->mu);
	for (ps = r->queue; ps; ps = ps->next)
		n++;
	buf_addf(out, "# HELP tend_status_posts_total Commit statuses posted "
	    "(ok), retried, or given up (failed).\n"
	    "# TYPE tend_status_posts_total counter\n"
	    "tend_status_posts_total{result=\"ok\"} %llu\n"
	    "tend_status_posts_total{result=\"retried\"} %llu\n"
	    "tend_status_posts_total{result=\"failed\"} %llu\n"
	    "# HELP tend_status_queue Commit statuses waiting to be posted.\n"
	    "# TYPE tend_status_queue gauge\n"
	    "tend_status_queue %zu\n", r->ok, r->retried, r->failed, n);
	pthread_mutex_unlock(&r->mu);
}

char *
report_last_error(struct reporter *r)
{
	char *e;

	if (r == NULL)
		return NULL;
	pthread_mutex_lock(&r->mu);
	e = r->last_error ? xstrdup(r->last_error) : NULL;
	pthread_mutex_unlock(&r->mu);
	return e;
}
