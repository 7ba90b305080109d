#!/usr/bin/python3
"""Mean ablation end to end (job key `ablation = mean`) against the numpy reference.

On the bundled model, with the headsweep binary:
  1. `headsweep score --prompts CALIB --out s.json` stores each head's mean output: they
     equal ref_gpt2's ungated head outputs averaged over every position of the same
     calibration tokens (prompt + reference, tokenized by `headsweep tokenize`, cut to
     --max-tokens), within 1e-5 absolute;
  2. a sweep with [pruning] scores = s.json and variants zero (skip), mean (skip,
     ablation = mean) and meanmask (mask, ablation = mean) records for every prompt and
     level a reference_perplexity equal to ref_gpt2's (teacher-forced, the heads of
     /heads/pruned switched off, the stored means substituted for the mean variants)
     within 1e-4 relative (logits within 1e-4 absolute, check_logits.py's tolerance);
     mean ablation really differs from zero ablation where heads are off;
  3. the results file holds the means it ran with (/heads/means) for the mean variants;
  4. the same with an explicit head list ([pruning] heads_off, means computed by the sweep
     on [pruning] calibration cut to calibration_max_tokens): /heads/means equals numpy's
     averaged head outputs within 1e-5, and every reference_perplexity equals ref_gpt2's with
     the listed heads off and those means substituted, within 1e-4 relative.
Needs numpy and h5py. Run:
  /usr/bin/python3 tests/reference/ref_mean_ablation_sweep.py --headsweep BIN --model DIR --prompts-dir jobs/prompts
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref_gpt2  # noqa: E402

MAX_TOKENS = 64


def tokenize(hs, model, texts):
    """Token ids of each text as the engine encodes it (no special tokens)."""
    inp = "".join(json.dumps(t) + "\n" for t in texts)
    out = subprocess.run([hs, "tokenize", "--model", model, "--no-special", "--jsonl"], input=inp, check=True,
                         capture_output=True, text=True).stdout
    return [list(map(int, line.split())) for line in out.splitlines()]


def head_means(m, seqs):
    """(L, H, D): ungated head outputs averaged over every position of the sequences."""
    c = m.cfg
    total, acc = 0, np.zeros((c.n_layer, c.n_head, c.head_dim))
    for s in seqs:
        if len(s) < 2:
            continue
        col = []
        m.forward(s, collect=col)
        for l in range(c.n_layer):
            acc[l] += col[l].sum(axis=1)
        total += len(s)
    return acc / total


def ref_ppl(m, pids, rids, gates, means):
    """exp(mean NLL) of the reference tokens given the prompt (runner.c reference_ppl)."""
    ids = pids + rids
    lg = m.forward(ids, gates, all_positions=True, means=means)
    nll = 0.0
    for i in range(len(pids), len(ids)):
        row = lg[i - 1]
        mx = row.max()
        nll += mx + np.log(np.exp(row - mx).sum()) - row[ids[i]]
    return float(np.exp(nll / len(rids)))


def write_inputs(work, prompts_dir):
    def head(name, n):
        with open(os.path.join(prompts_dir, name)) as f:
            return [json.loads(line) for line in f.readlines()[:n]]
    calib, ev = head("kjv_calib.jsonl", 4), head("kjv_heldout.jsonl", 3)
    for name, rows in (("calib.jsonl", calib), ("eval.jsonl", ev)):
        with open(os.path.join(work, name), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    return calib, ev


JOB = """[job]
model = {model}
prompts = eval.jsonl
shards = 1
variants = zero, mean, meanmask
measure_unpruned_ppl = off
[generation]
max_new_tokens = 4
[pruning]
levels = 0, 25
scores = s.json
[variant.zero]
gating = skip
[variant.mean]
gating = skip
ablation = mean
[variant.meanmask]
ablation = mean
"""


JOB_LIST = """[job]
model = {model}
prompts = eval.jsonl
shards = 1
variants = zero, mean, meanmask
measure_unpruned_ppl = off
[generation]
max_new_tokens = 4
[pruning]
heads_off = 0.0, 0.3, 1.2, 2.3, 4.5, 5.0
calibration = calib.jsonl
calibration_max_tokens = {max_tokens}
[variant.zero]
gating = skip
[variant.mean]
gating = skip
ablation = mean
[variant.meanmask]
ablation = mean
"""


def check_list(a, m, calib, ev, work, fails):
    """Mean ablation of an explicit head list: the sweep's own means and perplexities."""
    import h5py
    with open(os.path.join(work, "list.ini"), "w") as fh:
        fh.write(JOB_LIST.format(model=a.model, max_tokens=MAX_TOKENS))
    subprocess.run([a.headsweep, "sweep", "list.ini", "--out", "list.h5"], cwd=work, check=True, capture_output=True)
    with h5py.File(os.path.join(work, "list.h5"), "r") as f:
        check_stored = f["/heads/means"][...][1]  # the mean variant's, float32 widened
        print("heads_off with ablation = mean:")
        check_means(a, m, calib, check_stored, fails)
        pruned = f["/heads/pruned"][...]
        if int(pruned[:, 0].sum()) != 3 * 6:
            fails.append("heads_off: /heads/pruned has %d heads off, want 6 per variant" % int(pruned.sum()))
        check_sweep(a, m, ev, check_stored, f, fails)


