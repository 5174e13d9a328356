#!/bin/sh
# Signed commits: with --allowed-signers, apply and watch deploy only
# commits whose SSH signature (git commit -S, gpg.format ssh) verifies
# against the file, as ssh-keygen -Y verify does for namespace git.  An
# unsigned head, one signed by another key and one altered after signing
# are refused: apply touches no host, watch keeps the environment where it
# was and posts an error status.  plan shows them, with a warning.
. "$(dirname "$0")/test-lib.sh"

test_hosts 1

STATE=$TRASH/state
ALLOWED=$TRASH/allowed_signers
SIGN="--allowed-signers $ALLOWED"
WAIT_LOG=$TRASH/watch.log

dev() { git -C dev "$@"; }
short() { dev rev-parse --short=7 "${1:-HEAD}"; }
# version V [KEY]: a commit setting the deployed version to V, signed with
# KEY (alice, bob) or not at all, pushed to origin.
version() {
	sed -i "s/content: \".*\"/content: \"$1\\\\n\"/" dev/deploy/tend.yaml &&
	dev add -A &&
	if [ -n "${2:-}" ]; then
		dev -c gpg.format=ssh -c user.signingkey="$TRASH/$2" \
			commit -q -S -m "version $1"
	else
		dev commit -q -m "version $1"
	fi &&
	dev push -q origin main
}
on_host_version() { test "$(on_host host1 cat /etc/signed/version)" = "$1"; }
watch() {
	"$TEND" watch --repo "$TRASH/origin.git" -e production@main --once \
		--state-dir "$STATE" $TEND_SSH $SIGN --status git-notes "$@" \
		>>watch.log 2>&1
}
note() {
	dev fetch -q -f origin refs/notes/tend:refs/notes/tend &&
	dev log -1 --notes=tend --format=%N "$1"
}

test_expect_success 'setup: two keys, one of them allowed, and a signed commit' '
	ssh-keygen -q -t ed25519 -N "" -C alice -f alice &&
	ssh-keygen -q -t ed25519 -N "" -C bob -f bob &&
	echo "alice@example.invalid namespaces=\"git\" $(cat alice.pub)" >allowed_signers &&
	git init -q --bare -b main origin.git &&
	test_git_init dev &&
	dev remote add origin "$TRASH/origin.git" &&
	mkdir -p dev/deploy &&
	cat >dev/deploy/tend.yaml <<-EOF &&
	version: 1
	app: signed
	hosts:
	  host1: {address: $NET.2}
	environments:
	  production: {hosts: [host1]}
	resources:
	  - file: /etc/signed/version
	    content: "v0\n"
	EOF
	version v1 alice &&
	dev cat-file commit HEAD | grep -q "^gpgsig -----BEGIN SSH SIGNATURE-----"
'

test_expect_success 'a commit signed by an allowed signer deploys' '
	"$TEND" apply -C dev $TEND_SSH $SIGN >out 2>&1 &&
	test_grep "^Applied: 1 added" out &&
	on_host_version v1
'

test_expect_success 'an unsigned commit is refused by apply, and no host is touched' '
	version v2 &&
	! "$TEND" apply -C dev $TEND_SSH $SIGN >out 2>err &&
	test_grep "^tend: error: commit $(short) is not signed by an allowed signer: it has no signature$" err &&
	test_grep "only commits signed by a key in $ALLOWED are deployed: sign it" err &&
	test_grep "no host was touched" err &&
	! test -s out &&
	on_host_version v1
'

test_expect_success 'plan shows it, and warns that apply would refuse it' '
	"$TEND" plan -C dev $TEND_SSH $SIGN >out 2>err &&
	test_grep "  ~ file /etc/signed/version  (content)" out &&
	test_grep "warning: commit $(short) is not signed by an allowed signer: it has no signature; apply and watch refuse it" err
'

test_expect_success 'without --allowed-signers the same commit deploys' '
	"$TEND" plan -C dev $TEND_SSH >out 2>err &&
	! grep -q warning err &&
	"$TEND" apply -C dev $TEND_SSH >out 2>&1 &&
	on_host_version v2 &&
	"$TEND" apply -C dev $TEND_SSH $SIGN --rev HEAD~1 >out 2>&1 &&
	on_host_version v1
'

test_expect_success 'a commit signed by a key not in the file is refused' '
	version v3 bob &&
	fp=$(ssh-keygen -l -f bob.pub | cut -d" " -f2) &&
	! "$TEND" apply -C dev $TEND_SSH $SIGN >out 2>err &&
	test_grep "^tend: error: commit $(short) is not signed by an allowed signer: it is signed by key $fp, which is not in $ALLOWED$" err &&
	on_host_version v1
'

