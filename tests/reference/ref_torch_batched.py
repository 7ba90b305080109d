#!/usr/bin/python3
"""headsweep's throughput mode (bench_throughput: hs_runner_eval_batch, greedy, half the
heads off in mask mode) against PyTorch batched generation with left padding, attention
masks, a batch KV cache and a head mask (bench/torch_batched.py), on the bundled model:
every prompt's mean reference NLL within 1e-4 and its greedy tokens equal, a divergence
allowed only where PyTorch's top-2 logit margin is under 1e-3 (a near tie that float
rounding may flip). The control: PyTorch without the head mask must disagree (NLLs apart by
more than 1e-2), so the comparison sees the mask. Exits 77 (skipped) without torch.

  ref_torch_batched.py --bench BENCH_THROUGHPUT --model DIR --prompts FILE --work DIR
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "bench", "torch_batched.py")
HEADS_OFF = "0.1,0.3,0.5,0.7,1.0,1.2,1.4,1.6,2.1,2.2,2.5,2.6,3.0,3.3,3.4,3.7,4.2,4.3,4.4,4.5,5.0,5.1,5.6,5.7"
NEW = 16


def torch_run(a, tokens, heads, batch):
    out = subprocess.run(["/usr/bin/python3", SCRIPT, "--model", a.model, "--tokens", tokens, "--batch", str(batch),
                          "--new", str(NEW), "--heads-off", heads], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    for k in ("--bench", "--model", "--prompts", "--work"):
        ap.add_argument(k, required=True)
    a = ap.parse_args()
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode:
        print("ref_torch_batched: no torch for /usr/bin/python3: skipped")
        return 77
    os.makedirs(a.work, exist_ok=True)
    tokens = os.path.join(a.work, "tokens.jsonl")
    subprocess.run([a.bench, a.model, a.prompts, "--prompts", "12", "--batch", "4", "--new", str(NEW),
                    "--heads-off", HEADS_OFF, "--dump", tokens], check=True, stdout=subprocess.DEVNULL)
    r = torch_run(a, tokens, HEADS_OFF, 5)
    print(json.dumps({k: r[k] for k in ("prompts", "prompts_tokens_equal", "reference_nll_max_abs_diff",
                                        "diverged", "openblas_core")}))
    bad = [d for d in r["diverged"] if d["torch_top2_margin"] >= 1e-3]
    if r["reference_nll_max_abs_diff"] > 1e-4 or bad or r["prompts"] != 12:
        print(f"FAIL: NLL difference {r['reference_nll_max_abs_diff']:.3g} (limit 1e-4), divergences not at a "
              f"near tie: {bad}")
        return 1
    ctl = torch_run(a, tokens, "", 5)
    if ctl["reference_nll_max_abs_diff"] <= 1e-2:
        print(f"FAIL: without the head mask PyTorch's NLLs still agree ({ctl['reference_nll_max_abs_diff']:.3g})")
        return 1
    print(f"ok: {r['prompts_tokens_equal']} of 12 prompts' tokens equal, NLLs within "
          f"{r['reference_nll_max_abs_diff']:.2g}; control without the mask "
          f"{ctl['reference_nll_max_abs_diff']:.2g} apart")
    return 0


if __name__ == "__main__":
    sys.exit(main())
