#!/usr/bin/env bash
# The Docker API service (issue 20), printed as one table, in one run:
#   - `docker run --rm busybox true` (Debian's docker CLI) through berth's socket, median of 20,
#     beside the same through dockerd when it is installed (Debian's docker.io), on a scratch
#     data root of its own; both without a network (this dockerd runs without iptables);
#   - the same with berth's default bridge network;
#   - the service's memory when idle (resident, and its own anonymous memory), after the runs.
# Needs root, hyperfine, busybox-static and Debian's docker.io (tests/setup.sh installs it without
# starting its daemon). Everything is made in a scratch directory and removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
setup busybox:latest
docker=/usr/bin/docker
[ -x "$docker" ] || { echo "bench/api.sh needs Debian's docker CLI ($docker)" >&2; exit 1; }

"$berth" system service --socket "$work/berth.sock" 2>"$work/service.log" &
service=$!
dockerd_pid=
stop_all() {
    kill "$service" 2>/dev/null || true
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
        grep " $work/docker" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    fi
    cleanup
}
trap stop_all EXIT
for _ in $(seq 100); do [ -S "$work/berth.sock" ] && break; sleep 0.05; done

hyperfine_median() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['results'][0]['median']*1000, 1))" "$1"; }
time_run() { # SOCKET NAME EXTRA...
    local sock=$1 name=$2; shift 2
    DOCKER_HOST=unix://$sock hyperfine -N --warmup 3 --runs 20 --export-json "$work/$name.json" \
        "$docker run --rm $* busybox:latest true" >/dev/null
    hyperfine_median "$work/$name.json"
}

berth_none=$(time_run "$work/berth.sock" berth-none --network none)
berth_bridge=$(time_run "$work/berth.sock" berth-bridge)

docker_none=n/a
if command -v dockerd >/dev/null; then
    mkdir -p "$work/docker"
    dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" -H "unix://$work/docker/docker.sock" \
        --pidfile "$work/docker/docker.pid" --iptables=false --ip6tables=false --bridge=none --ip-forward=false \
        --ip-masq=false >"$work/docker/log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 200); do DOCKER_HOST=unix://$work/docker/docker.sock "$docker" version >/dev/null 2>&1 && break; sleep 0.1; done
    "$berth" save busybox:latest -o "$work/busybox.tar"
    DOCKER_HOST=unix://$work/docker/docker.sock "$docker" load -i "$work/busybox.tar" >/dev/null
    docker_none=$(time_run "$work/docker/docker.sock" docker-none --network none)
fi

sleep 2
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$service/status")
# Resident memory counts the binary's code the service has run (clean, shared with every
# berth process, dropped by the kernel at need); its own memory is the anonymous part.
anon_kb=$(awk '/^Anonymous/ {print $2}' "/proc/$service/smaps_rollup")

ratio=n/a
[ "$docker_none" != n/a ] && ratio=$(echo "scale=1; $docker_none / $berth_none" | bc)
printf '%-62s %12s\n' "what" "measured"
printf '%-62s %12s\n' "docker run --rm busybox true, berth's socket, no network (ms)" "$berth_none"
printf '%-62s %12s\n' "docker run --rm busybox true, dockerd 20.10, no network (ms)" "$docker_none"
printf '%-62s %12s\n' "  berth faster by" "${ratio}x"
printf '%-62s %12s\n' "docker run --rm busybox true, berth's socket, bridge (ms)" "$berth_bridge"
printf '%-62s %12s\n' "the service idle: resident (kB)" "$rss_kb"
printf '%-62s %12s\n' "the service idle: its own (anonymous) memory (kB)" "$anon_kb"
