#!/usr/bin/python3
"""What a researcher without headsweep would write: batched GPT-2 generation and reference
scoring in PyTorch, the baseline of bench/ab_throughput.sh (issue 22).

The demo study's work per prompt: --new greedy tokens (stopping at end of text, as
headsweep does) and the reference continuation's teacher-forced NLL. Prompts go in batches
of --batch, sorted by length first (less padding; --no-sort keeps the given order), each
batch with left padding, an attention mask and per-sequence position ids, a preallocated
batch KV cache, and a head mask: the heads of --heads-off zero-ablated (their attention
output multiplied by 0 before c_proj, as HF's head_mask and headsweep's mask mode do;
every head still computed). The reference is scored from the generation's prompt prefill:
right after it the references (right-padded) run as one chunk on the same cache, only
their own positions through the LM head, and the decode steps then overwrite those cache
columns. The GPT-2 forward is written here in torch (no transformers package) on the
parameters of bench/torch_gpt2.py's loader (float32, the safetensors checkpoint).

Input: the --tokens file of `bench_throughput --dump` (prompt and reference ids as headsweep
encodes them: there is no tokenizer here; headsweep's greedy tokens and reference NLLs).
After the timed run the results are checked against headsweep's: prompts whose tokens all
agree, and for each that does not, the first differing step and the top-2 logit margin
PyTorch saw there (a near tie flips under float rounding), and the largest difference of a
prompt's mean reference NLL. Threads as torch_gpt2.py (--threads: torch.set_num_threads and
OPENBLAS/OMP_NUM_THREADS). Prints one JSON line; it names the OpenBLAS kernel that ran.

Usage:
  bench/torch_batched.py --model DIR --tokens FILE [--batch 16] [--new 32]
                         [--heads-off "L.H,..."] [--threads 1] [--no-sort]
"""

import argparse
import json
import math
import os
import sys
import time



def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# Debian's torch runs its matmuls in the system OpenBLAS (pthreads build), whose thread count
# torch.set_num_threads does not govern and which reads it when it loads: set it first.
if __name__ == "__main__":
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _threads_from_argv(sys.argv[1:])

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torch_gpt2  # noqa: E402  (the checkpoint loader and the BLAS probes)
import ref_gpt2  # noqa: E402  (parse_heads; torch_gpt2 put tests/reference on the path)


def attention(blk, a, kc, vc, col, bias, gate):
    """a (B, T, C) normed input of columns col..col+T-1; kc, vc (B, H, S, D) the cache;
    bias (B, 1, T, col+T) additive mask; gate (H) or None. Returns (B*T, C) before c_proj."""
    B, T, C = a.shape
    H, D = blk.H, blk.D
    qkv = torch.addmm(blk.attn_b, a.reshape(B * T, C), blk.attn_w).view(B, T, 3, H, D)
    q = qkv[:, :, 0].transpose(1, 2)                                 # (B, H, T, D)
    kc[:, :, col:col + T] = qkv[:, :, 1].transpose(1, 2)
    vc[:, :, col:col + T] = qkv[:, :, 2].transpose(1, 2)
    s = torch.matmul(q, kc[:, :, :col + T].transpose(2, 3)) * (1.0 / math.sqrt(D)) + bias
    o = torch.matmul(torch.softmax(s, dim=-1), vc[:, :, :col + T])  # (B, H, T, D)
    if gate is not None:
        o = o * gate.view(1, H, 1, 1)                                # zero ablation
    return o.transpose(1, 2).reshape(B * T, C)


def block(blk, x, kc, vc, col, bias, gate):
    B, T, C = x.shape
    a = F.layer_norm(x, (C,), blk.ln1_w, blk.ln1_b, blk.eps)
    o = attention(blk, a, kc, vc, col, bias, gate)
    x = x + torch.addmm(blk.proj_b, o, blk.proj_w).view(B, T, C)
    m = F.layer_norm(x, (C,), blk.ln2_w, blk.ln2_b, blk.eps).reshape(B * T, C)
    h = F.gelu(torch.addmm(blk.fc_b, m, blk.fc_w), approximate="tanh")
    return x + torch.addmm(blk.fcp_b, h, blk.fcp_w).view(B, T, C)


