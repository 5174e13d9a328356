#!/bin/sh
# Commit statuses: tend watch posting to a local server that answers as
# the GitHub, GitLab and Gitea status APIs document (tests/fakeforge), and
# git notes pushed to the remote: success, failure with rollback, an
# invalid manifest, a superseded commit, an API that fails and recovers,
# and a token that never shows up anywhere but its header.
. "$(dirname "$0")/test-lib.sh"

test_hosts 2

TOKEN="tok-$$-secret"
export TEND_STATUS_TOKEN="$TOKEN"
export TEND_WEBHOOK_SECRET="hook-secret"
# The forge receives the token, and the test keeps what it received.
test_sensitive "$TOKEN"
test_sensitive hook-secret
test_sensitive_input forge.log
test_sensitive_input reqs.json
STATE=$TRASH/state
PORT=$((20000 + $$ % 20000))
LISTEN=127.0.0.1:$PORT
WAIT_LOG=$TRASH/watch.log

dev() { git -C dev "$@"; }
push() { test_commit dev "$1" && dev push -q origin main; }
short() { dev rev-parse --short=7 "${1:-HEAD}"; }
api() { echo "http://127.0.0.1:$(cat forge.port)$1"; }
control() { curl -s -o /dev/null -X POST --data-binary "$1" "$(api /_control)"; }

# The statuses the forge received, one line each: STATE SHORT CONTEXT DESC
# (GitLab's words as sent; faulted requests left out).
received() {
	curl -s "$(api /_requests)" | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["forge"] and r["status"] in (200, 201):
        f = r["fields"]
        print(f["state"], r["sha"][:7], f["context"], f["description"])'
}

watch() {
	"$TEND" watch --repo "$TRASH/origin.git" -e production@main --state-dir "$STATE" \
		$TEND_SSH --once "$@" >>watch.log 2>&1
}

test_expect_success 'setup: a forge API, an origin, a project on two hosts' '
	{ /usr/bin/python3 "$TEST_ROOT/tests/fakeforge" --port-file forge.port \
		--log forge.log --token "$TOKEN" 2>forge.err & } &&
	echo $! >forge.pid &&
	test_atexit "kill $(cat forge.pid)" &&
	wait_for 10 test -s forge.port &&
	git init -q --bare -b main origin.git &&
	test_git_init dev &&
	dev remote add origin "$TRASH/origin.git" &&
	mkdir -p dev/deploy &&
	cat >dev/deploy/tend.yaml <<-\EOF &&
	version: 1
	app: shop
	vars: {ok: "yes"}
	hosts:
	  host1: {address: 127.0.0.2}
	  host2: {address: 127.0.0.3}
	environments:
	  production:
	    hosts: [host1, host2]
	    rollout: {canary: 1, parallel: 1, max_failed: 0, rollback: all}
	resources:
	  - file: /etc/shop.conf
	    content: "ok=${ok}\n"
	health:
	  - name: conf
	    command: grep -q ok=yes /etc/shop.conf
	    retries: 0
	EOF
	push "first"
'

test_expect_success 'github: pending, then success with the time taken' '
	watch --status github:team/shop --status-api "$(api "")" --public-url https://tend.example.com/ &&
	received >got &&
	test_grep "^pending $(short) tend/production Deploying to 2 hosts$" got &&
	test_grep "^success $(short) tend/production Deployed to 2/2 hosts in [0-9.]*s$" got &&
	test "$(wc -l <got)" = 2 &&
	curl -s "$(api /_requests)" >reqs.json &&
	/usr/bin/python3 -c "
