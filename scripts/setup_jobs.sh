#!/usr/bin/env bash
# Optional for /jobs: a Redis server, so that the tests can run the shared-queue case (several
# gateways on one Redis). Jobs work without it (SQLite); the Redis tests skip with a reason.
set -uo pipefail
command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing redis-server (for the shared job-queue tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } \
        || echo "setup: redis-server not installed: the shared-queue tests will skip"
    # Debian starts the packaged server; the tests start their own on a free loopback port.
    command -v service >/dev/null 2>&1 && service redis-server stop >/dev/null 2>&1
else
    echo "setup: redis-server missing and this user cannot apt-get install it: the shared-queue tests will skip"
fi
exit 0
