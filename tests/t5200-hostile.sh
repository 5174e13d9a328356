#!/bin/sh
# Hostile names on a real host: paths, directory names, variable values,
# template and release file names holding quotes, $(...), backquotes, ';',
# newlines, tabs, backslashes, a leading '-', UTF-8 and raw high bytes all
# arrive literally, nothing in them runs, a second apply changes nothing,
# and drift, release updates and pruning work on them.  Then webhooks:
# only the expected methods, paths and sizes, and a burst of deliveries
# (duplicates and distinct) makes at most two passes.
. "$(dirname "$0")/test-lib.sh"

test_hosts 1

# The manifest, literal but for the host's address.  Every name a shell
# could trip on; $${ is a literal ${ (a variable otherwise).
write_manifest() {
	sed "s/@ADDR@/$NET.2/" >repo/deploy/tend.yaml <<\EOF
version: 1
app: hostile
vars:
  payload: "it's \"q\" $(touch /tmp/pwned) `touch /tmp/pwned` ;rm -rf x \\ $HOME\n"
  dir: "/srv/h/-dir it's"
hosts:
  host1: {address: @ADDR@}
environments:
  production: {hosts: [host1]}
resources:
  - directory: /srv/h
  - directory: "${dir}"
  - file: "/srv/h/it's"
    content: "${payload}"
  - file: "/srv/h/a\"b"
    content: "a\"b\n"
  - file: "/srv/h/$(touch /tmp/pwned)"
    content: "dollar\n"
  - file: "/srv/h/`touch /tmp/pwned`"
    content: "backquote\n"
  - file: "/srv/h/;rm -rf x"
    content: "semicolon\n"
  - file: "/srv/h/new\nline"
    content: "new\nline\n"
  - file: "/srv/h/-n"
    content: "-n\n"
  - file: "/srv/h/--"
    content: "--\n"
  - file: "/srv/h/-rf *"
    content: "glob\n"
  - file: "/srv/h/café ✓"
    content: "utf-8\n"
  - file: "/srv/h/back\\slash\ttab "
    content: "tab\n"
  - file: "/srv/h/$${HOME}"
    content: "$${HOME} ${tend.host}\n"
  - file: "${dir}/inner $x"
    source: "deploy/it's $(x) ;y.tmpl"
    template: true
    mode: "0600"
  - file: "${dir}/binary"
    source: deploy/binary
  - symlink: "/srv/h/-link it's"
    target: "-dir it's/inner $x"
  - release: /srv/h/rel
    from: app
    build: "test -f ./-rf && test -f \"it's\" && test -L link"
  - command: hostile-run
    run: "printf '%s\\n' \"it's\" '$(touch /tmp/pwned)' >./-ran"
    cwd: "${dir}"
    unless: "test -e './-ran'"
health:
  - name: literal
    command: "test \"$(cat -- '/srv/h/-n')\" = '-n' && test -f \"/srv/h/it's\""
EOF
}

# The same after pruning: the template, the binary, the newline and ';'
# files, the command and the directory holding them are gone from it, and
# /srv/h/-n is to be absent.
write_pruned() {
	sed "s/@ADDR@/$NET.2/" >repo/deploy/tend.yaml <<\EOF
version: 1
app: hostile
vars:
  payload: "it's \"q\" $(touch /tmp/pwned) `touch /tmp/pwned` ;rm -rf x \\ $HOME\n"
hosts:
  host1: {address: @ADDR@}
environments:
  production: {hosts: [host1]}
resources:
  - directory: /srv/h
  - file: "/srv/h/it's"
    content: "${payload}"
  - file: "/srv/h/a\"b"
    content: "a\"b\n"
  - file: "/srv/h/$(touch /tmp/pwned)"
    content: "dollar\n"
  - file: "/srv/h/`touch /tmp/pwned`"
    content: "backquote\n"
  - file: "/srv/h/-n"
    state: absent
  - file: "/srv/h/--"
    content: "--\n"
  - file: "/srv/h/-rf *"
    content: "glob\n"
  - file: "/srv/h/café ✓"
    content: "utf-8\n"
  - file: "/srv/h/back\\slash\ttab "
    content: "tab\n"
  - file: "/srv/h/$${HOME}"
    content: "$${HOME} ${tend.host}\n"
  - symlink: "/srv/h/-link it's"
    target: "-dir it's/inner $x"
  - release: /srv/h/rel
    from: app
    build: "test -f ./-rf && test -f \"it's\" && test -L link"
health:
  - name: literal
    command: "test ! -e /srv/h/-n && test -f \"/srv/h/it's\""
EOF
}

