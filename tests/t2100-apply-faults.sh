#!/bin/sh
# What goes wrong on real hosts: hostile names and contents, host keys that
# are unknown, changed or pinned, a host that does not answer, a lock held
# by someone else, an RSA key, and a connection killed in mid-apply.
. "$(dirname "$0")/test-lib.sh"

test_hosts 3

manifest() {
	cat >repo/deploy/tend.yaml <<-EOF
	version: 1
	app: f
	hosts:
	  host1: {address: $NET.2}
	  host2: {address: $NET.3}
	  host3: {address: $NET.4}
	$(cat)
	EOF
}

test_expect_success 'setup' '
	test_git_init repo && mkdir -p repo/deploy
'

# A name and a content with every character a shell could trip on; the
# heredoc and the printf formats below are literal.
write_nasty() {
	cat >repo/deploy/tend.yaml <<EOF
version: 1
app: f
hosts:
  host1: {address: $NET.2}
EOF
	cat >>repo/deploy/tend.yaml <<\EOF
environments:
  production: {hosts: [host1]}
resources:
  - file: "/tmp/odd dir/it's \"q\" $HOME `id` ;x \\ back\nline é -n"
    content: "it's \"q\" $HOME `id` $(id) \\ back\nline é\n-n\n"
  - symlink: "/tmp/odd dir/link $x"
    target: "it's \"q\" $HOME"
EOF
}
want_name() { printf '/tmp/odd dir/it\047s "q" $HOME `id` ;x \\ back\nline \303\251 -n\0'; }
want_content() { printf 'it\047s "q" $HOME `id` $(id) \\ back\nline \303\251\n-n\n'; }
want_link() { printf 'it\047s "q" $HOME\n'; }

test_expect_success 'names and contents with quotes, $, backquotes, backslashes, newlines and UTF-8 arrive literally' '
	write_nasty &&
	test_commit repo nasty &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "find \"/tmp/odd dir\" -mindepth 1 -type f -print0" >got &&
	want_name >want &&
	test_cmp want got &&
	on_host host1 "find \"/tmp/odd dir\" -type f -exec cat {} +" >got &&
	want_content >want &&
	test_cmp want got &&
	on_host host1 "readlink \"/tmp/odd dir/link \\\$x\"" >got &&
	want_link >want &&
	test_cmp want got &&
	"$TEND" plan -C repo $TEND_SSH --detailed-exitcode
'

test_expect_success 'setup: a plain manifest for three hosts' '
	manifest <<-\EOF &&
	environments:
	  production: {hosts: [host1, host2, host3], rollout: {max_failed: 3}}
	resources:
	  - file: /etc/f.conf
	    content: "f\n"
	EOF
	test_commit repo plain
'

test_expect_success 'a changed host key is refused for that host; the others proceed' '
	key3=$(grep "^$NET.4 " "$HOSTS/known_hosts" | cut -d" " -f2-) &&
	sed "s|^$NET.3 .*|$NET.3 $key3|" "$HOSTS/known_hosts" >kh.changed &&
	! "$TEND" apply -C repo -i "$HOSTS/id_ed25519" --known-hosts kh.changed >out &&
	test_grep "^host2 ($NET.3)  failed: HOST KEY MISMATCH for host2 ($NET.3): it offered ssh-ed25519 SHA256:" out &&
	test_grep "ssh-keygen -R $NET.3" out &&
	test_grep "^host1 ($NET.2)  applied" out &&
	test_grep "^host3 ($NET.4)  applied" out &&
	! on_host host2 "test -e /etc/f.conf"
'

