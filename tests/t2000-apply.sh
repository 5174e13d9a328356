#!/bin/sh
# tend plan and tend apply on three real systemd hosts: first converge,
# idempotence, drift, prune, absent, modes and owners, a conflict, and
# what plan --json and --detailed-exitcode say.
. "$(dirname "$0")/test-lib.sh"

test_hosts 3

commit() { test_commit repo "$1"; }
manifest() {
	cat >repo/deploy/tend.yaml <<-EOF
	version: 1
	app: t
	vars: {greeting: hello}
	hosts:
	  host1: {address: $NET.2}
	  host2: {address: $NET.3}
	  host3: {address: $NET.4}
	environments:
	  production: {hosts: [host1, host2, host3]}
	resources:
	$(cat)
	EOF
}

test_expect_success 'setup: a repository declaring files, a directory and a link' '
	test_git_init repo && mkdir -p repo/deploy &&
	printf "greeting = \${greeting}\nhost = \${tend.host}\n" >repo/deploy/app.conf &&
	manifest <<-\EOF &&
	  - directory: /etc/t
	    mode: "0750"
	  - file: /etc/t/app.conf
	    source: deploy/app.conf
	    template: true
	    mode: "0640"
	    owner: nobody
	    group: nogroup
	  - file: /etc/t/deep/er/notes.txt
	    content: "notes for ${tend.host}\n"
	  - symlink: /etc/t/current.conf
	    target: app.conf
	EOF
	commit first
'

test_expect_success 'plan shows what would be created, per host, and changes nothing' '
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "^tend plan  t @ [0-9a-f]\{7\} \"first\"  env production (3 hosts)" out &&
	test_grep "^host2 ($NET.3)$" out &&
	test_grep "  + directory /etc/t  (mode 0750)" out &&
	test_grep "  + file /etc/t/deep/er/notes.txt  (16 bytes, mode 0644; creates /etc/t/deep, /etc/t/deep/er)" out &&
	test_grep "  + symlink /etc/t/current.conf  (-> app.conf)" out &&
	test_grep "^Plan: 12 to add, 0 to change, 0 to remove, on 3 of 3 hosts.$" out &&
	! on_host host1 "test -e /etc/t"
'

test_expect_success 'plan --detailed-exitcode exits 2 when there are changes' '
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode >out;
	test $? = 2
'

test_expect_success 'the first apply converges all three hosts' '
	"$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host1 ($NET.2)  applied in" out &&
	test_grep "^Applied: 12 added, 0 changed, 0 removed, on 3 of 3 hosts.$" out &&
	for h in host1 host2 host3; do
		on_host $h "cat /etc/t/app.conf" >got &&
		printf "greeting = hello\nhost = $h\n" >want &&
		test_cmp want got &&
		on_host $h "cat /etc/t/current.conf" >got &&
		test_cmp want got || return 1
	done
'

test_expect_success 'modes, owners and the link are as declared' '
	on_host host2 "stat -c \"%a %U:%G %n\" /etc/t /etc/t/app.conf /etc/t/deep/er/notes.txt; readlink /etc/t/current.conf" >got &&
	cat >want <<-\EOF &&
	750 root:root /etc/t
	640 nobody:nogroup /etc/t/app.conf
	644 root:root /etc/t/deep/er/notes.txt
	app.conf
	EOF
	test_cmp want got
'

test_expect_success 'the on-host record names the commit and what tend manages' '
	on_host host1 "cat /var/lib/tend/t/state.json" >state &&
	test_grep "\"commit\": \"$(git -C repo rev-parse HEAD)\"" state &&
	test_grep "\"env\": \"production\"" state &&
	test_grep "\"key\": \"/etc/t/app.conf\"" state &&
	on_host host1 "ls -A /etc/t /etc/t/deep/er" >ls &&
	! grep "tend-" ls
'

test_expect_success 'a second plan finds every host in sync and exits 0 with --detailed-exitcode' '
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode >out &&
	test_grep "^host1 ($NET.2)  in sync$" out &&
	test_grep "^Plan: 0 to add, 0 to change, 0 to remove, on 0 of 3 hosts.$" out
'

test_expect_success 'a second apply writes nothing: modification times stay' '
	on_host host3 "stat -c \"%y %n\" /etc/t /etc/t/app.conf /etc/t/deep/er/notes.txt /var/lib/tend/t/state.json; stat -c \"%y %n\" /etc/t/current.conf" >before &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host3 ($NET.4)  in sync$" out &&
	on_host host3 "stat -c \"%y %n\" /etc/t /etc/t/app.conf /etc/t/deep/er/notes.txt /var/lib/tend/t/state.json; stat -c \"%y %n\" /etc/t/current.conf" >after &&
	test_cmp before after
'

