#!/usr/bin/env bash
# ab_prefill.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR]: the prefill product (hs_k_gemm) with
# its AVX-512 tile against the AVX2 one (HS_NO_AVX512=1), side by side in one run: per
# round, the gpt2 prefill shapes (bench_engine --sgemm 1, GFLOP/s) and a 128-token
# prefill (tokens/s) on both paths in alternation; prints medians and the median of the
# per-round ratios. Both paths give the same bits (test_avx512_same_bits). Defaults:
# build/bench/bench_engine, 5 rounds, the gpt2 shape in build/bench-gpt2 (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-5} model=${3:-build/bench-gpt2}
source bench/ab_common.sh
ab_need_engine "$be" ab_prefill
ab_need_model "$be" "$model"
ab_tmp
# n, K, N of one --sgemm line (sed groups 1-3)
re_shape='"sgemm_shape": \[\([0-9]*\), \([0-9]*\), \([0-9]*\)\]'
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for path in avx512 avx2; do
    off=0
    [ "$path" = avx2 ] && off=1
    HS_NO_AVX512=$off "$be" "$model" --sgemm 1 --repeats 3 |
      sed -n 's/.*'"$re_shape"'.*"headsweep_gflops": \([0-9.]*\).*/\1x\2x\3 \4/p' |
      while read -r shape v; do echo "$r $path $shape $v"; done >>"$out"
    v=$(HS_NO_AVX512=$off "$be" "$model" --prompt 128 --new 1 --repeats 3 |
      sed 's/.*"prefill_tokens_per_s": \([0-9.]*\).*/\1/')
    echo "$r $path prefill128 $v" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
print("| product | AVX-512 | AVX2 (`HS_NO_AVX512=1`) | AVX-512 / AVX2 (median of rounds) |")
print("| --- | --- | --- | --- |")
for what in dict.fromkeys(r[2] for r in rows):
    get = lambda p: {r[0]: float(r[3]) for r in rows if r[1] == p and r[2] == what}
    a, b = get("avx512"), get("avx2")
    unit = "tokens/s" if what.startswith("prefill") else "GFLOP/s"
    name = "128-token prefill" if what.startswith("prefill") else f"({what.replace('x', ', ')})"
    ratio = st.median([a[k] / b[k] for k in a if k in b])
    print(f"| {name} | {st.median(a.values()):.1f} {unit} | {st.median(b.values()):.1f} {unit} | {ratio:.2f}x |")
PY