test_expect_success 'an unknown host key is refused, with its fingerprint and what to do' '
	grep -v "^$NET.3 " "$HOSTS/known_hosts" >kh.missing &&
	fp=$(ssh-keygen -lf "$HOSTS/host2/ssh_host_ed25519_key.pub" 2>/dev/null | cut -d" " -f2) ||
	fp=$(ssh-keygen -lf "$HOSTS/host2/ssh_host_ed25519_key" | cut -d" " -f2) &&
	! "$TEND" plan -C repo -i "$HOSTS/id_ed25519" --known-hosts kh.missing >out &&
	test_grep "^host2 ($NET.3)  failed: unknown host key for host2 ($NET.3): ssh-ed25519 $fp is not in kh.missing" out &&
	test_grep "ssh-keyscan -t ssh-ed25519 -p 22 $NET.3" out &&
	test_grep "tend never trusts a key on first use" out
'

test_expect_success 'a host_key pin in the manifest is checked instead of known_hosts' '
	key2=$(grep "^$NET.3 " "$HOSTS/known_hosts" | cut -d" " -f2-) &&
	key3=$(grep "^$NET.4 " "$HOSTS/known_hosts" | cut -d" " -f2-) &&
	cat >repo/deploy/tend.yaml <<-EOF &&
	version: 1
	app: f
	hosts:
	  host2: {address: $NET.3, host_key: $key2}
	  host3: {address: $NET.4, host_key: $key2}
	environments:
	  production: {hosts: [host2, host3], rollout: {max_failed: 3}}
	resources:
	  - file: /etc/f.conf
	    content: "f\n"
	EOF
	test_commit repo pinned &&
	: >empty_known_hosts &&
	! "$TEND" apply -C repo -i "$HOSTS/id_ed25519" --known-hosts empty_known_hosts >out &&
	test_grep "^host2 ($NET.3)  applied" out &&
	test_grep "^host3 ($NET.4)  failed: HOST KEY MISMATCH for host3 ($NET.4): .* but the manifest pins ssh-ed25519 SHA256:" out &&
	git -C repo reset -q --hard HEAD~1
'

test_expect_success 'a host that does not answer fails alone, saying why' '
	cat >repo/deploy/tend.yaml <<-EOF &&
	version: 1
	app: f
	hosts:
	  host1: {address: $NET.2}
	  ghost: {address: $NET.9}
	environments:
	  production: {hosts: [host1, ghost], rollout: {max_failed: 1}}
	resources:
	  - file: /etc/f.conf
	    content: "f2\n"
	EOF
	test_commit repo ghost &&
	! "$TEND" apply -C repo $TEND_SSH >out &&
	test_grep "^ghost ($NET.9)  failed: connection to $NET.9 port 22 refused: is sshd running there, on port 22?" out &&
	test_grep "^host1 ($NET.2)  applied" out &&
	test_grep "^1 host failed.$" out &&
	test_grep "^  ghost  *-  *failed  *connection to $NET.9" out
'

test_expect_success 'a lock held by another tend is reported with its holder; nothing is changed' '
	git -C repo reset -q --hard HEAD~1 &&
	printf "  - file: /etc/f2.conf\n    content: \"f2\\\\n\"\n" >>repo/deploy/tend.yaml &&
	test_commit repo second &&
	# With a pty the remote side is hung up on when ssh is killed, so
	# its lock goes with it.
	{ ssh -tt -F "$HOSTS/ssh_config" host1 "mkdir -p /var/lib/tend/f && exec 9>>/var/lib/tend/f/lock && flock 9 && echo \"apply by alice@laptop\" >/var/lib/tend/f/lock && echo locked && sleep 60" >holder.out </dev/null 2>&1 & } &&
	holder=$! &&
	test_atexit "kill $holder" &&
	i=0 && while [ $i -lt 100 ] && ! grep -q locked holder.out; do
		sleep 0.1; i=$((i + 1)); done &&
	test_grep locked holder.out &&
	! "$TEND" apply -C repo $TEND_SSH >out;
	kill $holder; wait $holder;
	test_grep "^host1 ($NET.2)  locked: another tend is applying there (apply by alice@laptop); it was not touched" out &&
	test_grep "^host2 ($NET.3)  applied" out &&
	! on_host host1 "test -e /etc/f2.conf" &&
	"$TEND" apply -C repo $TEND_SSH --host host1 >out &&
	on_host host1 "test -e /etc/f2.conf"
