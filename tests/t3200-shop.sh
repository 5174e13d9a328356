#!/bin/sh
# examples/shop on real hosts: a static site behind nginx (a package on
# the hosts) and a background worker (a unit of its own), staging on one
# host and production on two, with different variables; the worker's API
# key a secret (mode 0600, passed on by systemd, shown nowhere); a broken
# nginx config stopped at the canary by `nginx -t` and rolled back.
. "$(dirname "$0")/test-lib.sh"

test_hosts 3

KEY="pk_live_$$_shop"
test_sensitive "$KEY"
test_sensitive_input secrets

dev() { git -C repo "$@"; }
tend() { "$TEND" "$@" --secrets "$TRASH/secrets" $TEND_SSH; }
short() { dev rev-parse --short=7 HEAD; }
# curl -i of a page of the shop on host address $1.
page() { curl -si --max-time 5 "http://$1:8090$2" | tr -d '\r'; }

test_expect_success 'setup: the shop example in a repository' '
	test_git_init repo &&
	cp -R "$TEST_ROOT/examples/shop/." repo/ &&
	sed -i "s/127\.0\.0\./$NET./" repo/deploy/tend.yaml &&
	test_commit repo "shop" &&
	install -d -m 700 secrets &&
	printf "%s\n" "$KEY" >secrets/payment_key && chmod 600 secrets/payment_key &&
	"$TEND" validate -C repo --secrets "$TRASH/secrets" >out 2>&1 &&
	test_grep "OK (app shop, 2 environments, 3 hosts, 9 resources)" out &&
	! grep -q "warning" out
'

test_expect_success 'staging: nginx serves the site and the worker figures, with staging settings' '
	tend apply -C repo -e staging >out &&
	test_grep "  + service nginx  (enable, start)" out &&
	test_grep "  + service shop-worker  (unit file, enable, start)" out &&
	page $NET.2 / >got &&
	test_grep "^HTTP/1.1 200 OK" got &&
	test_grep "^X-Shop-Environment: staging$" got &&
	test_grep "^X-Shop-Release: $(short)$" got &&
	test_grep "<h1>Corner Shop</h1>" got &&
	page $NET.2 /stats.json >got &&
	test_grep "\"environment\": \"staging\", \"host\": \"host1\", \"release\": \"$(short)\"" got &&
	test_grep "\"payments\": \"configured\"" got &&
	test_grep "  + file /etc/shop/payment_key  (sensitive, mode 0600)" out &&
	on_host host1 "stat -c \"%a %U\" /etc/shop/payment_key" >mode &&
	echo "600 root" >want && test_cmp want mode &&
	on_host host1 "cat /etc/shop/worker.conf; nginx -T 2>/dev/null | grep server_name" >conf &&
	test_grep "^interval = 1$" conf &&
	test_grep "server_name staging.shop.example.org;" conf &&
	! on_host host2 "test -e /srv/shop"
'

test_expect_success 'production: both hosts, production settings, the worker running' '
	tend apply -C repo -e production >out &&
	test_grep "Applied: .* on 2 of 2 hosts" out &&
	for a in $NET.3 $NET.4; do
		page $a / >got &&
		test_grep "^X-Shop-Environment: production$" got &&
		page $a /stats.json >got &&
		test_grep "\"environment\": \"production\"" got || return 1
	done &&
	on_host host3 "cat /etc/shop/worker.conf; nginx -T 2>/dev/null | grep server_name;
		systemctl is-active shop-worker nginx; stat -c %a /run/shop/stats.json" >conf &&
	test_grep "^interval = 5$" conf &&
	test_grep "server_name shop.example.org;" conf &&
	test_grep "^644$" conf &&
	test $(grep -c "^active$" conf) = 2 &&
	tend plan -C repo -e production --detailed-exitcode
'

test_expect_success 'a site change ships a release and restarts the worker; nginx reloads, not restarts' '
	nginx_pid=$(on_host host2 "systemctl show -p MainPID --value nginx") &&
	sed -i "s/Fresh bread every morning/Fresh bread all day/" repo/app/site/index.html &&
	test_commit repo "all-day bread" &&
	tend apply -C repo -e production >out &&
	test_grep "  ~ release /srv/shop  (new release [0-9a-f]\{12\}: 1 of 3 files sent)" out &&
	page $NET.3 / >got &&
	test_grep "Fresh bread all day" got &&
	test_grep "^X-Shop-Release: $(short)$" got &&
	test_grep "  ~ command nginx-reload" out &&
	on_host host2 "systemctl show -p MainPID --value nginx" >pid &&
	echo "$nginx_pid" >want &&
	test_cmp want pid
'

test_expect_success 'a broken nginx config fails nginx -t on the canary: rolled back, host3 untouched' '
	good=$(short) &&
	sed -i "s/^\troot /\troot_dir /" repo/deploy/nginx-shop.conf &&
	test_commit repo "tidy the site config" &&
	! tend apply -C repo -e production >out 2>&1 &&
	test_grep "host2.*nginx-config-test" out &&
	test_grep "unknown directive \"root_dir\"" out &&
	test_grep "rolled back to $good" out &&
	page $NET.3 / >got &&
	test_grep "^X-Shop-Release: $good$" got &&
	! on_host host3 "grep root_dir /etc/nginx/sites-enabled/shop.conf" &&
	page $NET.4 / >got &&
	test_grep "^X-Shop-Release: $good$" got
'

test_done
