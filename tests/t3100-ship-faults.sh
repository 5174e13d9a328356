#!/bin/sh
# What goes wrong when shipping: a failing build, a service that will not
# start, a command past its timeout; commands run on change or unless; and
# the rollback policies on a canary and its batch.
. "$(dirname "$0")/test-lib.sh"

test_hosts 3

manifest() {
	cat >repo/deploy/tend.yaml <<-EOF
	version: 1
	app: s
	hosts:
	  host1: {address: $NET.2}
	  host2: {address: $NET.3}
	  host3: {address: $NET.4}
	$(cat)
	EOF
}

test_expect_success 'setup' '
	test_git_init repo && mkdir -p repo/deploy repo/app &&
	echo v1 >repo/app/VERSION &&
	printf "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n" >repo/deploy/s.service &&
	printf "[Service]\nExecStart=/bin/false\n" >repo/deploy/bad.service
'

test_expect_success 'a build that fails leaves current as it was and shows its output' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - release: /srv/s
	    from: app
	    build: test -f VERSION && echo building && cat VERSION
	EOF
	test_commit repo one &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "readlink /srv/s/current" >before &&
	echo v2 >repo/app/VERSION &&
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - release: /srv/s
	    from: app
	    build: "echo compiling; echo error: no compiler >&2; exit 3"
	EOF
	test_commit repo two &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host1 ($NET.2)  failed: build of the new release failed; current is unchanged (exit 1)" out &&
	test_grep "^    | compiling$" out &&
	test_grep "^    | error: no compiler$" out &&
	on_host host1 "readlink /srv/s/current; ls /srv/s/releases" >after &&
	cat before >want && cat before | sed "s|releases/||" >>want &&
	test_cmp want after
'

test_expect_success 'a service that will not start fails its host with systemd'"'"'s words' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - service: bad
	    unit: deploy/bad.service
	EOF
	test_commit repo bad &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host1 ($NET.2)  failed: the service did not start (exit 1)" out &&
	test_grep "^    | .*bad.service" out
'

test_expect_success 'a command past its timeout is stopped and fails its host' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - file: /etc/s.conf
	    content: "1\n"
	  - command: slow
	    run: echo starting; sleep 30
	    on_change: [/etc/s.conf]
	    timeout: 1s
	EOF
	test_commit repo slow &&
	start=$(date +%s) &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test $(($(date +%s) - start)) -lt 20 &&
	test_grep "^host1 ($NET.2)  failed: command slow timed out after 1s (exit 1)" out &&
	test_grep "^    | starting$" out
'

test_expect_success 'commands run when what they watch changed, or unless their check passes' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - file: /etc/s.conf
	    content: "2\n"
	  - command: count
	    run: echo x >>/var/tmp/count
	    on_change: [/etc/s.conf]
	  - command: once
	    run: touch /var/tmp/once-done; echo y >>/var/tmp/once
	    unless: test -f /var/tmp/once-done
	EOF
	test_commit repo commands &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "  ~ command count  (runs: /etc/s.conf changed)" out &&
	test_grep "  ~ command once  (runs unless .test -f /var/tmp/once-done. succeeds on the host)" out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "wc -l </var/tmp/count; wc -l </var/tmp/once" >got &&
	printf "1\n1\n" >want &&
	test_cmp want got
'

test_expect_success 'a service removed from the manifest is stopped, disabled and its unit removed' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - service: s
	    unit: deploy/s.service
	EOF
	test_commit repo "service s" &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "systemctl is-active s" &&
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	EOF
	test_commit repo "no service" &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "  - service s.service  (no longer in the manifest: stop, disable, remove the unit file)" out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	! on_host host1 "systemctl is-active s" &&
	! on_host host1 "test -e /etc/systemd/system/s.service"
'

test_expect_success 'a rollback removes what the failed apply had created' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1]}
	resources:
	  - file: /etc/extra.conf
	    content: "new\n"
	  - release: /srv/x
	    from: app
	    build: "exit 1"
	EOF
	test_commit repo "extra, broken build" &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host1: rolled back to" out &&
	! on_host host1 "test -e /etc/extra.conf"
'

test_expect_success 'a command owed by an apply that stopped halfway runs on the next one' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1], rollout: {rollback: none}}
	resources:
	  - file: /etc/owed.conf
	    content: "1\n"
	  - release: /srv/o
	    from: app
	    build: "exit 1"
	  - command: reload
	    run: echo r >>/var/tmp/reloads
	    on_change: [/etc/owed.conf]
	EOF
	test_commit repo "owed, broken build" &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "build of the new release failed" out &&
	! on_host host1 "test -e /var/tmp/reloads" &&
	sed "s/build: \"exit 1\"/build: \"true\"/" repo/deploy/tend.yaml >t &&
	mv t repo/deploy/tend.yaml &&
	test_commit repo "owed, fixed build" &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "  ~ command reload  (runs: an earlier apply stopped before running it" out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "wc -l </var/tmp/reloads" >got &&
	echo 1 >want && test_cmp want got &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "wc -l </var/tmp/reloads" >got &&
	test_cmp want got
'

test_expect_success 'a first deploy that fails its checks has no last good commit, and is checked again' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host3]}
	resources:
	  - file: /etc/first.conf
	    content: "x\n"
	health:
	  - name: never
	    command: "false"
	EOF
	test_commit repo "first, failing" &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "no earlier good commit to roll back to" out &&
	on_host host3 "cat /var/lib/tend/s/state.json" >state &&
	! grep last_good state &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "health check .never. failed" out
'

test_expect_success 'setup: three hosts deployed and healthy at a good commit' '
	manifest <<-\EOF &&
	environments:
	  production:
	    hosts: [host1, host2, host3]
	    rollout: {canary: 1, parallel: 2, max_failed: 0, rollback: failed}
	resources:
	  - file: /etc/s.conf
	    content: "good\n"
	health:
	  - name: conf
	    command: grep -q good /etc/s.conf
	EOF
	test_commit repo good &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^Applied: .* on 3 of 3 hosts.$" out
'

test_expect_success 'rollback: failed returns only the failed canary; the rest never see the commit' '
	sed "s/content: \"good\\\\n\"/content: \"bad\\\\n\"/" repo/deploy/tend.yaml >t &&
	mv t repo/deploy/tend.yaml &&
	test_commit repo bad-config &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host1 ($NET.2)  failed: health check .conf. failed after 1 try: exit 1" out &&
	test_grep "^host1: rolled back to" out &&
	test_grep "^  host2 .* skipped " out &&
	for h in host1 host2 host3; do
		on_host $h "cat /etc/s.conf" >got && echo good >want &&
		test_cmp want got || return 1
	done
'

test_expect_success 'rollback: none leaves the failed host as it is, and says so' '
	sed "s/rollback: failed/rollback: none/" repo/deploy/tend.yaml >t &&
	mv t repo/deploy/tend.yaml &&
	test_commit repo none &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^Rollout halted: more than 0 hosts failed.$" out &&
	! grep "rolled back" out &&
	on_host host1 "cat /etc/s.conf" >got && echo bad >want &&
	test_cmp want got &&
	on_host host2 "cat /etc/s.conf" >got && echo good >want &&
	test_cmp want got
'

test_done