# NUL-terminated names in, one sorted line each out, every byte outside
# printable ASCII as \xNN: comparable, and readable in a diff.
lines() {
	LC_ALL=C sort -z |
	perl -0 -ne 'chomp; s/([^\x20-\x7e]|\\)/sprintf("\\x%02x", ord $1)/ge; print "$_\n"'
}

# What /srv/h must hold: find's names, one line each (see lines).  The
# '/' in "$(touch /tmp/pwned)" makes directories: tend creates parents.
want_tree() {
	printf '%s\0' \
		'/srv/h/$(touch ' \
		'/srv/h/$(touch /tmp' \
		'/srv/h/$(touch /tmp/pwned)' \
		'/srv/h/`touch ' \
		'/srv/h/`touch /tmp' \
		'/srv/h/${HOME}' \
		'/srv/h/-dir it'\''s' \
		'/srv/h/-dir it'\''s/-ran' \
		'/srv/h/-dir it'\''s/binary' \
		'/srv/h/-dir it'\''s/inner $x' \
		'/srv/h/-link it'\''s' \
		'/srv/h/-n' \
		'/srv/h/-rf *' \
		'/srv/h/--' \
		'/srv/h/;rm -rf x' \
		'/srv/h/`touch /tmp/pwned`' \
		'/srv/h/a"b' \
		'/srv/h/it'\''s' \
		"$(printf '/srv/h/back\\slash\ttab ')" \
		"$(printf '/srv/h/caf\303\251 \342\234\223')" \
		"$(printf '/srv/h/new\nline')" | lines
}

# The host's tree under DIR (minus the release's own directory).
host_tree() {
	on_host host1 "find '$1' -mindepth 1 -path /srv/h/rel -prune -o -print0" |
	lines
}

# The release's files as committed, and as on the host (current).
local_release() { (cd repo/app && find . -mindepth 1 -print0 | lines); }
host_release() {
	on_host host1 "cd /srv/h/rel/current/ && find . -mindepth 1 ! -name .tend-files -print0" |
	lines
}

no_pwned() {
	on_host host1 "ls -d /tmp/pwned* 2>/dev/null" >pwned
	test ! -s pwned || { echo "something ran:"; cat pwned; return 1; }
	on_host host1 "test -d /root/x && test -d /x" ||
	{ echo "a sentinel directory x is gone: rm -rf x ran"; return 1; }
}

test_expect_success 'setup: a repository whose files, template and release names are hostile' '
	test_git_init repo &&
	mkdir -p repo/deploy repo/app/lib &&
	write_manifest &&
	printf "raw \377\376 bytes\n\${payload}\$\${literal} on \${tend.host}\n" \
		>"repo/deploy/it'\''s \$(x) ;y.tmpl" &&
	i=0 && while [ $i -lt 256 ]; do
		printf "\\$(printf %o $i)"; i=$((i + 1)); done >repo/deploy/binary &&
	test "$(wc -c <repo/deploy/binary)" = 256 &&
	for n in "it'\''s" "a\"b" "\$(touch pwned)" "\`touch pwned\`" ";rm -rf x" \
		"-rf" "--" "-n" "back\\slash" "$(printf "tab\there")" \
		"$(printf "raw \377\376 high")" "$(printf "caf\303\251")" "*" " lead"; do
		printf "%s\n" "$n" >"repo/app/$n"
	done &&
	test "$(ls -A repo/app | wc -l)" = 15 &&
	mkdir "repo/app/-sub dir" &&
	echo sub >"repo/app/-sub dir/it'\''s here" &&
	echo util >repo/app/lib/util.py &&
	ln -s "it'\''s" repo/app/link &&
	ln -s ../../../../etc/passwd repo/app/escape &&
	test_commit repo hostile &&
	"$TEND" validate -C repo &&
	on_host host1 "mkdir -p /root/x /x"