'

test_expect_success 'an RSA key gets an explanation, not a cryptic failure' '
	ssh-keygen -q -t rsa -b 2048 -N "" -f rsa_key &&
	! "$TEND" plan -C repo -i rsa_key --known-hosts "$HOSTS/known_hosts" --host host1 >out &&
	test_grep "rsa_key is an RSA key: .* Use an ed25519 or ECDSA key" out
'

test_expect_success 'a wrong key: authentication fails with a pointer to authorized_keys' '
	ssh-keygen -q -t ed25519 -N "" -f other_key &&
	! "$TEND" plan -C repo -i other_key --known-hosts "$HOSTS/known_hosts" --host host1 >out &&
	test_grep "authentication as root@$NET.2 failed with key other_key (ssh-ed25519): is its public key in ~root/.ssh/authorized_keys on the host?" out
'

test_expect_success 'without -i, keys come from ssh-agent' '
	eval "$(ssh-agent -s)" >/dev/null &&
	test_atexit "kill $SSH_AGENT_PID" &&
	ssh-add -q "$HOSTS/id_ed25519" &&
	"$TEND" plan -C repo --known-hosts "$HOSTS/known_hosts" --host host1 >out &&
	test_grep "^host1 ($NET.2)" out &&
	ssh-add -q -D &&
	! "$TEND" plan -C repo --known-hosts "$HOSTS/known_hosts" --host host1 >out &&
	test_grep "none of the 0 keys in ssh-agent was accepted" out &&
	kill $SSH_AGENT_PID && unset SSH_AUTH_SOCK SSH_AGENT_PID &&
	! "$TEND" plan -C repo --known-hosts "$HOSTS/known_hosts" --host host1 >out &&
	test_grep "no key to log in to root@$NET.2 with: give -i FILE" out
'

test_expect_success 'a host that accepts but never speaks SSH times out, alone' '
	/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"$NET.9\", 22)); s.listen(5); print(\"listening\", flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
" >silent.out 2>&1 &
	silent=$! &&
	test_atexit "kill $silent" &&
	i=0 && while [ $i -lt 50 ] && ! grep -q listening silent.out; do
		sleep 0.1; i=$((i + 1)); done &&
	cat >repo/deploy/tend.yaml <<-EOF &&
	version: 1
	app: f
	hosts:
	  host1: {address: $NET.2}
	  mute: {address: $NET.9}
	environments:
	  production: {hosts: [host1, mute], rollout: {max_failed: 1}}
	EOF
	test_commit repo mute &&
	! "$TEND" plan -C repo $TEND_SSH --timeout 1s >out &&
	kill $silent &&
	test_grep "^mute ($NET.9)  failed: SSH handshake with $NET.9 port 22 failed: timed out" out &&
	test_grep "^host1 ($NET.2)$" out &&
	git -C repo reset -q --hard HEAD~1
'

test_expect_success 'a connection killed in mid-apply leaves no partial file; the next apply converges' '
	head -c 80000000 /dev/urandom >repo/deploy/big.bin &&
	cat >repo/deploy/tend.yaml <<-EOF &&
	version: 1
	app: big
	hosts:
	  host1: {address: $NET.2}
	environments:
	  production: {hosts: [host1]}
	resources:
	  - file: /srv/big.bin
	    source: deploy/big.bin
	EOF
	test_commit repo big &&
	kill_mid_upload host1 /srv "$TEND" apply -C repo $TEND_SSH &&
	on_host host1 "ls -A /srv" >ls &&
	! grep tend- ls &&
	! on_host host1 "test -e /srv/big.bin" &&
	"$TEND" apply -C repo $TEND_SSH >out &&
	on_host host1 "sha256sum </srv/big.bin" >got &&
	sha256sum <repo/deploy/big.bin >want &&
	test_cmp want got
'

test_done
