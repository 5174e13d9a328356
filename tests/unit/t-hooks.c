/* Unit tests: webhook verification and parsing for each forge. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hooks.h"
#include "log.h"
#include "tap.h"

#define SECRET "It's a Secret to Everybody"
#define C1 "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f"

/* A request's headers: up to 8 name/value pairs. */
struct hdrs {
	const char *kv[16];
};

static const char *
lookup(void *ctx, const char *name)
{
	struct hdrs *h = ctx;
	size_t i;

	for (i = 0; i < 16 && h->kv[i]; i += 2)
		if (strcasecmp(h->kv[i], name) == 0)
			return h->kv[i + 1];
	return NULL;
}

/* Hex HMAC-SHA256 of data with key, computed here for the test. */
static void
hmac_hex(const char *key, const char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)data,
	    len, md, &n);
	for (i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

static int
verify(enum forge f, const char *secret, struct hdrs *h, const char *body)
{
	return hook_verify(f, secret, lookup, h, body, strlen(body));
}

static int
parse(enum forge f, struct hdrs *h, const char *body, struct hook_event *ev)
{
	return hook_parse(f, lookup, h, body, strlen(body), ev);
}

/* The reason must not give away the secret or the signature wanted. */
static int
discreet(const char *why, const char *want_hex)
{
	return strstr(why, SECRET) == NULL && strstr(why, "Secret") == NULL &&
	    (want_hex == NULL || strstr(why, want_hex) == NULL);
}

static void
test_github_verify(void)
{
	const char *body = "Hello, World!";
	char hex[65], sig[80], bad[80];
	struct hdrs h = { { "X-Hub-Signature-256", sig } };
	struct hdrs none = { { "Content-Type", "application/json" } };
	struct hdrs sha1 = { { "X-Hub-Signature", "sha1=0123" } };

	hmac_hex(SECRET, body, strlen(body), hex);
	is_str(hex, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c"
	    "8b043e17", "the test's HMAC gives GitHub's published vector");
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), 0,
	    "github: the published signature verifies");
	is_int(verify(FORGE_GITHUB, SECRET, &h, "Hello, World?"), -1,
	    "github: a changed body does not");
	is_int(verify(FORGE_GITHUB, "it's a secret to everybody", &h, body),
	    -1, "github: another secret does not");

	snprintf(bad, sizeof(bad), "sha256=%s", hex);
	bad[7] = bad[7] == '0' ? '1' : '0';
	h.kv[1] = bad;
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), -1,
	    "github: one wrong digit fails");
	is_str(err_msg(), "signature does not match: check the webhook "
	    "secret", "github: the reason says what to check");
	ok(discreet(err_msg(), hex), "github: the reason holds neither the "
	    "secret nor the expected signature");

	snprintf(bad, sizeof(bad), "sha256=%s", hex);
	for (char *p = bad; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	memcpy(bad, "sha256=", 7);
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), 0,
	    "github: upper-case hex digits verify too");

	snprintf(bad, sizeof(bad), "sha1=%s", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), -1,
	    "github: another algorithm's prefix fails");
	ok(strstr(err_msg(), "malformed X-Hub-Signature-256 header"),
	    "github: ... as malformed: %s", err_msg());
	snprintf(bad, sizeof(bad), "sha256=%.62s", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), -1,
	    "github: a short signature fails");
	snprintf(bad, sizeof(bad), "sha256=%sff", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), -1,
	    "github: a long signature fails");
	snprintf(bad, sizeof(bad), "sha256=%.63sg", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, body), -1,
	    "github: a non-hex digit fails");

	is_int(verify(FORGE_GITHUB, SECRET, &none, body), -1,
	    "github: no signature header fails");
	is_str(err_msg(), "missing X-Hub-Signature-256 header",
	    "github: the reason names the header");
	is_int(verify(FORGE_GITHUB, SECRET, &sha1, body), -1,
	    "github: the SHA-1 signature alone is not enough");
	ok(strstr(err_msg(), "missing X-Hub-Signature-256 header"),
	    "github: ... and the reason says so: %s", err_msg());
}