'

test_expect_success 'apply: every hostile name lands, nothing in them runs' '
	"$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	test_grep "^host1 ($NET.2)  applied" out &&
	host_tree /srv/h >got &&
	want_tree >want &&
	test_cmp want got &&
	no_pwned
'

test_expect_success 'contents arrive byte for byte: values, templates with raw bytes, binary' '
	on_host host1 "cat -- \"/srv/h/it'\''s\"" >got &&
	printf "%s\n" "it'\''s \"q\" \$(touch /tmp/pwned) \`touch /tmp/pwned\` ;rm -rf x \\ \$HOME" >want &&
	test_cmp want got &&
	on_host host1 "cat -- \"/srv/h/\\\${HOME}\"" >got &&
	echo "\${HOME} host1" >want &&
	test_cmp want got &&
	on_host host1 "cat -- \"/srv/h/-dir it'\''s/inner \\\$x\"" >got &&
	{ printf "raw \377\376 bytes\n"
	  printf "%s\n" "it'\''s \"q\" \$(touch /tmp/pwned) \`touch /tmp/pwned\` ;rm -rf x \\ \$HOME"
	  echo "\${literal} on host1"; } >want &&
	test_cmp want got &&
	on_host host1 "stat -c %a -- \"/srv/h/-dir it'\''s/inner \\\$x\"" >got &&
	echo 600 >want && test_cmp want got &&
	on_host host1 "cat -- \"/srv/h/-dir it'\''s/binary\"" >got &&
	cmp repo/deploy/binary got &&
	on_host host1 "cat /srv/h/new*line" >got &&
	printf "new\nline\n" >want && test_cmp want got &&
	on_host host1 "readlink -- \"/srv/h/-link it'\''s\"" >got &&
	echo "-dir it'\''s/inner \$x" >want && test_cmp want got &&
	on_host host1 "cat -- \"/srv/h/-dir it'\''s/-ran\"" >got &&
	printf "%s\n" "it'\''s" "\$(touch /tmp/pwned)" >want && test_cmp want got
'

test_expect_success 'the release holds every name as committed; its links are links, not followed' '
	local_release >want &&
	host_release >got &&
	test_cmp want got &&
	on_host host1 "cd /srv/h/rel/current && cat -- \"\$(printf \"raw \\377\\376 high\")\" ./-rf \"it'\''s\"" >got &&
	{ printf "raw \377\376 high\n"; echo "-rf"; echo "it'\''s"; } >want &&
	test_cmp want got &&
	on_host host1 "readlink /srv/h/rel/current/escape" >got &&
	echo ../../../../etc/passwd >want && test_cmp want got &&
	test "$(on_host host1 "head -c 5 /etc/passwd")" = "root:" &&
	no_pwned
'

test_expect_success 'a second apply changes nothing: the probe reads every name back' '
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode >out 2>&1 &&
	test_grep "^Plan: 0 to add, 0 to change, 0 to remove, on 0 of 1 host" out &&
	"$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	test_grep "Applied: 0 added, 0 changed, 0 removed" out
'

test_expect_success 'drift on hostile names is seen, shown on one line each, and corrected' '
	on_host host1 "cd /srv/h && for f in new*line; do echo edited >\"\$f\"; done && chmod 0600 -- it*s && rm -f -- ./-n" &&
	rc=0 &&
	{ "$TEND" plan -C repo $TEND_SSH --detailed-exitcode >out 2>&1 || rc=$?; } &&
	test "$rc" = 2 &&
	test_grep "^  ~ file /srv/h/new\\\\nline  (content)  drift: changed on the host$" out &&
	test_grep "^  ~ file /srv/h/it'\''s  (mode 0600 -> 0644)  drift" out &&
	test_grep "^  + file /srv/h/-n  (3 bytes, mode 0644)" out &&
	"$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode >out 2>&1 &&
	host_tree /srv/h >got && want_tree >want && test_cmp want got &&
	on_host host1 "cat /srv/h/new*line" >got &&
	printf "new\nline\n" >want && test_cmp want got
