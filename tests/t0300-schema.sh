#!/bin/sh
# The JSON Schema of the manifest (schema/tend.schema.json) and the C
# validator (tend validate) agree on every test manifest and example.
#
# tests/manifests/ is the project root of the test manifests:
#   good/*.yaml     valid manifests: both must accept them
#   bad/*.yaml      one fault each; both must reject them, except that the
#                   schema accepts the faults only tend can see.  Each file
#                   starts with "# why: ..." and "# schema: reject|accept".
#   hostile/*.yaml  inputs YAML loaders disagree on; tend must reject them
#   deploy/, app/   the files the manifests refer to
# Inputs too big to commit (a 2 MiB manifest, 100000 nested lists) are
# generated here.

# shellcheck disable=SC2016,SC2034  # test bodies are single-quoted, eval'd later
. "$(dirname "$0")/test-lib.sh"

SCHEMA=$TEST_ROOT/schema/tend.schema.json
CHECK=$TEST_ROOT/tests/schema-check
MANIFESTS=$TEST_ROOT/tests/manifests
LIMIT=20	# seconds any one check may take; more is a hang

# check_marks FILE...: run schema-check once on the bad manifests FILE...
# (relative to the current directory) and compare each verdict with the
# file's "# schema:" line.
check_marks() {
	"$CHECK" "$SCHEMA" "$@" >"$TRASH/verdicts" 2>&1
	rc=$?
	if [ "$rc" -gt 2 ]; then
		echo "schema-check failed with status $rc:"
		cat "$TRASH/verdicts"
		return 1
	fi
	fail=0
	for f in "$@"; do
		want=$(sed -n '2s/^# schema: //p' "$f")
		line=$(awk -v p="$f: " 'index($0, p) == 1 { print; exit }' "$TRASH/verdicts")
		case $line in
		"$f: valid") got=accept ;;
		"$f: invalid: "* | "$f: yaml error: "*) got=reject ;;
		*) got=nothing ;;
		esac
		if [ "$got" != "$want" ]; then
			echo "$f is marked '# schema: $want' but schema-check says: ${line:-nothing}"
			fail=1
		fi
	done
	return $fail
}

# have_tend: the C validator is built.
have_tend() {
	[ -x "$TEND" ] && return 0
	echo "tend is not built: $TEND (run make)"
	return 1
}

# tend_verdicts WANT ROOT MANIFEST...: tend validate must exit WANT (0 or 1)
# on every MANIFEST of project root ROOT, within the time limit.
tend_verdicts() {
	want=$1 root=$2
	shift 2
	have_tend || return 1
	fail=0
	for m in "$@"; do
		timeout "$LIMIT" "$TEND" validate --worktree -C "$root" \
			--manifest "$m" >"$TRASH/tend.out" 2>&1
		rc=$?
		[ "$rc" = "$want" ] && continue
		fail=1
		case $rc in
		124) echo "$m: tend validate took more than ${LIMIT}s" ;;
		0 | 1) echo "$m: tend validate exited $rc, expected $want" ;;
		*) echo "$m: tend validate exited $rc (crash?), expected $want" ;;
		esac
		sed 's/^/    /' "$TRASH/tend.out" | head -20
	done
	return $fail
}

# make_root DIR: a project root in a git repository, with FILE deploy/tend.yaml
# written from stdin and committed.
make_root() {
	test_git_init "$1" &&
	mkdir -p "$1/deploy" &&
	cat >"$1/deploy/tend.yaml" &&
	test_commit "$1" "manifest"
}

test_expect_success 'the schema is a valid JSON Schema 2020-12 (check_schema)' '
	"$CHECK" "$SCHEMA" "$MANIFESTS/good/minimal.yaml" >out 2>&1 &&
	test_grep "good/minimal.yaml: valid$" out
'