test_expect_success 'a signed commit altered after signing is refused' '
	version v4 alice &&
	"$TEND" plan -C dev $TEND_SSH $SIGN >out 2>err &&
	! grep -q warning err &&
	orig=$(dev rev-parse HEAD) &&
	forged=$(dev cat-file commit HEAD | sed "s/^version v4$/version v4, or so it says/" |
		dev hash-object -t commit -w --stdin) &&
	dev update-ref refs/heads/main "$forged" &&
	! "$TEND" apply -C dev $TEND_SSH $SIGN >out 2>err &&
	test_grep "^tend: error: commit $(short) is not signed by an allowed signer: its signature does not match the commit (changed after signing?): ssh-keygen: " err &&
	on_host_version v1 &&
	dev update-ref refs/heads/main "$orig"
'

# A signed commit on a side branch, then its manifest's blob rewritten in
# place in the object store: the id the signature covers now names other
# content, which must not deploy.
test_expect_success 'a signed commit whose files were changed in the object store is refused' '
	dev checkout -q -b tamper &&
	sed -i "s/content: \".*\"/content: \"v4t\\\\n\"/" dev/deploy/tend.yaml &&
	dev add -A &&
	dev -c gpg.format=ssh -c user.signingkey="$TRASH/alice" commit -q -S -m "version v4t" &&
	blob=$(dev rev-parse HEAD:deploy/tend.yaml) &&
	obj=dev/.git/objects/$(echo $blob | cut -c1-2)/$(echo $blob | cut -c3-) &&
	cp "$obj" good.obj &&
	dev cat-file blob $blob | sed "s/v4t/v666/" >tampered &&
	/usr/bin/python3 -c "
import sys, zlib
data = open(sys.argv[1], \"rb\").read()
open(sys.argv[2], \"wb\").write(zlib.compress(b\"blob %d\\0\" % len(data) + data))
" tampered tampered.obj &&
	chmod u+w "$obj" && cp tampered.obj "$obj" &&
	{
		! "$TEND" apply -C dev --rev tamper $TEND_SSH $SIGN >out 2>err &&
		test_grep "^tend: error: cannot read deploy/tend.yaml in commit $(short tamper): .*hash mismatch.*git fsck" err &&
		on_host_version v1
	}
	rc=$?
	cp good.obj "$obj" && dev checkout -q -f main && dev branch -q -D tamper &&
	return $rc
'

test_expect_success 'a key allowed only for another namespace is refused' '
	echo "alice@example.invalid namespaces=\"file\" $(cat alice.pub)" >ns_signers &&
	! "$TEND" apply -C dev $TEND_SSH --allowed-signers "$TRASH/ns_signers" >out 2>err &&
	test_grep "is not signed by an allowed signer: key SHA256:[^ ]* is in $TRASH/ns_signers but may not sign this commit" err &&
	on_host_version v1
'

test_expect_success 'watch deploys a signed head' '
	watch &&
	on_host_version v4 &&
	note HEAD >note.out &&
	test_grep "^tend/production: success: Deployed to 1/1 host in" note.out
'

test_expect_success 'watch refuses an unsigned head: error status, the hosts stay' '
	version v5 &&
	bad=$(short) &&
	watch &&
	on_host_version v4 &&
	note HEAD >note.out &&
	test_grep "^tend/production: error: commit $bad is not signed by an allowed signer: it has no signature$" note.out &&
	"$TEND" history --state-dir "$STATE" --json >hist.json &&
	/usr/bin/python3 -c "
import json
r = json.load(open(\"hist.json\"))[\"reconciles\"][0]
assert r[\"outcome\"] == \"error\", r
assert r[\"message\"] == \"commit $bad is not signed by an allowed signer: it has no signature\", r
assert r[\"commit\"].startswith(\"$bad\"), r
" &&
	test_grep "is not signed by an allowed signer" watch.log
'

test_expect_success 'the next pass holds it back and keeps the hosts on the last good commit' '
	on_host host1 "echo hand-edit >/etc/signed/version" &&
	watch &&
	on_host_version v4 &&
	"$TEND" status --state-dir "$STATE" >st &&
	test_grep "held back     $bad: commit $bad is not signed by an allowed signer" st &&
	test_grep "last good     $(short HEAD~1)" st
'

test_expect_success 'a signed commit after it deploys' '
	version v6 alice &&
	watch &&
	on_host_version v6 &&
	note HEAD >note.out &&
	test_grep "^tend/production: success: Deployed to 1/1 host in" note.out &&
	"$TEND" status --state-dir "$STATE" >st &&
	! grep -q "held back" st
'

test_expect_success 'watch will not start without its allowed signers file' '
	! "$TEND" watch --repo "$TRASH/origin.git" --once --state-dir "$STATE" \
		$TEND_SSH --allowed-signers "$TRASH/nonexistent" 2>err &&
	test_grep "cannot read the allowed signers file $TRASH/nonexistent" err
'

test_done