test_expect_success 'a hand edit on one host is drift: plan shows the diff, apply fixes it' '
	on_host host2 "echo extra >>/etc/t/app.conf; chmod 0666 /etc/t/app.conf" &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "  ~ file /etc/t/app.conf  (content, mode 0666 -> 0640)  drift: changed on the host" out &&
	test_grep "^      -extra$" out &&
	test_grep "^host1 ($NET.2)  in sync$" out &&
	test_grep "(1 drift), on 1 of 3 hosts" out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host2 "cat /etc/t/app.conf; stat -c %a /etc/t/app.conf" >got &&
	printf "greeting = hello\nhost = host2\n640\n" >want &&
	test_cmp want got
'

test_expect_success 'a changed template shows a unified diff and applies to all hosts' '
	printf "greeting = \${greeting}\nhost = \${tend.host}\nport = 8080\n" >repo/deploy/app.conf &&
	commit "add a port" &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "^  ~ file /etc/t/app.conf  (content)$" out &&
	test_grep "^      @@ -1,2 +1,3 @@$" out &&
	test_grep "^      +port = 8080$" out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "Applied: 0 added, 3 changed" out &&
	on_host host3 "tail -n 1 /etc/t/app.conf" >got &&
	echo "port = 8080" >want && test_cmp want got
'

test_expect_success 'plan --json gives the documented shape' '
	on_host host1 "echo drift >/etc/t/deep/er/notes.txt" &&
	"$TEND" plan -C repo $TEND_SSH --json >out.json &&
	/usr/bin/python3 - out.json <<-\EOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["command"] == "plan" and d["app"] == "t" and d["env"] == "production", d
	assert len(d["commit"]) == 40 and d["subject"] == "add a port"
	h = {x["name"]: x for x in d["hosts"]}
	assert h["host2"]["status"] == "in_sync" and h["host2"]["actions"] == []
	a = h["host1"]["actions"]
	assert h["host1"]["status"] == "changes" and len(a) == 1, a
	assert a[0]["op"] == "update" and a[0]["kind"] == "file", a
	assert a[0]["key"] == "/etc/t/deep/er/notes.txt" and a[0]["changes"] == ["content"]
	assert a[0]["drift"] is True and "-drift" in a[0]["diff"], a
	assert d["summary"] == {"add": 0, "change": 1, "remove": 0, "restarts": 0, "drift": 1,
	    "conflicts": 0, "hosts": 3, "hosts_changed": 1, "hosts_failed": 0,
	    "hosts_rolled_back": 0}, d["summary"]
	EOF
'

test_expect_success 'a resource removed from the manifest is pruned; state: absent removes' '
	manifest <<-\EOF &&
	  - directory: /etc/t
	    mode: "0750"
	  - file: /etc/t/app.conf
	    source: deploy/app.conf
	    template: true
	    mode: "0640"
	    owner: nobody
	    group: nogroup
	  - symlink: /etc/t/current.conf
	    state: absent
	EOF
	commit "drop notes and the link" &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "  - file /etc/t/deep/er/notes.txt  (no longer in the manifest)" out &&
	test_grep "  - symlink /etc/t/current.conf  (state: absent)" out &&
	test $(grep -c "current.conf" out) = 3 &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	for h in host1 host2 host3; do
		on_host $h "test ! -e /etc/t/deep/er/notes.txt && test ! -L /etc/t/current.conf && test -f /etc/t/app.conf" || return 1
	done
'

test_expect_success 'a file that was there before tend is left in place when no longer declared' '
	on_host host1 "echo mine >/etc/t/preexisting.conf" &&
	manifest <<-\EOF &&
	  - directory: /etc/t
	    mode: "0750"
	  - file: /etc/t/preexisting.conf
	    content: "managed\n"
	EOF
	commit "adopt a file" &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	manifest <<-\EOF &&
	  - directory: /etc/t
	    mode: "0750"
	EOF
	commit "let it go" &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "  . file /etc/t/preexisting.conf  (no longer in the manifest; left in place: it was there before tend managed it)" out &&
	on_host host1 "cat /etc/t/preexisting.conf" >got &&
	echo managed >want && test_cmp want got &&
	! on_host host2 "test -e /etc/t/preexisting.conf"
'

test_expect_success 'a directory where a file is declared is a conflict: that host is left alone' '
	on_host host2 "mkdir -p /etc/t/blocker" &&
	manifest <<-\EOF &&
	  - directory: /etc/t
	    mode: "0755"
	  - file: /etc/t/blocker
	    content: "x\n"
	EOF
	commit "blocked" &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^host2 ($NET.3)  failed: 1 conflict on the host; nothing was changed there" out &&
	test_grep "  ! file /etc/t/blocker  (a directory is on the host where the manifest declares this" out &&
	test_grep "^host1 ($NET.2)  applied" out &&
	on_host host2 "stat -c %a /etc/t; test -d /etc/t/blocker" >got &&
	echo 750 >want && test_cmp want got
'

test_expect_success 'an unreadable record on a host is said, and the next apply rewrites it' '
	on_host host2 "rmdir /etc/t/blocker" &&
	on_host host3 "echo {broken >/var/lib/tend/t/state.json" &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	test_grep "  note: tend.s record on the host is unreadable (state.json is not valid JSON" out &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	"$TEND" plan -C repo $TEND_SSH >out &&
	! grep "unreadable" out
'

test_done