import json
for r in json.load(open(\"reqs.json\")):
    h = r[\"headers\"]
    assert h[\"authorization\"] == \"Bearer $TOKEN\", h
    assert h[\"user-agent\"].startswith(\"tend/\"), h
    assert r[\"path\"].startswith(\"/repos/team/shop/statuses/\"), r
    assert r[\"fields\"][\"target_url\"] == \"https://tend.example.com/\", r
"
'

test_expect_success 'a pass with nothing new posts nothing again' '
	watch --status github:team/shop --status-api "$(api "")" &&
	received >got &&
	test "$(wc -l <got)" = 2
'

test_expect_success 'a commit failing its health check: failure, with the rollback' '
	good=$(short) &&
	sed -i "s/^vars: {ok: \"yes\"}/vars: {ok: \"no\"}/" dev/deploy/tend.yaml &&
	push "break it" &&
	watch --status github:team/shop --status-api "$(api "")" &&
	received >got &&
	test_grep "^pending $(short) tend/production Deploying to 2 hosts$" got &&
	test_grep "^failure $(short) tend/production host1: health check .conf. failed.*; rolled back to $good$" got
'

test_expect_success 'an invalid manifest: error, with its position' '
	sed -i "s/^app: shop/app: shop\nmdoe: 1/" dev/deploy/tend.yaml &&
	push "typo" &&
	watch --status github:team/shop --status-api "$(api "")" &&
	received >got &&
	test_grep "^error $(short) tend/production deploy/tend.yaml:3:1: unknown key .mdoe." got
'

test_expect_success 'an API that fails (503, rate limit) is retried; the deploy is not held up' '
	sed -i "/^mdoe/d; s/^vars: {ok: \"no\"}/vars: {ok: \"yes\"}/" dev/deploy/tend.yaml &&
	push "fixed" &&
	control "{\"fail\": 2, \"status\": 503}" &&
	watch --status github:team/shop --status-api "$(api "")" &&
	on_host host2 "cat /etc/shop.conf" >conf && echo ok=yes >want && test_cmp want conf &&
	test_grep "status tend/production pending on $(short) not posted (try 1 of 12): .*HTTP 503" watch.log &&
	received >got &&
	test_grep "^success $(short) tend/production " got &&
	control "{\"fail\": 50, \"status\": 502}" &&
	sed -i "s/^vars: {ok: \"yes\"}/vars: {ok: \"yes\", x: 1}/" dev/deploy/tend.yaml && push "while the API is down" &&
	watch --status github:team/shop --status-api "$(api "")" &&
	"$TEND" status --state-dir "$STATE" >st &&
	test_grep "^commit statuses: posting fails (.*): .*HTTP 502.*; tend retries with backoff" st &&
	control "{\"reset\": true}" &&
	echo 1 >dev/marker && push "marker" &&
	control "{\"ratelimit\": 1, \"style\": \"github\", \"seconds\": 2}" &&
	watch --status github:team/shop --status-api "$(api "")" &&
	test_grep "not posted (try 1 of 12): .*HTTP 403: API rate limit exceeded" watch.log &&
	received >got &&
	test_grep "^success $(short) tend/production" got
'

test_expect_success 'a superseded commit gets the newer one final state' '
	sed -i "s|^health:|  - command: slow\n    run: sleep 4\n    on_change: [/etc/shop.conf]\nhealth:|" dev/deploy/tend.yaml &&
	sed -i "s|content: \"ok=\${ok}\\\\n\"|content: \"ok=\${ok}\\\\nn=1\\\\n\"|" dev/deploy/tend.yaml &&
	grep -q "n=1" dev/deploy/tend.yaml &&
	push "slow one" && old=$(short) &&
	{ "$TEND" watch --repo "$TRASH/origin.git" -e production@main --state-dir "$STATE" \
		$TEND_SSH --interval 1h --listen $LISTEN --status github:team/shop \
		--status-api "$(api "")" >watch.log 2>&1 & } &&
	pid=$! && test_atexit "kill $pid 2>/dev/null" &&
	wait_for 20 on_host host1 "pgrep -x sleep" &&
	sed -i "s/nn=1/nn=2/" dev/deploy/tend.yaml && push "newer" &&
	body="{\"ref\":\"refs/heads/main\",\"after\":\"$(dev rev-parse HEAD)\"}" &&
	sig=$(printf %s "$body" | openssl dgst -sha256 -hmac hook-secret | sed "s/^.*= *//") &&
	curl -s -o /dev/null -X POST -H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$sig" \
		-H "Content-Type: application/json" --data-binary "$body" http://$LISTEN/hooks/github &&
	wait_for 40 grep -q "$(short) success" watch.log &&
	wait_for 10 sh -c "curl -s $(api /_requests) | grep -q Superseded" &&
	kill -TERM $pid && wait $pid &&
	received >got &&
	test_grep "^success $(short) tend/production Deployed to 2/2 hosts" got &&
	test_grep "^success $old tend/production Superseded by $(short): Deployed to 2/2 hosts" got
'

test_expect_success 'gitlab: project path encoded, PRIVATE-TOKEN, running then success' '
	control "{\"forget\": true}" &&
	sed -i "s/nn=2/nn=3/" dev/deploy/tend.yaml && push "for gitlab" &&
	watch --status gitlab:team/shop --status-api "$(api /api/v4)" &&
	received >got &&
	test_grep "^running $(short) tend/production Deploying to 2 hosts$" got &&
	test_grep "^success $(short) tend/production Deployed to 2/2 hosts" got &&
	curl -s "$(api /_requests)" | grep -q "\"path\": \"/api/v4/projects/team%2Fshop/statuses/" &&
	curl -s "$(api /_requests)" | grep -q "\"private-token\": \"$TOKEN\""
'

test_expect_success 'gitea: Authorization token, pending then success' '
	control "{\"forget\": true}" &&
	sed -i "s/nn=3/nn=4/" dev/deploy/tend.yaml && push "for gitea" &&
	watch --status gitea:team/shop --status-api "$(api /api/v1)" &&
	received >got &&
	test_grep "^pending $(short) tend/production Deploying to 2 hosts$" got &&
	test_grep "^success $(short) tend/production Deployed to 2/2 hosts" got &&
	curl -s "$(api /_requests)" | grep -q "\"authorization\": \"token $TOKEN\""
'

test_expect_success 'git notes: the outcome is on the commit in refs/notes/tend of the remote' '
	sed -i "s/nn=4/nn=5/" dev/deploy/tend.yaml && push "for notes" &&
	watch --status git-notes &&
	dev fetch -q origin refs/notes/tend:refs/notes/tend &&
	dev log -1 --notes=tend --format=%N >note &&
	test_grep "^tend/production: success: Deployed to 2/2 hosts in" note
'

test_expect_success 'tend apply --status reports the same way (a CI job after merge)' '
	control "{\"forget\": true}" &&
	sed -i "s/nn=5/nn=6/" dev/deploy/tend.yaml && test_commit dev "by apply" &&
	{ "$TEND" apply -C dev -e production $TEND_SSH --state-dir "$STATE" \
		--status github:team/shop --status-api "$(api "")" >out 2>err || { cat out err; false; }; } &&
	received >got &&
	test_grep "^pending $(short) tend/production Deploying to 2 hosts$" got &&
	test_grep "^success $(short) tend/production Deployed to 2/2 hosts" got &&
	! grep -q "$TOKEN" out err
'

test_expect_success '--plan-prs plans pull request heads, posts tend/ENV/plan, applies nothing' '
	control "{\"forget\": true}" &&
	dev push -q origin main &&
	dev checkout -q -b feature &&
	sed -i "s/nn=6/nn=7/" dev/deploy/tend.yaml && test_commit dev "a pull request" &&
	dev push -q origin HEAD:refs/pull/7/head &&
	pr=$(dev rev-parse HEAD) &&
	watch --plan-prs --status github:team/shop --status-api "$(api "")" &&
	received >got &&
	test_grep "^success $(short) tend/production/plan Plan: 4 to change on 2 of 2 hosts$" got &&
	on_host host1 "cat /etc/shop.conf" >conf &&
	printf "ok=yes\nn=6\n" >want && test_cmp want conf &&
	watch --plan-prs --status github:team/shop --status-api "$(api "")" &&
	received >got2 && test_cmp got got2 &&
	sed -i "s/^app: shop/app: shop\nmdoe: 1/" dev/deploy/tend.yaml && test_commit dev "typo in the pr" &&
	dev push -q -f origin HEAD:refs/pull/7/head &&
	watch --plan-prs --status github:team/shop --status-api "$(api "")" &&
	received >got &&
	test_grep "^failure $(short) tend/production/plan deploy/tend.yaml:3:1: unknown key .mdoe." got &&
	dev checkout -q main
'

test_expect_success 'a gitea provider without its API URL, or no token, is refused at start' '
	! "$TEND" watch --repo "$TRASH/origin.git" --once --state-dir "$STATE" --status gitea:team/shop 2>err &&
	test_grep "needs --status-api URL" err &&
	! env -u TEND_STATUS_TOKEN "$TEND" watch --repo "$TRASH/origin.git" --once --state-dir "$STATE" \
		--status github:team/shop 2>err &&
	test_grep "need a token in TEND_STATUS_TOKEN" err
'

test_expect_success 'the token appears in no log, no history, no status text' '
	"$TEND" history --state-dir "$STATE" --json >hist.json &&
	"$TEND" status --state-dir "$STATE" --json >status.json &&
	! grep -rl "$TOKEN" watch.log hist.json status.json "$STATE/tend.db" &&
	curl -s "$(api /_requests)" >reqs.json &&
	/usr/bin/python3 -c "
import json
for r in json.load(open(\"reqs.json\")):
    h = dict(r[\"headers\"]); h.pop(\"authorization\", None); h.pop(\"private-token\", None)
    assert \"$TOKEN\" not in json.dumps(h) + (r[\"body\"] or \"\") + r[\"path\"] + (r[\"query\"] or \"\"), r
"
'

test_done