test_expect_success 'the test manifests are there and marked' '
	cd "$MANIFESTS" &&
	good=$(ls good/*.yaml | wc -l) &&
	bad=$(ls bad/*.yaml | wc -l) &&
	echo "$good good, $bad bad" &&
	[ "$good" -ge 8 ] && [ "$bad" -ge 45 ] &&
	unmarked=$(for f in bad/*.yaml; do
		sed -n 1p "$f" | grep -q "^# why: ." &&
		sed -n 2p "$f" | grep -Eq "^# schema: (reject|accept)$" ||
		echo "$f"
	done) &&
	if [ -n "$unmarked" ]; then
		echo "bad manifests without # why: / # schema: lines:" &&
		echo "$unmarked" && false
	fi
'

test_expect_success 'the schema accepts every good manifest' '
	cd "$MANIFESTS" &&
	"$CHECK" "$SCHEMA" good/*.yaml
'

test_expect_success 'the schema rejects exactly the bad manifests marked reject' '
	cd "$MANIFESTS" &&
	check_marks bad/*.yaml
'

test_expect_success 'schema-check gives a verdict on hostile input without crashing' '
	cd "$MANIFESTS" &&
	timeout "$LIMIT" "$CHECK" "$SCHEMA" hostile/*.yaml >"$TRASH/out" 2>&1
	rc=$? &&
	cat "$TRASH/out" &&
	[ "$rc" -le 2 ] &&
	[ "$(wc -l <"$TRASH/out")" -eq "$(ls hostile/*.yaml | wc -l)" ] &&
	! grep -v ": valid$\|: invalid: \|: yaml error: " "$TRASH/out"
'

test_expect_success 'tend validate accepts every good manifest' '
	cd "$MANIFESTS" &&
	tend_verdicts 0 "$MANIFESTS" good/*.yaml
'

test_expect_success 'tend validate rejects every bad manifest' '
	cd "$MANIFESTS" &&
	tend_verdicts 1 "$MANIFESTS" bad/*.yaml
'

test_expect_success 'tend validate rejects every hostile manifest' '
	cd "$MANIFESTS" &&
	tend_verdicts 1 "$MANIFESTS" hostile/*.yaml
'

# 2 MiB of otherwise valid file resources: the schema has no size limit,
# tend refuses a manifest that big.
test_expect_success 'a 2 MiB manifest: the schema accepts it, tend refuses it' '
	{
		printf "version: 1\napp: big\nhosts:\n  web1: {address: 203.0.113.10}\n" &&
		printf "environments:\n  production: {hosts: [web1]}\nresources:\n" &&
		awk "BEGIN {
			pad = sprintf(\"%400s\", \"\"); gsub(/ /, \"x\", pad)
			for (i = 0; i < 4800; i++)
				printf \"  - file: /etc/big/f%05d.conf\n    content: \\\"%s\\\"\n\", i, pad
		}"
	} | make_root big &&
	size=$(wc -c <big/deploy/tend.yaml) &&
	echo "size: $size" &&
	[ "$size" -gt 2097152 ] && [ "$size" -lt 2200000 ] &&
	timeout 60 "$CHECK" "$SCHEMA" big/deploy/tend.yaml >out &&
	test_grep ": valid$" out &&
	tend_verdicts 1 "$TRASH/big" deploy/tend.yaml
'

# Nested 100000 deep: a recursive walk of the document would overflow the
# stack.  (ruamel.yaml itself crashes on it, so only tend gets it.)
test_expect_success 'tend rejects a manifest nested 100000 levels deep' '
	{
		printf "version: 1\napp: deep\nhosts:\n  web1: {address: 203.0.113.10}\n" &&
		printf "environments:\n  production: {hosts: [web1]}\nvars:\n  deep: " &&
		awk "BEGIN { for (i = 0; i < 100000; i++) printf \"[\"
			for (i = 0; i < 100000; i++) printf \"]\"; print \"\" }"
	} | make_root deep &&
	tend_verdicts 1 "$TRASH/deep" deploy/tend.yaml
'

test_expect_success 'README.md'"'"'s manifest reference names every key of the schema, with its default' '
	/usr/bin/python3 - "$SCHEMA" "$TEST_ROOT/README.md" <<-\EOF
	import json, sys
	schema = json.load(open(sys.argv[1]))
	readme = open(sys.argv[2], encoding="utf-8").read()
	ref = readme.split("## Manifest reference", 1)[1].split("\n## ", 1)[0]
	missing, n = [], 0
	def walk(node, where):
	    global n
	    if isinstance(node, dict):
	        for key, prop in node.get("properties", {}).items():
	            n += 1
	            if not any(f % key in ref for f in ("`%s`", "`%s:", "`%s.")):
	                missing.append("%s: key %s" % (where, key))
	            if isinstance(prop, dict) and "default" in prop:
	                d = prop["default"]
	                text = json.dumps(d) if not isinstance(d, str) else d
	                if text not in ref:
	                    missing.append("%s: default %s of %s" % (where, text, key))
	        for k, v in node.items():
	            if k != "if":
	                walk(v, where + "/" + k)
	    elif isinstance(node, list):
	        for v in node:
	            walk(v, where)
	walk(schema, "")
	if missing or n < 40:
	    print("%d keys; README.md lacks:\n  %s" % (n, "\n  ".join(missing)))
	    sys.exit(1)
	EOF
'

# Only examples that exist are tested; none yet is no test at all.
for example in "$TEST_ROOT"/examples/*/deploy/tend.yaml; do
	[ -f "$example" ] || continue
	test_expect_success "the schema accepts ${example#"$TEST_ROOT"/}" '
		"$CHECK" "$SCHEMA" "$example"
	'
done

test_done
