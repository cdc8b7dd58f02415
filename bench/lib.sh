# Shared by the bench scripts (sourced): timing one run of a command, and medians.

# Milliseconds one run of a command takes (its output discarded), to 0.01 ms.
elapsed() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    echo "scale=2; ($end - $start) / 1000000" | bc
}

# The median of the numbers on standard input, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Builds berth (release), makes a scratch state directory for this run (BERTH_ROOT, removed on
# exit with every container, network and volume left in it) and imports the offline busybox
# image under the name $1. Sets `berth` and `work`; needs `root` (the checkout).
setup() {
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    berth="$root/target/release/berth"
    work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
    export BERTH_ROOT="$work/root"
    trap cleanup EXIT
    "$root/examples/busybox-rootfs.sh" "$work/rootfs" >/dev/null
    "$berth" import "$work/rootfs.tar" "$1" >/dev/null
}

cleanup() {
    local ids
    ids=$("$berth" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && "$berth" rm -f $ids >/dev/null 2>&1
    "$berth" network prune -f >/dev/null 2>&1 || true
    "$berth" volume prune -f >/dev/null 2>&1 || true
    rm -rf "$work"
}
