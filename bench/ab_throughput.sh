#!/usr/bin/env bash
# ab_throughput.sh [BENCH_THROUGHPUT] [ROUNDS] [MODEL_DIR[:PROMPTS]...]: headsweep's throughput
# mode against what a researcher would write instead, PyTorch batched generation
# (bench/torch_batched.py: left padding, attention mask, batch KV cache, head mask), side
# by side (issue 22). The demo study's work per prompt: 32 greedy tokens and the reference's
# teacher-forced NLL, half of the heads switched off (a seeded sample, zero-ablated, mask
# mode: every head computed), prompts a seeded sample of jobs/prompts/kjv_heldout.jsonl.
# Per round and model, at batch 16 and 32, PyTorch and bench_throughput in alternation (who
# goes first turns each round); both on 1 thread per process, so prompts per second are per
# core. PyTorch runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in its own command
# (OpenBLAS's own kernel choice, or the core ab_common.sh's ab_anchor_env found clearly
# faster where that choice is an old fallback; named in the output), headsweep with the machine's
# environment. Prints medians of prompts per CPU second and per wall second, the median of
# the per-round ratios headsweep / PyTorch, and how PyTorch's tokens and NLLs agree with
# headsweep's. Defaults: build/bench/bench_throughput, 3 rounds, build/bench-gpt2:32 (the
# gpt2 shape, made if missing) and models/kjv-gpt2:64.
# headsweep's prefill products take OpenBLAS when it loads AVX-512 kernels, else our tiles
# on the pre-packed weights (src/model/matmul.c); each run names its route. HS_ROUTES
# (default "default") lists the routes to time, each its own contender in the rotation:
# default (the environment's choice), tiles (HS_GEMM_BLAS=0), openblas (HS_GEMM_BLAS=1), and
# old: HS_OLD_BT (another build's bench_throughput, e.g. main before a change) on its
# default route, for old-against-new ratios in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
bt=${1:-build/bench/bench_throughput} rounds=${2:-3}
shift $(($# < 2 ? $# : 2))
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(build/bench-gpt2:32 models/kjv-gpt2:64)
prompts=jobs/prompts/kjv_heldout.jsonl new=32
source bench/ab_common.sh
ab_need_engine "$bt" ab_throughput
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "ab_throughput: needs Debian's PyTorch: apt-get install python3-torch" >&2; exit 2; }
ab_tmp
work=$(mktemp -d)
trap 'rm -rf "$out" "$work"' EXIT
# half of the model's heads, a seeded sample, as "L.H,..."
half_heads() {
  /usr/bin/python3 -c 'import json, random, sys
c = json.load(open(sys.argv[1] + "/config.json")); L, H = c["n_layer"], c["n_head"]
print(",".join(f"{i // H}.{i % H}" for i in sorted(random.Random(1).sample(range(L * H), L * H // 2))))' "$1"
}
echo "uptime before: $(uptime)"
declare -A heads n
for s in "${specs[@]}"; do
  m=${s%%:*}
  n[$m]=64
  [ "$s" = "$m" ] || n[$m]=${s#*:}
  ab_need_model "$bt" "$m"
  heads[$m]=$(half_heads "$m")
  # headsweep's tokens and NLLs: PyTorch's input ids and its check (not timed)
  "$bt" "$m" "$prompts" --prompts "${n[$m]}" --new $new --batch 16 --heads-off "${heads[$m]}" \
    --dump "$work/$(basename "$m").jsonl" >/dev/null
done
ab_anchor_env
torch_run() {
  "${anchor_env[@]}" /usr/bin/python3 bench/torch_batched.py --model "$1" \
    --tokens "$work/$(basename "$1").jsonl" --batch "$2" --new $new --heads-off "${heads[$1]}" --threads 1
}
read -r -a routes <<<"${HS_ROUTES:-default}"
for rt in "${routes[@]}"; do
  case $rt in default | tiles | openblas) ;; old) [ -x "${HS_OLD_BT:-}" ] ||
    { echo "ab_throughput: route old needs HS_OLD_BT, an executable bench_throughput" >&2; exit 2; } ;;
  *) echo "ab_throughput: HS_ROUTES: unknown route '$rt'" >&2; exit 2 ;; esac
done
# hs_run MODEL BATCH ROUTE: its JSON line with impl "headsweep ROUTE"
hs_run() {
  local force=() b=$bt
  [ "$3" = tiles ] && force=(HS_GEMM_BLAS=0)
  [ "$3" = openblas ] && force=(HS_GEMM_BLAS=1)
  [ "$3" = old ] && b=$HS_OLD_BT
  env "${force[@]}" "$b" "$1" "$prompts" --prompts "${n[$1]}" --new $new --batch "$2" --heads-off "${heads[$1]}" |
    sed "s|\"impl\": \"headsweep\"|\"impl\": \"headsweep $3\"|"
}
contenders=(torch_run)
for rt in "${routes[@]}"; do contenders+=("hs_run $rt"); done
k=${#contenders[@]}
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for s in "${specs[@]}"; do
    m=${s%%:*}
    for b in 16 32; do
      for i in $(seq 0 $((k - 1))); do # who goes first turns each round
        read -r -a f <<<"${contenders[$(((i + r - 1) % k))]}"
        "${f[0]}" "$m" "$b" "${f[@]:1}" | sed "s|^|$r $m $b |" >>"$out"
      done
    done
  done
done
echo "uptime after: $(uptime)"
/usr/bin/python3 - "$out" <<'PY'
import json, sys, statistics as st
rows = []
for l in open(sys.argv[1]):
    r, m, b, js = l.split(" ", 3)
    rows.append((r, m, int(b), json.loads(js)))
def get(m, b, impl, key):
    return {r: d[key] for r, mm, bb, d in rows if mm == m and bb == b and d["impl"] == impl}
print("| model | batch | prompts | PyTorch prompts/CPU-s | headsweep (route) | headsweep prompts/CPU-s "
      "| headsweep / PyTorch, CPU (rounds) | same, wall | PyTorch kernel | tokens equal | largest NLL difference |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
impls = [i for i in dict.fromkeys(x[3]["impl"] for x in rows) if i.startswith("headsweep")]
for m, b, hs in ((m, b, hs) for m in dict.fromkeys(x[1] for x in rows) for b in (16, 32) for hs in impls):
    tc, hc = get(m, b, "torch-batched", "prompts_per_cpu_s"), get(m, b, hs, "prompts_per_cpu_s")
    tw, hw = get(m, b, "torch-batched", "prompts_per_s"), get(m, b, hs, "prompts_per_s")
    route = "/".join(sorted(set(get(m, b, hs, "prefill_route").values())))
    rc = [hc[k] / tc[k] for k in tc if k in hc]
    rw = [hw[k] / tw[k] for k in tw if k in hw]
    t = [d for r, mm, bb, d in rows if mm == m and bb == b and d["impl"] == "torch-batched"][0]
    div = "; ".join(f"line {d['line']} step {d['step']} margin {d['torch_top2_margin']:.2g}" for d in t["diverged"])
    print(f"| {m} | {b} | {t['prompts']} | {st.median(tc.values()):.3f} | {hs[10:]} ({route}) "
          f"| {st.median(hc.values()):.3f} "
          f"| **{st.median(rc):.2f}x** ({min(rc):.2f}-{max(rc):.2f}) | {st.median(rw):.2f}x "
          f"| {t['openblas_core']} (err {t['matmul_max_rel_err']:.1e}) "
          f"| {t['prompts_tokens_equal']} of {t['prompts']}{' (' + div + ')' if div else ''} "
          f"| {t['reference_nll_max_abs_diff']:.1e} |")
PY
