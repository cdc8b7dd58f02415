#!/usr/bin/env bash
# Network benchmarks (issue 5), printed as one table:
#   - `berth network create` as a whole process (bridge, address, firewall table), median of 50;
#   - attaching a running container to a network (`network connect`: veth pair, address, route,
#     DNS record, firewall), as a whole process, median of 50;
#   - DNS answer latency seen from inside a container's network namespace: 1,000 A queries for
#     another container's name, one at a time, median.
# Needs root, busybox-static, python3 and util-linux's nsenter. State goes to a scratch BERTH_ROOT
# that is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
setup bench/busybox:1

creates=()
for i in $(seq 50); do
    creates+=("$(elapsed "$berth" network create "bench$i")")
    "$berth" network rm "bench$i" >/dev/null
done
create_ms=$(printf '%s\n' "${creates[@]}" | median)

"$berth" network create front >/dev/null
"$berth" network create back >/dev/null
"$berth" run -d --name server --network front bench/busybox:1 sleep 1000 >/dev/null
"$berth" run -d --name client --network front bench/busybox:1 sleep 1000 >/dev/null
attaches=()
works=()
for _ in $(seq 50); do
    start=$(date +%s%N)
    log=$(BERTH_LOG=berth_engine=debug "$berth" network connect back server 2>&1)
    end=$(date +%s%N)
    attaches+=("$(echo "scale=2; ($end - $start) / 1000000" | bc)")
    # The engine's own figure, without the process start: "connected ... micros=N".
    works+=("$(echo "$log" | sed -n 's/.*micros=\([0-9]*\).*/\1/p' | awk '{printf "%.2f", $1 / 1000}')")
    "$berth" network disconnect back server >/dev/null
done
attach_ms=$(printf '%s\n' "${attaches[@]}" | median)
work_ms=$(printf '%s\n' "${works[@]}" | median)

id=$("$berth" inspect client | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
gateway=$("$berth" network inspect front | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Gateway"])')
dns_ms=$(nsenter --net="$BERTH_ROOT/containers/$id/netns" python3 - "$gateway" <<'PY'
import socket, struct, sys, time
server = (sys.argv[1], 53)
name = b"".join(bytes([len(p)]) + p for p in b"server".split(b".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
times = []
for i in range(1000):
    query = struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
    start = time.perf_counter()
    s.sendto(query, server)
    reply = s.recv(512)
    times.append(time.perf_counter() - start)
    assert reply[:2] == query[:2] and struct.unpack(">H", reply[6:8])[0] == 1, "one answer"
times.sort()
print(f"{times[len(times) // 2] * 1000:.3f}")
PY
)

printf '%-64s %s\n' "measure" "value"
printf '%-64s %s\n' "berth network create, whole process (median of 50)" "${create_ms} ms"
printf '%-64s %s\n' "attach a running container (veth, address, route, DNS record)" "${work_ms} ms"
printf '%-64s %s\n' "  the same as a whole process, berth network connect" "${attach_ms} ms"
printf '%-64s %s\n' "DNS answer from inside a container (median of 1,000)" "${dns_ms} ms"
