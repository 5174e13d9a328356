#!/bin/sh
# The paths a manifest takes from the repository (source, unit, from)
# never leave the project: committed symbolic links are never followed,
# whether the path is one or passes through one, '..' and absolute paths
# are refused also when a variable makes them, a name that differs only
# in case is named with the right one, git's own directory is no source,
# and a release's tree cannot hold names that would write outside it on
# the host.  Each refusal names the manifest position and the path.
. "$(dirname "$0")/test-lib.sh"

# manifest RESOURCES...: deploy/tend.yaml in repo with these resource lines.
manifest() {
	{
		cat <<-\EOF
		version: 1
		app: paths
		vars: {up: "..", abs: /etc/passwd, deploy: deploy}
		hosts:
		  web1: {address: 203.0.113.10}
		environments:
		  production: {hosts: [web1]}
		resources:
		EOF
		for line in "$@"; do printf '%s\n' "$line"; done
	} >repo/deploy/tend.yaml
}

# refused ERROR...: validate fails at HEAD, printing each ERROR line
# exactly (the "no host was touched" summary aside).
refused() {
	! "$TEND" validate -C repo 2>err &&
	grep -v "; no host was touched$" err >got &&
	printf '%s\n' "$@" >want &&
	test_cmp want got
}

test_expect_success 'setup: a repository with files, links out of it, and odd but legal names' '
	test_git_init repo &&
	mkdir -p repo/deploy repo/app/lib &&
	echo "greeting = hello" >repo/deploy/hello.conf &&
	printf "[Service]\nExecStart=/bin/true\n" >repo/deploy/hello.service &&
	echo print >repo/app/main.py &&
	echo util >repo/app/lib/util.py &&
	echo odd >"repo/deploy/it'\''s \$(touch pwned) ;rm -rf x" &&
	ln -s /etc repo/deploy/etc &&
	ln -s ../.. repo/deploy/up &&
	ln -s /lib/systemd/system/ssh.service repo/deploy/link.service &&
	ln -s /usr/share repo/shared &&
	ln -s ../app repo/deploy/app &&
	manifest "  - file: /etc/x" "    source: deploy/hello.conf" &&
	test_commit repo "files and links" &&
	"$TEND" validate -C repo
'

test_expect_success 'a source through a committed link to /etc is refused, naming the link' '
	manifest "  - file: /etc/x" "    source: deploy/etc/passwd" &&
	test_commit repo "through /etc" &&
	refused "deploy/tend.yaml:10:13: error: source '\''deploy/etc/passwd'\'' passes through the symbolic link '\''deploy/etc'\'' (to '\''/etc'\''); tend reads only real files and directories of the repository, never following a link"
'

test_expect_success 'a source through a relative link out of the root (../..) is refused' '
	manifest "  - file: /etc/x" "    source: deploy/up/secret" &&
	test_commit repo "through up" &&
	refused "deploy/tend.yaml:10:13: error: source '\''deploy/up/secret'\'' passes through the symbolic link '\''deploy/up'\'' (to '\''../..'\''); tend reads only real files and directories of the repository, never following a link"
'

test_expect_success 'a unit that is a link is refused, with its target' '
	manifest "  - service: hello" "    unit: deploy/link.service" &&
	test_commit repo "unit link" &&
	refused "deploy/tend.yaml:10:11: error: unit '\''deploy/link.service'\'' is a symbolic link (to '\''/lib/systemd/system/ssh.service'\''); tend reads only real files and directories of the repository, never following a link"
'

test_expect_success 'a release from a link, or through one, is refused (even one inside the root)' '
	manifest "  - release: /srv/a" "    from: shared" \
		"  - release: /srv/b" "    from: deploy/app/lib" &&
	test_commit repo "from links" &&
	refused "deploy/tend.yaml:10:11: error: from '\''shared'\'' is a symbolic link (to '\''/usr/share'\''); tend reads only real files and directories of the repository, never following a link" \
		"deploy/tend.yaml:12:11: error: from '\''deploy/app/lib'\'' passes through the symbolic link '\''deploy/app'\'' (to '\''../app'\''); tend reads only real files and directories of the repository, never following a link"
'

test_expect_success 'the same in the work tree (validate --worktree)' '
	! "$TEND" validate -C repo --worktree 2>err &&
	test_grep "from .shared. is a symbolic link (to ./usr/share.)" err &&
	test_grep "from .deploy/app/lib. passes through the symbolic link .deploy/app. (to .\.\./app.)" err
'

test_expect_success '.. and absolute paths are refused, also when a variable makes them' '
	manifest "  - file: /etc/a" "    source: ../outside" \
		"  - file: /etc/b" "    source: /etc/passwd" \
		"  - file: /etc/c" "    source: \"\${up}/\${up}/etc/passwd\"" \
		"  - file: /etc/d" "    source: \"\${abs}\"" \
		"  - service: e" "    unit: deploy/../deploy/hello.service" \
		"  - release: /srv/f" "    from: \"\${deploy}/../app\"" &&
	test_commit repo "dots" &&
	refused "deploy/tend.yaml:10:13: error: source '\''../outside'\'' leaves the project root ('\''..'\'' is not allowed)" \
		"deploy/tend.yaml:12:13: error: source '\''/etc/passwd'\'' must be relative to the project root, not absolute" \
		"deploy/tend.yaml:14:13: error: '\''source'\'' expands to '\''../../etc/passwd'\'', which leaves the project root ('\''..'\'' is not allowed)" \
		"deploy/tend.yaml:16:13: error: '\''source'\'' expands to '\''/etc/passwd'\'', which must be relative to the project root, not absolute" \
		"deploy/tend.yaml:18:11: error: unit '\''deploy/../deploy/hello.service'\'' leaves the project root ('\''..'\'' is not allowed)" \
		"deploy/tend.yaml:20:11: error: '\''from'\'' expands to '\''deploy/../app'\'', which leaves the project root ('\''..'\'' is not allowed)"
