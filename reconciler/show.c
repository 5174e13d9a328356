/* show: human and JSON output of plans and applies. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diff.h"
#include "log.h"
#include "show.h"

#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

void
show_summarize(struct summary *s, const struct host_run *runs, size_t n)
{
	size_t i, j;

	memset(s, 0, sizeof(*s));
	s->hosts = n;
	for (i = 0; i < n; i++) {
		const struct host_plan *p = &runs[i].plan;

		if (runs[i].state == HOST_ROLLED_BACK) {
			s->hosts_rolled_back++;
			continue;
		}
		if (runs[i].state == HOST_FAILED ||
		    runs[i].state == HOST_LOCKED) {
			s->hosts_failed++;
			continue;
		}
		if (runs[i].state == HOST_SKIPPED)
			continue;
		s->add += p->add;
		s->change += p->change;
		s->remove += p->remove;
		s->conflicts += p->conflicts;
		s->restarts += p->restarts;
		for (j = 0; j < p->n; j++)
			s->drift += p->v[j].drift;
		if (plan_has_changes(p))
			s->hosts_changed++;
	}
}

void
show_heading(FILE *out, const struct run_info *ri, size_t nhosts)
{
	fprintf(out, "%stend %s%s  %s @ %.7s \"%s\"  env %s (%zu host%s)\n\n",
	    color(BOLD), ri->command, color(RESET), ri->m->app, ri->commit,
	    ri->subject, ri->env->name, nhosts, nhosts == 1 ? "" : "s");
}

static const char *
op_color(enum act_op op)
{
	switch (op) {
	case ACT_CREATE:
		return GREEN;
	case ACT_UPDATE:
		return YELLOW;
	case ACT_DELETE:
	case ACT_CONFLICT:
		return RED;
	default:
		return "";
	}
}

/* "(content, mode 0644 -> 0640)" and friends. */
static void
describe(struct buf *b, const struct action *a)
{
	const struct resource *res = a->rr ? a->rr->res : NULL;
	const struct obs_entry *e = a->obs;
	const char *sep = "";

	if (a->kind == RES_RELEASE && a->op != ACT_DELETE &&
	    a->op != ACT_CONFLICT) {
		if (a->changes & CH_RELEASE_SWITCH)
			buf_addf(b, "switch to %s: on the host already, no "
			    "upload", a->rr->release_id);
		else
			buf_addf(b, "new release %s: %zu of %zu files sent%s%s",
			    a->rr->release_id, a->nupload, a->rr->tree.n,
			    a->rr->build ? ", then build: " : "",
			    a->rr->build ? a->rr->build : "");
		return;
	}
	if (a->kind == RES_SERVICE && a->prune) {
		buf_addf(b, "no longer in the manifest: stop, disable%s",
		    (a->changes & CH_UNIT) ? ", remove the unit file" : "");
		return;
	}
	if (a->kind == RES_SERVICE || a->kind == RES_COMMAND) {
		static const struct {
			unsigned flag;
			const char *word;
		} words[] = { { CH_UNIT, "unit file" }, { CH_ENABLE, "enable" },
			{ CH_DISABLE, "disable" }, { CH_START, "start" },
			{ CH_STOP, "stop" }, { CH_RESTART, "restart: " },
			{ CH_RUN, "runs: " }, { CH_RUN_UNLESS, "runs " } };
		size_t i;

		for (i = 0; i < ARRAY_SIZE(words); i++) {
			if (!(a->changes & words[i].flag))
				continue;
			buf_addf(b, "%s%s", sep, words[i].word);
			sep = ", ";
			if (words[i].flag & (CH_RESTART | CH_RUN |
			    CH_RUN_UNLESS))
				buf_adds(b, a->reason);
		}
		return;
	}
	switch (a->op) {
	case ACT_CREATE:
		if (a->kind == RES_FILE && a->sensitive)
			buf_addf(b, "sensitive, mode %04o", a->rr->mode);
		else if (a->kind == RES_FILE)
			buf_addf(b, "%zu bytes, mode %04o", a->rr->size,
			    a->rr->mode);
		else if (a->kind == RES_DIRECTORY)
			buf_addf(b, "mode %04o", a->rr->mode);
		else if (a->kind == RES_SYMLINK)
			buf_addf(b, "-> %s", a->rr->target);
		if (a->parents)
			buf_addf(b, "; creates %s", a->parents);
		break;
	case ACT_UPDATE:
		if (a->changes & CH_CONTENT) {
			buf_adds(b, a->sensitive ? "sensitive content" :
			    "content");
			sep = ", ";
		}
		if (a->changes & CH_TARGET) {
			buf_addf(b, "%starget %s -> %s", sep,
			    e->target ? e->target : "?", a->rr->target);
			sep = ", ";
		}
		if (a->changes & CH_MODE) {
			buf_addf(b, "%smode %04o -> %04o", sep, e->mode,
			    a->rr->mode);
			sep = ", ";
		}
		if (a->changes & CH_OWNER) {
			buf_addf(b, "%sowner %s -> %s", sep, e->owner,
			    res->owner);
			sep = ", ";
		}
		if (a->changes & CH_GROUP)
			buf_addf(b, "%sgroup %s -> %s", sep, e->group,
			    res->group);
		break;
	case ACT_DELETE:
		buf_adds(b, a->prune ? "no longer in the manifest" :
		    "state: absent");
		break;
	case ACT_FORGET:
		buf_addf(b, "no longer in the manifest; left in place: %s",
		    a->why);
		break;
	case ACT_CONFLICT:
		buf_adds(b, a->why);
		break;
	}
}

