#!/usr/bin/python3
"""Checks mean ablation (hs_head_means, hs_ctx_set_head_means) against the numpy reference.

On the bundled model: the engine's head means over calibration sequences equal the numpy
reference's ungated head outputs averaged over every position (1e-5 absolute), and the
last position's logits with some heads mean-ablated equal ref_gpt2.forward with the
engine's stored means substituted (g z + (1 - g) mean), in mask and skip gating, within
1e-4 absolute (the tolerance of check_logits.py); mean ablation really differs from zero
ablation (> 1e-3). Needs numpy only.
Run: /usr/bin/python3 tests/reference/ref_mean_ablation.py --dump BIN --model DIR
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref_gpt2  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--model", required=True)
    a = ap.parse_args()
    m = ref_gpt2.GPT2(a.model)
    c = m.cfg
    L, H, D, V = c.n_layer, c.n_head, c.head_dim, c.vocab_size
    rng = np.random.default_rng(4)
    calib = [rng.integers(0, V, size=n).tolist() for n in (9, 40, 23)]
    ev = rng.integers(0, V, size=30).tolist()
    heads = "0.1,1.3,2.0,2.7,4.4,5.6"
    fails = []
    with tempfile.TemporaryDirectory() as work:
        cp, ep = os.path.join(work, "calib.txt"), os.path.join(work, "eval.txt")
        with open(cp, "w") as f:
            f.writelines(" ".join(map(str, s)) + "\n" for s in calib)
        with open(ep, "w") as f:
            f.write(" ".join(map(str, ev)) + "\n")
        out = subprocess.run([a.dump, a.model, cp, ep, heads], check=True, capture_output=True, text=True).stdout
    rows = {l.split()[0]: np.array(list(map(float, l.split()[1:]))) for l in out.splitlines()}
    means = rows["means"].reshape(L, H, D)
    zs = [[] for _ in range(L)]
    total = 0
    for s in calib:
        col = []
        m.forward(s, collect=col)
        for l in range(L):
            zs[l].append(col[l].sum(axis=1))  # (H, D) summed over positions
        total += len(s)
    want_means = np.array([np.sum(zs[l], axis=0) / total for l in range(L)])
    d = np.abs(means - want_means).max()
    print("head means: max |engine - reference| = %.3g" % d)
    if d > 1e-5:
        fails.append("head means differ by %g" % d)
    gates = m.gates_from_heads_off(ref_gpt2.parse_heads(heads))
    ref = m.forward(ev, gates, means=means.astype(np.float32).astype(np.float64))
    for mode in ("mask", "skip"):
        d = np.abs(rows[mode] - ref).max()
        print("%s: max |engine - reference| over %d logits = %.3g" % (mode, V, d))
        if d > 1e-4:
            fails.append("%s logits differ by %g" % (mode, d))
    moved = np.abs(rows["mask"] - rows["zero"]).max()
    print("mean vs zero ablation: logits move by %.3g" % moved)
    if moved <= 1e-3:
        fails.append("mean ablation equals zero ablation (%g)" % moved)
    for f in fails:
        print("FAIL " + f)
    print("FAILED" if fails else "ok")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
