#!/bin/sh
# Shipping the app: examples/hello (a real HTTP service under systemd) on
# three real hosts: releases, restarts, revert without upload, a broken
# commit halted at the canary and rolled back, keep.
. "$(dirname "$0")/test-lib.sh"

test_hosts 3

dev() { git -C repo "$@"; }
answer() { curl -s --max-time 5 "http://$1:8080/"; }
# The service's main process: unchanged when nothing restarted it.
main_pid() { on_host "$1" "systemctl show -p MainPID --value hello"; }

test_expect_success 'setup: the hello example in a repository, production on host2 and host3' '
	test_git_init repo &&
	cp -R "$TEST_ROOT/examples/hello/." repo/ &&
	sed "s/127\.0\.0\./$NET./" repo/deploy/tend.yaml >t &&
	mv t repo/deploy/tend.yaml &&
	test_commit repo "hello" &&
	git -C repo tag v1
'

test_expect_success 'the first deploy answers on HTTP with the committed app and config' '
	"$TEND" apply -C repo -e production $TEND_SSH >out &&
	test_grep "  + release /srv/hello  (new release [0-9a-f]\{12\}: 2 of 2 files sent)" out &&
	test_grep "  + service hello  (unit file, enable, start)" out &&
	for h in $NET.3 $NET.4; do
		answer $h >got &&
		test_grep "^hello from host[23] (release $(dev rev-parse --short=7 HEAD))$" got || return 1
	done &&
	on_host host2 "readlink /srv/hello/current; systemctl is-enabled hello; systemctl is-active hello" >got &&
	printf "releases/%s\nenabled\nactive\n" $(dev rev-parse --short=12 HEAD:app) >want &&
	test_cmp want got &&
	! on_host host1 "test -e /srv/hello" &&
	"$TEND" apply -C repo -e staging $TEND_SSH >out &&
	answer $NET.2 >got &&
	test_grep "^hello from staging from host1 " got
'

test_expect_success 'a host dropped in the middle of shipping a release keeps a whole release running' '
	head -c 30000000 /dev/urandom >repo/app/blob.bin &&
	test_commit repo "a big asset" &&
	kill_mid_upload host1 /srv/hello/releases \
		"$TEND" apply -C repo -e staging $TEND_SSH &&
	on_host host1 "readlink /srv/hello/current; ls -A /srv/hello/releases" >after &&
	printf "releases/%s\n%s\n" $(dev rev-parse --short=12 HEAD~1:app) $(dev rev-parse --short=12 HEAD~1:app) >want &&
	test_cmp want after &&
	answer $NET.2 >got && test_grep "^hello from staging from host1 " got &&
	"$TEND" apply -C repo -e staging $TEND_SSH >out &&
	on_host host1 "sha256sum </srv/hello/current/blob.bin" >got &&
	sha256sum <repo/app/blob.bin >want &&
	test_cmp want got &&
	git -C repo rm -q app/blob.bin && test_commit repo "no big asset"
'

test_expect_success 'a no-change apply restarts nothing' '
	"$TEND" apply -C repo -e production $TEND_SSH >out &&
	pid=$(main_pid host2) &&
	"$TEND" apply -C repo -e production $TEND_SSH >out &&
	test_grep "^host2 ($NET.3)  in sync$" out &&
	test "$(main_pid host2)" = "$pid"
'

test_expect_success 'a change to the app deploys a new release, sending only what changed, and restarts' '
	echo 2 >repo/app/VERSION &&
	test_commit repo "version 2" &&
	"$TEND" plan -C repo -e production $TEND_SSH >out &&
	test_grep "  ~ release /srv/hello  (new release [0-9a-f]\{12\}: 1 of 2 files sent)" out &&
	test_grep "restart: /etc/hello/hello.conf, /srv/hello changed" out &&
	pid=$(main_pid host3) &&
	"$TEND" apply -C repo -e production $TEND_SSH >out &&
	test "$(main_pid host3)" != "$pid" &&
	on_host host3 "cat /srv/hello/current/VERSION" >got &&
	echo 2 >want && test_cmp want got &&
	answer $NET.4 >got &&
	test_grep "(release $(dev rev-parse --short=7 HEAD))" got
'

test_expect_success 'git revert rolls back with a symlink flip: no upload, old release reused' '
	old=$(dev rev-parse --short=12 v1:app) &&
	dev -c user.name=T -c user.email=t@example.invalid revert --no-edit HEAD >/dev/null &&
	"$TEND" plan -C repo -e production $TEND_SSH >out &&
	test_grep "  ~ release /srv/hello  (switch to $old: on the host already, no upload)" out &&
	"$TEND" apply -C repo -e production $TEND_SSH >out &&
	on_host host2 "readlink /srv/hello/current; cat /srv/hello/current/VERSION" >got &&
	printf "releases/%s\n1\n" $old >want &&
	test_cmp want got
'

test_expect_success 'a config change restarts the service, no release is made' '
	sed "s/^  greeting: hello$/  greeting: howdy/" repo/deploy/tend.yaml >t &&
	mv t repo/deploy/tend.yaml &&
	test_commit repo "howdy" &&
	"$TEND" apply -C repo -e production $TEND_SSH >out &&
	test_grep "  ~ file /etc/hello/hello.conf  (content)" out &&
	! grep "release /srv/hello" out &&
	test_grep "restart: /etc/hello/hello.conf changed" out &&
	answer $NET.3 >got &&
	test_grep "^howdy from host2" got
'

test_expect_success 'a commit that fails its health check on the canary halts, rolls back and exits 1' '
	good=$(dev rev-parse HEAD) &&
	sed "s/^    main()$/    raise SystemExit(\"broken on purpose\")/" repo/app/server.py >t &&
	mv t repo/app/server.py &&
	test_commit repo "broken" &&
	! "$TEND" apply -C repo -e production $TEND_SSH >out &&
	# The crash shows either when systemd is asked, or in the check.
	test_grep "^host2 ($NET.3)  failed: \(health check .web. failed after 11 tries\|the service did not restart\)" out &&
	test_grep "^Rollout halted: more than 0 hosts failed.$" out &&
	test_grep "^host2: rolled back to $(echo $good | cut -c1-7)$" out &&
	test_grep "^  host2 .* rolled_back " out &&
	test_grep "^  host3 .* skipped  *not touched: the rollout halted" out &&
	answer $NET.3 >got && test_grep "^howdy from host2" got &&
	answer $NET.4 >got && test_grep "^howdy from host3" got &&
	on_host host3 "grep -c . /srv/hello/current/.tend-files; ls /srv/hello/releases | wc -l" >got &&
	printf "2\n2\n" >want && test_cmp want got &&
	on_host host2 "cat /var/lib/tend/hello/state.json" >state &&
	test_grep "\"commit\": \"$good\"" state &&
	test_grep "\"last_good\": \"$good\"" state
'

test_expect_success 'keep: only the newest releases stay on the host' '
	git -C repo reset -q --hard HEAD~1 &&
	sed "s/^    keep: 5$/    keep: 2/" repo/deploy/tend.yaml >t &&
	mv t repo/deploy/tend.yaml &&
	for v in 3 4 5; do
		echo $v >repo/app/VERSION &&
		test_commit repo "version $v" &&
		"$TEND" apply -C repo -e production $TEND_SSH >out || return 1
	done &&
	on_host host2 "ls /srv/hello/releases | wc -l; cat /srv/hello/current/VERSION" >got &&
	printf "2\n5\n" >want && test_cmp want got
'

test_done