static void
show_content_change(FILE *out, const struct action *a)
{
	const struct buf *nw = &a->rr->content;
	struct buf d = BUF_INIT;
	size_t off = 0;

	/* Not even sizes: they say something about a secret too. */
	if (a->sensitive) {
		fprintf(out, "      sensitive content changed (not shown)\n");
		return;
	}
	if (!a->have_old) {
		fprintf(out, "      content changed (%lld -> %zu bytes)\n",
		    a->obs->size, a->rr->size);
		return;
	}
	if (!diff_is_text(a->old.data ? a->old.data : "", a->old.len) ||
	    !diff_is_text(nw->data ? nw->data : "", nw->len)) {
		fprintf(out, "      binary, %zu -> %zu bytes\n", a->old.len,
		    nw->len);
		return;
	}
	if (diff_unified(&d, buf_str(&a->old), a->old.len,
	    buf_str(nw), nw->len, "      ") < 0) {
		fprintf(out, "      content changed (%zu -> %zu bytes; too "
		    "long to show a diff)\n", a->old.len, nw->len);
		return;
	}
	while (off < d.len) {
		const char *line = d.data + off;
		size_t len = strcspn(line, "\n");
		const char *c = line[6] == '-' ? RED : line[6] == '+' ? GREEN :
		    line[6] == '@' ? CYAN : "";

		fprintf(out, "%s%.*s%s\n", color(c), (int)len, line,
		    *c ? color(RESET) : "");
		off += len + 1;
	}
	buf_free(&d);
}

/* Output from a host, each line marked as such. */
static void
show_output(FILE *out, const char *text)
{
	const char *s = text;

	while (*s) {
		size_t len = strcspn(s, "\n");

		fprintf(out, "    | %.*s\n", (int)len, s);
		s += len + (s[len] == '\n');
	}
}

void
show_host(FILE *out, const struct host_run *r, int diffs)
{
	const struct host_plan *p = &r->plan;
	size_t i;

	fprintf(out, "%s%s%s (%s)", color(BOLD), r->host->name, color(RESET),
	    r->host->address.s);
	if (r->state == HOST_FAILED || r->state == HOST_LOCKED) {
		char *error = str_oneline(r->error ? r->error : "");

		fprintf(out, "  %s%s%s: %s\n", color(RED),
		    r->state == HOST_LOCKED ? "locked" : "failed",
		    color(RESET), error);
		free(error);
		/* Its plan, if any, was not carried out: show only what
		 * stopped it, and what the failing step printed. */
		if (r->ar.output)
			show_output(out, r->ar.output);
		if (p->conflicts == 0)
			return;
	} else if (p->n == 0) {
		fprintf(out, "  %sin sync%s\n", color(GREEN), color(RESET));
		if (r->o.rec_error)
			fprintf(out, "  note: tend's record on the host is "
			    "unreadable (%s); nothing is pruned there until an "
			    "apply rewrites it\n", r->o.rec_error);
		return;
	} else if (r->state == HOST_APPLIED) {
		fprintf(out, "  %sapplied%s in %.1fs\n", color(GREEN),
		    color(RESET), (double)r->ms / 1000);
	} else {
		fputc('\n', out);
	}
	for (i = 0; i < p->n; i++) {
		const struct action *a = &p->v[i];
		struct buf b = BUF_INIT;
		char *key = str_oneline(a->key), *what;

		describe(&b, a);
		what = str_oneline(buf_str(&b));
		fprintf(out, "  %s%s %s %s%s  (%s)%s\n", color(op_color(a->op)),
		    a->changes == CH_RESTART ? "\xe2\x86\xbb" :
		    act_symbol(a->op), res_kind_name(a->kind), key,
		    color(RESET), what, a->drift ? "  drift: changed "
		    "on the host" : "");
		if (diffs && a->op == ACT_UPDATE && (a->changes & CH_CONTENT))
			show_content_change(out, a);
		buf_free(&b);
		free(key);
		free(what);
	}
	for (i = 0; i < r->ar.nkept; i++) {
		char *dir = str_oneline(r->ar.kept[i]);

		fprintf(out, "  note: directory %s kept: it is not empty\n",
		    dir);
		free(dir);
	}
	if (r->o.rec_error)
		fprintf(out, "  note: tend's record on the host is unreadable "
		    "(%s); nothing is pruned there until an apply rewrites it\n",
		    r->o.rec_error);
}