'

test_expect_success 'a new release changes and drops hostile names, from the old one plus changes' '
	old=$(on_host host1 "readlink /srv/h/rel/current") &&
	echo changed >"repo/app/it'\''s" &&
	git -C repo rm -q -- "app/;rm -rf x" &&
	git -C repo rm -q -- "app/$(printf "raw \377\376 high")" &&
	echo new >"repo/app/-sub dir/new \$(x) \`y\`" &&
	test_commit repo "release update" &&
	"$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	test_grep "new release [0-9a-f]*: 2 of 17 files sent" out &&
	local_release >want && host_release >got && test_cmp want got &&
	on_host host1 "cat -- \"/srv/h/rel/current/it'\''s\"" >got &&
	echo changed >want && test_cmp want got &&
	on_host host1 "test -f \"/srv/h/rel/$old/;rm -rf x\"" &&
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode &&
	no_pwned
'

test_expect_success 'pruning and state: absent remove hostile names; a kept directory is named on one line' '
	write_pruned &&
	test_commit repo prune &&
	"$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	test_grep "^  - file /srv/h/new\\\\nline  (no longer in the manifest)" out &&
	test_grep "^  - file /srv/h/;rm -rf x  (no longer in the manifest)" out &&
	test_grep "^  - file /srv/h/-n  (state: absent)" out &&
	test_grep "^  note: directory /srv/h/-dir it'\''s kept: it is not empty$" out &&
	host_tree /srv/h >got &&
	want_tree | grep -v -e "^/srv/h/-n$" -e "^/srv/h/;rm" -e "^/srv/h/new" \
		-e "/binary$" -e "/inner \\\$x$" >want &&
	test_cmp want got &&
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode &&
	no_pwned
'

