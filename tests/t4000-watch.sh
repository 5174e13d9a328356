#!/bin/sh
# tend watch: a bare "origin" the team pushes to, the daemon following
# main onto real hosts: deploys, reverts, drift healed or reported, a
# failing commit held back, webhooks, metrics, SIGTERM, status, history.
. "$(dirname "$0")/test-lib.sh"

test_hosts 3

PORT=$((20000 + $$ % 20000))
LISTEN=127.0.0.1:$PORT
SECRET="s3cret value"
export TEND_WEBHOOK_SECRET="$SECRET"
test_sensitive "$SECRET"
STATE=$TRASH/state
WAIT_LOG=$TRASH/watch.log
WATCH="$TEND watch --repo $TRASH/origin.git -e production@main --state-dir $STATE $TEND_SSH"

dev() { git -C dev "$@"; }
push() { test_commit dev "$1" && dev push -q origin main; }
answer() { curl -s --max-time 5 "http://$1:8080/"; }
short() { dev rev-parse --short=7 "${1:-HEAD}"; }

# start_watch ARGS...: tend watch in the background, its log in watch.log.
start_watch() {
	if [ -n "$WATCH_PID" ]; then
		kill "$WATCH_PID" 2>/dev/null
		wait "$WATCH_PID"
	fi
	$WATCH "$@" >watch.log 2>&1 &
	WATCH_PID=$!
	test_atexit "kill $WATCH_PID 2>/dev/null"
	wait_for 10 curl -sf "http://$LISTEN/healthz"
}

# passes N: the running daemon has finished N passes.
passes() {
	curl -s "http://$LISTEN/metrics" | awk -v n="$1" '$1 == "tend_passes_total" && $2 >= n { ok = 1 } END { exit !ok }'
}

stop_watch() {
	kill -TERM $WATCH_PID && wait $WATCH_PID && WATCH_PID=
}

# hook FORGE EVENT BODY [SECRET]: a delivery signed as FORGE signs it;
# prints the HTTP status, the body goes to hook.out.
hook() {
	forge=$1 event=$2 body=$3 key=${4:-$SECRET}
	sig=$(printf %s "$body" | openssl dgst -sha256 -hmac "$key" | sed "s/^.*= *//")
	id=$(date +%s%N)
	case $forge in
	github) set -- -H "X-GitHub-Event: $event" -H "X-Hub-Signature-256: sha256=$sig" \
		-H "X-GitHub-Delivery: $id" ;;
	gitea) set -- -H "X-Gitea-Event: $event" -H "X-Gitea-Signature: $sig" \
		-H "X-Gitea-Delivery: $id" ;;
	gitlab) set -- -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: $key" \
		-H "X-Gitlab-Event-UUID: $id" ;;
	esac
	curl -s -o hook.out -w "%{http_code}" -X POST -H "Content-Type: application/json" \
		"$@" --data-binary "$body" "http://$LISTEN/hooks/$forge"
}

push_body() { printf '{"ref":"refs/heads/main","after":"%s"}' "$(dev rev-parse HEAD)"; }

test_expect_success 'setup: a bare origin and a developer clone with the hello example' '
	git init -q --bare -b main origin.git &&
	test_git_init dev &&
	cp -R "$TEST_ROOT/examples/hello/." dev/ &&
	dev remote add origin "$TRASH/origin.git" &&
	push "hello" &&
	dev tag v1
'

test_expect_success 'watch --once deploys the head of main and records it' '
	$WATCH --once >out 2>&1 &&
	test_grep "production: deploying $(short) \"hello\" to 2 hosts (new commit)" out &&
	test_grep "production: $(short) success: Deployed to 2/2 hosts in" out &&
	answer 127.0.0.3 >got && test_grep "(release $(short))" got &&
	answer 127.0.0.4 >got && test_grep "(release $(short))" got &&
	"$TEND" history --state-dir "$STATE" >hist &&
	test_grep "production   $(short)  new commit  *success" hist