static void
test_empty_secret(void)
{
	const char *body = "{}";
	char hex[65], sig[80];
	struct hdrs gh = { { "X-Hub-Signature-256", sig } };
	struct hdrs gl = { { "X-Gitlab-Token", "" } };
	struct hdrs gt = { { "X-Gitea-Signature", hex } };

	/* A signature made with the empty key must not open the door. */
	hmac_hex("", body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	is_int(verify(FORGE_GITHUB, "", &gh, body), -1,
	    "empty secret: github never verifies");
	ok(strstr(err_msg(), "TEND_WEBHOOK_SECRET is not set"),
	    "empty secret: the reason says TEND_WEBHOOK_SECRET is not set");
	is_int(verify(FORGE_GITHUB, NULL, &gh, body), -1,
	    "NULL secret: github never verifies");
	ok(strstr(err_msg(), "TEND_WEBHOOK_SECRET is not set"),
	    "NULL secret: the same reason");
	is_int(verify(FORGE_GITLAB, "", &gl, body), -1,
	    "empty secret: an empty GitLab token does not match it");
	is_int(verify(FORGE_GITEA, NULL, &gt, body), -1,
	    "NULL secret: gitea never verifies");
}

static void
test_gitlab_verify(void)
{
	struct hdrs h = { { "X-Gitlab-Token", SECRET } };
	struct hdrs none = { { "X-Gitlab-Event", "Push Hook" } };

	is_int(verify(FORGE_GITLAB, SECRET, &h, "{}"), 0,
	    "gitlab: the token equal to the secret verifies");
	h.kv[1] = "It's a Secret to Everybod";
	is_int(verify(FORGE_GITLAB, SECRET, &h, "{}"), -1,
	    "gitlab: a prefix of the secret fails");
	ok(strstr(err_msg(), "X-Gitlab-Token does not match") &&
	    discreet(err_msg(), NULL), "gitlab: the reason says so, without "
	    "the secret: %s", err_msg());
	h.kv[1] = SECRET "!";
	is_int(verify(FORGE_GITLAB, SECRET, &h, "{}"), -1,
	    "gitlab: the secret plus one character fails");
	h.kv[1] = "";
	is_int(verify(FORGE_GITLAB, SECRET, &h, "{}"), -1,
	    "gitlab: an empty token fails");
	is_int(verify(FORGE_GITLAB, SECRET, &none, "{}"), -1,
	    "gitlab: no token header fails");
	is_str(err_msg(), "missing X-Gitlab-Token header",
	    "gitlab: the reason names the header");
}

static void
test_gitea_verify(void)
{
	const char *body = "{\"ref\":\"refs/heads/main\"}";
	const char *form = "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D";
	char hex[65], formhex[65], pfx[80];
	struct hdrs h = { { "X-Gitea-Signature", hex } };
	struct hdrs fj = { { "X-Forgejo-Signature", hex } };
	struct hdrs none = { { "X-Gitea-Event", "push" } };
	struct hdrs f = { { "Content-Type", "application/x-www-form-urlencoded",
	    "X-Gitea-Signature", hex } };
	struct hdrs fraw = { { "Content-Type",
	    "application/x-www-form-urlencoded", "X-Gitea-Signature",
	    formhex } };
	struct hdrs gh = { { "X-Gitea-Signature", pfx } };

	hmac_hex(SECRET, body, strlen(body), hex);
	hmac_hex(SECRET, form, strlen(form), formhex);
	is_int(verify(FORGE_GITEA, SECRET, &h, body), 0,
	    "gitea: X-Gitea-Signature verifies");
	is_int(verify(FORGE_GITEA, SECRET, &fj, body), 0,
	    "forgejo: X-Forgejo-Signature verifies");
	is_int(verify(FORGE_GITEA, "other", &h, body), -1,
	    "gitea: another secret fails");
	ok(strstr(err_msg(), "signature does not match") &&
	    discreet(err_msg(), hex), "gitea: the reason is discreet: %s",
	    err_msg());
	snprintf(pfx, sizeof(pfx), "sha256=%s", hex);
	is_int(verify(FORGE_GITEA, SECRET, &gh, body), -1,
	    "gitea: a GitHub-style prefix is malformed here");
	ok(strstr(err_msg(), "malformed X-Gitea-Signature header"),
	    "gitea: ... and said so: %s", err_msg());
	is_int(verify(FORGE_GITEA, SECRET, &none, body), -1,
	    "gitea: no signature header fails");
	ok(strstr(err_msg(), "missing X-Gitea-Signature header"),
	    "gitea: the reason names the header: %s", err_msg());
	is_int(verify(FORGE_GITEA, SECRET, &f, form), 0,
	    "gitea form: the signature of the JSON in the payload verifies");
	is_int(verify(FORGE_GITEA, SECRET, &fraw, form), -1,
	    "gitea form: a signature of the raw form body does not");
	is_int(verify(FORGE_GITEA, SECRET, &f, body), 0,
	    "gitea: JSON labelled a form is signed as sent");
	is_int(hook_verify(FORGE_GITEA, SECRET, lookup, &f, NULL, 0), -1,
	    "gitea form: an empty body (NULL, as from httpd) fails");
	is_str(err_msg(), "form body without a \"payload\" field",
	    "gitea form: ... for want of a payload field");
}

static void
test_github_form_verify(void)
{
	const char *form = "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D";
	const char *json = "{\"ref\":\"refs/heads/main\"}";
	char hex[65], sig[80];
	struct hdrs h = { { "Content-Type", "application/x-www-form-urlencoded",
	    "X-Hub-Signature-256", sig } };

	hmac_hex(SECRET, form, strlen(form), hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, form), 0,
	    "github form: the signature of the raw form body verifies");
	hmac_hex(SECRET, json, strlen(json), hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	is_int(verify(FORGE_GITHUB, SECRET, &h, form), -1,
	    "github form: a signature of the decoded JSON does not");
}

static void
test_parse_push(void)
{
	struct hook_event ev;
	struct hdrs gh = { { "X-GitHub-Event", "push", "X-GitHub-Delivery",
	    "72d3162e-cc78-11e3-81ab-4c9367dc0958" } };
	struct hdrs form = { { "X-GitHub-Event", "push", "Content-Type",
	    "application/x-www-form-urlencoded; charset=utf-8" } };
	struct hdrs gl = { { "X-Gitlab-Event", "Push Hook",
	    "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e" } };
	struct hdrs gt = { { "X-Forgejo-Event", "push", "X-Forgejo-Delivery",
	    "f6266f16-1bf3-46a5-9ea4-602e06ead473" } };

	memset(&ev, 0xff, sizeof(ev));
	is_int(parse(FORGE_GITHUB, &gh, "{\"ref\":\"refs/heads/main\","
	    "\"before\":\"0000000000000000000000000000000000000000\","
	    "\"after\":\"5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B1C2D3E4F\","
	    "\"commits\":[{\"id\":\"x\"}]}", &ev), 0, "github push parses");
	is_int(ev.forge, FORGE_GITHUB, "github push: forge");
	is_str(ev.kind, "push", "github push: kind");
	is_str(ev.ref, "refs/heads/main", "github push: ref");
	is_str(ev.after, C1, "github push: after, lower-cased");
	is_str(ev.delivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958",
	    "github push: delivery id from X-GitHub-Delivery");
	hook_event_free(&ev);
	ok(ev.ref == NULL, "hook_event_free clears ref");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITHUB, &form, "payload=%7B%22ref%22%3A+"
	    "%22refs%2Fheads%2Frelease%2F1.0%22%2C%22after%22%3A%22" C1
	    "%22%7D&other=1", &ev), 0, "github form push parses");
	is_str(ev.ref, "refs/heads/release/1.0", "github form: ref decoded "
	    "from the payload field");
	is_str(ev.after, C1, "github form: after");
	is_str(ev.delivery, "", "github form: no delivery header, \"\"");
	hook_event_free(&ev);
	is_int(parse(FORGE_GITHUB, &form, "a=b&payload=%7B%22ref%22%3A%22"
	    "refs%2Fheads%2Fx%22%2C%22after%22%3A%22" C1 "%22%7D", &ev), 0,
	    "github form: payload need not be the first field");
	is_str(ev.ref, "refs/heads/x", "github form: ... its ref");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITHUB, &form, " {\"ref\":\"refs/heads/main\","
	    "\"after\":\"" C1 "\"}", &ev), 0, "JSON labelled a form (as "
	    "curl -d sends it) parses as JSON");
	is_str(ev.ref, "refs/heads/main", "... its ref");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITLAB, &gl, "{\"object_kind\":\"push\",\"ref\":"
	    "\"refs/heads/main\",\"after\":\"" C1 "\"}", &ev), 0,
	    "gitlab push parses");
	is_str(ev.kind, "push", "gitlab: \"Push Hook\" is kind push");
	is_str(ev.ref, "refs/heads/main", "gitlab push: ref");
	is_str(ev.after, C1, "gitlab push: after");
	is_str(ev.delivery, "13792a34-cac6-4fda-95a8-c58e00a3954e",
	    "gitlab push: delivery id from X-Gitlab-Event-UUID");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITEA, &gt, "{\"ref\":\"refs/heads/main\","
	    "\"after\":\"" C1 "\"}", &ev), 0, "forgejo push parses");
	is_str(ev.kind, "push", "forgejo: kind from X-Forgejo-Event");
	is_str(ev.delivery, "f6266f16-1bf3-46a5-9ea4-602e06ead473",
	    "forgejo: delivery id from X-Forgejo-Delivery");
	is_int(ev.forge, FORGE_GITEA, "forgejo: forge gitea");
	hook_event_free(&ev);
}

