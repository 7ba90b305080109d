#!/usr/bin/env bash
# ab_weights.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR] [MODES]: decode of each weight mode
# against its read-bandwidth roofline, measured in the same run. Per round: the 1-minute
# load (uptime), one core's read bandwidth (`--read-bw 256 --repeats 3`, one stream as
# the docs' rooflines use, and `--read-streams 4`, four side by side as the W8A8 batch-1
# kernel reads), then `--prompt 16 --new 32 --repeats 1 --weights W` for each mode, the order rotated round by round so
# that no mode always runs first. A mode's limit in a round is the bytes a token reads
# (the weight matrices and LM head in that mode's storage, scales included, from
# config.json) over that round's bandwidth. Prints per mode the median ms/token, the
# median limit and the median of the per-round fractions of the limit (against each
# probe), and the loads.
# Defaults: build/bench/bench_engine, 5 rounds, the gpt2 shape in build/bench-gpt2,
# modes "int8 w8a8".
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-5} model=${3:-build/bench-gpt2} modes=${4:-int8 w8a8}
source bench/ab_common.sh
ab_need_engine "$be" ab_weights
ab_need_model "$be" "$model"
ab_tmp
read -r -a ms <<<"$modes"
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  echo "$r load $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
  for st in 1 4; do
    echo "$r bw$st $("$be" "$model" --read-bw 256 --repeats 3 --read-streams $st |
      sed 's/.*"read_bw_gb_s": \([0-9.]*\).*/\1/')" >>"$out"
  done
  n=${#ms[@]}
  for i in $(seq 0 $((n - 1))); do
    w=${ms[$(((i + r) % n))]}
    echo "$r $w $("$be" "$model" --prompt 16 --new 32 --repeats 1 --weights "$w" |
      sed 's/.*"decode_ms_per_token": \([0-9.]*\).*/\1/')" >>"$out"
  done
done
/usr/bin/python3 - "$out" "$model/config.json" "$modes" <<'PY'
import json, sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
c = json.load(open(sys.argv[2]))
C, L, V = c["n_embd"], c["n_layer"], c["vocab_size"]
F = c.get("n_inner") or 4 * C
vals = L * (3 * C * C + C * C + 2 * C * F) + V * C
# scales: int8 one per stored row, w8a8 one per output column (and its LM head's groups padded to 64)
tok = {"f32": 4 * vals, "bf16": 2 * vals, "int8": vals + 4 * (L * (3 * C + F) + V),
       "w8a8": vals + 4 * (L * (3 * C + C + F + C) + V) + ((V + 63) // 64 * 64 - V) * C}
bw = {r[0]: float(r[2]) for r in rows if r[1] == "bw1"}
bw4 = {r[0]: float(r[2]) for r in rows if r[1] == "bw4"}
load = [r[2] for r in rows if r[1] == "load"]
print("| weights | MB per token | decode ms/token (median) | limit ms, 1 stream (median) | fraction of the limit, "
      "1 stream | fraction, 4 streams | rounds |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for w in sys.argv[3].split():
    t = {r[0]: float(r[2]) for r in rows if r[1] == w}
    lim = {k: tok[w] / (bw[k] * 1e9) * 1e3 for k in t}
    frac = [lim[k] / t[k] for k in t]
    frac4 = [tok[w] / (bw4[k] * 1e9) * 1e3 / t[k] for k in t]
    print(f"| {w} | {tok[w] / 1e6:.1f} | {st.median(t.values()):.2f} | {st.median(lim.values()):.2f} | "
          f"{st.median(frac):.0%} ({min(frac):.0%}-{max(frac):.0%}) | "
          f"{st.median(frac4):.0%} ({min(frac4):.0%}-{max(frac4):.0%}) | {len(t)} |")
for name, b in (("1 stream", bw), ("4 streams", bw4)):
    print(f"\nread bandwidth GB/s per round, {name}: {', '.join(f'{b[k]:.1f}' for k in sorted(b, key=int))}; "
          f"median {st.median(b.values()):.1f}")
print(f"1-minute load per round: {', '.join(load)}")
for a, b in (("int8", "w8a8"),):
    if a in sys.argv[3].split() and b in sys.argv[3].split():
        ra = {r[0]: float(r[2]) for r in rows if r[1] == a}
        rb = {r[0]: float(r[2]) for r in rows if r[1] == b}
        print(f"{b}/{a} decode time, median of rounds: {st.median(rb[k] / ra[k] for k in ra):.3f}")
PY