def hidden(m, ids, pos, cache, col, bias):
    """ids, pos (B, T); cache (L, 2, B, H, S, D), these tokens into columns col..col+T-1.
    Returns the final LayerNorm's output (B, T, C)."""
    x = m.wte[ids] + m.wpe[pos]
    for l, blk in enumerate(m.blocks):
        x = block(blk, x, cache[l, 0], cache[l, 1], col, bias, None if m.gates is None else m.gates[l])
    return F.layer_norm(x, (m.cfg.n_embd,), m.lnf_w, m.lnf_b, m.cfg.eps)


def mask_bias(valid):
    """valid (B, T, S) bool -> additive (B, 1, T, S). The dtype's lowest value, not -inf: a
    padding row that sees no key stays finite (its output is never used)."""
    return torch.zeros(valid.shape).masked_fill_(~valid, torch.finfo(torch.float32).min).unsqueeze(1)


class Batch:
    """One batch of prompts, left-padded to Tp columns: the prompt of sequence i fills
    columns pad[i]..Tp-1 at positions 0..np[i]-1."""

    def __init__(self, m, items, max_new):
        self.m, self.items, self.max_new = m, items, max_new
        self.B = len(items)
        self.np = torch.tensor([len(it["prompt_ids"]) for it in items])
        self.nr = torch.tensor([len(it["reference_ids"]) for it in items])
        self.Tp = int(self.np.max())
        self.pad = self.Tp - self.np                                  # (B)
        R = max(int(self.nr.max()) - 1, 0)                            # reference chunk columns
        c = m.cfg
        # not zeroed: every column is written before it is read (prefill, chunk, decode step)
        self.cache = torch.empty(c.n_layer, 2, self.B, c.n_head, self.Tp + max(R, max_new), c.n_embd // c.n_head)
        self.key_ok = torch.arange(self.Tp).view(1, -1) >= self.pad.view(-1, 1)  # (B, Tp) not padding

    def prefill(self):
        """The prompts; returns the last position's logits (B, V)."""
        ids = torch.zeros(self.B, self.Tp, dtype=torch.long)
        for i, it in enumerate(self.items):
            ids[i, int(self.pad[i]):] = torch.tensor(it["prompt_ids"])
        pos = (torch.arange(self.Tp).view(1, -1) - self.pad.view(-1, 1)).clamp(min=0)
        causal = torch.ones(self.Tp, self.Tp, dtype=torch.bool).tril()
        valid = causal.unsqueeze(0) & self.key_ok.unsqueeze(1)
        h = hidden(self.m, ids, pos, self.cache, 0, mask_bias(valid))
        return h[:, -1] @ self.m.lm_head.t()

    def score(self, first_logp):
        """Mean NLL of each reference: its first token from the prefill's log-probabilities
        first_logp (B, V), the rest from one chunk of reference[:-1] after the prompt."""
        nll = [-float(first_logp[i, it["reference_ids"][0]]) for i, it in enumerate(self.items)]
        R = int(self.nr.max()) - 1
        if R > 0:
            ids = torch.zeros(self.B, R, dtype=torch.long)
            for i, it in enumerate(self.items):
                ids[i, :len(it["reference_ids"]) - 1] = torch.tensor(it["reference_ids"][:-1])
            pos = (self.np.view(-1, 1) + torch.arange(R).view(1, -1)).clamp(max=self.m.cfg.n_positions - 1)
            chunk = torch.ones(R, R, dtype=torch.bool).tril().unsqueeze(0).expand(self.B, R, R)
            valid = torch.cat([self.key_ok.unsqueeze(1).expand(self.B, R, self.Tp), chunk], dim=2)
            h = hidden(self.m, ids, pos, self.cache, self.Tp, mask_bias(valid))
            for i, it in enumerate(self.items):
                r = len(it["reference_ids"]) - 1
                if r > 0:
                    logp = torch.log_softmax(h[i, :r] @ self.m.lm_head.t(), dim=-1)
                    tgt = torch.tensor(it["reference_ids"][1:])
                    nll[i] -= float(logp.gather(1, tgt.view(-1, 1)).double().sum())
        return [s / len(it["reference_ids"]) for s, it in zip(nll, self.items)]

    def decode(self, logits, eot):
        """Greedy tokens from the prefill's logits (B, V): max_new of them, a sequence
        stopping at end of text (not kept). Returns a list of token lists."""
        out = [[] for _ in range(self.B)]
        done = [False] * self.B
        for t in range(self.max_new):
            nxt = torch.argmax(logits, dim=-1)
            for i in range(self.B):
                if not done[i]:
                    done[i] = int(nxt[i]) == eot
                    if not done[i]:
                        out[i].append(int(nxt[i]))
            if all(done) or t == self.max_new - 1:
                break
            col = self.Tp + t
            valid = torch.cat([self.key_ok, torch.ones(self.B, t + 1, dtype=torch.bool)], dim=1).unsqueeze(1)
            pos = (self.np + t).view(-1, 1)
            h = hidden(self.m, nxt.view(-1, 1), pos, self.cache, col, mask_bias(valid))
            logits = h[:, 0] @ self.m.lm_head.t()
        return out

    def run(self, eot):
        logits = self.prefill()
        nll = self.score(torch.log_softmax(logits, dim=-1))
        return self.decode(logits, eot), nll


def evaluate(m, items, batch, max_new, sort):
    """Every prompt's (tokens, mean reference NLL), in the given order."""
    order = sorted(range(len(items)), key=lambda i: len(items[i]["prompt_ids"])) if sort else range(len(items))
    order = list(order)
    res = [None] * len(items)
    for b0 in range(0, len(order), batch):
        idx = order[b0:b0 + batch]
        toks, nll = Batch(m, [items[i] for i in idx], max_new).run(items[idx[0]]["eot"])
        for k, i in enumerate(idx):
            res[i] = (toks[k], nll[k])
    return res


def margin_at(m, item, step):
    """PyTorch's top-2 logit margin at generation step `step` of item, fed headsweep's tokens
    before it (one sequence): how near a tie the two implementations parted at."""
    seq = item["prompt_ids"] + item["generated"][:step]
    one = Batch(m, [{"prompt_ids": seq, "reference_ids": [0]}], 1)
    top = torch.topk(one.prefill()[0], 2).values
    return float(top[0] - top[1])


def check(m, items, res):
    """Agreement with headsweep's greedy tokens and reference NLLs in the tokens file."""
    same, diverged, worst = 0, [], 0.0
    for it, (toks, nll) in zip(items, res):
        worst = max(worst, abs(nll - it["reference_nll"]))
        if toks == it["generated"]:
            same += 1
            continue
        gen = it["generated"]
        k = next((j for j, (a, b) in enumerate(zip(toks, gen)) if a != b), min(len(toks), len(gen)))
        diverged.append({"line": it["line"], "step": k, "torch_top2_margin": margin_at(m, it, k)})
    return {"prompts_tokens_equal": same, "reference_nll_max_abs_diff": worst, "diverged": diverged}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True, help="bench_throughput --dump output")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--heads-off", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-sort", action="store_true", help="keep the file's order (more padding)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    m = torch_gpt2.GPT2.load(a.model)
    heads = ref_gpt2.parse_heads(a.heads_off)
    m.set_heads_off(heads)
    with open(a.tokens, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    for it in items:
        if len(it["prompt_ids"]) + max(a.new, len(it["reference_ids"])) > m.cfg.n_positions:
            sys.exit(f"torch_batched: {a.tokens} line {it['line']}: prompt + continuation past the context")
    core, config = torch_gpt2.blas_core()
    info = {"impl": "torch-batched", "torch": torch.__version__, "threads": a.threads,
            "blas": torch_gpt2.loaded_blas(), "openblas_core": core, "openblas_config": config,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            "matmul_max_rel_err": torch_gpt2.matmul_error(), "model": os.path.abspath(a.model),
            "prompts": len(items), "batch": a.batch, "new_tokens": a.new, "heads_off": len(heads),
            "sorted": not a.no_sort}
    with torch.inference_mode():
        evaluate(m, items[:2], 2, 2, True)  # warm-up: OpenBLAS buffers, first-call paths
        w0, c0 = time.perf_counter(), time.process_time()
        res = evaluate(m, items, a.batch, a.new, not a.no_sort)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        info.update({"wall_s": wall, "cpu_s": cpu, "prompts_per_s": len(items) / wall,
                     "prompts_per_cpu_s": len(items) / cpu})
        info.update(check(m, items, res))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
