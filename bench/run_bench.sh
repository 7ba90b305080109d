#!/usr/bin/env bash
# run_bench.sh: the engine beside PyTorch eager on the same checkpoint, interleaved in
# rounds so both see the same machine load; also bf16 weights, 2 threads, throughput
# mode, weights on huge pages and the bf16 logit error, and this core's read bandwidth in every round (the
# roofline of batch-1 decode); prints medians and ratios as markdown. The anchors (PyTorch,
# and OpenBLAS sgemm in --sgemm) run in their best correct configuration: OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE, which this machine sets and which force OpenBLAS's kernel choice at
# load, are unset in their commands alone, and OPENBLAS_CORETYPE is set there only where
# OpenBLAS's own choice is clearly slower than a core the CPU can run (ab_common.sh's
# ab_anchor_env); the kernel that ran and its error against float64 are printed with the
# results.
#   bench/run_bench.sh [MODEL_DIR] [ROUNDS]
# MODEL_DIR defaults to a gpt2 (124M) shape random model made in build/bench-gpt2.
set -euo pipefail
cd "$(dirname "$0")/.."
hs=build/src/cli/headsweep
be=build/bench/bench_engine
model=${1:-build/bench-gpt2}
rounds=${2:-3}
[ -x "$be" ] || { echo "build first: tools/setup.sh" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "run_bench: the PyTorch baseline needs Debian's PyTorch: apt-get install python3-torch" >&2; exit 2; }
[ -f "$model/model.safetensors" ] || "$hs" mkmodel --shape gpt2 --seed 1 --out "$model"
source bench/ab_common.sh
ab_anchor_env
anchor() { "${anchor_env[@]}" "$@"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  "$be" "$model" --read-bw 512 --repeats 5 >>"$out/bw.jsonl"
  "$be" "$model" --repeats 3 --gating mask --off-pct 0 >>"$out/hs_mask.jsonl"
  anchor /usr/bin/python3 bench/torch_gpt2.py --model "$model" --repeats 3 >>"$out/torch.jsonl"
  anchor "$be" "$model" --repeats 5 --sgemm 1 >>"$out/sgemm.jsonl"
  "$be" "$model" --repeats 3 --gating mask --off-pct 0 --weights bf16 |
    sed 's/"engine": "headsweep"/"engine": "headsweep-bf16"/' >>"$out/variants.jsonl"
  "$be" "$model" --repeats 3 --gating mask --off-pct 0 --threads 2 |
    sed 's/"engine": "headsweep"/"engine": "headsweep-2threads"/' >>"$out/variants.jsonl"
  "$be" "$model" --repeats 3 --gating mask --off-pct 0 --huge-pages 1 2>/dev/null |
    sed 's/"engine": "headsweep"/"engine": "headsweep-huge"/' >>"$out/variants.jsonl"
  "$be" "$model" --batch 1,8,16,32 --prompt 32 --new 32 --repeats 1 >>"$out/batch.jsonl"
  "$be" "$model" --batch 1,16 --prompt 32 --new 32 --repeats 1 --weights bf16 |
    sed 's/"mode": "batch"/"mode": "batch-bf16"/' >>"$out/batch.jsonl"
done
# skip against mask: every configuration once per round, ratios within rounds (drift cancels)
echo "skip vs mask, $((5 * rounds)) paired rounds" >&2
"$be" "$model" --paired $((5 * rounds)) --off-pct 0,30,50,70 --prompt 32 --new 32 >"$out/paired.jsonl"
"$be" "$model" --bf16-error 1 --prompt 128 >"$out/bf16err.json"
/usr/bin/python3 - "$out" "$model" <<'PY'
import json, statistics, sys, os
d = sys.argv[1]
def rows(name):
    return [json.loads(l) for l in open(os.path.join(d, name)) if l.strip()]
med = statistics.median
hs = rows("hs_mask.jsonl")
def pick(g, p, key):
    return med([r[key] for r in hs if r["gating"] == g and r["off_pct"] == p])
t = rows("torch.jsonl")
t_dec, t_pre = med([r["decode_ms_per_tok"] for r in t]), med([r["prefill_tok_s"] for r in t])
h_dec, h_pre = pick("mask", 0, "decode_ms_per_token"), pick("mask", 0, "prefill_tokens_per_s")
print("| engine | prefill tokens/s (128) | decode ms/token (128 new) |\n| --- | --- | --- |")
print(f"| headsweep (mask, all heads) | {h_pre:.1f} | {h_dec:.2f} |")
print(f"| PyTorch eager + KV cache | {t_pre:.1f} | {t_dec:.2f} |")
print(f"| ratio | {h_pre / t_pre:.2f}x | {t_dec / h_dec:.2f}x faster |\n")
print(f"PyTorch {t[0]['torch']}: OpenBLAS core {t[0]['openblas_core']} "
      f"(OPENBLAS_CORETYPE {t[0]['OPENBLAS_CORETYPE']}), "
      f"float32 matmul against float64: largest relative error {max(r['matmul_max_rel_err'] for r in t):.1e}\n")
# Roofline of batch-1 decode: every weight matrix (and the LM head) read once per token.
cfg = json.load(open(os.path.join(sys.argv[2], "config.json")))
C, L, V = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
F = cfg.get("n_inner") or 4 * C
mats = L * (4 * C * C + 2 * C * F) + V * C
bw = med([r["read_bw_gb_s"] for r in rows("bw.jsonl")])
lim32, lim16 = 4 * mats / bw / 1e6, 2 * mats / bw / 1e6
print(f"read bandwidth of one core (median of rounds): {bw:.1f} GB/s; a decode step reads {4 * mats / 1e6:.0f} MB "
      f"of f32 weights ({2 * mats / 1e6:.0f} MB in bf16): limit {lim32:.1f} ms/token f32, {lim16:.1f} ms/token bf16; "
      f"f32 decode runs at {100 * lim32 / h_dec:.0f}% of its limit\n")
pr = rows("paired.jsonl")
print(f"| heads off | skip decode ms/token | speedup vs skip 0% (quartiles) | vs mask 0% (quartiles) | vs mask at 50% "
      "| ideal (weight bytes not read) | share of ideal |")
print("| --- | --- | --- | --- | --- | --- | --- |")
# Ideal: decode time proportional to weight bytes read per token. Per layer attention
# holds 4C^2 of the matrices; the LM head (V x C) and the MLP are never skipped.
for r in pr:
    p = r["off_pct"]
    if r["gating"] != "skip":
        continue
    ideal = mats / (mats - p / 100 * L * 4 * C * C)
    sp = r["speedup_vs_skip0"]
    share = f"{(sp - 1) / (ideal - 1) * 100:.0f}%" if p else "-"
    a, b = r["speedup_vs_skip0_quartiles"]
    c, e = r["speedup_vs_mask0_quartiles"]
    mh = f'{r["speedup_vs_mask50"]:.2f}x' if p == 50 else ""
    print(f"| {p:g}% | {r['decode_ms_per_token']:.2f} | {sp:.2f}x ({a:.2f}-{b:.2f}) "
          f"| {r['speedup_vs_mask0']:.2f}x ({c:.2f}-{e:.2f}) | {mh} | {ideal:.2f}x | {share} |")
m50 = [r for r in pr if r["gating"] == "mask" and r["off_pct"] == 50][0]
print(f"\nmask mode, 50% heads off: {m50['decode_ms_per_token']:.2f} ms/token (computes every head; "
      f"{m50['speedup_vs_mask0']:.2f}x mask 0%), {pr[0]['paired']} paired rounds of prompt 32 + 32 new tokens\n")
var = rows("variants.jsonl")
print("| decode, all heads | ms/token | vs f32 1 thread | vs PyTorch |\n| --- | --- | --- | --- |")
print(f"| f32, 1 thread | {h_dec:.2f} | 1.00x | {t_dec / h_dec:.2f}x |")
for eng, label in (("headsweep-huge", "f32, weights on huge pages, 1 thread"),
                   ("headsweep-bf16", "bf16 weights, 1 thread"), ("headsweep-2threads", "f32, 2 threads")):
    v = med([r["decode_ms_per_token"] for r in var if r["engine"] == eng])
    print(f"| {label} | {v:.2f} | {h_dec / v:.2f}x | {t_dec / v:.2f}x |")
e = json.load(open(os.path.join(d, "bf16err.json")))["bf16_vs_f32"]
print(f"\nbf16 against f32 logits over {e['positions']} positions: max |difference| {e['max_abs_logit_diff']:.3g} "
      f"(logit spread {e['logit_spread']:.3g}), top-1 token agreement {100 * e['top1_agreement']:.1f}%\n")
bt = rows("batch.jsonl")
print("| throughput mode (prompt 32, 32 new) | decode tokens/s | vs batch 1 |\n| --- | --- | --- |")
for mode in ("batch", "batch-bf16"):
    b1 = med([r["decode_tokens_per_s"] for r in bt if r["mode"] == mode and r["batch"] == 1])
    for B in sorted({r["batch"] for r in bt if r["mode"] == mode}):
        v = med([r["decode_tokens_per_s"] for r in bt if r["mode"] == mode and r["batch"] == B])
        print(f"| {'bf16 ' if mode.endswith('bf16') else ''}batch {B} | {v:.1f} | {v / b1:.2f}x |")
print()
sg = rows("sgemm.jsonl")
core = [r for r in sg if "openblas_corename" in r][0]
sg = [r for r in sg if "sgemm_shape" in r]
print(f"OpenBLAS core {core['openblas_corename']} (OPENBLAS_CORETYPE {core['OPENBLAS_CORETYPE']}); "
      "headsweep's own tiles; "
      "ratio: median of the per-call ratios (the two alternate call by call)\n")
print("| prefill shape (n, K, N) | OpenBLAS GFLOP/s | headsweep GFLOP/s | ratio "
      "| largest error vs float64 (OpenBLAS, ours) |\n| --- | --- | --- | --- | --- |")
for shape in sorted({tuple(r["sgemm_shape"]) for r in sg}):
    ob = med([r["openblas_gflops"] for r in sg if tuple(r["sgemm_shape"]) == shape])
    me = med([r["headsweep_gflops"] for r in sg if tuple(r["sgemm_shape"]) == shape])
    rt = med([r["ratio_median"] for r in sg if tuple(r["sgemm_shape"]) == shape])
    eo = max(r["openblas_max_rel_err"] for r in sg if tuple(r["sgemm_shape"]) == shape)
    eh = max(r["headsweep_max_rel_err"] for r in sg if tuple(r["sgemm_shape"]) == shape)
    print(f"| {shape} | {ob:.1f} | {me:.1f} | {rt:.2f} | {eo:.1e}, {eh:.1e} |")
PY