void
show_summary_line(FILE *out, const struct run_info *ri,
    const struct summary *s)
{
	int apply = strcmp(ri->command, "apply") == 0;

	fprintf(out, "\n%s%s: %zu %s, %zu %s, %zu %s",
	    color(BOLD), apply ? "Applied" : "Plan", s->add,
	    apply ? "added" : "to add", s->change,
	    apply ? "changed" : "to change", s->remove,
	    apply ? "removed" : "to remove");
	if (s->drift)
		fprintf(out, " (%zu drift)", s->drift);
	if (s->restarts)
		fprintf(out, ", %zu restart%s", s->restarts,
		    s->restarts == 1 ? "" : "s");
	fprintf(out, ", on %zu of %zu host%s.%s\n", s->hosts_changed, s->hosts,
	    s->hosts == 1 ? "" : "s", color(RESET));
	if (s->conflicts)
		fprintf(out, "%s%zu conflict%s: those hosts are not touched "
		    "until resolved.%s\n", color(RED), s->conflicts,
		    s->conflicts == 1 ? "" : "s", color(RESET));
	if (s->hosts_failed)
		fprintf(out, "%s%zu host%s failed.%s\n", color(RED),
		    s->hosts_failed, s->hosts_failed == 1 ? "" : "s",
		    color(RESET));
	if (s->hosts_rolled_back)
		fprintf(out, "%s%zu host%s rolled back to the last good "
		    "commit.%s\n", color(RED), s->hosts_rolled_back,
		    s->hosts_rolled_back == 1 ? "" : "s", color(RESET));
}

static json_t *
action_json(const struct action *a, int with_diff)
{
	json_t *o = json_object(), *ch = json_array();
	struct buf b = BUF_INIT;

	json_object_set_new(o, "op", json_string(act_name(a->op)));
	json_object_set_new(o, "kind", json_string(res_kind_name(a->kind)));
	json_object_set_new(o, "key", json_string(a->key));
	if (a->changes & CH_CONTENT)
		json_array_append_new(ch, json_string("content"));
	if (a->changes & CH_TARGET)
		json_array_append_new(ch, json_string("target"));
	if (a->changes & CH_MODE)
		json_array_append_new(ch, json_string("mode"));
	if (a->changes & CH_OWNER)
		json_array_append_new(ch, json_string("owner"));
	if (a->changes & CH_GROUP)
		json_array_append_new(ch, json_string("group"));
	{
		static const struct {
			unsigned flag;
			const char *word;
		} more[] = { { CH_RELEASE_NEW, "release" },
			{ CH_RELEASE_SWITCH, "switch" }, { CH_UNIT, "unit" },
			{ CH_ENABLE, "enable" }, { CH_DISABLE, "disable" },
			{ CH_START, "start" }, { CH_STOP, "stop" },
			{ CH_RESTART, "restart" }, { CH_RUN, "run" },
			{ CH_RUN_UNLESS, "run_unless" } };
		size_t i;

		for (i = 0; i < ARRAY_SIZE(more); i++)
			if (a->changes & more[i].flag)
				json_array_append_new(ch,
				    json_string(more[i].word));
	}
	json_object_set_new(o, "changes", ch);
	json_object_set_new(o, "drift", json_boolean(a->drift));
	json_object_set_new(o, "prune", json_boolean(a->prune));
	json_object_set_new(o, "sensitive", json_boolean(a->sensitive));
	describe(&b, a);
	json_object_set_new(o, "detail", json_string(buf_str(&b)));
	buf_reset(&b);
	if (with_diff && !a->sensitive && a->have_old &&
	    (a->changes & CH_CONTENT) &&
	    diff_is_text(buf_str(&a->old), a->old.len) &&
	    diff_is_text(buf_str(&a->rr->content),
	    a->rr->content.len) &&
	    diff_unified(&b, buf_str(&a->old), a->old.len,
	    buf_str(&a->rr->content), a->rr->content.len,
	    "") == 0)
		json_object_set_new(o, "diff", json_string(buf_str(&b)));
	else
		json_object_set_new(o, "diff", json_null());
	buf_free(&b);
	return o;
}

