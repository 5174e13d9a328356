/* store: the history database (SQLite), its schema and its queries. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"

struct store {
	sqlite3 *db;
	char *path;
};

/*
 * Migrations, in order: migrations[i] takes a database from version i to
 * i + 1.  Never edit one that has shipped; add the next.
 */
static const char *const migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE commits ("
	"  id TEXT PRIMARY KEY, subject TEXT, author TEXT, time INTEGER);"
	"CREATE TABLE reconciles ("
	"  id INTEGER PRIMARY KEY, env TEXT NOT NULL, app TEXT,"
	"  commit_id TEXT, trigger TEXT NOT NULL, woken_by TEXT,"
	"  started_ms INTEGER NOT NULL, duration_ms INTEGER,"
	"  outcome TEXT NOT NULL, message TEXT,"
	"  drift_found INTEGER DEFAULT 0, drift_corrected INTEGER DEFAULT 0);"
	"CREATE INDEX reconciles_env ON reconciles(env, id);"
	"CREATE TABLE reconcile_hosts ("
	"  reconcile_id INTEGER NOT NULL REFERENCES reconciles(id)"
	"    ON DELETE CASCADE,"
	"  host TEXT NOT NULL, state TEXT NOT NULL, commit_id TEXT,"
	"  changes INTEGER, drifted INTEGER, error TEXT, ms INTEGER);"
	"CREATE INDEX reconcile_hosts_id ON reconcile_hosts(reconcile_id);"
	"CREATE TABLE hosts ("
	"  env TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL,"
	"  commit_id TEXT, error TEXT, checked_ms INTEGER,"
	"  PRIMARY KEY (env, host));"
	"CREATE TABLE envs ("
	"  env TEXT PRIMARY KEY, repo TEXT, branch TEXT, head TEXT,"
	"  good TEXT, failed TEXT, failed_why TEXT, checked_ms INTEGER,"
	"  outcome TEXT, message TEXT);",
	/* 2: commit statuses posted, and the last error posting them. */
	"CREATE TABLE statuses ("
	"  sha TEXT NOT NULL, context TEXT NOT NULL, state TEXT NOT NULL,"
	"  description TEXT, posted_ms INTEGER,"
	"  PRIMARY KEY (sha, context));"
	"CREATE TABLE reporter ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1), error TEXT, at_ms INTEGER);",
};

