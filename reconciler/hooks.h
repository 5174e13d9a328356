/*
 * hooks: verify and parse webhook deliveries from GitHub, GitLab and
 * Gitea/Forgejo.  Pure: the caller (httpd) hands in the headers through
 * a lookup function and the raw body; nothing here does I/O.
 *
 * A delivery is first verified (hook_verify) against the shared secret,
 * and only then parsed (hook_parse): the body is remote input and is not
 * looked at before it is known to come from the forge.
 */
#ifndef TEND_HOOKS_H
#define TEND_HOOKS_H

#include <stddef.h>

enum forge { FORGE_GITHUB, FORGE_GITLAB, FORGE_GITEA };

#define FORGE_COUNT 3

/* Look up a request header by name, case-insensitively; NULL if absent. */
typedef const char *(*header_fn)(void *ctx, const char *name);

struct hook_event {
	enum forge forge;
	char kind[32];		/* "push", "ping", or the forge's event name as sent (truncated) */
	char *ref;		/* push: "refs/heads/main"; else NULL (owned) */
	char after[41];		/* push: new head commit id (40 hex) or "" */
	char delivery[128];	/* delivery id header, "" if none */
};

/*
 * Check that a delivery to forge f carries a valid proof of secret:
 * GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the body), GitLab's
 * X-Gitlab-Token (the secret itself), Gitea's X-Gitea-Signature or
 * X-Forgejo-Signature (HMAC-SHA256, hex without prefix).  Comparisons are
 * constant-time.  An empty or NULL secret never verifies.  Returns 0, or
 * -1 with err_set saying what is wrong; the message never holds the
 * secret or the expected signature.
 */
int hook_verify(enum forge f, const char *secret, header_fn hdr, void *ctx,
    const char *body, size_t len);

/*
 * Fill *ev from a verified delivery: its kind from the forge's event
 * header, its delivery id, and for a push the ref and new head commit.
 * The body is JSON, or for a form-encoded delivery the JSON in the
 * "payload" field.  Returns 0, or -1 with err_set for a malformed body
 * (nothing to free then).  On success the caller frees with
 * hook_event_free().
 */
int hook_parse(enum forge f, header_fn hdr, void *ctx, const char *body,
    size_t len, struct hook_event *ev);

/* Free what *ev owns; *ev may be freed again afterwards. */
void hook_event_free(struct hook_event *ev);

/* "github", "gitlab", "gitea": the names in URLs, logs and metrics. */
const char *forge_name(enum forge f);

#endif
