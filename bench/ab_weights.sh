#!/usr/bin/env bash
# ab_weights.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR] [MODES]: decode of each weight mode
# against its read-bandwidth roofline, token by token. Per round: the 1-minute load
# (uptime), then for each mode, in an order rotated round by round so that no mode always
# runs first, `--prompt 16 --new 32 --repeats 3 --weights W --roofline MiB`: 96 decoded
# tokens, each followed by one read of the probe (one core reading as many bytes as a
# token of that mode reads: the weight matrices and LM head in its storage, scales
# included, from config.json; the 15 ways of reading of `--read-bw --read-streams 0` take
# turns, and the way whose reads were fastest counts). A token's fraction of its limit is
# that read's time over the token's: the two are a microsecond apart, so the memory
# system's drift (other tenants' traffic: one core of the 2026-12-06 AMD EPYC read 25-40
# GB/s from minute to minute) cancels out, where a probe run seconds apart from the decode
# moved the fraction by +-15%; and each read, like each token, starts cold, after a pass
# over other bytes (docs/performance.md, "Decode and its probe token by token"). The
# buffer has the mode's size because a last-level cache that holds part of the weights
# serves a smaller or larger buffer at another rate. Prints per mode the median ms/token, the median probe
# rate, the median over rounds of each round's median fraction (and their range), the
# probe's ways, and the loads.
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
# MiB a token reads in each mode (bench/weight_bytes.py, printed as "mode MiB")
declare -A mb
while read -r w m; do mb[$w]=$m; done < <(/usr/bin/python3 - "$model/config.json" "$modes" <<'PY'
import json, sys
exec(open("bench/weight_bytes.py").read())
for w in sys.argv[2].split():
    print(w, f"{bytes_per_token(json.load(open(sys.argv[1])), w) / (1 << 20):.6f}")
PY
)
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  echo "$r load $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
  n=${#ms[@]}
  for i in $(seq 0 $((n - 1))); do
    w=${ms[$(((i + r) % n))]}
    echo "$r $w $("$be" "$model" --prompt 16 --new 32 --repeats 3 --weights "$w" --roofline "${mb[$w]}")" >>"$out"
  done
done
/usr/bin/python3 - "$out" "$modes" <<'PY'
import json, sys, statistics as st
rows = [l.split(" ", 2) for l in open(sys.argv[1])]
load = [r[2].strip() for r in rows if r[1] == "load"]
print("| weights | MB per token | decode ms/token (median) | probe GB/s (median; ways) | "
      "fraction of the limit (median of rounds, range) | rounds |")
print("| --- | --- | --- | --- | --- | --- |")
for w in sys.argv[2].split():
    d = [json.loads(r[2]) for r in rows if r[1] == w]
    frac = [x["fraction_median"] for x in d]
    ways = sorted({tuple(x["way"]) for x in d})
    ways = "; ".join(f"{k}x{pf}" for k, pf in ways)
    print(f"| {w} | {d[0]['bytes'] / 1e6:.1f} | {st.median(x['decode_ms_per_token'] for x in d):.2f} | "
          f"{st.median(x['probe_gb_s'] for x in d):.1f} ({ways}) | "
          f"{st.median(frac):.0%} ({min(frac):.0%}-{max(frac):.0%}) | {len(d)} |")
print(f"\nways: streams x prefetch bytes; 1-minute load per round: {', '.join(load)}")
ms = sys.argv[2].split()
if "int8" in ms and "w8a8" in ms:
    t = {w: {r[0]: json.loads(r[2])["decode_ms_per_token"] for r in rows if r[1] == w} for w in ("int8", "w8a8")}
    print(f"w8a8/int8 decode time, median of rounds: {st.median(t['w8a8'][k] / t['int8'][k] for k in t['int8']):.3f}")
PY
