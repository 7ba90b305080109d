#!/usr/bin/python3
"""PyTorch eager GPT-2 baseline for the engine's benchmark: same checkpoint, same work.

A plain nn.Module GPT-2 (float32, batch 1, preallocated KV cache) that loads a
Hugging Face layout model directory through the numpy safetensors reader of
tests/reference/ref_gpt2.py, then measures
  - prefill: tokens/s for one prompt of --prompt-len tokens (default 128) into an empty cache;
  - decode: ms/token for --new-tokens (default 128) greedy tokens after that prompt;
each the median of --repeats runs, and prints one JSON line. Threads: torch.set_num_threads
and OPENBLAS_NUM_THREADS/OMP_NUM_THREADS (--threads, default 1; Debian's torch runs its
matmuls in the system OpenBLAS), so the numbers sit beside the engine's single-thread ones.
The JSON line names the OpenBLAS kernel that ran (openblas_core; run it with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for OpenBLAS's own choice) and the largest
error of a float32 matmul against float64 (matmul_max_rel_err).

Head gates (--heads-off "L.H,...") scale each head's attention probabilities the way
Hugging Face's head_mask does (every head is still computed: torch has no skip mode here).

--check N runs N greedy steps and verifies that every token equals the argmax of
ref_gpt2.py's logits for the same prefix (one full-sequence numpy forward), and that the
logits agree within 1e-4. Meant for tiny models (the numpy reference is slow).

Usage:
  bench/torch_gpt2.py --model DIR [--threads 1] [--prompt-len 128] [--new-tokens 128]
                      [--repeats 5] [--warmup 1] [--seed 0] [--ids "..."] [--check N]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# Debian's torch does its matmuls in the system OpenBLAS (pthreads build), whose thread
# count torch.set_num_threads does not govern: fix it before numpy/torch load it.
if __name__ == "__main__":
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "reference"))
import ref_gpt2  # noqa: E402  (the numpy checkpoint reader and the reference forward)


class Block(torch.nn.Module):
    def __init__(self, C, H, Fw, eps):
        super().__init__()
        self.C, self.H, self.D, self.eps = C, H, C // H, eps
        P = torch.nn.Parameter
        z = torch.zeros
        self.ln1_w, self.ln1_b = P(z(C)), P(z(C))
        self.attn_w, self.attn_b = P(z(C, 3 * C)), P(z(3 * C))   # Conv1D (in, out)
        self.proj_w, self.proj_b = P(z(C, C)), P(z(C))
        self.ln2_w, self.ln2_b = P(z(C)), P(z(C))
        self.fc_w, self.fc_b = P(z(C, Fw)), P(z(Fw))
        self.fcp_w, self.fcp_b = P(z(Fw, C)), P(z(C))

    def forward(self, x, k_cache, v_cache, pos, gate):
        """x (T, C) new positions pos..pos+T-1; k/v_cache (H, Tmax, D) filled up to pos."""
        T, H, D = x.shape[0], self.H, self.D
        a = F.layer_norm(x, (self.C,), self.ln1_w, self.ln1_b, self.eps)
        qkv = torch.addmm(self.attn_b, a, self.attn_w)
        q, k, v = qkv.split(self.C, dim=1)
        q = q.view(T, H, D).transpose(0, 1)                       # (H, T, D)
        k_cache[:, pos:pos + T] = k.view(T, H, D).transpose(0, 1)
        v_cache[:, pos:pos + T] = v.view(T, H, D).transpose(0, 1)
        keys, vals = k_cache[:, :pos + T], v_cache[:, :pos + T]  # (H, S, D)
        s = torch.matmul(q, keys.transpose(1, 2)) * (1.0 / math.sqrt(D))
        if T > 1:  # query pos+i sees keys 0..pos+i
            mask = torch.ones(T, pos + T, dtype=torch.bool).triu(pos + 1)
            s = s.masked_fill(mask, float("-inf"))
        p = torch.softmax(s, dim=-1)
        if gate is not None:
            p = p * gate.view(H, 1, 1)                            # HF head_mask
        o = torch.matmul(p, vals).transpose(0, 1).reshape(T, self.C)
        x = x + torch.addmm(self.proj_b, o, self.proj_w)
        m = F.layer_norm(x, (self.C,), self.ln2_w, self.ln2_b, self.eps)
        h = F.gelu(torch.addmm(self.fc_b, m, self.fc_w), approximate="tanh")
        return x + torch.addmm(self.fcp_b, h, self.fcp_w)


class GPT2(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, V = cfg.n_embd, cfg.vocab_size
        self.wte = torch.nn.Parameter(torch.zeros(V, C))
        self.wpe = torch.nn.Parameter(torch.zeros(cfg.n_positions, C))
        self.blocks = torch.nn.ModuleList(
            Block(C, cfg.n_head, cfg.n_inner, cfg.eps) for _ in range(cfg.n_layer))
        self.lnf_w = torch.nn.Parameter(torch.zeros(C))
        self.lnf_b = torch.nn.Parameter(torch.zeros(C))
        self.lm_head = self.wte
        self.gates = None  # (L, H) or None

    @classmethod
    def load(cls, model_dir):
        ref = ref_gpt2.GPT2(model_dir)  # reads config + safetensors, checks shapes
        m = cls(ref.cfg)
        w = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
             for k, v in ref.w.items()}
        with torch.no_grad():
            m.wte.copy_(w["wte.weight"])
            m.wpe.copy_(w["wpe.weight"])
            m.lnf_w.copy_(w["ln_f.weight"])
            m.lnf_b.copy_(w["ln_f.bias"])
            if "lm_head.weight" in w:
                m.lm_head = torch.nn.Parameter(w["lm_head.weight"].clone())
            names = {"ln1_w": "ln_1.weight", "ln1_b": "ln_1.bias",
                     "attn_w": "attn.c_attn.weight", "attn_b": "attn.c_attn.bias",
                     "proj_w": "attn.c_proj.weight", "proj_b": "attn.c_proj.bias",
                     "ln2_w": "ln_2.weight", "ln2_b": "ln_2.bias",
                     "fc_w": "mlp.c_fc.weight", "fc_b": "mlp.c_fc.bias",
                     "fcp_w": "mlp.c_proj.weight", "fcp_b": "mlp.c_proj.bias"}
            for l, blk in enumerate(m.blocks):
                for attr, name in names.items():
                    getattr(blk, attr).copy_(w[f"h.{l}.{name}"])
        m.dtypes = ref.dtypes
        del ref
        return m.eval()

    def set_heads_off(self, heads):
        c = self.cfg
        g = torch.ones(c.n_layer, c.n_head)
        for l, h in heads:
            g[l, h] = 0.0
        self.gates = g if heads else None

    def new_cache(self, max_t):
        c = self.cfg
        shape = (c.n_layer, 2, c.n_head, max_t, c.n_embd // c.n_head)
        return torch.zeros(shape)

    def forward(self, ids, cache, pos, all_positions=False):
        """ids: (T,) long, the tokens at positions pos..pos+T-1. Returns logits (V,) of the
        last position, or (T, V)."""
        T = ids.shape[0]
        x = self.wte[ids] + self.wpe[pos:pos + T]
        for l, blk in enumerate(self.blocks):
            g = None if self.gates is None else self.gates[l]
            x = blk(x, cache[l, 0], cache[l, 1], pos, g)
        if not all_positions:
            x = x[-1:]
        x = F.layer_norm(x, (self.cfg.n_embd,), self.lnf_w, self.lnf_b, self.cfg.eps)
        logits = x @ self.lm_head.t()
        return logits if all_positions else logits[0]


def greedy(m, prompt, n_new, cache):
    """Prefill prompt, then n_new decode steps: each feeds the last greedy token and
    yields the next one. Returns (n_new + 1 tokens, prefill_s, decode_s); the decode time
    covers exactly n_new one-token forward passes (argmax included)."""
    t0 = time.perf_counter()
    logits = m(prompt, cache, 0)
    nxt = int(torch.argmax(logits))
    t1 = time.perf_counter()
    out = [nxt]
    pos = prompt.shape[0]
    for _ in range(n_new):
        logits = m(torch.tensor([nxt]), cache, pos)
        pos += 1
        nxt = int(torch.argmax(logits))
        out.append(nxt)
    t2 = time.perf_counter()
    return out, t1 - t0, t2 - t1


def check_against_ref(model_dir, m, prompt, n_new, heads):
    """Greedy tokens of torch vs argmax of the numpy reference on the same prefixes."""
    cache = m.new_cache(prompt.shape[0] + n_new)
    toks, _, _ = greedy(m, prompt, n_new - 1, cache)
    ref = ref_gpt2.GPT2(model_dir)
    seq = prompt.tolist() + toks
    gates = ref.gates_from_heads_off(heads)
    rl = ref.forward(seq[:-1], gates, all_positions=True)[prompt.shape[0] - 1:]
    with torch.no_grad():
        tl = m(torch.tensor(seq[:-1]), m.new_cache(len(seq)), 0, all_positions=True)
    tl = tl.double().numpy()[prompt.shape[0] - 1:]
    bad = []
    for i, t in enumerate(toks):
        r = int(np.argmax(rl[i]))
        if r != t:
            top2 = np.sort(rl[i])[-2:]
            bad.append(f"step {i}: torch {t}, ref {r} (ref top-2 margin {top2[1]-top2[0]:.3g})")
    diff = float(np.max(np.abs(rl - tl)))
    return {"check_steps": n_new, "check_mismatches": len(bad), "check_max_abs_diff": diff,
            "check_ok": not bad and diff <= 1e-4, "check_details": bad[:5]}


def loaded_blas():
    """The BLAS libraries mapped into this process (Linux), e.g. openblas-pthread/libblas."""
    try:
        with open("/proc/self/maps") as f:
            libs = {os.path.realpath(l.split()[-1]) for l in f if "blas" in l.lower()}
    except OSError:
        return "unknown"
    return ",".join(sorted("/".join(p.split("/")[-2:]) for p in libs)) or "none"


def blas_core():
    """(corename, config) of the OpenBLAS this process loaded, asked through ctypes (no
    threadpoolctl in Debian 12's python3 packages); OPENBLAS_CORETYPE, read at load, forces it."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({l.split()[-1] for l in f if "blas" in l.lower() and l.split()[-1].startswith("/")})
    except OSError:
        libs = []
    for p in libs:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_corename.restype = lib.openblas_get_config.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode(), lib.openblas_get_config().decode()
        except (OSError, AttributeError):
            continue
    return "unknown", "unknown"


def matmul_error(C=768, N=2304, n=128):
    """Largest error of torch's float32 matmul on a prefill shape against float64, relative
    to sum |a_ik b_kj|: checks that the BLAS kernel in use computes correctly."""
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(n, C, generator=g) - 0.5, torch.rand(C, N, generator=g) - 0.5
    exact = a.double() @ b.double()
    mag = a.double().abs() @ b.double().abs()
    return float(((a @ b).double() - exact).abs().div(mag).max())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="seed of the random prompt ids")
    ap.add_argument("--ids", default="", help="prompt ids instead of random ones")
    ap.add_argument("--heads-off", default="")
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="verify N greedy tokens against ref_gpt2.py, then exit")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    m = GPT2.load(a.model)
    heads = ref_gpt2.parse_heads(a.heads_off)
    m.set_heads_off(heads)
    c = m.cfg
    if a.ids:
        prompt = torch.tensor(ref_gpt2.parse_ids(a.ids), dtype=torch.long)
    else:
        n = a.prompt_len
        if n + a.new_tokens > c.n_positions:  # small context (tiny): halve the prompt
            n = min(n, c.n_positions // 2)
        g = torch.Generator().manual_seed(a.seed)
        prompt = torch.randint(0, c.vocab_size, (n,), generator=g)
    n_new = a.new_tokens
    if prompt.shape[0] + n_new > c.n_positions:  # stay inside the context
        n_new = c.n_positions - prompt.shape[0]
        if n_new < 1:
            sys.exit(f"torch_gpt2: prompt of {prompt.shape[0]} tokens leaves no room in "
                     f"the context of {c.n_positions}")

    info = {"impl": "torch-eager", "torch": torch.__version__, "threads": a.threads,
            "blas": loaded_blas(), "openblas_core": blas_core()[0], "openblas_config": blas_core()[1],
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            "matmul_max_rel_err": matmul_error(),
            "model": os.path.abspath(a.model), "dtype": ",".join(m.dtypes),
            "n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd,
            "vocab_size": c.vocab_size, "heads_off": len(heads),
            "prompt_tokens": int(prompt.shape[0]), "new_tokens": n_new}
    with torch.inference_mode():
        if a.check:
            steps = min(a.check, c.n_positions - prompt.shape[0] + 1)
            info.update(check_against_ref(a.model, m, prompt, steps, heads))
            print(json.dumps(info))
            return 0 if info["check_ok"] else 1
        cache = m.new_cache(prompt.shape[0] + n_new)
        pre, dec = [], []
        for r in range(a.warmup + a.repeats):
            toks, tp, td = greedy(m, prompt, n_new, cache)
            if r >= a.warmup:
                pre.append(tp)
                dec.append(td / n_new)
    tp, td = statistics.median(pre), statistics.median(dec)
    info.update({"repeats": a.repeats,
                 "prefill_s": tp, "prefill_tok_s": prompt.shape[0] / tp,
                 "decode_ms_per_tok": td * 1e3, "decode_tok_s": 1.0 / td,
                 "prefill_s_all": pre, "decode_ms_all": [d * 1e3 for d in dec],
                 "greedy_first": toks[:8]})
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
