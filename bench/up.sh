#!/usr/bin/env bash
# `berth up -d` and `down` (issue 7), printed as one table, median of 5 each:
#   (a) one service;
#   (b) 20 services in a dependency tree (4 levels) on 2 networks, with a named volume and 2
#       published ports;
#   (c) 200 services in 20 levels of 10, each depending on one of the level above, on one
#       network (issue 16: the cost of a project should grow with its size, no faster);
# `ps` of each while it runs; and a plain `down` of (b), whose processes ignore SIGTERM as PID 1
# (`sleep`), which should take one grace period (10 s) in all, not one per level or per service.
# Needs root and busybox-static. State goes to a scratch BERTH_ROOT that is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
setup busybox:latest

cat >"$work/one.yaml" <<'EOF'
name: bench-one
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
EOF

ports=$(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
python3 - "$work/tree.yaml" $ports <<'PY'
import sys
path, p1, p2 = sys.argv[1], sys.argv[2], sys.argv[3]
out = ["name: bench-tree", "services:"]
# A tree: s0 at the root, then 3, 6 and 10 services below, each depending on one above.
levels = [[0], [1, 2, 3], [4, 5, 6, 7, 8, 9], list(range(10, 20))]
parent = {}
for above, below in zip(levels, levels[1:]):
    for i, s in enumerate(below):
        parent[s] = above[i % len(above)]
for s in range(20):
    out += [f"  s{s}:", "    image: busybox:latest", '    command: ["sleep", "3600"]',
            "    networks: [front, back]" if s % 2 == 0 else "    networks: [back]"]
    if s in parent:
        out += [f"    depends_on: [s{parent[s]}]"]
    if s == 0:
        out += ["    volumes: ['data:/data']", f"    ports: ['127.0.0.1:{p1}:80']"]
    if s == 1:
        out += [f"    ports: ['127.0.0.1:{p2}:80']"]
out += ["networks:", "  front: {}", "  back: {}", "volumes:", "  data: {}"]
open(path, "w").write("\n".join(out) + "\n")
PY

python3 - "$work/wide.yaml" <<'PY'
import sys
out = ["name: bench-wide", "services:"]
for s in range(200):
    out += [f"  s{s}:", "    image: busybox:latest", '    command: ["sleep", "3600"]']
    if s >= 10:
        out += [f"    depends_on: [s{s - 10}]"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

measure() { # FILE ROUNDS: medians of up -d, ps and down -t 0
    local ups=() pss=() downs=() want
    want=$(grep -c '^  [a-z0-9]*:$' "$1")
    for _ in $(seq "$2"); do
        ups+=("$(elapsed "$berth" -f "$1" up -d)")
        [ "$("$berth" -f "$1" ps -q --status running | wc -l)" -eq "$want" ] \
            || { echo "up did not start every service of $1" >&2; exit 1; }
        for _ in 1 2 3 4 5; do pss+=("$(elapsed "$berth" -f "$1" ps)"); done
        downs+=("$(elapsed "$berth" -f "$1" down -t 0)")
    done
    echo "$(printf '%s\n' "${ups[@]}" | median) $(printf '%s\n' "${pss[@]}" | median)" \
        "$(printf '%s\n' "${downs[@]}" | median)"
}

read -r one_up one_ps one_down < <(measure "$work/one.yaml" 5)
read -r tree_up tree_ps tree_down < <(measure "$work/tree.yaml" 5)
read -r wide_up wide_ps wide_down < <(measure "$work/wide.yaml" 3)
running=$("$berth" -f "$work/tree.yaml" up -d >/dev/null 2>&1 && "$berth" -f "$work/tree.yaml" ps -q | wc -l)
plain_down=$(elapsed "$berth" -f "$work/tree.yaml" down)

printf '%-58s %12s %12s %12s\n' "median of 5 (3 for c)" "up -d" "ps" "down -t 0"
printf '%-58s %9s ms %9s ms %9s ms\n' "(a) 1 service" "$one_up" "$one_ps" "$one_down"
printf '%-58s %9s ms %9s ms %9s ms\n' "(b) 20 services, 4 levels, 2 networks, volume, 2 ports" \
    "$tree_up" "$tree_ps" "$tree_down"
printf '%-58s %9s ms %9s ms %9s ms\n' "(c) 200 services, 20 levels, 1 network" "$wide_up" "$wide_ps" "$wide_down"
printf '%-58s %12s\n' "(c) up -d over (b) up -d" "$(echo "scale=1; $wide_up / $tree_up" | bc)x"
printf '%-58s %38s\n' "plain down of (b), $running containers ignoring SIGTERM" "$plain_down ms"
