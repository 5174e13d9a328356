#!/bin/sh
# Secrets: ${secret.NAME} read from --secrets DIR on the controller and
# deployed to real hosts with mode 0600, never shown: not in plan (text or
# --json), apply, watch's log, the history or the status.  A missing
# secret, or a missing --secrets, is a validation error that touches no
# host; an open directory costs a warning; a changed value is drift that
# tend watch deploys.
. "$(dirname "$0")/test-lib.sh"

test_hosts 2

PW="pw-$$-Hunter2-q7"
PW2="pw2-$$-Correct-Horse"
TOK="tk-$$-Zebra-9"
test_sensitive "$PW"
test_sensitive "$PW2"
test_sensitive "$TOK"
test_sensitive_input secrets
SEC="--secrets $TRASH/secrets"
STATE=$TRASH/state
WAIT_LOG=$TRASH/watch.log

commit() { test_commit repo "$1"; }
# The value of a file on a host equals $2, checked there: the value
# never passes through a file here.
on_host_is() {
	on_host host1 "test \"\$(cat $1)\" = '$2'" &&
	on_host host2 "test \"\$(cat $1)\" = '$2'"
}

test_expect_success 'setup: secrets outside the repository, a manifest using two' '
	mkdir secrets && chmod 700 secrets &&
	echo "$PW" >secrets/db_password &&
	printf %s "$TOK" >secrets/api-token &&
	chmod 600 secrets/* &&
	test_git_init repo && mkdir -p repo/deploy &&
	cat >repo/deploy/tend.yaml <<-EOF &&
	version: 1
	app: sec
	vars: {user: app}
	hosts:
	  host1: {address: $NET.2}
	  host2: {address: $NET.3}
	environments:
	  production: {hosts: [host1, host2]}
	resources:
	  - directory: /etc/sec
	  - file: /etc/sec/db.conf
	    source: deploy/db.conf
	    template: true
	  - file: /etc/sec/token
	    content: "\${secret.api-token}"
	    mode: "0640"
	  - file: /etc/sec/plain.conf
	    content: "plain\n"
	EOF
	printf "user = \${user}\npassword = \${secret.db_password}\nhost = \${tend.host}\n" >repo/deploy/db.conf &&
	commit first
'

test_expect_success 'validate without --secrets checks the names only, and says so' '
	"$TEND" validate -C repo >out 2>err &&
	test_grep "^deploy/tend.yaml: OK" out &&
	test_grep "secrets it uses were not looked for: pass --secrets DIR" err
'

test_expect_success 'validate --secrets names a missing secret at its place' '
	mkdir -m 700 empty &&
	! "$TEND" validate -C repo --secrets "$TRASH/empty" 2>err &&
	test_grep "^deploy/db.conf:2:12: error: no secret .db_password.: there is no file $TRASH/empty/db_password in the --secrets directory$" err &&
	test_grep "^deploy/tend.yaml:15:15: error: no secret .api-token." err &&
	"$TEND" validate -C repo $SEC >out &&
	test_grep "^deploy/tend.yaml: OK" out
'

test_expect_success 'plan without --secrets is an error, and no host is touched' '
	! "$TEND" plan -C repo $TEND_SSH >out 2>err &&
	test_grep "^deploy/db.conf:2:12: error: .\${secret.db_password}. needs the secrets directory: pass --secrets DIR" err &&
	test_grep "no host was touched" err &&
	! on_host host1 "test -e /etc/sec"
'

test_expect_success 'plan shows the files that hold secrets without their content' '
	"$TEND" plan -C repo $TEND_SSH $SEC >out &&
	test_grep "  + file /etc/sec/db.conf  (sensitive, mode 0600)" out &&
	test_grep "  + file /etc/sec/token  (sensitive, mode 0640)" out &&
	test_grep "  + file /etc/sec/plain.conf  (6 bytes, mode 0644)" out
'

test_expect_success 'apply deploys them: mode 0600 unless the manifest says' '
	"$TEND" apply -C repo $TEND_SSH $SEC >out 2>&1 &&
	test_grep "^Applied: 8 added" out &&
	on_host host1 "stat -c \"%a %n\" /etc/sec/db.conf /etc/sec/token /etc/sec/plain.conf" >got &&
	printf "600 /etc/sec/db.conf\n640 /etc/sec/token\n644 /etc/sec/plain.conf\n" >want &&
	test_cmp want got &&
	on_host host2 "grep -qxF \"password = $PW\" /etc/sec/db.conf && grep -qx \"host = host2\" /etc/sec/db.conf" &&
	on_host_is /etc/sec/token "$TOK"
'

test_expect_success 'the record on the host marks them sensitive and is not for others' '
	on_host host1 "cat /var/lib/tend/sec/state.json" >state.json &&
	/usr/bin/python3 -c "
import json
r = {x[\"key\"]: x for x in json.load(open(\"state.json\"))[\"resources\"]}
assert r[\"/etc/sec/db.conf\"].get(\"sensitive\") is True, r
assert r[\"/etc/sec/token\"].get(\"sensitive\") is True, r
assert \"sensitive\" not in r[\"/etc/sec/plain.conf\"], r
" &&
	on_host host1 "stat -c %a /var/lib/tend/sec" >got &&
	echo 700 >want &&
	test_cmp want got
'

test_expect_success 'a changed secret: plan says "sensitive content changed", no diff' '
	echo "$PW2" >secrets/db_password &&
	"$TEND" plan -C repo $TEND_SSH $SEC >out &&
	test_grep "  ~ file /etc/sec/db.conf  (sensitive content)" out &&
	test_grep "^      sensitive content changed (not shown)$" out &&
	! grep -q "^      [-+]" out &&
	test_grep "^Plan: 0 to add, 2 to change" out
'

test_expect_success 'plan --json: "sensitive": true and no diff' '
	"$TEND" plan -C repo $TEND_SSH $SEC --json >plan.json &&
	/usr/bin/python3 -c "
import json
d = json.load(open(\"plan.json\"))
acts = [a for h in d[\"hosts\"] for a in h[\"actions\"]]
assert len(acts) == 2, acts
for a in acts:
    assert a[\"key\"] == \"/etc/sec/db.conf\", a
    assert a[\"sensitive\"] is True and a[\"diff\"] is None, a
    assert a[\"changes\"] == [\"content\"], a
"
'

test_expect_success 'tend watch deploys a changed secret as drift' '
	"$TEND" watch --repo "$TRASH/repo" -e production@main --once \
		--state-dir "$STATE" $TEND_SSH $SEC >>watch.log 2>&1 &&
	test_grep "healing [0-9a-f]\{7\} \"first\" to 2 hosts (drift)" watch.log &&
	on_host host1 "grep -qxF \"password = $PW2\" /etc/sec/db.conf" &&
	on_host host2 "grep -qxF \"password = $PW2\" /etc/sec/db.conf" &&
	"$TEND" history --state-dir "$STATE" --json >hist.json &&
	/usr/bin/python3 -c "
import json
r = json.load(open(\"hist.json\"))[\"reconciles\"][0]
assert r[\"trigger\"] == \"drift\" and r[\"outcome\"] == \"success\", r
assert r[\"message\"].startswith(\"Healed drift on 2 of 2 hosts\"), r
"
'

test_expect_success 'a commit changing a plain file and a template: only the plain diff shows' '
	sed -i "s/content: \"plain\\\\n\"/content: \"plain two\\\\n\"/" repo/deploy/tend.yaml &&
	grep -q "plain two" repo/deploy/tend.yaml &&
	printf "user = \${user}\npassword = \${secret.db_password}\nhost = \${tend.host}\nport = 5432\n" >repo/deploy/db.conf &&
	commit second &&
	"$TEND" plan -C repo $TEND_SSH $SEC >out &&
	test_grep "^      +plain two$" out &&
	test_grep "  ~ file /etc/sec/db.conf  (sensitive content)" out &&
	! grep -q "port = 5432" out &&
	"$TEND" plan -C repo $TEND_SSH $SEC --json >plan.json &&
	/usr/bin/python3 -c "
import json
d = json.load(open(\"plan.json\"))
acts = {a[\"key\"]: a for a in d[\"hosts\"][0][\"actions\"]}
assert acts[\"/etc/sec/plain.conf\"][\"sensitive\"] is False, acts
assert \"+plain two\" in acts[\"/etc/sec/plain.conf\"][\"diff\"], acts
assert acts[\"/etc/sec/db.conf\"][\"diff\"] is None, acts
" &&
	"$TEND" apply -C repo $TEND_SSH $SEC --state-dir "$STATE" >out 2>&1 &&
	test_grep "^Applied: 0 added, 4 changed" out
'

test_expect_success 'a file that no longer uses a secret still hides what it held' '
	printf "user = \${user}\n" >repo/deploy/db.conf &&
	commit "no secret" &&
	"$TEND" plan -C repo $TEND_SSH $SEC >out &&
	test_grep "  ~ file /etc/sec/db.conf  (sensitive content, mode 0600 -> 0644)" out &&
	test_grep "^      sensitive content changed (not shown)$" out &&
	"$TEND" apply -C repo $TEND_SSH $SEC --state-dir "$STATE" >>out 2>&1 &&
	on_host host1 "stat -c %a /etc/sec/db.conf" >got &&
	echo 644 >want &&
	test_cmp want got
'

test_expect_success 'history and status carry no secret' '
	"$TEND" history --state-dir "$STATE" >hist.txt &&
	"$TEND" history --state-dir "$STATE" --json >hist.json &&
	"$TEND" status --state-dir "$STATE" >status.txt &&
	"$TEND" status --state-dir "$STATE" --json >status.json &&
	test -s hist.json && test -s status.txt &&
	! grep -F -e "$PW" -e "$PW2" -e "$TOK" hist.txt hist.json status.txt status.json "$STATE/tend.db"*
'

test_expect_success 'a directory or file open to others costs a warning' '
	chmod 755 secrets && chmod 644 secrets/api-token &&
	"$TEND" validate -C repo $SEC >out 2>err &&
	test_grep "warning: the secrets directory $TRASH/secrets is open to group or others (mode 0755): chmod 700" err &&
	test_grep "warning: the secrets file $TRASH/secrets/api-token is open to group or others (mode 0644): chmod 600" err &&
	chmod 700 secrets && chmod 600 secrets/api-token &&
	"$TEND" validate -C repo $SEC >out 2>err &&
	! grep -q warning err
'

test_expect_success 'a symbolic link, or a bad name, is not read' '
	ln -s ../outside secrets/linked &&
	printf "\${secret.linked} \${secret.../x}\n" >repo/deploy/db.conf &&
	! "$TEND" validate -C repo --worktree $SEC 2>err &&
	test_grep "^deploy/db.conf:1:1: error: secret .linked.: $TRASH/secrets/linked is a symbolic link" err &&
	test_grep "^deploy/db.conf:1:18: error: invalid secret name in .\${secret.../x}." err &&
	git -C repo checkout -q deploy/db.conf
'

test_expect_success 'a secret anywhere but in file content is refused' '
	cat >>repo/deploy/tend.yaml <<-\EOF &&
	  - command: leak
	    run: echo ${secret.db_password}
	EOF
	! "$TEND" validate -C repo --worktree $SEC 2>err &&
	test_grep "^deploy/tend.yaml:20:15: error: secret .db_password. used outside a file.s content" err &&
	git -C repo checkout -q deploy/tend.yaml
'

test_done
