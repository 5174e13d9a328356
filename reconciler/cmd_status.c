/* cmd_status: `tend status` and `tend history`, read from the history
 * database the daemon and apply write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "log.h"

static const char status_help[] =
"options:\n"
"  -e, --env ENV      only this environment\n"
"  --json             one JSON document on stdout\n"
"  --state-dir DIR    where tend watch and apply keep history\n"
"                     (default ~/.local/state/tend)\n"
"\nPer environment: the branch followed, the commit running, the last\n"
"pass and reconcile with their outcome, a commit held back after it\n"
"failed; per host: state, commit, when it was last checked.\n";

static const char history_help[] =
"options:\n"
"  -e, --env ENV      only this environment\n"
"  --limit N          the last N reconciles (default 20)\n"
"  --json             one JSON document on stdout\n"
"  --state-dir DIR    where tend watch and apply keep history\n"
"                     (default ~/.local/state/tend)\n"
"\nEvery reconcile that changed something or found something new, most\n"
"recent first: environment, commit, trigger, outcome, time taken, and\n"
"the hosts that were not in sync.\n";

struct read_opts {
	const char *env;
	const char *state_dir;
	int json;
	long limit;
};

enum { R_LIMIT = 400 };

/* Parse the options; 0, or the exit code (-1: exit 0 after help). */
static int
read_opts(const struct cmd_entry *self, int argc, char **argv,
    const char *help, struct read_opts *o)
{
	static const struct option longopts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "limit", required_argument, NULL, R_LIMIT },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int ch;

	memset(o, 0, sizeof(*o));
	o->limit = 20;
	while ((ch = getopt_long(argc, argv, "e:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			cmd_help(self, help);
			return -1;
		case 'e':
			o->env = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case OPT_NO_COLOR:
			break;
		case R_LIMIT:
			o->limit = strtol(optarg, &end, 10);
			if (help == history_help && *end == '\0' &&
			    o->limit > 0)
				break;
			return cmd_usage(self, help == history_help ?
			    "invalid --limit '%s': a number, 1 or more" :
			    "--limit is for tend history", optarg);
		default:
			return cmd_usage(self, "unknown option");
		}
	}
	if (optind < argc)
		return cmd_usage(self, "unexpected argument '%s'",
		    argv[optind]);
	return 0;
}

/* For text output: every string of doc on its one line (str_oneline);
 * messages and names come from manifests, repositories and hosts. */
static void
oneline_strings(json_t *doc)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(doc)) {
		json_object_foreach(doc, key, v) {
			if (json_is_string(v) && strpbrk(json_string_value(v),
			    "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e"
			    "\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
			    "\x1b\x1c\x1d\x1e\x1f\x7f")) {
				char *e = str_oneline(json_string_value(v));

				json_string_set(v, e);
				free(e);
			} else {
				oneline_strings(v);
			}
		}
	} else if (json_is_array(doc)) {
		json_array_foreach(doc, i, v)
			oneline_strings(v);
	}
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "12s ago", "3m ago", "2h ago", "5d ago"; "-" for no time. */
static void
age(char *out, size_t len, long long then_s)
{
	long long d = (long long)time(NULL) - then_s;

	if (then_s <= 0)
		snprintf(out, len, "-");
	else if (d < 90)
		snprintf(out, len, "%llds ago", d < 0 ? 0 : d);
	else if (d < 90 * 60)
		snprintf(out, len, "%lldm ago", d / 60);
	else if (d < 36 * 3600)
		snprintf(out, len, "%lldh ago", d / 3600);
	else
		snprintf(out, len, "%lldd ago", d / 86400);
}

static void
print_json(json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	printf("%s\n", text);
	free(text);
}

/* Open the database for reading, or say there is no history yet. */
static struct store *
open_store(const char *state_dir, char **dir)
{
	struct store *s;

	*dir = state_dir ? xstrdup(state_dir) : store_default_dir();
	if ((s = store_open(*dir)) == NULL)
		fprintf(stderr, "tend: error: %s\n", err_msg());
	return s;
}

