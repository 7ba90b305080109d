#!/usr/bin/env bash
# ab_huge.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR]: weights on 2 MB transparent huge pages
# (bench_engine --huge-pages 1, what `huge_pages = true` in a job does) against the
# shared 4 KB-page file mapping, side by side in one run: per round, batch-1 decode in
# f32 and bf16 and the read bandwidth of a 512 MB buffer, each with and without huge
# pages in alternation; prints the medians and the median of the per-round ratios
# (which cancels the machine's drift between rounds). Defaults: build/bench/bench_engine,
# 7 rounds, the gpt2 shape in build/bench-gpt2 (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-7} model=${3:-build/bench-gpt2}
source bench/ab_common.sh
ab_need_engine "$be" ab_huge
ab_need_model "$be" "$model"
ab_tmp
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for huge in 0 1; do
    for w in f32 bf16; do
      v=$("$be" "$model" --weights "$w" --prompt 32 --new 48 --repeats 1 --huge-pages "$huge" 2>/dev/null |
        sed 's/.*"decode_ms_per_token": \([0-9.]*\).*/\1/')
      echo "$r $huge decode_$w $v" >>"$out"
    done
    v=$("$be" "$model" --read-bw 512 --repeats 3 --huge-pages "$huge" 2>/dev/null |
      sed 's/.*"read_bw_gb_s": \([0-9.]*\).*/\1/')
    echo "$r $huge read_bw $v" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
print("| measure | 4 KB pages (shared mapping) | 2 MB huge pages (private copy) | huge / 4 KB (median of rounds) |")
print("| --- | --- | --- | --- |")
for what, unit in (("decode_f32", "ms/token"), ("decode_bf16", "ms/token"), ("read_bw", "GB/s")):
    get = lambda h: {r[0]: float(r[3]) for r in rows if r[1] == h and r[2] == what}
    a, b = get("0"), get("1")
    ratio = st.median([b[k] / a[k] for k in a if k in b])
    print(f"| {what.replace('_', ' ')} | {st.median(a.values()):.2f} {unit} "
          f"| {st.median(b.values()):.2f} {unit} | {ratio:.3f} |")
PY
