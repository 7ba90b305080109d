#!/usr/bin/python3
"""agency_bundled.py: the agency state machine on the bundled model (models/kjv-gpt2), run
through `headsweep generate --agency` on held-out prompts at 0% and 50% (entropy scores
from the calibration set), with the per-head occupancy and transitions it prints checked
for consistency and plausibility, and a summary table printed (the test log reports it).

Checked, per prompt and level:
  - every head's occupancy sums to the forward steps of the generation (one state per
    head per step: the prefill and each decode step);
  - exactly the heads the saved scores select (ranked here, independently) are withdrawn
    for the whole generation with no transition; no other head is ever withdrawn;
  - a head with k transitions spent time in at most k + 1 states; none in one state has
    transitions;
  - the totals line equals the sum of the per-head lines.
Over the whole run (plausibility on a trained model with the default thresholds):
  - most live head-steps are active (the states are exceptions, not the rule);
  - the mechanism is not inert: some live head leaves the active state at least once.

Environment: HS_HEADSWEEP (the binary), HS_SOURCE_DIR. Exit 0 pass, 1 fail, 77 skip
(no bundled model).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

STATES = ("active", "overloaded", "misaligned", "withdrawn")
N_PROMPTS = 6
MAX_NEW = 64


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"FAIL `{' '.join(args)}` exited {p.returncode}: {p.stderr[-800:]}")
        sys.exit(1)
    return p.stderr


def selected(scores, pct):
    L, H = len(scores), len(scores[0])
    flat = [scores[l][h] for l in range(L) for h in range(H)]
    order = sorted(range(L * H), key=lambda i: (flat[i], i))
    n = int(pct / 100.0 * L * H + 0.5)
    return {(i // H, i % H) for i in order[:n]}


def parse(err):
    heads, total = {}, None
    for line in err.splitlines():
        m = re.match(r"agency head (\d+)\.(\d+): (.*) transitions=(\d+)$", line)
        if m:
            occ = dict(kv.split("=") for kv in m.group(3).split())
            heads[(int(m.group(1)), int(m.group(2)))] = (
                [int(occ[s]) for s in STATES], int(m.group(4)))
            continue
        m = re.match(r"agency: head-steps (.*) transitions=(\d+)$", line)
        if m:
            occ = dict(kv.split("=") for kv in m.group(1).split())
            total = ([int(occ[s]) for s in STATES], int(m.group(2)))
    gen = re.search(r"generated (\d+)", err)
    return heads, total, int(gen.group(1)) if gen else None


def check_prompt(fails, what, heads, total, steps, off):
    if not heads or total is None or steps is None:
        fails.append(f"{what}: no agency output")
        return
    sums = [0] * 4
    for hd, (occ, tr) in heads.items():
        sums = [a + b for a, b in zip(sums, occ)]
        if sum(occ) != steps:
            fails.append(f"{what}: head {hd} occupancy sums to {sum(occ)}, not {steps} steps")
        withdrawn = occ[3]
        if hd in off and (withdrawn != steps or tr != 0):
            fails.append(f"{what}: pruned head {hd} not withdrawn throughout: {occ}, {tr} transitions")
        if hd not in off and withdrawn != 0:
            fails.append(f"{what}: live head {hd} withdrawn for {withdrawn} steps")
        if sum(1 for x in occ if x) > tr + 1:
            fails.append(f"{what}: head {hd} in {sum(1 for x in occ if x)} states with {tr} transitions")
    if sums != total[0] or sum(tr for _, tr in heads.values()) != total[1]:
        fails.append(f"{what}: totals line {total} != sum of head lines {sums}")


def main():
    exe, src = os.environ.get("HS_HEADSWEEP"), os.environ.get("HS_SOURCE_DIR", ".")
    model = os.path.join(src, "models", "kjv-gpt2")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        print(f"SKIP: no bundled model at {model}")
        return 77
    with open(os.path.join(src, "jobs", "prompts", "kjv_heldout.jsonl")) as f:
        prompts = [json.loads(line)["prompt"] for line in f if line.strip()][::97][:N_PROMPTS]
    fails, table = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        scores_path = os.path.join(tmp, "entropy.json")
        run([exe, "score", "--model", model, "--strategy", "entropy", "--prompts",
             os.path.join(src, "jobs", "prompts", "kjv_calib.jsonl"), "--max-prompts", "32",
             "--out", scores_path])
        with open(scores_path) as f:
            scores = json.load(f)["scores"]
        for pct in (0, 50):
            off = selected(scores, pct)
            agg = [0] * 4
            trans = 0
            for i, prompt in enumerate(prompts):
                err = run([exe, "generate", "--model", model, "--prompt", prompt,
                           "--max-new", str(MAX_NEW), "--temperature", "0.8", "--top-k", "40",
                           "--seed", str(i + 1), "--agency", "--prune-level", str(pct),
                           "--strategy", "entropy", "--scores", scores_path])
                heads, total, steps = parse(err)
                check_prompt(fails, f"{pct}% prompt {i}", heads, total, steps, off)
                if total:
                    agg = [a + b for a, b in zip(agg, total[0])]
                    trans += total[1]
            table[pct] = (agg, trans, len(off))
    print(f"agency occupancy on models/kjv-gpt2, {len(prompts)} held-out prompts x "
          f"{MAX_NEW} new tokens (share of head-steps):")
    print("| level | heads off | " + " | ".join(STATES) + " | transitions |")
    print("| --- | --- |" + " --- |" * 5)
    live_steps = live_active = left_active = 0
    for pct, (agg, trans, n_off) in table.items():
        n = sum(agg) or 1
        print(f"| {pct}% | {n_off} | " + " | ".join(f"{x / n:.3f}" for x in agg) + f" | {trans} |")
        live_steps += agg[0] + agg[1] + agg[2]
        live_active += agg[0]
        left_active += agg[1] + agg[2]
    if live_steps and live_active / live_steps < 0.5:
        fails.append(f"implausible: only {live_active / live_steps:.2f} of live head-steps active")
    if left_active == 0:
        fails.append("inert: no live head ever left the active state with the default thresholds")
    for f in fails:
        print("FAIL " + f)
    print(f"{'FAILED' if fails else 'all checks pass'} ({len(fails)} failures)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
