#!/usr/bin/env bash
# write_bench.sh: the results file at scale, with the real writer. A study of PROMPTS
# prompts x 3 variants x LEVELS levels on the tiny random model (compute is negligible):
# how long creating the file takes, its size, and the time rank 0 spends writing each
# cell (hyperslab writes + flush + fsync), from a slice of the cells (--cells 1/SLICE).
#   bench/write_bench.sh [PROMPTS=100000] [LEVELS=10] [SHARDS=1000] [SLICE=200]
set -euo pipefail
cd "$(dirname "$0")/.."
prompts=${1:-100000} levels=${2:-10} shards=${3:-1000} slice=${4:-200}
hs=$PWD/build/src/cli/headsweep
work=$(mktemp -d ${HS_BENCH_DIR:-/tmp}/hs-write-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$hs" mkmodel --shape tiny --seed 1 --out model 2>/dev/null
/usr/bin/python3 - "$prompts" <<'PY'
import json, sys
n = int(sys.argv[1])
with open("p.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": f"p{i}", "prompt": f"in the beginning {i % 97} was",
                            "reference": " the word"}) + "\n")
PY
lv=$(/usr/bin/python3 -c "print(', '.join(str(round(70 * i / max(1, $levels - 1))) for i in range($levels)))")
cat >w.ini <<INI
[job]
model = model
prompts = p.jsonl
shards = $shards
[generation]
max_new_tokens = 8
[pruning]
strategy = magnitude
levels = $lv
INI
trap 'cat "$work"/*.log >&2 2>/dev/null; rm -rf "$work"' EXIT
ncells=$((3 * levels * shards))
t0=$EPOCHREALTIME
# part N+1 of N+1 holds no cell: this run only creates the file (and computes nothing)
"$hs" sweep w.ini --out w.h5 --cells $((ncells + 1))/$((ncells + 1)) --progress lines 2>create.log
t1=$EPOCHREALTIME
"$hs" sweep w.ini --out w.h5 --cells 1/"$slice" --progress lines 2>run.log
t2=$EPOCHREALTIME
cells=$(grep -o '[0-9]* in this run' run.log | tail -n 1 | cut -d' ' -f1)
wr=$(grep -o 'writing results [0-9.]* s' run.log | tail -n 1 | cut -d' ' -f3)
size=$(stat -c %s w.h5)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$prompts" "$levels" "$shards" "$t0" "$t1" "$t2" "$cells" "$wr" "$size" <<'PY'
import sys
p, l, s, t0, t1, t2, cells, wr, size = sys.argv[1:]
p, l, s, cells = int(p), int(l), int(s), int(cells)
t0, t1, t2, wr, size = float(t0), float(t1), float(t2), float(wr), int(size)
print(f"| prompts | variants x levels | shards (prompts per cell) | file size | create s | cells written "
      "| write s per cell | ms per prompt written |")
print(f"| --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| {p} | 3 x {l} | {s} ({p // s}) | {size / 1e6:.0f} MB | {t1 - t0:.1f} | {cells} | {wr / cells:.4f} "
      f"| {1000 * wr / cells / (p // s):.3f} |")
PY
