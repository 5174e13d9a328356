# Test library for tend's shell tests: TAP output, one scratch directory
# per script, cleanups that run however the script ends.
#
#   . "$(dirname "$0")/test-lib.sh"
#   test_expect_success 'what it checks' '
#           command && command
#   '
#   test_done
#
# Each test body runs in the script's shell with its output captured; a
# failing body prints that output as TAP comments.  test_atexit registers
# a command run when the script exits (stop what the test started).
#
# Redaction: test_sensitive STRING declares a string that must never be
# written anywhere (a token, a secret's value; test_hosts declares its
# private key); test_sensitive_input PATH exempts a file or directory
# that holds such strings by design (a secrets directory, a token file
# given to tend).  test_done then looks for them in every file under the
# scratch directory but those and the hosts' directory (logs, outputs,
# history databases with their -wal files, statuses received), in the
# output of every test, and in every object of every git repository
# there, and fails one last test when any is found.

TEST_ROOT=$(cd "$(dirname "$0")/.." && pwd)
TEND=${TEND:-$TEST_ROOT/tend}
TEST_NAME=$(basename "$0" .sh)
export TEST_ROOT TEND NO_COLOR=1

test_count=0
test_failed=0
test_cleanups=""

test_atexit() {
	test_cleanups="$1
$test_cleanups"
}

test_run_cleanups() {
	cd "$TEST_ROOT" || :
	if [ -n "$test_cleanups" ]; then
		eval "$test_cleanups" >/dev/null 2>&1 || :
	fi
	if [ "$test_failed" = 0 ] || [ -z "${TEND_TEST_KEEP:-}" ]; then
		rm -rf "$TRASH"
	else
		echo "# scratch directory kept: $TRASH"
	fi
}

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/tend-$TEST_NAME.XXXXXX") || exit 1
trap 'test_run_cleanups' EXIT
trap 'exit 130' INT TERM
cd "$TRASH" || exit 1
# History goes to the trash directory, never the real ~/.local/state.
XDG_STATE_HOME=$TRASH/.state
export XDG_STATE_HOME

# The body runs in a function of its own, so that `return 1` in it (out
# of a loop, say) fails that test instead of returning from this one.
test_run_body() {
	eval "$1"
}

test_expect_success() {
	test_count=$((test_count + 1))
	if test_run_body "$2" >"$TRASH/.out" 2>&1; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		# On stderr, which prove shows also without -v (make test, CI).
		sed 's/^/#   /' "$TRASH/.out" >&2
	fi
	# Every test's output, for the redaction check in test_done.
	cat "$TRASH/.out" >>"$TRASH/.outputs"
	cd "$TRASH" || exit 1
}

test_sensitive_list=""
test_sensitive_skip=""

# test_sensitive STRING: STRING must appear nowhere (see the top).
test_sensitive() {
	test_sensitive_list="$test_sensitive_list
$1"
}

