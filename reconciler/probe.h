/*
 * probe: what is on a host, in one round trip.  One remote script reads
 * type, mode, owner, group, size and content hash of every path tend
 * declares or recorded, symlink targets, and the on-host record.
 * probe_script and probe_parse are pure (unit tested); probe_run sends
 * the script over a session.
 */
#ifndef TEND_PROBE_H
#define TEND_PROBE_H

#include "buf.h"
#include "record.h"
#include "render.h"
#include "ssh.h"
#include "strindex.h"

#define PROBE_OUTPUT_MAX (64u * 1024 * 1024)
/* From this many paths on, the probe looks at them without shell loops
 * (a string: it is spliced into the script). */
#define PROBE_LOOP_MAX "1000"

struct obs_entry {
	char *path;
	char type;			/* 'f' file, 'd' dir, 'l' link, 'o' other */
	unsigned mode;			/* permission bits */
	unsigned uid, gid;
	char *owner, *group;		/* names ("UNKNOWN" when none) */
	long long size;
	char hash[65];			/* files: sha256, hex */
	char *target;			/* links */
};

/* A release path: where current points and which releases are there. */
struct obs_release {
	char *path;
	char *current;			/* link target, "" when none */
	char *ids;			/* release directories, space-separated */
	char *files;			/* current release's .tend-files */
};

/* A systemd unit as systemctl shows it. */
struct obs_service {
	char *unit;
	char *active;			/* ActiveState: active, inactive, ... */
	char *enabled;			/* UnitFileState: enabled, disabled, ... */
};

struct observed {
	struct obs_entry *v;		/* only paths that exist */
	size_t n, cap;
	struct strindex idx;		/* path -> v[]; probe_parse keeps it,
					 * v made otherwise is scanned */
	struct obs_release *rel;
	size_t nrel, relcap;
	struct obs_service *svc;
	size_t nsvc, svccap;
	struct record *rec;		/* NULL when tend never applied here */
	char *rec_error;		/* why the record could not be read */
};

/* What a probe looks at: paths, release paths and units. */
struct probe_set {
	char **paths;
	size_t npaths;
	char **releases;
	size_t nreleases;
	char **units;
	size_t nunits;
};

/* The script that probes set (and what managed.sh lists) for app. */
void probe_script(struct buf *out, const char *app,
    const struct probe_set *set, const char *nonce);
/* Parse a probe's output into o; -1 with err_set if it is malformed. */
int probe_parse(struct observed *o, const char *data, size_t len,
    const char *nonce);
/* Probe what d declares, plus parent directories, on session c. */
int probe_run(struct ssh *c, const char *app, const struct desired *d,
    struct observed *o);
const struct obs_entry *observed_find(const struct observed *o,
    const char *path);
const struct obs_release *observed_release(const struct observed *o,
    const char *path);
const struct obs_service *observed_service(const struct observed *o,
    const char *unit);
void observed_free(struct observed *o);

/* Read whole files (for diffs), one round trip; contents[i] for paths[i]. */
int probe_fetch(struct ssh *c, const char *const *paths, size_t n,
    struct buf *contents);
/*
 * Split probe_fetch's output into contents[0..n-1]: for each file its
 * size in decimal on a line, then that many bytes.  Pure, and data is
 * remote input: 0, or -1 with err_set when it is cut short or malformed
 * (contents may hold part of it then; the caller frees them either way).
 */
int probe_fetch_parse(struct buf *contents, size_t n, const char *data,
    size_t len);

/* A fresh random token, 16 hex digits, to frame remote output. */
void probe_nonce(char out[17]);

#endif
