#!/usr/bin/env bash
# sweep_bench.sh: one job under several (ranks x threads per rank, mode) configurations,
# side by side: wall time, cells per minute, generated tokens per second (and per core),
# scaling against the first configuration, peak RSS per rank (the model is mapped shared)
# and the share of the run spent writing the results file; then checks that every
# configuration produced the same quality numbers.
#   bench/sweep_bench.sh [JOB] [extra sweep args...]
#   CONFIGS="1x1:latency 2x1:latency 1x2:latency 1x1:throughput 2x1:throughput" bench/sweep_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-jobs/demo.ini}
shift || true
configs=${CONFIGS:-1x1:latency 2x1:latency 1x2:latency 1x1:throughput 2x1:throughput 1x2:throughput}
hs=build/src/cli/headsweep
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
i=0
for c in $configs; do
  ranks=${c%%x*} rest=${c#*x}
  threads=${rest%%:*} mode=${rest#*:}
  i=$((i + 1))
  echo "config $i: $ranks ranks x $threads threads, $mode" >&2
  start=$EPOCHREALTIME
  OMP_PROC_BIND=false mpirun "${flags[@]}" --bind-to none -n "$ranks" "$hs" sweep "$job" --out "$work/c$i.h5" \
    --progress lines --set job.threads="$threads" --set job.mode="$mode" "$@" 2>"$work/c$i.log"
  end=$EPOCHREALTIME
  echo "$i $ranks $threads $mode $start $end" \
    "$(grep -o 'writing results [0-9.]* s, [0-9.]*%' "$work/c$i.log" | tail -n 1)" >>"$work/times"
done
/usr/bin/python3 - "$work" <<'PY'
import h5py, numpy as np, sys, os
w = sys.argv[1]
rows = [l.split() for l in open(os.path.join(w, "times"))]
print("| ranks x threads | mode | wall s | cells/min | generated tokens/s | per core | vs first row "
      "| max peak RSS per rank (MB) | writing results |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
base, ref = None, None
for r in rows:
    i, ranks, threads, mode = int(r[0]), int(r[1]), int(r[2]), r[3]
    wall = float(r[5]) - float(r[4])
    with h5py.File(os.path.join(w, f"c{i}.h5"), "r") as f:
        cells = int(np.sum(f["cells/done"][...]))
        toks = float(np.nansum(f["metrics/generated_tokens"][...]))
        rss = float(np.nanmax(f["metrics/peak_rss_bytes"][...])) / 1e6
        q = {n: d[...] for n, d in f["metrics"].items() if d.attrs["timing"] == 0}
        q["ids"] = f["text/generated_ids"][...]
    if ref is None:
        ref = q
    same = all(np.array_equal(ref[k], q[k], equal_nan=True) for k in ref)
    tps = toks / wall
    base = base or tps
    share = " ".join(r[6:]) if len(r) > 6 else "n/a"
    print(f"| {ranks} x {threads} | {mode} | {wall:.1f} | {cells / wall * 60:.1f} | {tps:.1f} | "
          f"{tps / (ranks * threads):.1f} | {tps / base:.2f}x | {rss:.0f} | {share} |"
          + ("" if same else " QUALITY DIFFERS"))
    if not same:
        sys.exit(f"configuration {i}: quality numbers differ from the first configuration")
print("\nQuality numbers (every metric with timing = 0, and the generated tokens) are identical "
      "in every configuration.")
PY
