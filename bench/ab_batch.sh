#!/usr/bin/env bash
# ab_batch.sh [BENCH_ENGINE] [ROUNDS] [BATCH] [MODEL_DIR...]: throughput mode (issue 8's
# target) side by side in one run: per model, batch-1 and batch-BATCH decode on three
# paths: AVX-512 kernels with pre-packed weights (what a throughput sweep runs),
# AVX-512 packing a block of weights per product instead (bench_engine --pack 0), and
# the AVX2 kernels (HS_NO_AVX512=1, pre-packed); the six timed in alternation round by
# round on this shared machine; prints medians of tokens/s and the median of the
# per-round ratios (batch / batch 1 of the same path and round), which cancels the
# machine's drift between rounds. Defaults: build/bench/bench_engine, 5 rounds, batch 32,
# the gpt2 shape in build/bench-gpt2 (made if missing) and the bundled models/kjv-gpt2.
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-5} batch=${3:-32}
shift $(($# < 3 ? $# : 3))
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(build/bench-gpt2 models/kjv-gpt2)
source bench/ab_common.sh
ab_need_engine "$be" ab_batch
for m in "${models[@]}"; do
  ab_need_model "$be" "$m"
done
ab_tmp
tps() { sed 's/.*"decode_tokens_per_s": \([0-9.]*\).*/\1/'; }
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for m in "${models[@]}"; do
    for path in avx512 avx512-nopack avx2; do
      off=0 pack=1
      [ "$path" = avx2 ] && off=1
      [ "$path" = avx512-nopack ] && pack=0
      for b in 1 "$batch"; do
        v=$(HS_NO_AVX512=$off "$be" "$m" --batch "$b" --pack $pack --prompt 32 --new 32 --repeats 1 | tps)
        echo "$r $m $path $b $v" >>"$out"
      done
    done
  done
done
/usr/bin/python3 - "$out" "$batch" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
B = sys.argv[2]
def get(m, p, b):
    return {r[0]: float(r[4]) for r in rows if r[1] == m and r[2] == p and r[3] == b}
print(f"| model | kernels | batch 1 tokens/s | batch {B} tokens/s | batch {B} / batch 1 (median of rounds) |")
print("| --- | --- | --- | --- | --- |")
for m in dict.fromkeys(r[1] for r in rows):
    for p in ("avx512", "avx512-nopack", "avx2"):
        one, many = get(m, p, "1"), get(m, p, B)
        ratio = st.median([many[k] / one[k] for k in one if k in many])
        print(f"| {m} | {p} | {st.median(one.values()):.1f} | {st.median(many.values()):.1f} | {ratio:.2f}x |")
    for q in ("avx512-nopack", "avx2"):
        a, b = get(m, "avx512", B), get(m, q, B)
        print(f"| {m} | avx512 / {q} at batch {B} | | | {st.median([a[k] / b[k] for k in a if k in b]):.2f}x |")
PY
