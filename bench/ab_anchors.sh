#!/usr/bin/env bash
# ab_anchors.sh [BENCH_ENGINE] [ROUNDS] [MODEL_DIR]: the PyTorch anchor (bench/torch_gpt2.py,
# 1 thread) and the engine, each with this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
# and in the anchors' configuration (both unset, and OPENBLAS_CORETYPE set only where
# OpenBLAS's own choice is clearly slower: ab_common.sh's ab_anchor_env; the engine's
# prefill products may then go to OpenBLAS's AVX-512 sgemm, matmul.c), all four in alternation per
# round: 128-token prefill (tokens/s) and 32 greedy tokens (ms/token). Prints medians,
# the kernel each PyTorch run loaded and its float32 matmul error against float64.
# Defaults: build/bench/bench_engine, 3 rounds, the gpt2 shape in build/bench-gpt2.
set -euo pipefail
cd "$(dirname "$0")/.."
be=${1:-build/bench/bench_engine} rounds=${2:-3} model=${3:-build/bench-gpt2}
source bench/ab_common.sh
ab_need_engine "$be" ab_anchors
ab_need_model "$be" "$model"
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "ab_anchors: needs Debian's PyTorch: apt-get install python3-torch" >&2; exit 2; }
ab_tmp
ab_anchor_env
anchor_run() { "${anchor_env[@]}" "$@"; }
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  for env in machine anchor; do
    run=
    [ "$env" = anchor ] && run=anchor_run
    $run /usr/bin/python3 bench/torch_gpt2.py --model "$model" --prompt-len 128 --new-tokens 32 --repeats 1 |
      sed "s/^/$r torch $env /" >>"$out"
    $run "$be" "$model" --prompt 128 --new 32 --repeats 1 | sed "s/^/$r engine $env /" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, statistics as st
rows = []
for l in open(sys.argv[1]):
    r, who, env, js = l.split(" ", 3)
    rows.append((r, who, env, json.loads(js)))
def get(who, env, key):
    return [d[key] for r, w, e, d in rows if w == who and e == env]
print("| run (OPENBLAS_* variables) | prefill tokens/s (128) | decode ms/token (32 new) | OpenBLAS kernel "
      "| float32 matmul error vs float64 |")
print("| --- | --- | --- | --- | --- |")
for who, pk, dk in (("torch", "prefill_tok_s", "decode_ms_per_tok"),
                    ("engine", "prefill_tokens_per_s", "decode_ms_per_token")):
    for env in ("machine", "anchor"):
        core = ",".join(sorted(set(get(who, env, "openblas_core")))) if who == "torch" else ""
        err = f"{max(get(who, env, 'matmul_max_rel_err')):.1e}" if who == "torch" else ""
        name = "PyTorch eager" if who == "torch" else "headsweep"
        print(f"| {name}, {env} | {st.median(get(who, env, pk)):.1f} | {st.median(get(who, env, dk)):.2f} "
              f"| {core} | {err} |")
for env in ("machine", "anchor"):
    pre = st.median([a / b for a, b in zip(get("engine", env, "prefill_tokens_per_s"),
                                           get("torch", "anchor", "prefill_tok_s"))])
    dec = st.median([b / a for a, b in zip(get("engine", env, "decode_ms_per_token"),
                                           get("torch", "anchor", "decode_ms_per_tok"))])
    print(f"\nheadsweep ({env}) against PyTorch in its best configuration (anchor: ab_anchor_env), "
          "median of per-round ratios: "
          f"prefill {pre:.2f}x, decode {dec:.2f}x faster", end="")
print()
PY
