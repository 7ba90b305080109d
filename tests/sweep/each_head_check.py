#!/usr/bin/python3
"""Checks an each_head study (sweep_each_head.sh) against its results file and numpy.

(a) /level carries the attribute single_head: -1 for the listed levels, then every head
    index once (layer-major); at each single-head level /heads/pruned switches off exactly
    that head in every variant, and every cell is done.
(b) head_effects.csv: each head's delta_nll equals sum_i w_i ln(a_i / b_i) / sum_i w_i from
    the file's per-prompt reference_perplexity (a: head off, b: the variant's level 0) and
    reference_tokens (w), within 1e-9 relative, its interval holds it, every head of every
    variant is there; the single-head cells' reference perplexities equal the numpy model's
    (tests/reference/ref_gpt2.py, float64) with that head off (and, for mean ablation, the
    file's /heads/means substituted) within 1e-4 relative.
(c) head_interactions.csv: at every listed level with heads off, the interaction equals the
    cumulative effect minus the sum of the individual effects of the heads /heads/pruned
    names there, each computed on the file's per-prompt values.
Also: the report's tables keep the listed levels only.
"""

import argparse
import csv
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import ref_gpt2  # noqa: E402
from ref_mean_ablation_sweep import ref_ppl, tokenize  # noqa: E402

fails = []


def check(ok, what):
    if not ok:
        fails.append(what)
    return ok


def names(ds):
    return [x.decode() if isinstance(x, bytes) else x for x in ds[...]]


def structure(f, LH):
    """(a): returns the listed levels' indices and the head -> level index map."""
    lh = f["/level"].attrs["single_head"]
    listed = [i for i, h in enumerate(lh) if h < 0]
    single = {int(h): i for i, h in enumerate(lh) if h >= 0}
    check(sorted(single) == list(range(LH)) and len(lh) == len(listed) + LH,
          "single_head does not list every head once: %s" % list(lh))
    check(listed == list(range(len(listed))), "listed levels are not first: %s" % list(lh))
    pruned = f["/heads/pruned"][...].reshape(f["/heads/pruned"].shape[0], len(lh), LH)
    for h, l in single.items():
        for v in range(pruned.shape[0]):
            want = np.zeros(LH, dtype=np.uint8)
            want[h] = 1
            check((pruned[v, l] != 0).astype(np.uint8).tolist() == want.tolist(),
                  "variant %d, single-head level of head %d: pruned map %s" % (v, h, pruned[v, l].tolist()))
    check(bool(f["/cells/done"][...].all()), "not every cell is done")
    return listed, single, pruned


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(1.0, abs(b))


