#!/usr/bin/env bash
# The deterministic guard (docs/BENCHMARKS.md, "Instruction counts"): instructions per join
# cycle and per fan-out event, counted by valgrind's callgrind on the in-process scenarios
# (g) `cycles` and (f) `fanout`, each at two sizes; the difference removes start-up and
# set-up (the server, the roster), so what remains is the cost of the extra work alone.
# Instruction counts do not depend on the machine's load. Usage:
#   cargo build --release -p ucwa-bench && crates/ucwa-bench/callgrind.sh [path/to/ucwa-bench] [rosters]
set -euo pipefail
bench=${1:-target/release/ucwa-bench}
rosters=${2:-10,100,1000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Runs the benchmark under callgrind; prints the instructions it executed. Its own output
# goes to $out/last.
count() {
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bench" "$@" >"$out/last" 2>"$out/valgrind"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/valgrind"
}

a=$(count cycles --cycles 20)
b=$(count cycles --cycles 60)
echo "instructions per join cycle (cycles 60 - cycles 20, / 40): $(((b - a) / 40))"

for roster in ${rosters//,/ }; do
    a=$(count fanout --rosters "$roster" --probes 2)
    ea=$(awk -v r="$roster" '$1 == r { print $3 }' "$out/last")
    b=$(count fanout --rosters "$roster" --probes 4)
    eb=$(awk -v r="$roster" '$1 == r { print $3 }' "$out/last")
    echo "instructions per fan-out event at roster $roster (probes 4 - probes 2: $((eb - ea)) events): $(((b - a) / (eb - ea)))"
done
