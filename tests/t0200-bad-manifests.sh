#!/bin/sh
# Every bad manifest under tests/manifests/{bad,hostile} gets exactly the
# errors its '# expect:' lines name, at their positions, and exit 1; every
# good one is OK.  The sanitizer build runs them, so a crash fails too.
. "$(dirname "$0")/test-lib.sh"

M=$TEST_ROOT/tests/manifests

# check_bad NAME: run validate on one manifest and compare its errors.
check_bad() {
	sed -n 's/^# expect: //p' "$M/$1" >expect &&
	test -s expect || { echo "$1 has no '# expect:' line"; return 1; }
	"$TEND" validate --worktree -C "$M" --manifest "$1" >out 2>err
	rc=$?
	if [ $rc != 1 ]; then
		echo "$1: exit code $rc, expected 1"
		cat out err
		return 1
	fi
	grep -v "error.*; no host was touched$" err >got
	test_cmp expect got
}

for f in "$M"/bad/*.yaml "$M"/hostile/*.yaml; do
	[ -e "$f" ] || continue
	name=${f#"$M"/}
	why=$(sed -n 's/^# why: //p' "$f" | head -n 1)
	test_expect_success "$name: $why" "check_bad '$name'"
done

for f in "$M"/good/*.yaml; do
	name=${f#"$M"/}
	test_expect_success "$name is valid" "
		\"\$TEND\" validate --worktree -C \"\$M\" --manifest '$name' >out &&
		test_grep '^$name: OK (app ' out
	"
done

test_expect_success 'at least 40 bad manifests are checked' '
	test $(ls "$M"/bad/*.yaml "$M"/hostile/*.yaml | wc -l) -ge 40
'

test_expect_success 'a manifest over 1 MiB is refused with its size' '
	mkdir -p big/deploy &&
	{ echo "version: 1"; i=0; while [ $i -lt 20000 ]; do
		printf "# %0100d\n" $i; i=$((i+1)); done; } >big/deploy/tend.yaml &&
	! "$TEND" validate --worktree -C big 2>err &&
	test_grep "^deploy/tend.yaml: error: the manifest is 2060011 bytes; the limit is 1 MiB (1048576 bytes)" err
'

test_expect_success 'an alias bomb is bounded, quickly and without a crash' '
	mkdir -p bomb/deploy &&
	{ echo "version: 1"; echo "a0: &a0 [x, x, x, x, x, x, x, x, x, x]";
	  i=1; while [ $i -lt 12 ]; do p=$((i-1));
		echo "a$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]";
		i=$((i+1)); done; } >bomb/deploy/tend.yaml &&
	! "$TEND" validate --worktree -C bomb 2>err &&
	test_grep "document too large after expanding aliases" err
'

test_done
