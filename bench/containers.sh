#!/usr/bin/env bash
# Container start benchmark: `berth run --rm IMAGE true` (create, start, exit, clean up and
# remove) and `berth run -d` (until the container runs), with a busybox image imported offline
# from Debian's busybox-static. Needs root, hyperfine and busybox-static.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
berth="$root/target/release/berth"
work=$(mktemp -d /var/tmp/berth-bench-run.XXXXXX)
export BERTH_ROOT="$work/root"
cleanup() {
    ids=$("$berth" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && "$berth" rm -f $ids >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
"$berth" import "$work/busybox.tar" bench/busybox:1 >/dev/null

hyperfine -N --warmup 3 --runs "${RUNS:-30}" -n "berth run --rm busybox true" "$berth run --rm bench/busybox:1 true"
hyperfine -N --warmup 2 --runs "${RUNS:-30}" \
    --prepare "sh -c 'ids=\$($berth ps -aq); [ -z \"\$ids\" ] || $berth rm -f \$ids >/dev/null'" \
    -n "berth run -d busybox sleep" "$berth run -d bench/busybox:1 sleep 1000"
