#!/usr/bin/env bash
# Container benchmarks (issue 4), printed as one table:
#   - `berth run --rm busybox true` as a whole process, median of 20 (and a bare runtime, runc,
#     on the same root file system, as the floor);
#   - restart work: from a crash to the restarted process running, less the back-off;
#   - private memory (Private_Clean + Private_Dirty) of an idle shim with 20 containers running.
# Needs root, hyperfine, busybox-static and runc (Debian packages). State goes to a scratch
# BERTH_ROOT that is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
setup bench/busybox:1

hyperfine_median() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['results'][0]['median']*1000, 1))" "$1"; }

hyperfine -N --warmup 3 --runs 20 --export-json "$work/run.json" "$berth run --rm bench/busybox:1 true" >/dev/null
run_ms=$(hyperfine_median "$work/run.json")

runc_ms=n/a
if command -v runc >/dev/null; then
    mkdir -p "$work/bundle" && cp -a "$work/rootfs" "$work/bundle/rootfs"
    (cd "$work/bundle" && runc spec)
    python3 - "$work/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["terminal"] = False; c["process"]["args"] = ["true"]
json.dump(c, open(sys.argv[1], "w"))
PY
    hyperfine -N --warmup 3 --runs 20 --export-json "$work/runc.json" "runc --root $work/runc-state run -b $work/bundle bench-floor" >/dev/null
    runc_ms=$(hyperfine_median "$work/runc.json")
fi

# Restart work: a container that exits at once under `restart: always`; the shim logs each exit
# and start; the gap minus the back-off (100 ms doubling) is berth's own work.
id=$("$berth" run -d --restart always bench/busybox:1 sh -c 'exit 1')
sleep 2.5
cp "$work/root/containers/$id/shim.log" "$work/restart.log"
"$berth" rm -f "$id" >/dev/null
restart_ms=$(python3 - "$work/restart.log" 2>/dev/null <<'PY' || echo n/a
import re, sys, datetime
times = []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)\s+INFO .*?(started|exited)", line)
    if m:
        t = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        times.append((m.group(2), t))
gaps = []
n = 0
for (a, ta), (b, tb) in zip(times, times[1:]):
    if a == "exited" and b == "started":
        gaps.append((tb - ta).total_seconds() * 1000 - 100 * 2 ** n)
        n += 1
gaps.sort()
print(round(gaps[len(gaps) // 2], 1) if gaps else "n/a")
PY
)

for _ in $(seq 20); do "$berth" run -d bench/busybox:1 sleep 1000 >/dev/null; done
sleep 1
shim_kb=$(python3 - "$work/root/containers" <<'PY'
import glob, json, sys
sizes = []
for state in glob.glob(sys.argv[1] + "/*/state.json"):
    pid = json.load(open(state)).get("shim_pid")
    if not pid:
        continue
    kb = 0
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if line.startswith(("Private_Clean", "Private_Dirty")):
            kb += int(line.split()[1])
    sizes.append(kb)
sizes.sort()
print(f"{sizes[len(sizes) // 2]} kB (max {sizes[-1]} kB, {len(sizes)} shims)")
PY
)

printf '%-62s %s\n' "measure" "value"
printf '%-62s %s\n' "berth run --rm busybox true (median of 20)" "${run_ms} ms"
printf '%-62s %s\n' "runc run, same rootfs, no image/overlay/shim (floor)" "${runc_ms} ms"
printf '%-62s %s\n' "restart work after a crash, beyond the back-off (median)" "${restart_ms} ms"
printf '%-62s %s\n' "private memory of an idle shim, 20 containers running (median)" "$shim_kb"
