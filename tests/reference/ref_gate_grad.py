#!/usr/bin/python3
"""Checks the engine's head-gate gradients (src/model/backward.c) against PyTorch autograd.

An independent GPT-2 written here in torch (float64, weights read by ref_gpt2.py's own
safetensors reader), with a gate tensor (L, H) that multiplies each head's attention
output before c_proj, as the engine's gates do. For each sequence the loss is the mean
next-token NLL of tokens 1 .. n-1; autograd gives dloss/dgate. The engine's numbers come
from tests/prune/gate_grad_dump (hs_grad_gates and the gradient/taylor scores).

Checks, for every sequence and gate set (all 1; some heads off and some fractional, the
state iterative pruning re-scores in):
  * loss within 1e-5 relative;
  * every gate gradient within 1e-4 relative: |engine - torch| <= 1e-4 * |torch|, or,
    for a gradient under 1e-2 of the sequence's largest, <= 1e-6 * that largest (a
    float32 engine, eps 1.2e-7, cannot resolve a gradient far below the others to 1e-4
    of itself: its rounding is relative to the largest terms);
  * gradient scores = per-layer L2-normalised sum over sequences of |grad| (Michel et
    al.), taylor = -token-weighted mean gradient: both from torch's gradients, 1e-4.
Run: /usr/bin/python3 tests/reference/ref_gate_grad.py --dump BIN --model DIR [--work D]
Exits 77 (CTest skip) when torch cannot be imported.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch is not installed for this python3: skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref_gpt2  # noqa: E402  (safetensors reader and config only)

REL = 1e-4


class TorchGPT2:
    def __init__(self, model_dir):
        r = ref_gpt2.GPT2(model_dir)
        self.c = r.cfg
        self.t = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in r.w.items()}
        self.lm_head = torch.from_numpy(np.asarray(r.lm_head, dtype=np.float64))

    def loss(self, ids, gates):
        c, w = self.c, self.t
        T, C, H = len(ids), c.n_embd, c.n_head
        D = C // H
        ids_t = torch.tensor(ids, dtype=torch.long)
        x = w["wte.weight"][ids_t] + w["wpe.weight"][:T]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        for l in range(c.n_layer):
            p = f"h.{l}."
            a = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], c.eps)
            qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
            q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, H, D).transpose(0, 1) for i in range(3))
            s = (q @ k.transpose(1, 2)) / math.sqrt(D)
            s = s.masked_fill(mask, float("-inf"))
            z = torch.softmax(s, dim=-1) @ v                       # (H, T, D)
            z = z * gates[l].view(H, 1, 1)
            x = x + z.transpose(0, 1).reshape(T, C) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            m = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], c.eps)
            hdn = F.gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
            x = x + hdn @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], c.eps)
        logits = x[:-1] @ self.lm_head.t()
        return F.cross_entropy(logits, ids_t[1:])

    def grad(self, ids, gates_np):
        g = torch.tensor(gates_np, dtype=torch.float64, requires_grad=True)
        loss = self.loss(ids, g)
        loss.backward()
        return float(loss), g.grad.numpy().reshape(-1)


def run_engine(dump, model, seqs, gates, work):
    ids_path, gates_path = os.path.join(work, "ids.txt"), os.path.join(work, "gates.txt")
    with open(ids_path, "w") as f:
        f.writelines(" ".join(map(str, s)) + "\n" for s in seqs)
    with open(gates_path, "w") as f:
        f.write(" ".join(repr(float(v)) for v in gates.reshape(-1)) + "\n")
    out = subprocess.run([dump, model, ids_path, gates_path], check=True, capture_output=True, text=True).stdout
    per_seq, scores = [], {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "seq":
            per_seq.append((float(f[2]), np.array(list(map(float, f[3:])))))
        else:
            scores[f[0]] = np.array(list(map(float, f[1:])))
    return per_seq, scores


def close(e, r, floor):
    return np.abs(e - r) <= np.maximum(REL * np.abs(r), floor)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work")
    a = ap.parse_args()
    torch.set_num_threads(1)
    m = TorchGPT2(a.model)
    c = m.c
    L, H, V, T = c.n_layer, c.n_head, c.vocab_size, c.n_positions
    rng = np.random.default_rng(19)
    seqs = [rng.integers(0, V, size=n).tolist() for n in (2, 17, 64, T)]
    off = np.ones((L, H))
    for l, h in [(0, 1), (2, 5), (L - 1, H - 1), (3, 0)]:
        off[l % L, h % H] = 0.0
    off[1, 2], off[L - 2, 3 % H] = 0.5, 0.25
    fails, worst, worst_abs = 0, 0.0, 0.0
    with tempfile.TemporaryDirectory(dir=a.work) as work:
        for name, gates in (("all gates 1", np.ones((L, H))), ("heads off and fractional gates", off)):
            per_seq, scores = run_engine(a.dump, a.model, seqs, gates, work)
            ref = [m.grad(s, gates) for s in seqs]
            for i, ((el, eg), (rl, rg)) in enumerate(zip(per_seq, ref)):
                floor = 1e-6 * np.abs(rg).max()
                ok = close(eg, rg, floor)
                big = np.abs(rg) >= 1e-2 * np.abs(rg).max()
                worst = max(worst, float((np.abs(eg - rg)[big] / np.abs(rg)[big]).max()))
                worst_abs = max(worst_abs, float(np.abs(eg - rg).max() / np.abs(rg).max()))
                if abs(el - rl) > 1e-5 * abs(rl):
                    print(f"FAIL {name}, sequence {i} ({len(seqs[i])} tokens): loss {el} vs torch {rl}")
                    fails += 1
                for k in np.flatnonzero(~ok):
                    print(f"FAIL {name}, sequence {i} ({len(seqs[i])} tokens): head {k // H}.{k % H}: "
                          f"engine {eg[k]:.9e} torch {rg[k]:.9e}")
                    fails += 1
            n_tok = np.array([len(s) - 1 for s in seqs], dtype=np.float64)
            grads = np.array([g for _, g in ref])
            want_grad = np.abs(grads).sum(axis=0).reshape(L, H)
            want_grad /= np.sqrt((want_grad ** 2).sum(axis=1, keepdims=True))
            want_taylor = -(n_tok[:, None] * grads).sum(axis=0) / n_tok.sum()
            for s, want in (("gradient", want_grad.reshape(-1)), ("taylor", want_taylor)):
                bad = ~close(scores[s], want, 1e-6 * np.abs(want).max())
                for k in np.flatnonzero(bad):
                    print(f"FAIL {name}: {s} score of head {k // H}.{k % H}: engine {scores[s][k]:.9e} "
                          f"torch {want[k]:.9e}")
                    fails += 1
            print(f"{name}: {len(seqs)} sequences of {[len(s) for s in seqs]} tokens checked")
    print(f"worst relative difference of a gate gradient of 1e-2 of its sequence's largest or more: "
          f"{worst:.2e}; worst difference over the sequence's largest gradient: {worst_abs:.2e}")
    print("FAILED" if fails else "ok", f"({fails} failures)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