# test_sensitive_input PATH: a file or directory (absolute, or relative
# to the scratch directory) that may hold sensitive strings.
test_sensitive_input() {
	case $1 in
	/*) test_sensitive_skip="$test_sensitive_skip
$1" ;;
	*) test_sensitive_skip="$test_sensitive_skip
$TRASH/$1" ;;
	esac
}

# Every file the redaction check reads: NUL-separated paths.
test_sensitive_files() {
	set -- -path "$TRASH/.sensitive-patterns"
	[ -n "${HOSTS:-}" ] && set -- "$@" -o -path "$HOSTS"
	while IFS= read -r p; do
		[ -n "$p" ] && set -- "$@" -o -path "${p%/}"
	done <<-EOF
	$test_sensitive_skip
	EOF
	find "$TRASH" \( "$@" \) -prune -o -type f -print0
}

test_check_sensitive() {
	pat=$TRASH/.sensitive-patterns
	printf '%s\n' "$test_sensitive_list" | sed '/^$/d' >"$pat"
	[ -s "$pat" ] || return 0
	# Git objects are compressed: read them through git.
	find "$TRASH" -name HEAD -type f 2>/dev/null | while IFS= read -r h; do
		d=${h%/HEAD}
		case $d in "${HOSTS:-/nonexistent}"/*) continue ;; esac
		[ -d "$d/objects" ] || continue
		git --git-dir="$d" cat-file --batch-all-objects --batch \
			2>/dev/null || :
	done >"$TRASH/.git-objects"
	test_sensitive_files | xargs -0 -r grep -l -a -F -f "$pat" -- \
		>"$TRASH/.sensitive-found" 2>/dev/null
	if [ -s "$TRASH/.sensitive-found" ]; then
		echo "a sensitive string (token, secret, private key) is in:"
		while IFS= read -r f; do
			echo "${f#"$TRASH"/}:"
			grep -a -n -F -f "$pat" "$f" | cut -c1-200 | head -5
		done <"$TRASH/.sensitive-found"
		rm -f "$TRASH/.git-objects"
		return 1
	fi
	rm -f "$TRASH/.git-objects"
}

test_done() {
	if [ -n "$(printf '%s' "$test_sensitive_list" | tr -d '\n')" ]; then
		test_expect_success 'no token, secret or private key in any output, log, history or repository' '
			test_check_sensitive
		'
	fi
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
	exit $?
}

# test_cmp EXPECTED ACTUAL: files must be equal; show the diff otherwise.
test_cmp() {
	diff -u "$1" "$2"
}

# test_grep PATTERN FILE: like grep -q, but shows the file when it fails.
test_grep() {
	if ! grep -q -e "$1" "$2"; then
		echo "expected to find: $1"
		echo "in $2:"
		cat "$2"
		return 1
	fi
}

# Make a git repository in DIR with the given files committed.
test_git_init() {
	git init -q -b main "$1" &&
	git -C "$1" config user.email dev@example.invalid &&
	git -C "$1" config user.name "Test Developer"
}

test_commit() {
	git -C "$1" add -A && git -C "$1" commit -q -m "$2"
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; on a timeout
# say so and show the tail of $WAIT_LOG (a daemon's log), if set.
wait_for() {
	n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	echo "timed out waiting for: $*"
	[ -n "${WAIT_LOG:-}" ] && [ -f "$WAIT_LOG" ] && tail -20 "$WAIT_LOG" | sed "s/^/$(basename "$WAIT_LOG"): /"
	return 1
}

# test_hosts N: start N real systemd hosts (host1 at $NET.2, ...) for
# this script, stopped when it exits.  Sets HOSTS (their directory) and
# TEND_SSH, the options that make tend use their key and known_hosts.
# NET is TEND_TEST_NET (three octets inside 127.0.0.0/8) or 127.0.0; tests
# written with "$NET.2" can run beside a suite using another net.
NET=${TEND_TEST_NET:-127.0.0}
test_hosts() {
	HOSTS=$TRASH/hosts
	test_atexit "'$TEST_ROOT/scripts/testhosts' stop --dir '$HOSTS'"
	if ! "$TEST_ROOT/scripts/testhosts" start "$1" --dir "$HOSTS" --net "$NET" >"$TRASH/.hosts.log" 2>&1; then
		cat "$TRASH/.hosts.log"
		echo "Bail out! the test hosts did not start"
		exit 1
	fi
	TEND_SSH="-i $HOSTS/id_ed25519 --known-hosts $HOSTS/known_hosts"
	# The private key's body lines: never anywhere outside $HOSTS.
	# (Not the first: "openssh-key-v1", the same in every such key.)
	while IFS= read -r line; do
		test_sensitive "$line"
	done <<-EOF
	$(sed '/^-----/d' "$HOSTS/id_ed25519" | sed 1d)
	EOF
}

# on_host NAME COMMAND...: run a shell command on a test host.
on_host() {
	h=$1
	shift
	ssh -F "$HOSTS/ssh_config" -n "$h" "$@"
}

# kill_mid_upload HOST DIR COMMAND...: run COMMAND (a tend apply) in the
# background and kill -9 it once one of its temporary files (.tend-*)
# shows up in DIR on HOST, that is, half-way through its upload.  Fails
# when that never happens.
kill_mid_upload() {
	host=$1 dir=$2
	shift 2
	{ "$@" >out 2>&1 & }
	pid=$!
	test_atexit "kill -9 $pid"
	i=0
	while [ $i -lt 100 ]; do
		on_host "$host" "ls -A '$dir'" >ls 2>/dev/null &&
		grep -q "^.tend-" ls && break
		i=$((i + 1))
	done
	if ! grep -q "^.tend-" ls; then
		echo "no upload in progress was seen in $dir on $host"
		kill -9 $pid
		return 1
	fi
	kill -9 $pid
	wait $pid
	sleep 1
}
