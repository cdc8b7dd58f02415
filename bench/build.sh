#!/usr/bin/env bash
# Build benchmarks (issue 8), as whole `berth build` processes, median of 5:
#   - a no-change rebuild of a 10-step Dockerfile (every layer step a cache hit);
#   - a rebuild after a one-file change that invalidates only the last step.
# Needs root and busybox-static. State goes to a scratch BERTH_ROOT that is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
setup bench/busybox:1

mkdir -p "$work/ctx/src"
for i in $(seq 50); do head -c 4096 /dev/urandom | base64 >"$work/ctx/src/file$i.txt"; done
echo "one" >"$work/ctx/last.txt"
cat >"$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM bench/busybox:1
ARG VERSION=1
ENV APP=/app VERSION=$VERSION
WORKDIR /app
COPY src/ ./src/
RUN cat src/*.txt | wc -c > size
RUN mkdir -p /app/bin && echo '#!/bin/sh' > /app/bin/run && chmod +x /app/bin/run
EXPOSE 8080
LABEL org.example.bench=build
COPY last.txt /app/last.txt
DOCKERFILE


first=$(elapsed "$berth" build -t bench/app:1 "$work/ctx")
same=()
changed=()
for i in 1 2 3 4 5; do
    same+=("$(elapsed "$berth" build -t bench/app:1 "$work/ctx")")
    echo "change $i" >"$work/ctx/last.txt"
    changed+=("$(elapsed "$berth" build -t bench/app:1 "$work/ctx")")
done

printf '%-62s %s\n' "measure" "value"
printf '%-62s %s\n' "first build of the 10-step Dockerfile (2 RUN, 2 COPY)" "$first ms"
printf '%-62s %s\n' "no-change rebuild, whole process (median of 5)" "$(printf '%s\n' "${same[@]}" | median) ms"
printf '%-62s %s\n' "rebuild after a change that invalidates the last step (median)" "$(printf '%s\n' "${changed[@]}" | median) ms"