test_expect_success 'a failure whose words hold a newline and an escape sequence is shown on one line' '
	cp repo/deploy/tend.yaml pruned.yaml &&
	cat >>repo/deploy/tend.yaml <<-\EOF &&
	  - name: forge
	    command: "printf '\''forged\\nhost9 (10.0.0.9)  applied\\033[2J'\''; exit 3"
	    retries: 0
	EOF
	test_commit repo "forging health check" &&
	! "$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	test_grep "^host1 ($NET.2)  failed: health check .forge. failed after 1 try: exit 3: forged\\\\nhost9 (10.0.0.9)  applied\\\\x1b\[2J$" out &&
	test_grep "^  host1            [0-9a-f]*  failed      health check .forge. failed after 1 try: exit 3: forged\\\\nhost9" out &&
	"$TEND" history >>out && "$TEND" status >>out &&
	test_grep "^      host1            failed       [0-9a-f]*  health check .forge. .*forged\\\\nhost9" out &&
	! grep -q "^host9" out &&
	! grep -q "$(printf "\033")" out &&
	cp pruned.yaml repo/deploy/tend.yaml &&
	test_commit repo "no forging" &&
	"$TEND" apply -C repo $TEND_SSH >out 2>&1 &&
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode
'

# ---------------------------------------------------------------- webhooks

PORT=$((40000 + $$ % 20000))
LISTEN=$NET.1:$PORT
SECRET="hook secret"
export TEND_WEBHOOK_SECRET="$SECRET"
WAIT_LOG=$TRASH/watch.log

# metric NAME [LABELS]: the value of one sample of /metrics.
metric() {
	if [ -n "${2:-}" ]; then n="$1{$2}"; else n=$1; fi
	curl -s "http://$LISTEN/metrics" | awk -v n="$n" '$1 == n { print $2 }'
}

# deliver ID: a signed GitHub push delivery with that delivery id; prints
# the HTTP status.
deliver() {
	body=$(printf '{"ref":"refs/heads/main","after":"%s"}' "$(git -C repo rev-parse HEAD)")
	sig=$(printf %s "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed "s/^.*= *//")
	curl -s -o /dev/null -w "%{http_code}\n" -X POST -H "X-GitHub-Event: push" \
		-H "X-Hub-Signature-256: sha256=$sig" -H "X-GitHub-Delivery: $1" \
		-H "Content-Type: application/json" --data-binary "$body" \
		"http://$LISTEN/hooks/github"
}

test_expect_success 'watch: the daemon follows the hostile repository, in sync' '
	git clone -q --bare repo origin.git &&
	"$TEND" watch --repo "$TRASH/origin.git" -e production@main \
		--state-dir "$TRASH/state" $TEND_SSH --interval 1h \
		--listen "$LISTEN" >watch.log 2>&1 &
	WATCH_PID=$! &&
	test_atexit "kill $WATCH_PID 2>/dev/null" &&
	wait_for 20 curl -sf "http://$LISTEN/healthz" &&
	wait_for 30 sh -c "test \"\$(curl -s http://$LISTEN/metrics | awk '\''\$1 == \"tend_passes_total\" { print \$2 }'\'')\" -ge 1" &&
	"$TEND" status --state-dir "$TRASH/state" >st &&
	test_grep "in_sync: No changes: 1/1 hosts in sync" st
'

# status METHOD PATH [CURL ARGS...]: the HTTP status of one request.
status() {
	m=$1 path=$2
	shift 2
	code=$(curl -s -o /dev/null -w "%{http_code}" -X "$m" "$@" "http://$LISTEN$path")
	echo "$m $path: $code"
	printf "%s\n" "$code"
}

test_expect_success 'webhooks: only POST to the hook paths, within the size limit, signed' '
	test "$(status GET /hooks/github | tail -n 1)" = 405 &&
	test "$(status PUT /hooks/gitlab --data x | tail -n 1)" = 405 &&
	test "$(status POST /hooks/github/../gitea --path-as-is --data x | tail -n 1)" = 404 &&
	test "$(status POST /hooks/bitbucket --data x | tail -n 1)" = 404 &&
	test "$(status DELETE /metrics | tail -n 1)" = 405 &&
	head -c 1100000 /dev/zero >big &&
	test "$(status POST /hooks/github -H "X-GitHub-Event: push" --data-binary @big | tail -n 1)" = 413 &&
	test "$(status POST /hooks/github -H "X-GitHub-Event: push" \
		-H "X-Hub-Signature-256: sha256=$(printf %064d 0)" --data "{}" | tail -n 1)" = 401 &&
	test "$(metric tend_webhook_requests_total "forge=\"github\",result=\"too_large\"")" = 1 &&
	test "$(metric tend_webhook_requests_total "forge=\"github\",result=\"unauthorized\"")" = 1 &&
	sleep 1 &&
	test "$(metric tend_passes_total)" = 1
'

test_expect_success 'a burst of 40 deliveries (20 copies of one, 20 distinct) makes at most two passes' '
	before=$(metric tend_passes_total) &&
	i=0 && while [ $i -lt 20 ]; do
		deliver same-delivery >>codes &
		deliver "distinct-$i" >>codes &
		i=$((i + 1))
	done &&
	wait_for 30 sh -c "test \$(wc -l <codes) -ge 40" &&
	test "$(grep -c "^202$" codes)" = 21 &&
	test "$(grep -c "^200$" codes)" = 19 &&
	test "$(metric tend_webhook_requests_total "forge=\"github\",result=\"duplicate\"")" = 19 &&
	wait_for 30 sh -c "test \"\$(curl -s http://$LISTEN/metrics | awk '\''\$1 == \"tend_passes_total\" { print \$2 }'\'')\" -gt $before" &&
	sleep 3 &&
	after=$(metric tend_passes_total) &&
	echo "passes: $before before the burst, $after after" &&
	test $((after - before)) -ge 1 && test $((after - before)) -le 2 &&
	code=$(deliver same-delivery) && test "$code" = 200 &&
	sleep 2 &&
	test "$(metric tend_passes_total)" = "$after" &&
	! grep -q "deploying" watch.log &&
	kill $WATCH_PID && wait $WATCH_PID
'

test_done