static void
print_env(const json_t *e)
{
	const json_t *hosts = json_object_get(e, "hosts"), *h;
	const json_t *last = json_object_get(e, "last_reconcile");
	char when[32];
	size_t i;

	printf("%s%s%s", color("\033[1m"), str(e, "env"), color("\033[0m"));
	if (*str(e, "branch"))
		printf("  following %s of %s", str(e, "branch"), str(e, "repo"));
	printf("\n");
	if (json_object_get(e, "checked_ms") &&
	    num(e, "checked_ms") > 0) {
		age(when, sizeof(when), num(e, "checked_ms") / 1000);
		printf("  last pass     %s: %s: %s\n", when,
		    str(e, "last_outcome"), str(e, "last_message"));
	}
	if (*str(e, "good"))
		printf("  last good     %.7s\n", str(e, "good"));
	if (*str(e, "failed"))
		printf("  held back     %.7s: %s\n", str(e, "failed"),
		    str(e, "failed_why"));
	if (json_is_object(last)) {
		age(when, sizeof(when), num(last, "started_ms") / 1000);
		printf("  last change   #%lld %s %s at %.7s (%s): %s\n",
		    num(last, "id"), when, str(last, "outcome"),
		    str(last, "commit"), str(last, "trigger"),
		    str(last, "message"));
	}
	printf("\n  %-16s %-12s %-8s %-28s %s\n", "HOST", "STATE", "COMMIT",
	    "SUBJECT", "AUTHOR, AGE");
	json_array_foreach(hosts, i, h) {
		const char *author = str(h, "author");
		int alen = (int)strcspn(author, "<");
		char subject[29];

		while (alen > 0 && author[alen - 1] == ' ')
			alen--;

		age(when, sizeof(when), num(h, "commit_time"));
		snprintf(subject, sizeof(subject), "%s", str(h, "subject"));
		printf("  %-16s %-12s %-8.7s %-28s %.*s%s%s\n", str(h, "host"),
		    str(h, "state"), *str(h, "commit") ? str(h, "commit") :
		    "-", subject, alen, author, alen ? ", " : "", when);
		if (*str(h, "error"))
			printf("  %-16s %s\n", "", str(h, "error"));
	}
	printf("\n");
}

int
cmd_status(const struct cmd_entry *self, int argc, char **argv)
{
	struct read_opts o;
	struct store *s;
	json_t *doc, *envs, *e;
	char *dir;
	size_t i;
	int rc;

	if ((rc = read_opts(self, argc, argv, status_help, &o)) != 0)
		return rc < 0 ? 0 : rc;
	color_init(1, o.json);
	if ((s = open_store(o.state_dir, &dir)) == NULL) {
		free(dir);
		return 1;
	}
	doc = store_status(s, o.env);
	store_close(s);
	if (doc == NULL) {
		fprintf(stderr, "tend: error: %s\n", err_msg());
		free(dir);
		return 1;
	}
	envs = json_object_get(doc, "environments");
	rc = 0;
	if (o.json) {
		print_json(doc);
	} else if (json_array_size(envs) == 0) {
		fprintf(stderr, "tend status: nothing recorded%s%s in %s yet: "
		    "run tend watch or tend apply (with the same --state-dir)\n",
		    o.env ? " for " : "", o.env ? o.env : "", dir);
		rc = 1;
	} else {
		json_t *se;

		oneline_strings(doc);
		se = json_object_get(doc, "status_error");
		json_array_foreach(envs, i, e)
			print_env(e);
		if (json_is_object(se)) {
			char when[32];

			age(when, sizeof(when), num(se, "at_ms") / 1000);
			printf("commit statuses: posting fails (%s): %s; tend "
			    "retries with backoff\n", when, str(se, "error"));
		}
	}
	json_decref(doc);
	free(dir);
	return rc;
}

int
cmd_history(const struct cmd_entry *self, int argc, char **argv)
{
	struct read_opts o;
	struct store *s;
	json_t *doc, *list, *r, *h;
	char *dir;
	size_t i, j;
	int rc;

	if ((rc = read_opts(self, argc, argv, history_help, &o)) != 0)
		return rc < 0 ? 0 : rc;
	if ((s = open_store(o.state_dir, &dir)) == NULL) {
		free(dir);
		return 1;
	}
	doc = store_history(s, o.env, (int)o.limit);
	store_close(s);
	free(dir);
	if (doc == NULL) {
		fprintf(stderr, "tend: error: %s\n", err_msg());
		return 1;
	}
	if (o.json) {
		print_json(doc);
		json_decref(doc);
		return 0;
	}
	oneline_strings(doc);
	list = json_object_get(doc, "reconciles");
	json_array_foreach(list, i, r) {
		time_t t = (time_t)(num(r, "started_ms") / 1000);
		char when[32];
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
		    localtime_r(&t, &tm));
		printf("#%-4lld %s  %-12s %-8.7s %-18s %-11s %6.1fs  %s\n",
		    num(r, "id"), when, str(r, "env"),
		    *str(r, "commit") ? str(r, "commit") : "-",
		    str(r, "trigger"), str(r, "outcome"),
		    num(r, "duration_ms") / 1000.0, str(r, "message"));
		json_array_foreach(json_object_get(r, "hosts"), j, h) {
			if (!strcmp(str(h, "state"), "in_sync"))
				continue;
			printf("      %-16s %-12s %.7s%s%s\n", str(h, "host"),
			    str(h, "state"), str(h, "commit"),
			    *str(h, "error") ? "  " : "", str(h, "error"));
		}
	}
	if (json_array_size(list) == 0)
		printf("no reconciles recorded%s%s yet\n", o.env ? " for " :
		    "", o.env ? o.env : "");
	json_decref(doc);
	return 0;
}
