#!/usr/bin/env bash
# Fuzz the Compose loader for SECONDS (default 600) with libFuzzer, seeded from the shared
# conformance cases and the examples. Needs a nightly toolchain and cargo-fuzz.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-600}
corpus="$here/corpus/load"
mkdir -p "$corpus"
find "$here/../../../shared/conformance" "$here/../../examples" -name '*.y*ml' 2>/dev/null | while read -r f; do
    cp "$f" "$corpus/$(sha256sum "$f" | cut -c1-16)"
done
cd "$here/.."
cargo +nightly fuzz run load "$corpus" -- -max_total_time="$seconds" -max_len=4096 -timeout=10
