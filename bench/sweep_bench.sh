#!/usr/bin/env bash
# sweep_bench.sh: the demo job on 1 and 2 ranks, side by side: wall time, cells per
# minute, generated tokens per second, parallel efficiency, peak RSS per rank (the model
# is mapped shared) and the share of the run spent writing the results file.
#   bench/sweep_bench.sh [JOB] [extra sweep args...]
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-jobs/demo.ini}
shift || true
hs=build/src/cli/headsweep
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
for n in 1 2; do
  start=$EPOCHREALTIME
  mpirun "${flags[@]}" -n "$n" "$hs" sweep "$job" --out "$work/r$n.h5" --progress lines "$@" 2>"$work/r$n.log"
  end=$EPOCHREALTIME
  echo "$n $start $end $(grep -o 'writing results [0-9.]* s, [0-9.]*%' "$work/r$n.log" | tail -n 1)" >>"$work/times"
done
/usr/bin/python3 - "$work" <<'PY'
import h5py, numpy as np, sys, os
w = sys.argv[1]
rows = [l.split() for l in open(os.path.join(w, "times"))]
print("| ranks | wall s | cells/min | generated tokens/s | parallel efficiency | max peak RSS per rank (MB) | writing results |")
print("| --- | --- | --- | --- | --- | --- | --- |")
base = None
for r in rows:
    n, wall = int(r[0]), float(r[2]) - float(r[1])
    with h5py.File(os.path.join(w, f"r{n}.h5"), "r") as f:
        cells = int(np.sum(f["cells/done"][...]))
        toks = float(np.nansum(f["metrics/generated_tokens"][...]))
        rss = float(np.nanmax(f["metrics/peak_rss_bytes"][...])) / 1e6
    tps = toks / wall
    base = base or tps
    eff = tps / (base * n)
    share = " ".join(r[3:]) if len(r) > 3 else "n/a"
    print(f"| {n} | {wall:.1f} | {cells / wall * 60:.1f} | {tps:.1f} | {eff:.2f} | {rss:.0f} | {share} |")
PY