static int
db_err(struct store *s, const char *what)
{
	return err_set("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int
exec_sql(struct store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set("%s: %s", s->path, msg ? msg : "SQL error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
user_version(struct store *s, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return db_err(s, "reading the schema version");
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_err(s, "reading the schema version");
}

static int
migrate(struct store *s)
{
	int v, n = (int)ARRAY_SIZE(migrations);
	char *sql;

	/* IMMEDIATE: two processes opening a new database do not both
	 * migrate it. */
	if (exec_sql(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (user_version(s, &v) < 0)
		goto fail;
	if (v > n) {
		err_set("%s has schema version %d, newer than this tend knows "
		    "(%d): run the tend that wrote it, or a newer one", s->path,
		    v, n);
		goto fail;
	}
	for (; v < n; v++) {
		if (exec_sql(s, migrations[v]) < 0)
			goto fail;
	}
	sql = xasprintf("PRAGMA user_version = %d", n);
	v = exec_sql(s, sql);
	free(sql);
	if (v < 0)
		goto fail;
	return exec_sql(s, "COMMIT");
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

char *
store_default_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;

	if (x && *x == '/')
		return xasprintf("%s/tend", x);
	if ((home == NULL || *home == '\0') && (pw = getpwuid(getuid())))
		home = pw->pw_dir;
	return xasprintf("%s/.local/state/tend", home ? home : "");
}

/* mkdir -p, the last component mode 0700. */
static int
make_dir(const char *dir)
{
	char *p = xstrdup(dir), *q;

	for (q = p + 1; (q = strchr(q, '/')) != NULL; q++) {
		*q = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err_set("cannot create %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*q = '/';
	}
	free(p);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set("cannot create the state directory %s: %s", dir,
		    strerror(errno));
	return 0;
}

struct store *
store_open(const char *dir)
{
	struct store *s = xcalloc(1, sizeof(*s));

	if (make_dir(dir) < 0) {
		free(s);
		return NULL;
	}
	s->path = xasprintf("%s/tend.db", dir);
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		db_err(s, "cannot open");
		store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (exec_sql(s, "PRAGMA journal_mode = WAL; "
	    "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL") < 0 ||
	    migrate(s) < 0) {
		store_close(s);
		return NULL;
	}
	return s;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* Bind each argument in order: 's' a string (NULL binds NULL), 'i' an
 * int, 'l' a long long.  On failure st is finalized. */
static int
bind(sqlite3_stmt *st, const char *types, ...)
{
	va_list ap;
	int i, rc = SQLITE_OK;

	va_start(ap, types);
	for (i = 0; types[i] && rc == SQLITE_OK; i++) {
		const char *str;

		switch (types[i]) {
		case 's':
			str = va_arg(ap, const char *);
			rc = str ? sqlite3_bind_text(st, i + 1, str, -1,
			    SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
			break;
		case 'i':
			rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int));
			break;
		case 'l':
			rc = sqlite3_bind_int64(st, i + 1,
			    va_arg(ap, long long));
			break;
		default:
			bug("bind type %c", types[i]);
		}
	}
	va_end(ap);
	if (rc == SQLITE_OK)
		return 0;
	/* The statement is of no more use: finalized here, for callers. */
	err_set("cannot bind a value: %s", sqlite3_errstr(rc));
	sqlite3_finalize(st);
	return -1;
}

static sqlite3_stmt *
prepare(struct store *s, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(s, "bad query");
		return NULL;
	}
	return st;
}

/* Step a statement that returns no rows, then finalize it. */
static int
run(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_err(s, "cannot write");
}

static int
put_hosts(struct store *s, const char *env, const struct store_host *h,
    size_t n, long long when)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO hosts "
		    "(env, host, state, commit_id, error, checked_ms) VALUES "
		    "(?, ?, ?, ?, ?, ?)");

		/* Applied in that pass is in sync now. */
		const char *state = strcmp(h[i].state, "applied") == 0 ?
		    "in_sync" : h[i].state;

		if (st == NULL || bind(st, "sssssl", env, h[i].host, state,
		    h[i].commit, h[i].error, when) < 0 ||
		    run(s, st) < 0)
			return -1;
	}
	return 0;
}

int
store_put_hosts(struct store *s, const char *env,
    const struct store_host *hosts, size_t n, long long when_ms)
{
	if (exec_sql(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (put_hosts(s, env, hosts, n, when_ms) < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return exec_sql(s, "COMMIT");
}

int
store_add_reconcile(struct store *s, const struct store_reconcile *r)
{
	sqlite3_stmt *st;
	long long id;
	size_t i;

	if (exec_sql(s, "BEGIN IMMEDIATE") < 0)
		return -1;
	st = prepare(s, "INSERT INTO reconciles (env, app, commit_id, "
	    "trigger, woken_by, started_ms, duration_ms, outcome, message, "
	    "drift_found, drift_corrected) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	if (st == NULL || bind(st, "sssssllssii", r->env, r->app, r->commit,
	    r->trigger, r->woken_by, r->started_ms, (long long)r->duration_ms,
	    r->outcome, r->message, r->drift_found, r->drift_corrected) < 0 ||
	    run(s, st) < 0)
		goto fail;
	id = sqlite3_last_insert_rowid(s->db);
	for (i = 0; i < r->nhosts; i++) {
		const struct store_host *h = &r->hosts[i];

		st = prepare(s, "INSERT INTO reconcile_hosts (reconcile_id, "
		    "host, state, commit_id, changes, drifted, error, ms) "
		    "VALUES (?,?,?,?,?,?,?,?)");
		if (st == NULL || bind(st, "lsssiisl", id, h->host, h->state,
		    h->commit, h->changes, h->drifted, h->error,
		    (long long)h->ms) < 0 || run(s, st) < 0)
			goto fail;
	}
	if (put_hosts(s, r->env, r->hosts, r->nhosts, r->started_ms +
	    r->duration_ms) < 0)
		goto fail;
	return exec_sql(s, "COMMIT");
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
store_put_commit(struct store *s, const struct store_commit *c)
{
	sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO commits "
	    "(id, subject, author, time) VALUES (?, ?, ?, ?)");

	if (st == NULL || bind(st, "sssl", c->id, c->subject, c->author,
	    c->time) < 0)
		return -1;
	return run(s, st);
}

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

int
store_get_env(struct store *s, const char *env, struct store_env *out)
{
	sqlite3_stmt *st = prepare(s, "SELECT env, repo, branch, head, good, "
	    "failed, failed_why, checked_ms, outcome, message FROM envs "
	    "WHERE env = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL || bind(st, "s", env) < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->env = col_str(st, 0);
		out->repo = col_str(st, 1);
		out->branch = col_str(st, 2);
		out->head = col_str(st, 3);
		out->good = col_str(st, 4);
		out->failed = col_str(st, 5);
		out->failed_why = col_str(st, 6);
		out->checked_ms = sqlite3_column_int64(st, 7);
		out->outcome = col_str(st, 8);
		out->message = col_str(st, 9);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_err(s, "cannot read");
}

int
store_put_env(struct store *s, const struct store_env *e)
{
	sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO envs (env, "
	    "repo, branch, head, good, failed, failed_why, checked_ms, "
	    "outcome, message) VALUES (?,?,?,?,?,?,?,?,?,?)");

	if (st == NULL || bind(st, "ssssssslss", e->env, e->repo, e->branch,
	    e->head, e->good, e->failed, e->failed_why, e->checked_ms,
	    e->outcome, e->message) < 0)
		return -1;
	return run(s, st);
}

void
store_env_free(struct store_env *e)
{
	free(e->env);
	free(e->repo);
	free(e->branch);
	free(e->head);
	free(e->good);
	free(e->failed);
	free(e->failed_why);
	free(e->outcome);
	free(e->message);
	memset(e, 0, sizeof(*e));
}


int
store_status_get(struct store *s, const char *sha, const char *context,
    char **state)
{
	sqlite3_stmt *st = prepare(s, "SELECT state FROM statuses WHERE "
	    "sha = ? AND context = ?");
	int rc;

	*state = NULL;
	if (st == NULL || bind(st, "ss", sha, context) < 0)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*state = col_str(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_err(s, "cannot read");
}

int
store_status_put(struct store *s, const char *sha, const char *context,
    const char *state, const char *description)
{
	sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO statuses (sha, "
	    "context, state, description, posted_ms) VALUES (?, ?, ?, ?, ?)");

	if (st == NULL || bind(st, "ssssl", sha, context, state, description,
	    wall_ms()) < 0)
		return -1;
	return run(s, st);
}

int
store_pending_statuses(struct store *s, const char *context,
    const char *except, char ***shas, size_t *n)
{
	sqlite3_stmt *st = prepare(s, "SELECT sha FROM statuses WHERE "
	    "context = ? AND state = 'pending' AND sha != ?");
	int rc;

	*shas = NULL;
	*n = 0;
	if (st == NULL || bind(st, "ss", context, except) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*shas = xrealloc(*shas, (*n + 1) * sizeof(**shas));
		(*shas)[(*n)++] = col_str(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_err(s, "cannot read");
}

int
store_report_error(struct store *s, const char *error)
{
	sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO reporter (id, "
	    "error, at_ms) VALUES (1, ?, ?)");

	if (st == NULL || bind(st, "sl", error, wall_ms()) < 0)
		return -1;
	return run(s, st);
}

/* ------------------------------------------------------------- queries */

/* Column i as JSON: text, integer, or null. */
static json_t *
col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_TEXT:
		return json_string((const char *)sqlite3_column_text(st, i));
	default:
		return json_null();
	}
}

/* Every row of st as an object keyed by column name; NULL on error. */
static json_t *
rows(struct store *s, sqlite3_stmt *st)
{
	json_t *a = json_array();
	int rc, i;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();

		for (i = 0; i < sqlite3_column_count(st); i++)
			json_object_set_new(o, sqlite3_column_name(st, i),
			    col_json(st, i));
		json_array_append_new(a, o);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		db_err(s, "cannot read");
		return NULL;
	}
	return a;
}

static json_t *
query(struct store *s, const char *sql, const char *env, int limit)
{
	sqlite3_stmt *st = prepare(s, sql);

	if (st == NULL)
		return NULL;
	if (sqlite3_bind_parameter_count(st) >= 1 &&
	    bind(st, "s", env) < 0)
		return NULL;
	if (sqlite3_bind_parameter_count(st) >= 2 &&
	    sqlite3_bind_int(st, 2, limit) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	return rows(s, st);
}

json_t *
store_status(struct store *s, const char *env)
{
	json_t *envs, *hosts, *last, *e, *doc;
	size_t i;

	envs = query(s, "SELECT env, repo, branch, head, good, failed, "
	    "failed_why, checked_ms, outcome AS last_outcome, "
	    "message AS last_message FROM envs "
	    "WHERE ?1 IS NULL OR env = ?1 UNION "
	    "SELECT DISTINCT env, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
	    "NULL, NULL FROM hosts WHERE (?1 IS NULL OR env = ?1) AND env "
	    "NOT IN (SELECT env FROM envs) ORDER BY env", env, 0);
	if (envs == NULL)
		return NULL;
	json_array_foreach(envs, i, e) {
		const char *name = json_string_value(json_object_get(e, "env"));

		hosts = query(s, "SELECT h.host, h.state, h.commit_id AS "
		    "\"commit\", c.subject, c.author, c.time AS commit_time, "
		    "h.error, h.checked_ms FROM hosts h LEFT JOIN commits c "
		    "ON c.id = h.commit_id WHERE h.env = ?1 ORDER BY h.rowid",
		    name, 0);
		last = query(s, "SELECT r.id, r.commit_id AS \"commit\", "
		    "c.subject, r.trigger, r.started_ms, r.duration_ms, "
		    "r.outcome, r.message FROM reconciles r LEFT JOIN commits "
		    "c ON c.id = r.commit_id WHERE r.env = ?1 ORDER BY r.id "
		    "DESC LIMIT 1", name, 0);
		if (hosts == NULL || last == NULL) {
			json_decref(hosts);
			json_decref(last);
			json_decref(envs);
			return NULL;
		}
		json_object_set_new(e, "hosts", hosts);
		json_object_set(e, "last_reconcile", json_array_size(last) ?
		    json_array_get(last, 0) : json_null());
		json_decref(last);
	}
	doc = json_object();
	json_object_set_new(doc, "environments", envs);
	last = query(s, "SELECT error, at_ms FROM reporter WHERE error IS "
	    "NOT NULL", NULL, 0);
	json_object_set_new(doc, "status_error", last && json_array_size(last) ?
	    json_incref(json_array_get(last, 0)) : json_null());
	json_decref(last);
	return doc;
}

json_t *
store_history(struct store *s, const char *env, int limit)
{
	json_t *list, *r, *hosts, *doc;
	size_t i;
	char id[32];

	list = query(s, "SELECT r.id, r.env, r.app, r.commit_id AS "
	    "\"commit\", "
	    "c.subject, c.author, r.trigger, r.woken_by, r.started_ms, "
	    "r.duration_ms, r.outcome, r.message, r.drift_found, "
	    "r.drift_corrected FROM reconciles r LEFT JOIN commits c ON "
	    "c.id = r.commit_id WHERE ?1 IS NULL OR r.env = ?1 "
	    "ORDER BY r.id DESC LIMIT ?2", env, limit);
	if (list == NULL)
		return NULL;
	json_array_foreach(list, i, r) {
		snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(
		    json_object_get(r, "id")));
		hosts = query(s, "SELECT host, state, commit_id AS \"commit\", "
		    "changes, drifted, error, ms FROM reconcile_hosts WHERE "
		    "reconcile_id = CAST(?1 AS INTEGER) ORDER BY rowid", id, 0);
		if (hosts == NULL) {
			json_decref(list);
			return NULL;
		}
		json_object_set_new(r, "hosts", hosts);
	}
	doc = json_object();
	json_object_set_new(doc, "reconciles", list);
	return doc;
}
