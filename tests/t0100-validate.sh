#!/bin/sh
# tend validate reads the manifest and its files from a commit in a real
# git repository: revisions, project roots in subdirectories, the work
# tree, and what happens when any of them is missing.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: a repository holding the hello example' '
	test_git_init repo &&
	cp -R "$TEST_ROOT/examples/hello/." repo/ &&
	test_commit repo "hello, first version" &&
	git -C repo tag v1
'

test_expect_success 'the example is valid at HEAD' '
	"$TEND" validate -C repo >out &&
	echo "deploy/tend.yaml: OK (app hello, 2 environments, 3 hosts, 4 resources)" >expect &&
	test_cmp expect out
'

test_expect_success 'the example in tend'"'"'s own tree is valid' '
	"$TEND" validate -C "$TEST_ROOT/examples/hello" --worktree >out &&
	test_grep "OK (app hello" out
'

test_expect_success 'a broken manifest committed on top fails, naming file, line and column' '
	sed "s/^app: hello/app: hello\nfrobs: 1/" repo/deploy/tend.yaml >tmp &&
	mv tmp repo/deploy/tend.yaml &&
	test_commit repo "break it" &&
	! "$TEND" validate -C repo 2>err &&
	test_grep "^deploy/tend.yaml:7:1: error: unknown key .frobs. in the manifest" err &&
	test_grep "1 error; no host was touched" err
'

test_expect_success '--rev reads an older commit by tag, branch~N and short id' '
	"$TEND" validate -C repo --rev v1 &&
	"$TEND" validate -C repo --rev main~1 &&
	id=$(git -C repo rev-parse --short=7 v1) &&
	"$TEND" validate -C repo --rev "$id"
'

test_expect_success 'the commit is read, not the work tree' '
	git -C repo checkout -q v1 -- deploy/tend.yaml &&
	! "$TEND" validate -C repo 2>err &&
	test_grep "unknown key .frobs." err &&
	"$TEND" validate -C repo --worktree
'

test_expect_success 'an uncommitted source file is missing from the commit' '
	git -C repo reset -q --hard v1 &&
	cat >repo/deploy/tend.yaml <<-\EOF &&
	version: 1
	app: hello
	hosts: {web1: {address: 127.0.0.2}}
	environments: {production: {hosts: [web1]}}
	resources:
	  - file: /etc/extra
	    source: deploy/extra.conf
	EOF
	echo extra >repo/deploy/extra.conf &&
	git -C repo add deploy/tend.yaml && git -C repo commit -q -m "add extra" &&
	! "$TEND" validate -C repo 2>err &&
	test_grep "source .deploy/extra.conf. does not exist in commit [0-9a-f]\{7\} (is it committed?)" err &&
	"$TEND" validate -C repo --worktree
'

test_expect_success 'a project root in a subdirectory (monorepo)' '
	test_git_init mono &&
	mkdir -p mono/services/hello &&
	cp -R "$TEST_ROOT/examples/hello/." mono/services/hello/ &&
	test_commit mono "monorepo" &&
	"$TEND" validate -C mono/services/hello >out &&
	test_grep "OK (app hello" out &&
	! "$TEND" validate -C mono 2>err &&
	test_grep "no manifest at deploy/tend.yaml" err
'

test_expect_success 'a project root that is not committed is named' '
	mkdir -p mono/services/new/deploy &&
	cp repo/deploy/tend.yaml mono/services/new/deploy/ &&
	! "$TEND" validate -C mono/services/new 2>err &&
	test_grep "directory services/new does not exist in commit" err
'

test_expect_success '--manifest picks another file, relative to the root' '
	cp repo/deploy/tend.yaml repo/deploy/other.yaml &&
	test_commit repo "other manifest" &&
	"$TEND" validate -C repo --manifest deploy/other.yaml >out &&
	test_grep "^deploy/other.yaml: OK" out &&
	! "$TEND" validate -C repo --manifest ../x.yaml 2>err &&
	test_grep "manifest ../x.yaml leaves the project root" err
'

test_expect_success 'a source that is a symlink in the commit is refused' '
	ln -s /etc/passwd repo/deploy/link.conf &&
	sed "s|source: deploy/extra.conf|source: deploy/link.conf|" repo/deploy/tend.yaml >tmp &&
	mv tmp repo/deploy/tend.yaml &&
	test_commit repo "link" &&
	! "$TEND" validate -C repo 2>err &&
	test_grep "source .deploy/link.conf. is a symbolic link (to ./etc/passwd.); tend reads only real files" err
'

test_expect_success 'no repository: says so and suggests what to do' '
	mkdir plain &&
	! "$TEND" validate -C plain 2>err &&
	test_grep "plain is not in a git repository" err &&
	test_grep "git init" err
'

test_expect_success 'a missing directory is named' '
	! "$TEND" validate -C nowhere 2>err &&
	test_grep "nowhere: no such directory" err
'

test_expect_success 'an unknown revision is named' '
	! "$TEND" validate -C repo --rev no-such-branch 2>err &&
	test_grep "unknown revision .no-such-branch." err
'

test_expect_success 'a repository without commits says so' '
	test_git_init empty &&
	! "$TEND" validate -C empty 2>err &&
	test_grep "no commits yet" err
'

test_expect_success 'a missing manifest says where it looked' '
	test_git_init bare-app &&
	echo hi >bare-app/README &&
	test_commit bare-app "no manifest" &&
	! "$TEND" validate -C bare-app 2>err &&
	test_grep "no manifest at deploy/tend.yaml in commit [0-9a-f]\{7\}" err
'

test_expect_success 'a manifest over 1 MiB is refused before parsing' '
	test_git_init big &&
	mkdir big/deploy &&
	{ echo "version: 1"; i=0; while [ $i -lt 40000 ]; do
		echo "# padding line $i ......................................"; i=$((i+1)); done; } >big/deploy/tend.yaml &&
	test_commit big "big" &&
	! "$TEND" validate -C big 2>err &&
	test_grep "deploy/tend.yaml: error: the manifest is [0-9]* bytes; the limit is 1 MiB" err
'

test_expect_success 'plan and apply say which environment and hosts exist, before connecting' '
	git -C repo reset -q --hard v1 &&
	! "$TEND" plan -C repo 2>err &&
	test_grep "the manifest has 2 environments (staging, production): choose one with -e ENV" err &&
	! "$TEND" apply -C repo -e prod 2>err &&
	test_grep "no environment .prod. in deploy/tend.yaml (there are: staging, production)" err &&
	! "$TEND" plan -C repo -e production --host host1 2>err &&
	test_grep "host .host1. is not in environment production (its hosts: host2, host3)" err
'

test_done
