#!/usr/bin/env bash
# ab_weights.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR] [MODES]: decode of each weight mode
# against its read-bandwidth roofline, measured in the same run. Per round: the 1-minute
# load (uptime), then for each mode, in an order rotated round by round so that no mode
# always runs first, `--prompt 16 --new 32 --repeats 1 --weights W` and the mode's own
# probe: `--read-bw MB --read-streams 0 --repeats 3`, one core reading as many bytes as a
# token of that mode reads (the weight matrices and LM head in its storage, scales
# included, from config.json), every way the engine reads (1 to 16 streams, prefetch 0,
# 1 or 4 KiB ahead), the fastest taken. The buffer has the mode's size because a
# last-level cache that holds part of the weights (480 MiB on the CPU of 2026-12-05)
# serves a smaller or larger buffer at another rate; the fastest way because the engine's
# kernels read as 8 prefetched streams and one stream read half that rate. A mode's limit
# in a round is its bytes over its probe's rate. Prints per mode the median ms/token, the
# median limit and the median of the per-round fractions of the limit, the probes' rates
# and ways, and the loads.
# Defaults: build/bench/bench_engine, 5 rounds, the gpt2 shape in build/bench-gpt2,
# modes "f32 bf16 int8 w8a8".
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-5} model=${3:-build/bench-gpt2} modes=${4:-f32 bf16 int8 w8a8}
source bench/ab_common.sh
ab_need_engine "$be" ab_weights
ab_need_model "$be" "$model"
ab_tmp
read -r -a ms <<<"$modes"
# MB a token reads in each mode (bench/weight_bytes.py, printed as "mode MB")
declare -A mb
while read -r w m; do mb[$w]=$m; done < <(/usr/bin/python3 - "$model/config.json" "$modes" <<'PY'
import json, sys
exec(open("bench/weight_bytes.py").read())
for w in sys.argv[2].split():
    print(w, -(-bytes_per_token(json.load(open(sys.argv[1])), w) // (1 << 20)))
PY
)
# the probe's JSON line -> "GB/s STREAMSxPREFETCH"
probe_fields='s/.*"read_bw_gb_s": \([0-9.]*\), "bytes": [0-9]*, '
probe_fields+='"streams": \([0-9]*\), "prefetch_bytes": \([0-9]*\).*/\1 \2x\3/'
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  echo "$r load $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
  n=${#ms[@]}
  for i in $(seq 0 $((n - 1))); do
    w=${ms[$(((i + r) % n))]}
    echo "$r $w $("$be" "$model" --prompt 16 --new 32 --repeats 1 --weights "$w" |
      sed 's/.*"decode_ms_per_token": \([0-9.]*\).*/\1/')" >>"$out"
    echo "$r bw-$w $("$be" "$model" --read-bw "${mb[$w]}" --repeats 3 --read-streams 0 | sed "$probe_fields")" >>"$out"
  done
done
/usr/bin/python3 - "$out" "$model/config.json" "$modes" <<'PY'
import json, sys, statistics as st
exec(open("bench/weight_bytes.py").read())
rows = [l.split() for l in open(sys.argv[1])]
c = json.load(open(sys.argv[2]))
load = [r[2] for r in rows if r[1] == "load"]
print("| weights | MB per token | decode ms/token (median) | probe GB/s at that size (median; fastest ways) | "
      "limit ms (median) | fraction of the limit (median, range) | rounds |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for w in sys.argv[3].split():
    tok = bytes_per_token(c, w)
    t = {r[0]: float(r[2]) for r in rows if r[1] == w}
    bw = {r[0]: float(r[2]) for r in rows if r[1] == "bw-" + w}
    ways = sorted({r[3] for r in rows if r[1] == "bw-" + w}, key=lambda x: [int(v) for v in x.split("x")])
    ways = "; ".join(f"{x.split('x')[0]} streams, prefetch {x.split('x')[1]} B" for x in ways)
    lim = {k: tok / (bw[k] * 1e9) * 1e3 for k in t}
    frac = [lim[k] / t[k] for k in t]
    print(f"| {w} | {tok / 1e6:.1f} | {st.median(t.values()):.2f} | {st.median(bw.values()):.1f} "
          f"({ways}) | {st.median(lim.values()):.2f} | "
          f"{st.median(frac):.0%} ({min(frac):.0%}-{max(frac):.0%}) | {len(t)} |")
print(f"\n1-minute load per round: {', '.join(load)}")
ms = sys.argv[3].split()
if "int8" in ms and "w8a8" in ms:
    ra = {r[0]: float(r[2]) for r in rows if r[1] == "int8"}
    rb = {r[0]: float(r[2]) for r in rows if r[1] == "w8a8"}
    print(f"w8a8/int8 decode time, median of rounds: {st.median(rb[k] / ra[k] for k in ra):.3f}")
PY
