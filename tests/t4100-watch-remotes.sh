#!/bin/sh
# tend watch reading its repository over SSH from a real sshd (on
# 127.0.0.1, started here): the same key and known_hosts rules as for
# hosts; SIGHUP re-reads the webhook secret file.
. "$(dirname "$0")/test-lib.sh"

test_hosts 1

PORT=$((20000 + $$ % 20000))
SSHPORT=$((PORT + 1))
LISTEN=127.0.0.1:$PORT
STATE=$TRASH/state
REPO=ssh://root@127.0.0.1:$SSHPORT$TRASH/origin.git

test_expect_success 'setup: a repository served by sshd, a manifest for one host' '
	git init -q --bare -b main origin.git &&
	test_git_init dev &&
	mkdir -p dev/deploy &&
	cat >dev/deploy/tend.yaml <<-EOF &&
	version: 1
	app: remote
	hosts:
	  host1: {address: 127.0.0.2}
	environments:
	  production: {hosts: [host1]}
	resources:
	  - file: /etc/remote.txt
	    content: "from the ssh remote\n"
	EOF
	test_commit dev "first" &&
	git -C dev push -q "$TRASH/origin.git" main &&
	mkdir sshd && ssh-keygen -q -t ed25519 -N "" -f sshd/host_key &&
	cp "$HOSTS/id_ed25519.pub" sshd/authorized_keys &&
	cat >sshd/config <<-EOF &&
	ListenAddress 127.0.0.1:$SSHPORT
	HostKey $TRASH/sshd/host_key
	AuthorizedKeysFile $TRASH/sshd/authorized_keys
	PidFile none
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	PermitRootLogin prohibit-password
	EOF
	mkdir -p /run/sshd &&
	{ /usr/sbin/sshd -D -e -f sshd/config 2>sshd/log & } &&
	echo $! >sshd/pid &&
	test_atexit "kill $(cat sshd/pid)" &&
	wait_for 10 sh -c "ss -Hltn | grep -q 127.0.0.1:$SSHPORT" &&
	cp "$HOSTS/known_hosts" known_hosts &&
	printf "[127.0.0.1]:%s %s\n" $SSHPORT "$(cut -d" " -f1,2 sshd/host_key.pub)" >>known_hosts &&
	cp "$HOSTS/known_hosts" hosts_only
'

test_expect_success 'an ssh:// remote is fetched with the key and known_hosts and deployed' '
	{ "$TEND" watch --repo "$REPO" --once --state-dir "$STATE" \
		-i "$HOSTS/id_ed25519" --known-hosts known_hosts >out 2>&1 || { cat out; false; }; } &&
	test_grep "production: deploying $(git -C dev rev-parse --short=7 HEAD) \"first\" to 1 host" out &&
	on_host host1 "cat /etc/remote.txt" >got &&
	echo "from the ssh remote" >want && test_cmp want got
'

test_expect_success 'an unknown host key of the remote is refused, saying what to do' '
	"$TEND" watch --repo "$REPO" -e production --once --state-dir "$TRASH/state2" \
		-i "$HOSTS/id_ed25519" --known-hosts hosts_only >out 2>&1 &&
	test_grep "cannot fetch $REPO: unknown host key for 127.0.0.1 (127.0.0.1): ssh-ed25519 SHA256:.* is not in .*hosts_only" out &&
	test_grep "ssh-keyscan -t ssh-ed25519 -p $SSHPORT 127.0.0.1 >>" out &&
	"$TEND" status --state-dir "$TRASH/state2" >st &&
	test_grep "error: cannot fetch" st
'

test_expect_success 'a key the remote does not accept is explained' '
	ssh-keygen -q -t ed25519 -N "" -f other_key &&
	"$TEND" watch --repo "$REPO" --once --state-dir "$TRASH/state3" \
		-i other_key --known-hosts known_hosts >out 2>&1 &&
	test_grep "the remote refused the SSH key: add its public key as a deploy key" out
'

test_sensitive first-secret
test_sensitive second-secret
test_sensitive_input secret
test_expect_success 'SIGHUP re-reads the webhook secret file' '
	echo first-secret >secret &&
	TEND_WEBHOOK_SECRET_FILE=$TRASH/secret "$TEND" watch --repo "$REPO" \
		--interval 1h --listen $LISTEN --state-dir "$STATE" \
		-i "$HOSTS/id_ed25519" --known-hosts known_hosts >watch.log 2>&1 &
	pid=$! &&
	test_atexit "kill $pid 2>/dev/null" &&
	wait_for 10 curl -sf http://$LISTEN/healthz &&
	body="{\"ref\":\"refs/heads/main\",\"after\":\"$(git -C dev rev-parse HEAD)\"}" &&
	tok() { curl -s -o /dev/null -w "%{http_code}" -X POST -H "X-Gitlab-Event: Push Hook" \
		-H "X-Gitlab-Token: $1" -H "X-Gitlab-Event-UUID: $2" --data-binary "$body" \
		http://$LISTEN/hooks/gitlab; } &&
	test "$(tok first-secret a)" = 202 &&
	echo second-secret >secret &&
	kill -HUP $pid &&
	wait_for 10 grep -q "SIGHUP" watch.log &&
	test "$(tok first-secret b)" = 401 &&
	test "$(tok second-secret c)" = 202 &&
	kill -TERM $pid && wait $pid || { cat watch.log; false; }
'

test_expect_success 'valgrind finds no leak in three passes over the ssh remote (the release build)' '
	{ valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=3 --child-silent-after-fork=yes --log-file=vg.log \
		"$TEST_ROOT/tend" watch --repo "$REPO" --interval 0 --loops 3 \
		--state-dir "$STATE" -i "$HOSTS/id_ed25519" --known-hosts known_hosts \
		2>watch.log || { cat vg.log watch.log; false; }; } &&
	grep -q "ERROR SUMMARY: 0 errors" vg.log
'

test_done
