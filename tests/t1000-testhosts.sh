#!/bin/sh
# scripts/testhosts: real systemd hosts that answer SSH with the keys it
# makes, each its own machine, and a stop that leaves nothing behind.
# Needs root and systemd-nspawn (make deps); the first run builds the
# cached rootfs (about a minute).
# shellcheck disable=SC2016,SC2034 # test bodies are strings run by eval

. "$(dirname "$0")/test-lib.sh"

# Real hosts are part of the suite: without them it fails, it never skips.
if [ "$(id -u)" != 0 ] || ! command -v systemd-nspawn >/dev/null; then
	echo "Bail out! needs root and systemd-nspawn (run 'make deps' as root)"
	exit 1
fi

TESTHOSTS=$TEST_ROOT/scripts/testhosts
D=$TRASH/hosts
CACHE=${TEND_TESTHOSTS_CACHE:-/var/cache/tend-testhosts}

# ssh as the tests of tend do: the run's key and known_hosts, host keys
# always checked.  Usage: th_ssh KNOWN_HOSTS ADDRESS COMMAND...
th_ssh() {
	kh=$1 addr=$2
	shift 2
	ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null \
		-o IdentitiesOnly=yes -i "$D/id_ed25519" -o ConnectTimeout=5 \
		"root@$addr" "$@"
}

# Alive and not a zombie (PID 1 here reaps exited orphans late).
pid_alive() {
	[ -r "/proc/$1/stat" ] &&
	[ "$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}

test_atexit "'$TESTHOSTS' stop --dir '$D'"

test_expect_success 'start 3 hosts' '
	"$TESTHOSTS" start 3 --dir "$D" &&
	printf "host1 127.0.0.2\nhost2 127.0.0.3\nhost3 127.0.0.4\n" >expect &&
	test_cmp expect "$D/hosts" &&
	test $(wc -l <"$D/pids") = 3 &&
	test $(wc -l <"$D/known_hosts") = 3 &&
	test_grep "^127\.0\.0\.2 ssh-ed25519 AAAA" "$D/known_hosts" &&
	for i in 1 2 3; do
		test -s "$D/host$i/ssh_host_ed25519_key" &&
		test -s "$D/host$i/console.log" || return 1
	done &&
	test -s "$D/id_ed25519" && test -s "$D/id_ed25519.pub"
'

# Nothing below means anything without the hosts.
if [ ! -s "$D/pids" ]; then
	echo "Bail out! scripts/testhosts start failed (see above)"
	exit 1
fi

test_expect_success 'each host answers ssh with host keys checked' '
	for k in 2 3 4; do
		th_ssh "$D/known_hosts" 127.0.0.$k true || return 1
	done
'

test_expect_success 'the generated ssh_config reaches each host by name' '
	for i in 1 2 3; do
		echo host$i >expect &&
		ssh -n -F "$D/ssh_config" host$i hostname >actual &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'systemd runs on each host' '
	for i in 1 2 3; do
		state=$(ssh -n -F "$D/ssh_config" host$i systemctl is-system-running) ||
		ssh -n -F "$D/ssh_config" host$i systemctl --failed
		echo "host$i: $state" &&
		test "$state" = running || return 1
	done
'

test_expect_success 'hosts have distinct machine ids' '
	for i in 1 2 3; do
		ssh -n -F "$D/ssh_config" host$i cat /etc/machine-id || return 1
	done >ids &&
	cat ids &&
	test $(grep -c "^[0-9a-f]\{32\}$" ids) = 3 &&
	test $(sort -u ids | wc -l) = 3
'

test_expect_success 'each host writes to its own volatile overlay' '
	ssh -n -F "$D/ssh_config" host1 "echo hello >/root/t1000-mark" &&
	ssh -n -F "$D/ssh_config" host1 "test -f /root/t1000-mark" &&
	! ssh -n -F "$D/ssh_config" host2 "test -e /root/t1000-mark" &&
	! ls "$CACHE"/*/root/t1000-mark 2>/dev/null
'

test_expect_success 'ssh refuses a host whose key is not the known one' '
	key2=$(cut -d" " -f1,2 "$D/host2/ssh_host_ed25519_key.pub") &&
	echo "127.0.0.2 $key2" >wrong_known_hosts &&
	! th_ssh wrong_known_hosts 127.0.0.2 true 2>err &&
	cat err &&
	test_grep "REMOTE HOST IDENTIFICATION HAS CHANGED" err &&
	: >empty_known_hosts &&
	! th_ssh empty_known_hosts 127.0.0.2 true 2>err &&
	test_grep "Host key verification failed" err
'

test_expect_success 'status lists every host as answering' '
	"$TESTHOSTS" status --dir "$D" >out &&
	cat out &&
	test $(grep -c " up  *running$" out) = 3
'

test_expect_success 'starting hosts of another DIR is refused clearly' '
	! "$TESTHOSTS" start 1 --dir "$TRASH/other" 2>err &&
	cat err &&
	test_grep "testhosts: .*stop --dir $D" err &&
	test ! -e "$TRASH/other" &&
	th_ssh "$D/known_hosts" 127.0.0.2 true
'

test_expect_success 'hosts of another DIR start beside them on another --net' '
	O=$TRASH/othernet &&
	test_atexit "\"$TESTHOSTS\" stop --dir \"$O\"" &&
	"$TESTHOSTS" start 1 --dir "$O" --net 127.0.99 &&
	echo "host1 127.0.99.2" >expect &&
	test_cmp expect "$O/hosts" &&
	echo 127.0.99 >expect &&
	test_cmp expect "$O/net" &&
	echo host1 >expect &&
	ssh -n -F "$O/ssh_config" host1 hostname >actual &&
	test_cmp expect actual &&
	"$TESTHOSTS" status --dir "$O" >out &&
	test_grep "^host1 *127\.0\.99\.2 .* up  *running$" out &&
	"$TESTHOSTS" stop --dir "$O" &&
	test ! -e "$O" &&
	th_ssh "$D/known_hosts" 127.0.0.2 true
'

test_expect_success 'an --net outside 127.0.0.0/8 is refused' '
	! "$TESTHOSTS" start 1 --dir "$TRASH/badnet" --net 10.0.0 2>err &&
	test_grep "unusable --net" err &&
	test ! -e "$TRASH/badnet"
'

test_expect_success 'stop ends the hosts and removes DIR' '
	pids=$(cut -d" " -f2 "$D/pids") &&
	names=$(for p in $pids; do
		tr "\0" "\n" <"/proc/$p/cmdline" | sed -n "s/^--machine=//p"
	done) &&
	test $(echo "$names" | wc -l) = 3 &&
	"$TESTHOSTS" stop --dir "$D" &&
	for p in $pids; do
		if pid_alive $p; then echo "pid $p still alive"; return 1; fi
	done &&
	test ! -e "$D" &&
	for n in $names; do
		test ! -e /sys/fs/cgroup/systemd/$n &&
		test ! -e /sys/fs/cgroup/unified/$n || return 1
	done &&
	! th_ssh /dev/null 127.0.0.2 true 2>/dev/null
'

test_expect_success 'stop again succeeds' '
	"$TESTHOSTS" stop --dir "$D"
'

test_expect_success 'status of a stopped DIR fails and says so' '
	! "$TESTHOSTS" status --dir "$D" 2>err &&
	test_grep "testhosts: no test hosts in $D" err
'

test_expect_success 'only root may run it' '
	! (cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TESTHOSTS" status --dir "$D") 2>err &&
	test_grep "testhosts: must run as root" err
'

test_done
