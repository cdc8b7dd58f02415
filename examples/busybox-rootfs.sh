#!/usr/bin/env bash
# Makes a busybox root file system in DIR from Debian's busybox-static (the binary, its applet
# links, a root user) and packs it as DIR.tar: the offline image the examples, benchmarks and
# tests run. Usage: busybox-rootfs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
cp /bin/busybox "$dir/bin/"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
echo 'root:x:0:' > "$dir/etc/group"
tar -C "$dir" -cf "$dir.tar" .
