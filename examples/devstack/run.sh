#!/usr/bin/env bash
# Runs the dev stack: makes its image if needed (debootstrap, about a minute the first time),
# brings it up, waits for every healthcheck, and asks nginx for a page twice.
# `berth -f examples/devstack/compose.yaml down` stops it; `down -v` also drops the database.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
berth=${BERTH:-$here/../../target/release/berth}
BERTH=$berth "$here/build-image.sh"
"$berth" -f "$here/compose.yaml" up -d --wait
"$berth" -f "$here/compose.yaml" ps
port=${DEVSTACK_PORT:-8081}
for _ in 1 2; do
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    sed -n '/^\r$/,$p' <&3 | tail -n +2
    exec 3<&-
done
