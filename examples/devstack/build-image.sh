#!/usr/bin/env bash
# Makes the dev stack's image offline from Debian's archive, once: a Debian root file system
# (debootstrap, minbase) with PostgreSQL, Redis, Python (psycopg2, redis) and nginx, kept as
# a tarball in a cache directory and imported as devstack/debian:bookworm. Later runs only
# import the cached tarball (or nothing, when the image is there already).
#   BERTH      the berth binary (default: target/release/berth of this checkout)
#   CACHE      where the tarball is kept (default: /var/cache/berth/examples)
#   MIRROR     the Debian mirror (default: http://deb.debian.org/debian)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
berth=${BERTH:-$here/../../target/release/berth}
cache=${CACHE:-/var/cache/berth/examples}
mirror=${MIRROR:-http://deb.debian.org/debian}
image=devstack/debian:bookworm
tarball="$cache/devstack-debian-bookworm.tar"

if "$berth" images -q "$image" 2>/dev/null | grep -q .; then
    exit 0
fi
if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "build-image.sh: install debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase \
        --include=postgresql,redis-server,python3,python3-psycopg2,python3-redis,nginx-light \
        bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # The database's data directory, owned by its user, so that a fresh named volume mounted
    # there is seeded with the right owner.
    install -d -o 101 -g 103 -m 700 "$work/rootfs/var/lib/postgresql/data"
    grep -q '^postgres:x:101:103:' "$work/rootfs/etc/passwd" \
        || { echo "build-image.sh: unexpected postgres user in the image" >&2; exit 1; }
    # Services run in the foreground, as containers want them.
    rm -f "$work/rootfs/etc/nginx/sites-enabled/default"
    # Device nodes are the runtime's to make, and image layers may not hold them.
    tar -C "$work/rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
fi
"$berth" import "$tarball" "$image" >/dev/null
