/* hooks: webhook deliveries, verified against the secret, then parsed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "hooks.h"
#include "log.h"

#define SHA256_LEN 32

static const char *const names[FORGE_COUNT] = { "github", "gitlab", "gitea" };

const char *
forge_name(enum forge f)
{
	if ((unsigned)f >= FORGE_COUNT)
		bug("forge_name: no forge %d", (int)f);
	return names[f];
}

/*
 * Copy src into dst (size bytes with the NUL), each byte that is not
 * printable ASCII as '?': header values end up in logs and responses.
 */
static void
copy_printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] >= ' ' && src[i] < 0x7f ?
		    src[i] : '?';
	dst[i] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Whether the body is form-encoded: so its Content-Type says, unless it
 * is plainly JSON (`curl -d` labels everything a form).
 */
static int
is_form(header_fn hdr, void *ctx, const char *body, size_t len)
{
	const char *ct = hdr(ctx, "Content-Type");
	const char form[] = "application/x-www-form-urlencoded";
	size_t i = 0;

	while (i < len && strchr(" \t\r\n", body[i]) && body[i])
		i++;
	if (i < len && body[i] == '{')
		return 0;
	return ct && strncasecmp(ct, form, sizeof(form) - 1) == 0;
}

/* Append the decoding of one form-urlencoded key or value. */
static int
form_decode(struct buf *out, const char *s, size_t len)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			buf_addch(out, ' ');
		else if (s[i] != '%')
			buf_addch(out, s[i]);
		else if (i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			buf_addch(out, hi << 4 | lo);
			i += 2;
		} else
			return err_set("malformed form body: '%%' not followed "
			    "by two hex digits");
	}
	return 0;
}

/* The decoded value of field key in a form-urlencoded body, into *out. */
static int
form_value(const char *body, size_t len, const char *key, struct buf *out)
{
	struct buf name = BUF_INIT;
	size_t off = 0;
	int rc = -1;

	/* Offsets, not pointers: an empty body may come as NULL, and no
	 * pointer may step past the end of the body. */
	while (off < len) {
		const char *p = body + off;
		const char *amp = memchr(p, '&', len - off);
		size_t plen = amp ? (size_t)(amp - p) : len - off;
		const char *eq = memchr(p, '=', plen);

		buf_reset(&name);
		if (form_decode(&name, p, eq ? (size_t)(eq - p) : plen) < 0)
			goto done;
		/* By length too: "payload%00x" is not "payload". */
		if (eq && name.len == strlen(key) &&
		    memcmp(name.data, key, name.len) == 0) {
			buf_reset(out);
			rc = form_decode(out, eq + 1, plen - (size_t)(eq - p) -
			    1);
			goto done;
		}
		off += plen + 1;
	}
	err_set("form body without a \"%s\" field", key);
done:
	buf_free(&name);
	return rc;
}

static void
hmac_sha256(const char *secret, const void *data, size_t len,
    unsigned char out[SHA256_LEN])
{
	unsigned int n = SHA256_LEN;

	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    data ? data : "", len, out, &n) == NULL || n != SHA256_LEN)
		bug("HMAC-SHA256 failed");
}

/* Compare the hex signature sent in header against the body's HMAC. */
static int
check_hmac(const char *header, const char *hex, const char *secret,
    const void *data, size_t len)
{
	unsigned char sent[SHA256_LEN], want[SHA256_LEN];
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * SHA256_LEN)
		return err_set("malformed %s header: expected 64 hex digits",
		    header);
	for (i = 0; i < SHA256_LEN; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 ||
		    (lo = hexval(hex[2 * i + 1])) < 0)
			return err_set("malformed %s header: expected 64 hex "
			    "digits", header);
		sent[i] = (unsigned char)(hi << 4 | lo);
	}
	hmac_sha256(secret, data, len, want);
	if (CRYPTO_memcmp(sent, want, SHA256_LEN) != 0)
		return err_set("signature does not match: check the webhook "
		    "secret");
	return 0;
}

static int
verify_github(const char *secret, header_fn hdr, void *ctx,
    const char *body, size_t len)
{
	const char *sig = hdr(ctx, "X-Hub-Signature-256");

	if (sig == NULL && hdr(ctx, "X-Hub-Signature"))
		return err_set("missing X-Hub-Signature-256 header (the SHA-1 "
		    "X-Hub-Signature alone is not accepted)");
	if (sig == NULL)
		return err_set("missing X-Hub-Signature-256 header");
	if (strncmp(sig, "sha256=", 7) != 0)
		return err_set("malformed X-Hub-Signature-256 header: expected "
		    "sha256= and 64 hex digits");
	/* Signed over the raw body, whether JSON or form-encoded. */
	return check_hmac("X-Hub-Signature-256", sig + 7, secret, body, len);
}

/*
 * GitLab sends the secret itself.  Comparing digests of both sides keeps
 * the comparison constant-time whatever the lengths.
 */
static int
verify_gitlab(const char *secret, header_fn hdr, void *ctx)
{
	const char *token = hdr(ctx, "X-Gitlab-Token");
	unsigned char a[SHA256_LEN], b[SHA256_LEN];
	unsigned int n;

	if (token == NULL)
		return err_set("missing X-Gitlab-Token header");
	EVP_Digest(token, strlen(token), a, &n, EVP_sha256(), NULL);
	EVP_Digest(secret, strlen(secret), b, &n, EVP_sha256(), NULL);
	if (CRYPTO_memcmp(a, b, SHA256_LEN) != 0)
		return err_set("X-Gitlab-Token does not match: check the "
		    "webhook secret");
	return 0;
}

