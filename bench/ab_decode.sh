#!/usr/bin/env bash
# ab_decode.sh OLD_BENCH NEW_BENCH [MODEL_DIR] [ROUNDS] [WEIGHTS]: two builds of bench_engine
# (for example before and after a kernel change: copy build/bench/bench_engine aside, change,
# rebuild) timed in alternation, round by round, on decode in mask 0%, skip 30%, skip 50%
# and skip 70%; prints per configuration the median ms/token of each and the median of the
# per-round new/old ratios, which cancels the machine's drift between rounds, and the
# 1-minute load of each round. WEIGHTS (f32, bf16, int8 or w8a8; default f32) is passed
# as --weights.
set -euo pipefail
old=${1:?old bench_engine} new=${2:?new bench_engine}
model=${3:-build/bench-gpt2} rounds=${4:-8} weights=${5:-f32}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  echo "$r load $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
  for b in old new; do
    bin=$old
    [ "$b" = new ] && bin=$new
    for cfg in "mask 0" "skip 30" "skip 50" "skip 70"; do
      set -- $cfg
      ms=$("$bin" "$model" --gating "$1" --off-pct "$2" --prompt 32 --new 48 --repeats 1 \
        --weights "$weights" |
        sed 's/.*"decode_ms_per_token": \([0-9.]*\).*/\1/')
      echo "$r $b $1$2 $ms" >>"$out"
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
get = lambda b, c: [float(r[3]) for r in rows if r[1] == b and r[2] == c]
print("| decode | old ms/token | new ms/token | new/old (median of rounds) |\n| --- | --- | --- | --- |")
for c in ("mask0", "skip30", "skip50", "skip70"):
    o, n = get("old", c), get("new", c)
    print(f"| {c} | {st.median(o):.2f} | {st.median(n):.2f} | {st.median([b / a for a, b in zip(o, n)]):.3f} |")
print("\n1-minute load per round:", ", ".join(r[2] for r in rows if r[1] == "load"))
PY
