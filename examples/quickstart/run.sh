#!/usr/bin/env bash
# Runs the quickstart offline: makes the busybox image from Debian's busybox-static (no
# registry needed), brings the stack up, waits until it is healthy, and asks the web server for
# its page. `berth -f examples/quickstart/compose.yaml down -v` takes it all away again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
berth=${BERTH:-$here/../../target/release/berth}
if ! "$berth" images -q busybox:latest 2>/dev/null | grep -q .; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$here/../busybox-rootfs.sh" "$work/rootfs"
    "$berth" import "$work/rootfs.tar" busybox:latest >/dev/null
fi
"$berth" -f "$here/compose.yaml" up -d --wait
"$berth" -f "$here/compose.yaml" ps
# Ask the published port with bash alone (no curl needed).
exec 3<>/dev/tcp/127.0.0.1/8080
printf 'GET / HTTP/1.0\r\n\r\n' >&3
echo "--- http://127.0.0.1:8080/ answers:"
sed -n '/^\r$/,$p' <&3 | tail -n +2