static int
verify_gitea(const char *secret, header_fn hdr, void *ctx,
    const char *body, size_t len)
{
	const char *h = "X-Gitea-Signature", *sig = hdr(ctx, h);
	struct buf payload = BUF_INIT;
	int rc;

	if (sig == NULL) {
		h = "X-Forgejo-Signature";
		sig = hdr(ctx, h);
	}
	if (sig == NULL)
		return err_set("missing X-Gitea-Signature header (or "
		    "X-Forgejo-Signature)");
	if (!is_form(hdr, ctx, body, len))
		return check_hmac(h, sig, secret, body, len);
	/* Unlike GitHub, Gitea signs the JSON it puts in the form field. */
	if (form_value(body, len, "payload", &payload) < 0)
		rc = -1;
	else
		rc = check_hmac(h, sig, secret, payload.data, payload.len);
	buf_free(&payload);
	return rc;
}

int
hook_verify(enum forge f, const char *secret, header_fn hdr, void *ctx,
    const char *body, size_t len)
{
	if (secret == NULL || *secret == '\0')
		return err_set("TEND_WEBHOOK_SECRET is not set: webhook "
		    "deliveries cannot be verified");
	switch (f) {
	case FORGE_GITHUB:
		return verify_github(secret, hdr, ctx, body, len);
	case FORGE_GITLAB:
		return verify_gitlab(secret, hdr, ctx);
	case FORGE_GITEA:
		return verify_gitea(secret, hdr, ctx, body, len);
	}
	bug("hook_verify: no forge %d", (int)f);
}

/* The event header's name for forge f, and its value (NULL if absent). */
static const char *
event_header(enum forge f, header_fn hdr, void *ctx, const char **name)
{
	const char *v;

	switch (f) {
	case FORGE_GITHUB:
		*name = "X-GitHub-Event";
		return hdr(ctx, *name);
	case FORGE_GITLAB:
		*name = "X-Gitlab-Event";
		return hdr(ctx, *name);
	case FORGE_GITEA:
		*name = "X-Gitea-Event";
		if ((v = hdr(ctx, *name)) == NULL)
			v = hdr(ctx, "X-Forgejo-Event");
		return v;
	}
	bug("event_header: no forge %d", (int)f);
}

static const char *
delivery_header(enum forge f, header_fn hdr, void *ctx)
{
	const char *v;

	switch (f) {
	case FORGE_GITHUB:
		return hdr(ctx, "X-GitHub-Delivery");
	case FORGE_GITLAB:
		return hdr(ctx, "X-Gitlab-Event-UUID");
	case FORGE_GITEA:
		if ((v = hdr(ctx, "X-Gitea-Delivery")) == NULL)
			v = hdr(ctx, "X-Forgejo-Delivery");
		return v;
	}
	bug("delivery_header: no forge %d", (int)f);
}

/* A ref as git allows it: no control characters or spaces, bounded. */
static int
ref_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || i >= 1024)
			return 0;
	return i > 0;
}

static int
push_fields(json_t *root, struct hook_event *ev)
{
	json_t *ref = json_object_get(root, "ref");
	json_t *after = json_object_get(root, "after");
	const char *a;
	size_t i;

	if (!json_is_string(ref))
		return err_set("push event without a \"ref\" string");
	if (!ref_ok(json_string_value(ref)))
		return err_set("push event with an invalid \"ref\"");
	if (!json_is_string(after) || json_string_length(after) != 40)
		return err_set("push event without a 40-hex-digit \"after\" "
		    "commit id");
	a = json_string_value(after);
	for (i = 0; i < 40; i++) {
		if (hexval(a[i]) < 0)
			return err_set("push event without a 40-hex-digit "
			    "\"after\" commit id");
		ev->after[i] = (char)tolower((unsigned char)a[i]);
	}
	ev->after[40] = '\0';
	ev->ref = xstrdup(json_string_value(ref));
	return 0;
}

int
hook_parse(enum forge f, header_fn hdr, void *ctx, const char *body,
    size_t len, struct hook_event *ev)
{
	struct hook_event e;
	struct buf form = BUF_INIT;
	json_t *root = NULL;
	json_error_t jerr;
	const char *hname, *kind;
	char why[sizeof(jerr.text)];
	int rc = -1;

	memset(&e, 0, sizeof(e));
	e.forge = f;
	if ((kind = event_header(f, hdr, ctx, &hname)) == NULL) {
		err_set("missing %s header", hname);
		goto done;
	}
	/* GitLab names its events "Push Hook", "Tag Push Hook", ... */
	if (f == FORGE_GITLAB && strcmp(kind, "Push Hook") == 0)
		kind = "push";
	copy_printable(e.kind, sizeof(e.kind), kind);
	copy_printable(e.delivery, sizeof(e.delivery),
	    delivery_header(f, hdr, ctx));
	if (is_form(hdr, ctx, body, len)) {
		if (form_value(body, len, "payload", &form) < 0)
			goto done;
		body = form.data;
		len = form.len;
	}
	if ((root = json_loadb(body ? body : "", len, 0, &jerr)) == NULL) {
		copy_printable(why, sizeof(why), jerr.text);
		err_set("malformed JSON body at line %d column %d: %s",
		    jerr.line, jerr.column, why);
		goto done;
	}
	if (!json_is_object(root)) {
		err_set("malformed body: expected a JSON object");
		goto done;
	}
	if (strcmp(e.kind, "push") == 0 && push_fields(root, &e) < 0)
		goto done;
	*ev = e;
	rc = 0;
done:
	json_decref(root);
	buf_free(&form);
	if (rc < 0)
		free(e.ref);
	return rc;
}

void
hook_event_free(struct hook_event *ev)
{
	free(ev->ref);
	ev->ref = NULL;
}