static void
test_parse_other(void)
{
	struct hook_event ev;
	struct hdrs ping = { { "X-GitHub-Event", "ping" } };
	struct hdrs issues = { { "X-GitHub-Event", "issues" } };
	struct hdrs tag = { { "X-Gitlab-Event", "Tag Push Hook" } };
	struct hdrs long_kind = { { "X-Gitea-Event",
	    "pull_request_review_comment_and_more_words" } };
	struct hdrs ctl = { { "X-GitHub-Event", "push\r\nX: y",
	    "X-GitHub-Delivery", "id\n1" } };
	struct hdrs none = { { "X-GitHub-Delivery", "1" } };

	is_int(parse(FORGE_GITHUB, &ping, "{\"zen\":\"Keep it logically "
	    "awesome.\",\"hook_id\":1}", &ev), 0, "github ping parses");
	is_str(ev.kind, "ping", "ping: kind");
	ok(ev.ref == NULL && ev.after[0] == '\0', "ping: no ref, no after");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITHUB, &issues, "{\"action\":\"opened\"}", &ev),
	    0, "github issues event parses");
	is_str(ev.kind, "issues", "non-push: the event name as sent");
	ok(ev.ref == NULL, "non-push: no ref even without one in the body");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITLAB, &tag, "{\"ref\":\"refs/tags/v1\",\"after\":"
	    "\"" C1 "\"}", &ev), 0, "gitlab tag push parses");
	is_str(ev.kind, "Tag Push Hook", "gitlab: other events keep their "
	    "name");
	ok(ev.ref == NULL, "gitlab tag push: not a push, no ref");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITEA, &long_kind, "{}", &ev), 0,
	    "a long event name parses");
	is_int(strlen(ev.kind), 31, "... truncated to fit kind");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITHUB, &ctl, "{}", &ev), 0,
	    "control characters in headers parse");
	is_str(ev.kind, "push??X: y", "... kind holds no control characters");
	is_str(ev.delivery, "id?1", "... nor does the delivery id");
	hook_event_free(&ev);

	is_int(parse(FORGE_GITHUB, &none, "{}", &ev), -1,
	    "no event header is malformed");
	is_str(err_msg(), "missing X-GitHub-Event header", "... and said so");
}

