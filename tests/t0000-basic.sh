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
	test_grep "tend watch" page &&
	for c in validate plan apply watch status history version; do
		grep -q "^ *$c\$" page || grep -q "^       $c" page || { echo "no $c in the man page"; return 1; }
	done
'

test_done