def check_means(a, m, calib, stored, fails):
    texts = [r["prompt"] + r.get("reference", "") for r in calib]
    seqs = [s[:MAX_TOKENS] for s in tokenize(a.headsweep, a.model, texts)]
    want = head_means(m, seqs)
    d = np.abs(stored - want).max()
    print("scores file head means: max |engine - reference| = %.3g" % d)
    if d > 1e-5:
        fails.append("stored head means differ from numpy's by %g" % d)


def check_sweep(a, m, ev, stored, f, fails):
    import h5py  # noqa: F401 (the caller opened f)
    names = [v.decode() if isinstance(v, bytes) else v for v in f["/variant"][...]]
    pruned = f["/heads/pruned"][...]
    ppl = f["/metrics/reference_perplexity"][...]
    pids = tokenize(a.headsweep, a.model, [r["prompt"] for r in ev])
    rids = tokenize(a.headsweep, a.model, [r["reference"] for r in ev])
    worst, moved = 0.0, 0.0
    for v, name in enumerate(names):
        means = None if name == "zero" else stored.astype(np.float32).astype(np.float64)
        for lv in range(pruned.shape[1]):
            gates = 1.0 - pruned[v, lv].astype(np.float64)
            for p in range(len(ev)):
                want = ref_ppl(m, pids[p], rids[p], gates, means)
                rel = abs(ppl[v, lv, p] - want) / want
                worst = max(worst, rel)
                if means is not None and gates.min() == 0:
                    moved = max(moved, abs(ppl[v, lv, p] - ref_ppl(m, pids[p], rids[p], gates, None)) / want)
    print("reference_perplexity: max relative |sweep - reference| = %.3g over %d variants x %d levels x %d prompts"
          % (worst, len(names), pruned.shape[1], len(ev)))
    print("mean vs zero ablation: reference perplexity moves by up to %.3g relative" % moved)
    if worst > 1e-4:
        fails.append("sweep perplexities differ from numpy's by %g relative" % worst)
    if moved <= 1e-3:
        fails.append("mean ablation equals zero ablation in the sweep (%g)" % moved)
    check_stored_means(names, stored, f, fails)


def calib_sha(f):
    """sha256 of the calibration set the scores file's means came from (beside r.h5)."""
    d = os.path.dirname(f.filename)
    with open(os.path.join(d, "s.json")) as fh:
        return json.load(fh)["means"]["calibration_sha256"]


def check_stored_means(names, stored, f, fails):
    if "/heads/means" in f:
        hm = f["/heads/means"][...]
        for v, name in enumerate(names):
            if name != "zero" and np.abs(hm[v] - stored).max() > 0:
                fails.append("/heads/means of variant %s is not the scores file's" % name)
            if name == "zero" and not np.isnan(hm[v]).all():
                fails.append("/heads/means of the zero-ablation variant is not NaN")
        sha = [x.decode() if isinstance(x, bytes) else x for x in f["/heads/means"].attrs["calibration_sha256"]]
        if sha[1] != f.attrs["calibration_sha256"] and sha[1] != calib_sha(f):
            fails.append("/heads/means does not name the calibration set's sha256")
    else:
        fails.append("the results file has no /heads/means")



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--headsweep", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts-dir", required=True)
    a = ap.parse_args()
    a.headsweep, a.model = os.path.abspath(a.headsweep), os.path.abspath(a.model)
    try:
        import h5py
    except ImportError:
        print("skipped: no h5py")
        return 77
    m = ref_gpt2.GPT2(a.model)
    c = m.cfg
    fails = []
    with tempfile.TemporaryDirectory() as work:
        calib, ev = write_inputs(work, a.prompts_dir)
        run = lambda *args: subprocess.run([a.headsweep, *args], cwd=work, check=True, capture_output=True)  # noqa
        run("score", "--model", a.model, "--prompts", "calib.jsonl", "--strategy", "entropy", "--max-tokens",
            str(MAX_TOKENS), "--out", "s.json")
        with open(os.path.join(work, "s.json")) as fh:
            js = json.load(fh)["means"]
        stored = np.array(js["values"], dtype=np.float64).reshape(c.n_layer, c.n_head, c.head_dim)
        check_means(a, m, calib, stored, fails)
        with open(os.path.join(work, "job.ini"), "w") as fh:
            fh.write(JOB.format(model=a.model))
        run("sweep", "job.ini", "--out", "r.h5")
        with h5py.File(os.path.join(work, "r.h5"), "r") as f:
            check_sweep(a, m, ev, stored, f, fails)
        check_list(a, m, calib, ev, work, fails)
    for x in fails:
        print("FAIL " + x)
    print("FAILED" if fails else "ok")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