static void
test_parse_bad(void)
{
	struct hook_event ev;
	struct hdrs push = { { "X-GitHub-Event", "push" } };
	struct hdrs ping = { { "X-GitHub-Event", "ping" } };
	struct hdrs form = { { "X-GitHub-Event", "push", "Content-Type",
	    "application/x-www-form-urlencoded" } };
	static const struct {
		const char *body, *why, *what;
	} bad[] = {
		{ "{\"ref\":\"refs/heads/main\",", "malformed JSON body",
		    "truncated JSON" },
		{ "", "malformed JSON body", "an empty body" },
		{ "[1,2]", "expected a JSON object", "a JSON array" },
		{ "{\"after\":\"" C1 "\"}", "without a \"ref\"", "no ref" },
		{ "{\"ref\":1,\"after\":\"" C1 "\"}", "without a \"ref\"",
		    "a ref that is no string" },
		{ "{\"ref\":\"\",\"after\":\"" C1 "\"}", "invalid \"ref\"",
		    "an empty ref" },
		{ "{\"ref\":\"refs/heads/a\\nb\",\"after\":\"" C1 "\"}",
		    "invalid \"ref\"", "a ref with a newline" },
		{ "{\"ref\":\"refs/heads/main\"}", "\"after\"", "no after" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"5e6f7a8\"}",
		    "\"after\"", "a short after" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" C1 "00\"}",
		    "\"after\"", "a long after" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":"
		    "\"zz6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f\"}", "\"after\"",
		    "a non-hex after" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		is_int(parse(FORGE_GITHUB, &push, bad[i].body, &ev), -1,
		    "push with %s is malformed", bad[i].what);
		ok(strstr(err_msg(), bad[i].why), "... the reason says %s: %s",
		    bad[i].why, err_msg());
	}
	is_int(parse(FORGE_GITHUB, &ping, "not json", &ev), -1,
	    "a ping whose body is no JSON is malformed too");
	is_int(parse(FORGE_GITHUB, &form, "ref=refs%2Fheads%2Fmain", &ev), -1,
	    "a form body without a payload field is malformed");
	is_str(err_msg(), "form body without a \"payload\" field",
	    "... and said so");
	is_int(parse(FORGE_GITHUB, &form, "payload=%7B%2", &ev), -1,
	    "a form body with a cut %%-escape is malformed");
	ok(strstr(err_msg(), "malformed form body"), "... and said so: %s",
	    err_msg());
	form.kv[1] = "ping";
	is_int(parse(FORGE_GITHUB, &form, "payload=%7B%7D", &ev), 0,
	    "control: a form-encoded ping {} is well formed");
	hook_event_free(&ev);
	is_int(parse(FORGE_GITHUB, &form, "payload%00x=%7B%7D", &ev), -1,
	    "a form field named payload, NUL, more is not the payload");
	/* Found by fuzzing: httpd hands an empty body in as NULL, and the
	 * form parser did arithmetic on that NULL. */
	is_int(hook_parse(FORGE_GITHUB, lookup, &form, NULL, 0, &ev), -1,
	    "an empty form body (NULL) is malformed");
	is_str(err_msg(), "form body without a \"payload\" field",
	    "... and said so");
	is_str(forge_name(FORGE_GITHUB), "github", "forge_name github");
	is_str(forge_name(FORGE_GITLAB), "gitlab", "forge_name gitlab");
	is_str(forge_name(FORGE_GITEA), "gitea", "forge_name gitea");
}

int
main(void)
{
	test_github_verify();
	test_empty_secret();
	test_gitlab_verify();
	test_gitea_verify();
	test_github_form_verify();
	test_parse_push();
	test_parse_other();
	test_parse_bad();
	err_clear();
	return tap_done();
}