'

test_expect_success 'a name right but for case is refused with the right one suggested' '
	manifest "  - file: /etc/a" "    source: Deploy/Hello.conf" \
		"  - service: b" "    unit: deploy/HELLO.service" \
		"  - release: /srv/c" "    from: App" \
		"  - file: /etc/d" "    source: deploy/nothing.conf" &&
	test_commit repo "case" &&
	id=$(git -C repo rev-parse --short=7 HEAD) &&
	refused "deploy/tend.yaml:10:13: error: source '\''Deploy/Hello.conf'\'' does not exist in commit $id; names are exact, case too (did you mean '\''deploy/hello.conf'\''?)" \
		"deploy/tend.yaml:12:11: error: unit '\''deploy/HELLO.service'\'' does not exist in commit $id; names are exact, case too (did you mean '\''deploy/hello.service'\''?)" \
		"deploy/tend.yaml:14:11: error: from '\''App'\'' does not exist in commit $id; names are exact, case too (did you mean '\''app'\''?)" \
		"deploy/tend.yaml:16:13: error: source '\''deploy/nothing.conf'\'' does not exist in commit $id (is it committed?)"
'

test_expect_success 'the work tree says the same, whatever the file system thinks of case' '
	! "$TEND" validate -C repo --worktree 2>err &&
	test_grep "source .Deploy/Hello.conf. does not exist in the work tree; names are exact, case too (did you mean .deploy/hello.conf.?)" err &&
	test_grep "from .App. does not exist in the work tree; names are exact, case too (did you mean .app.?)" err
'

test_expect_success 'git'\''s own directory is no source, in any case' '
	manifest "  - file: /etc/a" "    source: .git/config" \
		"  - file: /etc/b" "    source: deploy/.GIT/config" &&
	test_commit repo "dot git" &&
	refused "deploy/tend.yaml:10:13: error: source '\''.git/config'\'' names git'\''s own directory (.git), which is no part of the project" \
		"deploy/tend.yaml:12:13: error: source '\''deploy/.GIT/config'\'' names git'\''s own directory (.git), which is no part of the project" &&
	! "$TEND" validate -C repo --worktree 2>err &&
	test_grep "source .\.git/config. names git.s own directory" err
'

test_expect_success 'quotes, $(...), ; and spaces in a source name are just a name' '
	manifest "  - file: /etc/a" "    source: \"deploy/it'\''s \$(touch pwned) ;rm -rf x\"" &&
	test_commit repo "odd source" &&
	"$TEND" validate -C repo >out &&
	test_grep "OK (app paths" out &&
	test ! -e pwned && test ! -e repo/pwned
'

test_expect_success 'a link inside a release is shipped as a link, never followed: valid' '
	ln -s ../../../../etc app-escape &&
	mv app-escape repo/app/escape &&
	ln -s lib/util.py repo/app/util-link &&
	manifest "  - release: /srv/a" "    from: app" &&
	test_commit repo "links in a release" &&
	"$TEND" validate -C repo >out &&
	test_grep "OK (app paths" out
'

test_expect_success 'a release file with a newline in its name is refused, named' '
	echo x >"repo/app/lib/bad
name" &&
	test_commit repo "newline" &&
	refused "deploy/tend.yaml:10:11: error: app/lib/bad\\nname has a newline in its name, which tend'\''s list of a release'\''s files cannot hold; rename it" &&
	git -C repo rm -q "app/lib/bad
name" &&
	test_commit repo "no newline"
'

test_expect_success 'a release file named .tend-files at its top is refused' '
	echo x >repo/app/.tend-files &&
	test_commit repo "tend-files" &&
	refused "deploy/tend.yaml:10:11: error: app/.tend-files is a name tend keeps for its own list of a release'\''s files; rename it" &&
	echo x >repo/app/lib/.tend-files &&
	git -C repo rm -q app/.tend-files &&
	test_commit repo "tend-files below is fine" &&
	"$TEND" validate -C repo
'

# A tree object made by hand, with an entry git itself would never write.
# tree_with NAME: a commit whose app/ holds one file called NAME.
tree_with() {
	blob=$(echo evil | git -C repo hash-object -w --stdin) &&
	printf %s "$blob" | xxd -r -p >blob.id &&
	app=$({ printf "100644 %s\0" "$1"; cat blob.id; } |
		git -C repo hash-object -t tree -w --literally --stdin) &&
	root=$(git -C repo ls-tree HEAD | sed "/	app$/d" |
		{ cat; printf "040000 tree %s\tapp\n" "$app"; } | git -C repo mktree) &&
	commit=$(git -C repo commit-tree -p HEAD -m "crafted $1" "$root") &&
	git -C repo update-ref refs/heads/crafted "$commit"
}

test_expect_success 'a hand-made tree with a ".." entry in a release is refused' '
	tree_with .. &&
	! "$TEND" validate -C repo --rev crafted 2>err &&
	test_grep "deploy/tend.yaml:10:11: error: app/\.\. is not a valid file name (a tree object made by hand?)" err
'

test_expect_success 'a hand-made tree with a "/" in an entry name is refused' '
	tree_with "x/../../y" &&
	! "$TEND" validate -C repo --rev crafted 2>err &&
	test_grep "deploy/tend.yaml:10:11: error: app/x/\.\./\.\./y is not a valid file name (a tree object made by hand?)" err
'

test_done
