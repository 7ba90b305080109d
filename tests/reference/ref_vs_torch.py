#!/usr/bin/python3
"""Validates the numpy reference (ref_gpt2.py) against PyTorch, without the engine.

Checks, on small random checkpoints written here in every layout the engine must read
(no prefix + tied head + attn.bias buffers; `transformer.` prefix + explicit lm_head +
masked_bias of shape [] + n_inner != 4C + n_ctx instead of n_positions; F16; BF16):
  1. the safetensors reader: F32/F16 round trips exactly; BF16 widening equals torch's
     bfloat16 -> float32, and our float32 -> BF16 rounding equals torch's;
  2. the numpy forward (float64) equals bench/torch_gpt2.py's float32 nn.Module for all
     positions, for several head-gate sets including fractional gates, within 1e-4
     (torch applies gates to attention probabilities as Hugging Face's head_mask does;
     the reference to head outputs: the two must agree);
  3. torch's KV-cache decode (one token at a time) equals the reference's last-position
     logits at every step;
  4. the torch module's greedy tokens equal the reference's argmax.
Also one independent formula check of gelu_new and LayerNorm against torch.

Run: /usr/bin/python3 tests/reference/ref_vs_torch.py [--work DIR]  (a few seconds)
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench"))
import ref_gpt2  # noqa: E402
import torch_gpt2  # noqa: E402

TOL = 1e-4
VERBOSE = False
failures = []
n_checks = 0


def check(ok, what):
    global n_checks
    n_checks += 1
    if VERBOSE or not ok:
        print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def check_codec(work):
    rng = np.random.default_rng(5)
    a = (rng.normal(size=(37, 5)) * np.logspace(-6, 4, 5)).astype(np.float32)
    a[0, :3] = [0.0, -0.0, 65504.0]
    p = os.path.join(work, "codec.safetensors")
    ref_gpt2.save_safetensors(p, {"f32": (a, "F32"), "f16": (a, "F16"), "bf16": (a, "BF16"),
                                  "scalar": (np.array(3.5, np.float32), "F32")})
    t = ref_gpt2.load_safetensors(p)
    check(np.array_equal(t["f32"][0], a), "F32 round trip is exact")
    check(np.array_equal(t["f16"][0], a.astype(np.float16).astype(np.float32)),
          "F16 widening equals numpy float16")
    tb = torch.from_numpy(a).to(torch.bfloat16).to(torch.float32).numpy()
    check(np.array_equal(t["bf16"][0], tb), "BF16 rounding + widening equals torch bfloat16")
    check(t["scalar"][0].shape == () and float(t["scalar"][0]) == 3.5, "shape [] tensor")
    hdr, base, _ = ref_gpt2.read_safetensors_header(p)
    check(base % 8 == 0, "header padded to 8 bytes")


def check_formulas():
    x = np.linspace(-6, 6, 101)
    g = torch_gpt2.F.gelu(torch.from_numpy(x), approximate="tanh").numpy()
    check(np.max(np.abs(ref_gpt2.gelu_new(x) - g)) < 1e-12, "gelu_new == torch gelu(tanh)")
    y = np.random.default_rng(1).normal(size=(4, 16)) * 3 + 1
    w, b = np.linspace(0.5, 1.5, 16), np.linspace(-1, 1, 16)
    ln = F.layer_norm(torch.from_numpy(y), (16,), torch.from_numpy(w), torch.from_numpy(b),
                      1e-5).numpy()
    check(np.max(np.abs(ref_gpt2.layer_norm(y, w, b, 1e-5) - ln)) < 1e-12,
          "layer_norm == torch layer_norm")


def torch_logits(m, ids, gates, all_positions=True):
    m.gates = None if gates is None else torch.from_numpy(gates.astype(np.float32))
    with torch.inference_mode():
        out = m(torch.tensor(ids), m.new_cache(len(ids)), 0, all_positions=all_positions)
    return out.double().numpy()


def torch_decode(m, ids, gates, n_prefill):
    """Prefill n_prefill tokens, then one token at a time; last-position logits per step."""
    m.gates = None if gates is None else torch.from_numpy(gates.astype(np.float32))
    rows = []
    with torch.inference_mode():
        cache = m.new_cache(len(ids))
        rows.append(m(torch.tensor(ids[:n_prefill]), cache, 0))
        for pos in range(n_prefill, len(ids)):
            rows.append(m(torch.tensor(ids[pos:pos + 1]), cache, pos))
    return np.stack([r.double().numpy() for r in rows])


def check_model(d, label):
    ref = ref_gpt2.GPT2(d)
    m = torch_gpt2.GPT2.load(d)
    c = ref.cfg
    L, H = c.n_layer, c.n_head
    rng = np.random.default_rng(11)
    gate_sets = {"none": None,
                 "a few off": ref.gates_from_heads_off([(0, 1), (L - 1, H - 1)]),
                 "layer 0 off": ref.gates_from_heads_off([(0, h) for h in range(H)]),
                 "half off": ref.gates_from_heads_off(
                     [(l, h) for l in range(L) for h in range(H) if (l + h) % 2 == 0]),
                 "fractional": rng.uniform(0, 1, size=(L, H))}
    worst = 0.0
    for T in (1, 5, c.n_positions):
        ids = rng.integers(0, c.vocab_size, size=T).tolist()
        for gname, gates in gate_sets.items():
            r = ref.forward(ids, gates, all_positions=True)
            t = torch_logits(m, ids, gates)
            d1 = float(np.max(np.abs(r - t)))
            worst = max(worst, d1)
            check(d1 <= TOL, f"{label}: T={T} gates={gname}: ref vs torch all positions "
                  f"max|diff| {d1:.3g}")
            if T > 1:
                dec = torch_decode(m, ids, gates, max(1, T // 2))
                d2 = float(np.max(np.abs(r[max(1, T // 2) - 1:] - dec)))
                worst = max(worst, d2)
                check(d2 <= TOL, f"{label}: T={T} gates={gname}: ref vs torch KV decode "
                      f"max|diff| {d2:.3g}")
            if gates is not None and T > 1:
                # pruning must change the output (guards a "pruned" run that was not)
                base = ref.forward(ids, None)
                d3 = float(np.max(np.abs(base - r[-1])))
                check(d3 > 1e-3, f"{label}: T={T} gates={gname}: differs from unpruned "
                      f"by {d3:.3g}")
    m.gates = None
    res = torch_gpt2.check_against_ref(d, m, torch.tensor([1, 2, 3]), 12, [])
    check(res["check_ok"], f"{label}: greedy tokens == reference argmax "
          f"({res['check_mismatches']} mismatches, max|diff| {res['check_max_abs_diff']:.3g})")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=None)
    ap.add_argument("--verbose", action="store_true", help="print every check")
    a = ap.parse_args()
    global VERBOSE
    VERBOSE = a.verbose
    torch.set_num_threads(1)
    work = a.work or tempfile.mkdtemp(prefix="ref_vs_torch.")
    os.makedirs(work, exist_ok=True)
    check_codec(work)
    check_formulas()
    layouts = {
        "plain-tied-f32": dict(seed=1),
        "prefixed-lmhead-ninner-nctx": dict(seed=2, prefix="transformer.", lm_head=True,
                                            n_inner=48, n_ctx_key=True, n_head=2),
        "f16": dict(seed=3, dtype="F16"),
        "bf16": dict(seed=4, dtype="BF16", prefix="transformer.", n_layer=3),
    }
    for label, kw in layouts.items():
        d = os.path.join(work, label)
        ref_gpt2.make_random_checkpoint(d, **kw)
        worst = check_model(d, label)
        print(f"{label}: worst ref vs torch max|diff| {worst:.3g}")
    print(f"{n_checks} checks, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
