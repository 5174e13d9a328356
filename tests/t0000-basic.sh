#!/bin/sh
# The command line itself: help, version, unknown commands and options.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'tend with no command shows usage and fails' '
	! "$TEND" 2>err &&
	test_grep "usage: tend COMMAND" err &&
	test_grep "validate" err
'

test_expect_success 'tend --help lists the commands and succeeds' '
	"$TEND" --help >out &&
	test_grep "validate" out &&
	test_grep "version" out
'

test_expect_success 'tend version names the libraries it runs with' '
	"$TEND" version >out &&
	test_grep "^tend " out &&
	test_grep "libgit2 1\." out &&
	test_grep "libssh2 1\." out
'

test_expect_success 'an unknown command fails and says so' '
	! "$TEND" deploy 2>err &&
	test_grep "unknown command .deploy." err
'

test_expect_success 'an unknown option fails with the usage line' '
	! "$TEND" validate --frobnicate 2>err &&
	test_grep "usage: tend validate" err
'

test_expect_success '--rev and --worktree together are refused' '
	! "$TEND" validate --rev HEAD --worktree 2>err &&
	test_grep "exclude each other" err
'

test_expect_success 'validate --help describes the options' '
	"$TEND" validate --help >out &&
	test_grep "[-]-worktree" out &&
	test_grep "[-]-manifest PATH" out
'

test_expect_success 'make install puts a working tend under PREFIX' '
	make -s -C "$TEST_ROOT" install PREFIX="$TRASH/prefix" >/dev/null &&
	"$TRASH/prefix/bin/tend" version >out &&
	test_grep "^tend " out
'

test_expect_success 'make install puts the man page tend(1) beside it, and it renders cleanly' '
	test -f "$TRASH/prefix/share/man/man1/tend.1" &&
	groff -man -Tutf8 -P-cbou -ww "$TRASH/prefix/share/man/man1/tend.1" >page 2>warnings &&
	test ! -s warnings &&
	tr -s " \n" "  " <page >flat &&
	test_grep "tend watch" flat &&
	for c in validate plan apply watch status history version; do
		grep -q "^ *$c\$" page || grep -q "^       $c" page || { echo "no $c in the man page"; return 1; }
	done
'

test_expect_success 'every message README.md'"'"'s Troubleshooting quotes is one tend prints' '
	/usr/bin/python3 - "$TEST_ROOT/README.md" "$TEND" <<-\EOF
	import re, sys
	readme = open(sys.argv[1], encoding="utf-8").read()
	part = readme.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
	binary = open(sys.argv[2], "rb").read()
	quoted = re.findall(r"\*\*`([^`]+)`\*\*", part.replace("\n", " "))
	bad, n = [], 0
	for msg in quoted:
	    for frag in msg.split("\u2026"):
	        frag = frag.strip()
	        if len(frag) < 6:
	            continue
	        n += 1
	        if frag.encode() not in binary:
	            bad.append(frag)
	if len(quoted) < 15 or bad:
	    print("%d messages; not found in tend: %r" % (len(quoted), bad))
	    sys.exit(1)
	print("%d messages, %d fragments found" % (len(quoted), n))
	EOF
'

test_expect_success 'every option of every command is in README.md and in the man page' '
	for c in validate plan apply watch status history; do
		"$TEND" $c --help >help &&
		sed -n "s/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z-]*\).*/\2/p" help | sort -u >opts &&
		test -s opts || { echo "no options in tend $c --help"; return 1; }
		while read -r o; do
			grep -q -e "$o" "$TEST_ROOT/README.md" ||
				{ echo "README.md does not mention $o of tend $c"; return 1; }
			grep -q -e "$(echo "$o" | sed "s/-/\\\\\\\\-/g")" "$TEST_ROOT/doc/tend.1" ||
				{ echo "the man page does not mention $o of tend $c"; return 1; }
		done <opts || return 1
	done
'

test_done