/* Write v as JSON_INDENT(2) text, its lines after the first indented by
 * depth more: as if it were dumped inside a document, at that depth. */
static void
dump_at(FILE *out, json_t *v, int depth)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	const char *p = text, *nl;

	if (text == NULL)
		bug("json_dumps failed");
	while ((nl = strchr(p, '\n')) != NULL) {
		fwrite(p, 1, (size_t)(nl + 1 - p), out);
		fprintf(out, "%*s", depth, "");
		p = nl + 1;
	}
	fputs(p, out);
	free(text);
}

/* The document is written a host at a time, each host's actions made,
 * written and freed before the next's: at a thousand files a host, the
 * whole of it would be the run's largest allocation.  The text is what
 * one json_dumps of the whole would be. */
void
show_json(FILE *out, const struct run_info *ri, const struct host_run *runs,
    size_t n)
{
	json_t *head = json_object(), *tail = json_object(), *sum;
	struct summary s;
	size_t i, j;
	char *text;

	json_object_set_new(head, "tend", json_integer(1));
	json_object_set_new(head, "command", json_string(ri->command));
	json_object_set_new(head, "app", json_string(ri->m->app));
	json_object_set_new(head, "env", json_string(ri->env->name));
	json_object_set_new(head, "commit", json_string(ri->commit));
	json_object_set_new(head, "subject", json_string(ri->subject));
	text = json_dumps(head, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL || strlen(text) < 2)
		bug("json_dumps failed");
	/* "{...\n}": all but the closing brace. */
	fprintf(out, "%.*s,\n  \"hosts\": [", (int)(strlen(text) - 2), text);
	free(text);
	json_decref(head);
	for (i = 0; i < n; i++) {
		const struct host_run *r = &runs[i];
		json_t *h = json_object(), *acts = json_array();
		const char *status = host_state_name(r->state);

		if (r->state == HOST_PLANNED)
			status = plan_has_changes(&r->plan) ? "changes" :
			    "in_sync";
		json_object_set_new(h, "name", json_string(r->host->name));
		json_object_set_new(h, "address",
		    json_string(r->host->address.s));
		json_object_set_new(h, "status", json_string(status));
		json_object_set_new(h, "error", r->error ?
		    json_string(r->error) : json_null());
		for (j = 0; j < r->plan.n; j++)
			json_array_append_new(acts,
			    action_json(&r->plan.v[j], 1));
		json_object_set_new(h, "actions", acts);
		fprintf(out, "%s\n    ", i ? "," : "");
		dump_at(out, h, 4);
		json_decref(h);
	}
	fprintf(out, n ? "\n  ]" : "]");
	show_summarize(&s, runs, n);
	sum = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "add", (json_int_t)s.add, "change", (json_int_t)s.change,
	    "remove", (json_int_t)s.remove, "restarts",
	    (json_int_t)s.restarts, "drift", (json_int_t)s.drift,
	    "conflicts", (json_int_t)s.conflicts,
	    "hosts", (json_int_t)s.hosts,
	    "hosts_changed", (json_int_t)s.hosts_changed,
	    "hosts_failed", (json_int_t)s.hosts_failed,
	    "hosts_rolled_back", (json_int_t)s.hosts_rolled_back);
	json_object_set_new(tail, "summary", sum);
	text = json_dumps(tail, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		bug("json_dumps failed");
	/* "{\n  "summary": ...}": all but the opening brace. */
	fprintf(out, ",%s\n", text + 1);
	free(text);
	json_decref(tail);
}
