#!/usr/bin/env bash
# Time `berth config` as a whole process (start, load, validate, print) on a 50-service stack
# shaped like a real microservice project: gateways, APIs, workers, databases and caches on
# three networks, with healthcheck-gated dependencies, volumes, env files and extends.
# Uses hyperfine when installed (apt-get install hyperfine), else a plain timing loop.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-30}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
berth="$root/target/release/berth"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 - "$dir" <<'PY'
import sys, os
d = sys.argv[1]
open(os.path.join(d, ".env"), "w").write("TAG=2.4.1\nREGISTRY=registry.example.internal\n")
open(os.path.join(d, "common.env"), "w").write("LOG_FORMAT=json\nOTEL_EXPORTER=http://otel:4318\n")
out = ["name: fifty", "x-service: &service", "  restart: unless-stopped", "  env_file: [common.env]",
       "  logging:", "    driver: json-file", "    options: {max-size: 10m, max-file: '3'}", "services:"]
for i in range(10):
    out += [f"  db{i}:", "    image: postgres:16", f"    volumes: ['db{i}:/var/lib/postgresql/data']",
            "    environment: {POSTGRES_PASSWORD: example}", "    networks: [back]",
            "    healthcheck: {test: [CMD-SHELL, pg_isready], interval: 5s, timeout: 3s, retries: 10}"]
for i in range(10):
    out += [f"  cache{i}:", "    image: redis:7", "    networks: [back]", "    command: redis-server --save ''"]
for i in range(20):
    out += [f"  api{i}:", "    <<: *service", f"    image: ${{REGISTRY}}/api{i}:${{TAG}}",
            f"    ports: ['{9000+i}:8080']", "    networks: [front, back]",
            "    depends_on:", f"      db{i%10}: {{condition: service_healthy}}", f"      cache{i%10}: {{condition: service_started}}",
            "    environment:", f"      - DATABASE_URL=postgres://db{i%10}/app", f"      - REDIS_URL=redis://cache{i%10}",
            "    healthcheck: {test: [CMD, wget, -qO-, 'http://localhost:8080/health'], interval: 10s}",
            "    deploy: {resources: {limits: {cpus: '0.5', memory: 256M}}}"]
for i in range(8):
    out += [f"  worker{i}:", "    <<: *service", f"    image: ${{REGISTRY}}/worker:${{TAG}}", f"    command: worker --queue q{i}",
            "    networks: [back]", f"    depends_on: [api{i}]"]
for i in range(2):
    out += [f"  gateway{i}:", "    image: nginx:1.27", f"    ports: ['{80+i}:80', '{443+i}:443']", "    networks: [edge, front]",
            "    volumes: ['./nginx.conf:/etc/nginx/nginx.conf:ro']", "    depends_on: {api0: {condition: service_healthy}}"]
out += ["networks:", "  edge: {}", "  front: {}", "  back: {internal: true}", "volumes:"]
out += [f"  db{i}: {{}}" for i in range(10)]
open(os.path.join(d, "compose.yaml"), "w").write("\n".join(out) + "\n")
PY

count=$("$berth" --project-directory "$dir" -f "$dir/compose.yaml" config --services | wc -l)
echo "berth config on a $count-service stack ($runs runs)"
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 3 --runs "$runs" -N "$berth -f $dir/compose.yaml config -o /dev/null"
else
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$berth" -f "$dir/compose.yaml" config -o /dev/null; done
    end=$(date +%s%N)
    echo "mean: $(( (end - start) / runs / 1000 )) µs per run"
fi