'

test_expect_success 'a second pass with nothing new changes nothing and adds no history' '
	$WATCH --once >out 2>&1 &&
	! grep -q "deploying" out &&
	"$TEND" history --state-dir "$STATE" --json >hist.json &&
	test "$(grep -c "\"trigger\":" hist.json)" = 1 &&
	"$TEND" status --state-dir "$STATE" >st &&
	test_grep "last pass .*in_sync: No changes: 2/2 hosts in sync" st &&
	test_grep "^  host2  *in_sync  *$(short)  *hello  *Test Developer, " st
'

test_expect_success 'a commit pushed to main is deployed within one interval' '
	start_watch --interval 2s --listen $LISTEN &&
	sed -i "s/greeting: hello$/greeting: howdy/" dev/deploy/tend.yaml &&
	push "howdy" &&
	wait_for 15 sh -c "curl -s --max-time 2 http://127.0.0.3:8080/ | grep -q \"^howdy from host2 (release $(short)\"" &&
	wait_for 10 grep -q "$(short) success" watch.log &&
	answer 127.0.0.4 >got && test_grep "^howdy from host3" got
'

test_expect_success 'a webhook with a bad signature gets 401 and triggers nothing' '
	stop_watch &&
	start_watch --interval 1h --listen $LISTEN &&
	wait_for 10 passes 1 &&
	echo 3 >dev/app/VERSION && push "version 3" &&
	code=$(hook github push "$(push_body)" "wrong secret") &&
	test "$code" = 401 &&
	test_grep "signature" hook.out &&
	code=$(curl -s -o /dev/null -w "%{http_code}" -X POST --data-binary "$(push_body)" http://$LISTEN/hooks/github) &&
	test "$code" = 401 &&
	code=$(hook gitlab push "$(push_body)" "wrong secret") &&
	test "$code" = 401 &&
	sleep 2 &&
	! grep -q "deploying $(short)" watch.log &&
	test_grep "rejected" watch.log
'

test_expect_success 'a signed push webhook deploys at once (interval 1h)' '
	t0=$(date +%s%N) &&
	code=$(hook github push "$(push_body)") &&
	test "$code" = 202 &&
	wait_for 3 grep -q "deploying $(short) \"version 3\"" watch.log &&
	t1=$(date +%s%N) &&
	echo "webhook to deploy start: $(( (t1 - t0) / 1000000 )) ms" &&
	wait_for 20 grep -q "$(short) success" watch.log &&
	on_host host2 "cat /srv/hello/current/VERSION" >got &&
	echo 3 >want && test_cmp want got &&
	code=$(hook github ping "{\"zen\":\"hi\"}") && test "$code" = 200
'

test_expect_success 'GitLab and Gitea deliveries are accepted when signed' '
	code=$(hook gitlab push "$(push_body)") && test "$code" = 202 &&
	code=$(hook gitea push "$(push_body)") && test "$code" = 202
'

test_expect_success '/metrics is Prometheus text with the reconciles, hosts and deployed commit' '
	curl -s -D headers -o metrics http://$LISTEN/metrics &&
	grep -qi "^content-type: text/plain; version=0.0.4" headers &&
	/usr/bin/python3 - metrics <<-EOF
	import sys
	from prometheus_client.parser import text_string_to_metric_families
	fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
	def value(name, **labels):
	    for f in fams.values():
	        for s in f.samples:
	            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
	                return s.value
	    raise SystemExit("no sample %s %s" % (name, labels))
	assert value("tend_reconciles_total", env="production", outcome="success") >= 1
	assert value("tend_hosts", env="production", state="in_sync") == 2
	assert value("tend_deployed_commit_info", env="production", commit="$(dev rev-parse HEAD)") == 1
	assert fams["tend_reconcile_duration_seconds"].type == "histogram"
	assert value("tend_webhook_requests_total", forge="github", result="unauthorized") >= 1
	assert value("tend_fetch_errors_total") == 0
	EOF
'

test_expect_success 'a revert pushed to main rolls back to the old release without upload' '
	dev -c user.name=T -c user.email=t@example.invalid revert --no-edit HEAD >/dev/null &&
	dev push -q origin main &&
	code=$(hook github push "$(push_body)") && test "$code" = 202 &&
	wait_for 20 grep -q "$(short) success" watch.log &&
	on_host host3 "cat /srv/hello/current/VERSION" >got &&
	echo 1 >want && test_cmp want got &&
	stop_watch
'

test_expect_success 'a hand edit is only reported with --no-self-heal, then healed' '
	on_host host2 "echo tampered >>/etc/hello/hello.conf" &&
	$WATCH --once --no-self-heal >out 2>&1 &&
	test_grep "production: host2 drifted from $(short)" out &&
	on_host host2 "grep -c tampered /etc/hello/hello.conf" &&
	"$TEND" status --state-dir "$STATE" >st &&
	test_grep "^  host2  *drifted " st &&
	$WATCH --once >out 2>&1 &&
	test_grep "production: $(short) success: Healed drift on 1 of 2 hosts" out &&
	! on_host host2 "grep -q tampered /etc/hello/hello.conf" &&
	"$TEND" history --state-dir "$STATE" --limit 2 >hist &&
	test_grep "drift  *success .*Healed drift on 1 of 2 hosts" hist &&
	test_grep "drift  *drift .*Drift on 1 host, not healed" hist
'

test_expect_success 'a commit failing health is rolled back, held back, and not retried' '
	good=$(short) &&
	sed "s/^    main()$/    raise SystemExit(\"broken on purpose\")/" dev/app/server.py >t &&
	mv t dev/app/server.py &&
	push "broken" &&
	bad=$(short) &&
	$WATCH --once >out 2>&1 &&
	test_grep "production: $bad failed: host2: .*rolled back to $good" out &&
	answer 127.0.0.3 >got && test_grep "^howdy from host2 (release $good" got &&
	on_host host3 "cat /var/lib/tend/hello/state.json" | grep -q "\"commit\": \"$(dev rev-parse HEAD~1)\"" &&
	$WATCH --once >out 2>&1 &&
	! grep -q "deploying $bad" out &&
	"$TEND" status --state-dir "$STATE" >st &&
	test_grep "held back     $bad: host2: " st &&
	test_grep "last pass .*held_back: $bad is held back" st &&
	on_host host2 "echo tampered >>/etc/hello/hello.conf" &&
	{ $WATCH --once >out 2>&1 || { cat out; false; }; } &&
	test_grep "healing $good" out &&
	! on_host host2 "grep -q tampered /etc/hello/hello.conf"
'

test_expect_success 'a newer commit (the fix) then deploys' '
	git -C dev checkout -q HEAD~1 -- app/server.py &&
	push "fix the server" &&
	$WATCH --once >out 2>&1 &&
	test_grep "production: $(short) success: Deployed to 2/2 hosts" out &&
	"$TEND" status --state-dir "$STATE" >st &&
	! test_grep "held back" st
'

test_expect_success 'an invalid manifest is recorded as an error with its position; hosts stay' '
	good=$(short) &&
	sed -i "s/^      canary: 1$/      canary: 1\n      canery: 2/" dev/deploy/tend.yaml &&
	push "typo" &&
	$WATCH --once >out 2>&1 &&
	test_grep "production: deploy/tend.yaml:[0-9]*:[0-9]*: unknown key .canery." out &&
	"$TEND" history --state-dir "$STATE" --limit 1 >hist &&
	test_grep "$(short)  new commit  *error .*unknown key .canery." hist &&
	on_host host2 "cat /var/lib/tend/hello/state.json" | grep -q "\"commit\": \"$(dev rev-parse HEAD~1)\"" &&
	sed -i "/canery/d" dev/deploy/tend.yaml && push "no typo" &&
	$WATCH --once >out 2>&1 &&
	test_grep "$(short) success" out
'

test_expect_success 'an unreachable remote is logged and retried; the daemon keeps running' '
	mv origin.git origin.moved &&
	start_watch --interval 200ms --listen $LISTEN &&
	wait_for 10 grep -q "cannot fetch" watch.log &&
	kill -0 $WATCH_PID &&
	mv origin.moved origin.git &&
	curl -s http://$LISTEN/metrics | grep "^tend_fetch_errors_total [1-9]" &&
	stop_watch
'

test_expect_success 'SIGTERM during an apply finishes that host, touches no other, exits 0' '
	sed -i "s|^health:\$|  - command: slow-step\n    run: sleep 5\n    on_change: [/srv/hello]\n\nhealth:|" dev/deploy/tend.yaml &&
	echo 5 >dev/app/VERSION && push "slow" &&
	start_watch --interval 1h --listen $LISTEN &&
	wait_for 20 on_host host2 "pgrep -x sleep" &&
	kill -TERM $WATCH_PID &&
	{ wait $WATCH_PID || { echo "tend watch exited $?"; cat watch.log; false; }; } &&
	test_grep "SIGTERM: finishing the hosts in flight" watch.log &&
	test_grep "production: host3: skipped: not touched: tend is stopping" watch.log &&
	test_grep "production: $(short) interrupted: Stopped after 1/2 hosts" watch.log &&
	on_host host2 "cat /srv/hello/current/VERSION" >got &&
	on_host host2 "cat /var/lib/tend/hello/state.json" | grep -c "\"commit\": \"$(dev rev-parse HEAD)\"" >>got &&
	printf "5\n1\n" >want && test_cmp want got &&
	on_host host3 "cat /srv/hello/current/VERSION" >got &&
	echo 1 >want && test_cmp want got
'

test_expect_success 'a newer commit pushed while a rollout is in flight takes over' '
	echo 6 >dev/app/VERSION && push "six" &&
	six=$(short) &&
	start_watch --interval 1h --listen $LISTEN &&
	wait_for 20 on_host host2 "pgrep -x sleep" &&
	echo 7 >dev/app/VERSION && push "seven" &&
	code=$(hook github push "$(push_body)") && test "$code" = 202 &&
	wait_for 40 grep -q "$(short) success: Deployed to 2/2" watch.log &&
	test_grep "$six superseded: Cut short by a newer commit after 1/2 hosts" watch.log &&
	on_host host3 "cat /srv/hello/current/VERSION" >got &&
	echo 7 >want && test_cmp want got &&
	stop_watch
'

test_expect_success 'status and history show it all' '
	"$TEND" history --state-dir "$STATE" --limit 50 >hist &&
	test_grep "new commit  *failed .*rolled back" hist &&
	test_grep "new commit  *superseded" hist &&
	test_grep "new commit  *interrupted" hist &&
	"$TEND" status --state-dir "$STATE" --json >st.json &&
	/usr/bin/python3 -c "
import json, sys
d = json.load(open(\"st.json\"))
e = d[\"environments\"][0]
assert e[\"env\"] == \"production\" and e[\"branch\"] == \"main\", e
assert [h[\"host\"] for h in e[\"hosts\"]] == [\"host2\", \"host3\"], e
assert e[\"last_reconcile\"][\"outcome\"] == \"success\", e
assert e[\"hosts\"][1][\"state\"] == \"in_sync\", e
"
'

test_expect_success 'two daemons cannot share a state directory' '
	start_watch --interval 1h --listen $LISTEN &&
	! $WATCH --once >out 2>&1 &&
	test_grep "another tend watch (pid $WATCH_PID) uses the state directory" out &&
	stop_watch
'

test_done
