#!/usr/bin/env bash
# Pull benchmark: a generated image of about 200 MB in 20 layers, served by a real
# docker-registry on loopback. Compares `berth pull` (download, verify, unpack into snapshots)
# with skopeo copying the same image to a directory plus `tar -x` of every layer, and times a
# second pull of an image already present.
# Needs docker-registry, skopeo and hyperfine (apt-get install docker-registry skopeo hyperfine).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
layers=${LAYERS:-20}
layer_mb=${LAYER_MB:-10}
runs=${RUNS:-5}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
berth="$root/target/release/berth"
work=$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)
registry_pid=
cleanup() {
    # Under `set -e` a failing `wait` (the registry dies of the signal) would end the trap early.
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

echo "generating $layers layers of ${layer_mb} MB (half random, half text, gzip)..."
python3 - "$work/layout" "$layers" "$layer_mb" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(f"{out}/blobs/sha256")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
diff_ids, descs = [], []
for i in range(n):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for j in range(8):
            half = mb * 1024 * 1024 // 16
            data = os.urandom(half) + (f"layer {i} file {j} line\n" * (half // 24)).encode()[:half]
            info = tarfile.TarInfo(f"layer{i}/file{j}"); info.size = len(data); info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    tar = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    d, s = blob(gzip.compress(tar, compresslevel=1))
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cd, cs = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": descs}).encode()
md, ms = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
    "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/layout:latest" "docker://127.0.0.1:$port/bench/big:1"
size=$(du -sm "$work/layout/blobs" | cut -f1)
image="127.0.0.1:$port/bench/big:1"
echo "image: $image, ${size} MB compressed in $layers layers"

cat > "$work/skopeo-extract.sh" <<SH
set -e
rm -rf $work/sk && mkdir -p $work/sk/fs
skopeo --insecure-policy copy -q --src-tls-verify=false docker://$image dir:$work/sk/dir
for l in \$(python3 -c "import json; print(' '.join(x['digest'].split(':')[1] for x in json.load(open('$work/sk/dir/manifest.json'))['layers']))"); do
    tar -xzf $work/sk/dir/\$l -C $work/sk/fs
done
SH
hyperfine --runs "$runs" --export-markdown "$work/first.md" \
    --prepare "rm -rf $work/berth-root $work/sk" \
    -n "berth pull (fresh store)" "BERTH_ROOT=$work/berth-root $berth pull -q $image" \
    -n "skopeo copy + tar -x" "bash $work/skopeo-extract.sh"
BERTH_ROOT=$work/berth-root "$berth" pull -q "$image" >/dev/null
hyperfine --runs 20 --warmup 2 -N -n "berth pull (image present)" "env BERTH_ROOT=$work/berth-root $berth pull -q $image"
