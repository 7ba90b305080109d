#!/usr/bin/env bash
# ab_blas.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR]: the prefill products through OpenBLAS
# (cblas_sgemm, HS_GEMM_BLAS=1) against our own AVX-512 tiles (HS_GEMM_BLAS=0), OpenBLAS in
# its best configuration: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in this script's
# commands, so it picks its kernels itself, unless that choice is clearly slower than a
# core the CPU can run (ab_common.sh's ab_anchor_env; the core it loaded is printed). Per round: the
# gpt2 prefill shapes (bench_engine --sgemm 1: both in one process, call by call, checked
# against float64) and a 128-token prefill (tokens/s) on both routes in alternation; prints
# medians and the median of the per-round ratios. Defaults: build/bench/bench_engine, 5
# rounds, the gpt2 shape in build/bench-gpt2 (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-5} model=${3:-build/bench-gpt2}
source bench/ab_common.sh
ab_need_engine "$be" ab_blas
ab_need_model "$be" "$model"
ab_tmp
ab_anchor_env
best() { "${anchor_env[@]}" "$@"; }
best "$be" "$model" --sgemm 1 --repeats 1 | sed -n 1p >&2
# the fields of one --sgemm line (sed groups): n, K, N; GFLOP/s and largest error of both routes
re_shape='"sgemm_shape": \[\([0-9]*\), \([0-9]*\), \([0-9]*\)\]'
re_gflops='"openblas_gflops": \([0-9.]*\), "headsweep_gflops": \([0-9.]*\)'
re_errs='"openblas_max_rel_err": \([0-9.e+-]*\), "headsweep_max_rel_err": \([0-9.e+-]*\)'
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  best "$be" "$model" --sgemm 1 --repeats 5 |
    sed -n 's/.*'"$re_shape, $re_gflops"'.*'"$re_errs"'.*/\1x\2x\3 \4 \5 \6 \7/p' |
    while read -r shape ob hs eo eh; do
      echo "$r openblas $shape $ob $eo"
      echo "$r own $shape $hs $eh"
    done >>"$out"
  for route in openblas own; do
    on=1
    [ "$route" = own ] && on=0
    v=$(HS_GEMM_BLAS=$on best "$be" "$model" --prompt 128 --new 1 --repeats 3 |
      sed 's/.*"prefill_tokens_per_s": \([0-9.]*\).*/\1/')
    echo "$r $route prefill128 $v 0" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
print("| product | OpenBLAS | ours | ours / OpenBLAS (median of rounds) | largest error vs float64 (OpenBLAS, ours) |")
print("| --- | --- | --- | --- | --- |")
for what in dict.fromkeys(r[2] for r in rows):
    get = lambda p: {r[0]: float(r[3]) for r in rows if r[1] == p and r[2] == what}
    err = lambda p: max(float(r[4]) for r in rows if r[1] == p and r[2] == what)
    a, b = get("openblas"), get("own")
    unit = "tokens/s" if what.startswith("prefill") else "GFLOP/s"
    name = "128-token prefill" if what.startswith("prefill") else f"({what.replace('x', ', ')})"
    ratio = st.median([b[k] / a[k] for k in a if k in b])
    e = "" if what.startswith("prefill") else f"{err('openblas'):.1e}, {err('own'):.1e}"
    print(f"| {name} | {st.median(a.values()):.1f} {unit} | {st.median(b.values()):.1f} {unit} | {ratio:.2f}x | {e} |")
PY
