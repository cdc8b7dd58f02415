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
