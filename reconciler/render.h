/*
 * render: the manifest for one environment and host turned into that
 * host's desired state: variables expanded in every string field, file
 * contents read from the commit and templates expanded.  Pure: files come
 * through the struct files interface, so this is tested on data.
 *
 * Variables: ${name} looks in the host's vars, then the environment's,
 * then the top-level vars; ${tend.app}, ${tend.env}, ${tend.host},
 * ${tend.address}, ${tend.commit} and ${tend.commit_short} are built in;
 * $${ is a literal ${.  A variable's value may itself use variables; it
 * is expanded once per host, and what expands is bounded (16 MiB a field
 * or template, 64 MiB a host), so a small manifest cannot make render
 * work for long.
 *
 * ${secret.NAME} is a secret's value (secrets.h), allowed only in a
 * file's content (content, or a template), never expanded further.  A
 * file whose content uses one is sensitive: its content is never shown
 * (plan, --json, logs), and its mode defaults to 0600.
 */
#ifndef TEND_RENDER_H
#define TEND_RENDER_H

#include "buf.h"
#include "diag.h"
#include "gitsrc.h"
#include "manifest.h"
#include "secrets.h"
#include "strindex.h"

/* What the hosts share of files they get as they are (no template):
 * each is read and hashed once for all of them.  The bytes are not kept:
 * a plan needs only the hash, and apply reads what it sends. */
struct blob_cache {
	char **paths;
	size_t *sizes;
	char (*hashes)[65];		/* sha256 of each blob */
	size_t n, cap;
	struct strindex idx;		/* path -> paths[] */
};

void blob_cache_free(struct blob_cache *c);

struct render_ctx {
	const struct files *files;
	const char *commit;		/* full hex id */
	struct blob_cache *cache;	/* NULL: each host reads its own */
	/* ${secret.NAME}; NULL: no --secrets given, and a secret used is an
	 * error, unless secrets_unchecked (validate): then only names are
	 * checked and secrets expand to nothing. */
	const struct secret_source *secrets;
	int secrets_unchecked;
	int *secrets_used;		/* set to 1 when one is used; or NULL */
};

struct rendered_res {
	const struct resource *res;	/* borrowed from the manifest */
	char *key;			/* expanded; owned, as are the rest */
	char *source, *target, *from, *build, *unit, *run, *cwd, *unless;
	struct buf content;		/* file, unit: the bytes to write,
					 * unless content_deferred */
	int content_deferred;		/* file: the bytes are source's, as
					 * it is in the commit; not read */
	size_t size;			/* file: the bytes' length */
	char hash[65];			/* file, unit: sha256 of the bytes */
	struct tree_list tree;		/* release: what `from` holds */
	char release_id[13];		/* release: tree id, 12 hex digits */
	char *unit_path;		/* service: /etc/systemd/system/NAME */
	char *unit_name;		/* service: NAME.service */
	unsigned mode;			/* directory, file: as declared, or
					 * the default (0600 if sensitive) */
	int sensitive;			/* file: its content uses a secret */
};

struct rendered_check {
	const struct health *check;	/* borrowed from the manifest */
	char *http, *command;
};

struct desired {
	const struct env *env;
	const struct host *host;
	struct rendered_res *res;
	size_t nres;
	struct rendered_check *checks;
	size_t nchecks;
	int host_own;			/* the resources used the host's
					 * name, address or own vars */
	int used_vars;			/* they looked up variables */
	const struct desired *like;	/* res is like's, which must outlive
					 * this one; NULL: its own */
};

/*
 * Render host h of environment e.  Returns 0, or -1 after adding every
 * error found to diags (positions in the manifest or in the template).
 * The desired state is filled either way; free it with desired_free.
 */
int render_host(struct desired *out, const struct manifest *m,
    const struct env *e, const struct host *h, const struct render_ctx *rc,
    struct diags *diags);
void desired_free(struct desired *d);

/*
 * Whether host h's resources would render as like's did: same
 * environment, and nothing of like's own host (name, address, vars) went
 * into them, nor a variable h's vars could shadow.  Then render_like
 * shares them instead of rendering them again: a fleet of alike hosts
 * holds one copy.
 */
int render_alike(const struct desired *like, const struct env *e,
    const struct host *h);
/* Render h with like's resources (render_alike said so) and its own
 * health checks; like must outlive out.  As render_host returns. */
int render_like(struct desired *out, const struct desired *like,
    const struct manifest *m, const struct host *h,
    const struct render_ctx *rc, struct diags *diags);

/* Read a deferred content into rr->content (for a diff); 0, or -1 with
 * err_set.  Safe from several threads on a shared rr. */
int render_load_content(struct rendered_res *rr, const struct files *f);

/* Render every host of every environment, to find every error. */
int render_check_all(const struct manifest *m, const struct render_ctx *rc,
    struct diags *diags);

#endif
