#!/bin/sh
# make demo's script, run whole: every step it narrates checks that it
# happened, so a change that breaks the story a new user sees first
# fails here.  It starts its own hosts (127.0.0.2-4) and daemon and
# stops them.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'scripts/demo plays every step and leaves nothing behind' '
	"$TEST_ROOT/scripts/demo" >out 2>&1 || { cat out; false; } &&
	test_grep "^== 9. What tend status and tend history say" out &&
	test_grep "^== Demo done in [0-9]*s. Daemon and hosts stopped" out &&
	test_grep "host3 never saw [0-9a-f]\{7\}: the canary (host2) failed" out &&
	test_grep "tend/production: failure: host2: .*; rolled back to [0-9a-f]\{7\}" out &&
	test_grep "production: [0-9a-f]\{7\} success: Healed drift on 1 of 2 hosts" out &&
	dir=$(sed -n "s|^Their SSH host keys are in \(/tmp/tend-demo\.[^/]*\)/.*|\1|p" out) &&
	test -n "$dir" && ! test -e "$dir"
'

test_done