def effects(f, rep, vnames, single, ref, H):
    """(b) on the file's values; returns the per-prompt log-ratios (v, head, prompt)."""
    ppl = f["/metrics/reference_perplexity"][...]
    w = f["/metrics/reference_tokens"][...]
    lr = {}
    rows = {(r["variant"], int(r["layer"]), int(r["head"])): r for r in read_csv(os.path.join(rep, "head_effects.csv"))}
    for v, name in enumerate(vnames):
        for h, l in single.items():
            x = np.log(ppl[v, l]) - np.log(ppl[v, ref])
            lr[v, h] = x
            want = float((w[v, ref] * x).sum() / w[v, ref].sum())
            r = rows.get((name, h // H, h % H))
            if not check(r is not None, "head_effects.csv lacks %s %d.%d" % (name, h // H, h % H)):
                continue
            got = float(r["delta_nll"])
            check(close(got, want), "effect of %s %d.%d: report %r, numpy %r" % (name, h // H, h % H, got, want))
            check(float(r["ci_low"]) <= got <= float(r["ci_high"]), "interval of %s %d.%d misses its mean"
                  % (name, h // H, h % H))
            check(int(r["prompts"]) == ppl.shape[2], "effect of %s %d.%d: %s prompts" % (name, h // H, h % H,
                                                                                       r["prompts"]))
    return lr


def interactions(f, rep, vnames, listed, pruned, ref, lr):
    """(c): cumulative minus the sum of the individual effects, per listed level."""
    ppl = f["/metrics/reference_perplexity"][...]
    w = f["/metrics/reference_tokens"][...]
    levels = f["/level"][...]
    rows = {(r["variant"], float(r["level_pct"])): r for r in read_csv(os.path.join(rep, "head_interactions.csv"))}
    n = 0
    for v, name in enumerate(vnames):
        wt = w[v, ref]
        for l in listed:
            off = np.nonzero(pruned[v, l])[0]
            if len(off) == 0:
                continue
            cum = np.log(ppl[v, l]) - np.log(ppl[v, ref])
            indiv = sum(lr[v, h] for h in off)
            want = float((wt * (cum - indiv)).sum() / wt.sum())
            r = rows.get((name, float(levels[l])))
            if not check(r is not None, "head_interactions.csv lacks %s at %g" % (name, levels[l])):
                continue
            n += 1
            got = float(r["interaction_nll"])
            check(close(got, want), "interaction of %s at %g: report %r, numpy %r" % (name, levels[l], got, want))
            check(close(float(r["cumulative_nll"]) - float(r["sum_individual_nll"]), got, 1e-7),
                  "interaction of %s at %g is not cumulative - sum" % (name, levels[l]))
            check(int(r["heads_off"]) == len(off), "heads_off of %s at %g" % (name, levels[l]))
            check(float(r["ci_low"]) <= got <= float(r["ci_high"]), "interval of %s at %g" % (name, levels[l]))
    check(n > 0, "no interaction checked")
    return n


def against_model(a, f, vnames, single, H):
    """(b): the single-head cells' perplexities against the numpy model with that head off."""
    m = ref_gpt2.GPT2(a.model)
    with open(a.prompts) as fh:
        ev = [json.loads(line) for line in fh if line.strip()]
    ids = [x.decode() if isinstance(x, bytes) else x for x in f["/prompt"][...]]
    ev = [next(r for r in ev if r["id"] == i) for i in ids]
    pids = tokenize(a.headsweep, a.model, [r["prompt"] for r in ev])
    rids = tokenize(a.headsweep, a.model, [r["reference"] for r in ev])
    ppl = f["/metrics/reference_perplexity"][...]
    means = f["/heads/means"][...] if "/heads/means" in f else None
    worst = 0.0
    for v, name in enumerate(vnames):
        mu = None if means is None or np.isnan(means[v]).all() else means[v]
        for h, l in single.items():
            gates = np.ones((m.cfg.n_layer, H))
            gates[h // H, h % H] = 0
            for p in range(len(ev)):
                want = ref_ppl(m, pids[p], rids[p], gates, mu)
                worst = max(worst, abs(ppl[v, l, p] - want) / want)
    print("single-head cells: max relative |sweep - numpy| reference perplexity = %.3g" % worst)
    check(worst <= 1e-4, "single-head perplexities differ from numpy's by %g relative" % worst)


def tables(rep, levels_listed):
    """The report's tables hold the listed levels only (single-head levels are kept apart)."""
    rows = read_csv(os.path.join(rep, "table_corpus_reference_perplexity.csv"))
    got = sorted({float(r["level"]) for r in rows})
    check(got == sorted(levels_listed), "report tables have levels %s, want %s" % (got, levels_listed))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--headsweep", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--report", required=True)
    a = ap.parse_args()
    with h5py.File(a.results, "r") as f:
        L, H = f["/layer"].shape[0], f["/head"].shape[0]
        vnames = names(f["/variant"])
        listed, single, pruned = structure(f, L * H)
        levels = f["/level"][...]
        ref = [i for i in listed if levels[i] == 0][0]
        study = f.attrs["study"]
        study = study.decode() if isinstance(study, bytes) else study
        check("each_head = on" in study, "the study text has no each_head line")
        lr = effects(f, a.report, vnames, single, ref, H)
        n = interactions(f, a.report, vnames, listed, pruned, ref, lr)
        against_model(a, f, vnames, single, H)
        tables(a.report, [float(levels[i]) for i in listed])
    print("checked %d variants x %d heads and %d interactions" % (len(vnames), L * H, n))
    for x in fails:
        print("FAIL " + x)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
