#!/bin/sh
# README.md's quick start, run as written on two real hosts: every command
# it shows, with every output it shows (tests/readme-run compares them),
# so the first thing a new user follows cannot drift from the program.
. "$(dirname "$0")/test-lib.sh"

test_hosts 2

test_expect_success 'setup: a home with ~/.ssh, tend on PATH, an empty repository' '
	mkdir -m 700 -p home/.ssh bin &&
	ln -s "$TEND" bin/tend &&
	test_git_init proj
'

# The quick start runs ssh-copy-id with a password the test does not have;
# the test authorizes the new key with the hosts' own key instead.
cat >hook <<HOOK
#!/bin/sh
case \$1 in
authorize-key)
	for h in host1 host2; do
		ssh -F "$HOSTS/ssh_config" \$h "cat >>/root/.ssh/authorized_keys" <"$TRASH/home/.ssh/tend_deploy.pub" || exit 1
	done ;;
*) echo "unknown hook \$1" >&2; exit 1 ;;
esac
HOOK
chmod +x hook

test_expect_success 'the quick start runs as written and prints what README.md shows' '
	HOME=$TRASH/home PATH=$TRASH/bin:$PATH README_HOOK=$TRASH/hook \
	README_ADDR1=$NET.2 README_ADDR2=$NET.3 \
	GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.invalid \
	GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.invalid \
		"$TEST_ROOT/tests/readme-run" "$TEST_ROOT/README.md" "Quick start" proj >run
	status=$? && cat run && test $status = 0 &&
	test_grep "^# [0-9]* commands ran with the outputs README.md shows" run
'

test_expect_success 'and leaves the app answering on both hosts' '
	curl -s --max-time 5 http://$NET.2:8000/ >got &&
	echo "<h1>Hello from myapp</h1>" >want &&
	test_cmp want got &&
	curl -s --max-time 5 http://$NET.3:8000/ >got &&
	test_cmp want got
'

test_done
