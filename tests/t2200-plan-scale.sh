#!/bin/sh
# Ten hosts with a hundred files each: once in sync, plan costs one exec
# channel per host (tend -v reports the count for each host), and apply
# sends each host's files in one stream, not one round trip per file.
. "$(dirname "$0")/test-lib.sh"

test_hosts 10

test_expect_success 'setup: 10 hosts, 100 files each' '
	test_git_init repo && mkdir -p repo/deploy &&
	{
		echo "version: 1"; echo "app: scale"; echo "hosts:"
		i=1; while [ $i -le 10 ]; do
			echo "  host$i: {address: $NET.$((i + 1)), groups: [all]}"
			i=$((i + 1)); done
		echo "environments:"
		echo "  production: {hosts: [all], rollout: {parallel: 10}}"
		echo "resources:"
		echo "  - directory: /srv/scale"
		i=1; while [ $i -le 100 ]; do
			echo "  - file: /srv/scale/f$i.conf"
			printf "    content: \"file %s on \${tend.host}\\\\n\"\n" $i
			i=$((i + 1)); done
	} >repo/deploy/tend.yaml &&
	test_commit repo scale
'

test_expect_success 'the first apply uses two exec channels per host: probe, then one stream' '
	"$TEND" apply -C repo $TEND_SSH -v >out 2>err &&
	test_grep "Applied: 1010 added, 0 changed, 0 removed, on 10 of 10 hosts." out &&
	test $(grep -c ": 2 exec channels, " err) = 10
'

test_expect_success 'in sync, plan opens exactly one exec channel per host' '
	"$TEND" plan -C repo $TEND_SSH -v --detailed-exitcode >out 2>err &&
	test_grep "^Plan: 0 to add, 0 to change, 0 to remove, on 0 of 10 hosts.$" out &&
	cat err &&
	test $(grep -c "^tend: host[0-9]*: 1 exec channel, " err) = 10
'

test_expect_success 'every host has every file with its own content' '
	on_host host7 "cat /srv/scale/f42.conf; ls /srv/scale | wc -l" >got &&
	printf "file 42 on host7\n100\n" >want &&
	test_cmp want got
'

test_done
