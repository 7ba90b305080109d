#!/usr/bin/python3
"""Held-out reference perplexity of a model at several pruning levels, per strategy.

Produces the measured table of docs/pruning.md with the headsweep command only (Python
3 standard library; no numbers are computed here except sums of what headsweep prints):

  1. `headsweep score --strategy S --prompts CALIB --out WORK/scores-S.json` for each
     strategy (calibration prompts, never the evaluation prompts);
  2. the removal order of each strategy: heads sorted by (score, layer, head), as
     hs_prune_order does; level P% switches off the first round(P/100 x L x H) of them
     (global selection, DESIGN.md "Pruning"), passed to `headsweep ppl --heads-off`;
  3. `headsweep ppl --prompt P --continuation R` on an evenly spaced sample of N prompts
     of the held-out set (prompt i * total // N), for every strategy and level;
  4. pooled perplexity exp(sum of NLL / sum of reference tokens) over the sample, and the
     mean of the per-prompt perplexities, as markdown.

With --check-cli, one prompt per strategy and level is also run with
`--prune-level P --scores FILE` to confirm the CLI's own selection gives the same number.

Usage (the command behind docs/pruning.md):
  /usr/bin/python3 tools/prune_table.py --headsweep build/src/cli/headsweep \\
      --model models/kjv-gpt2 --work /tmp/prune-table --n 200 --check-cli
"""

import argparse
import concurrent.futures
import json
import math
import os
import subprocess
import sys


def run(cmd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd[:6]), p.stderr))
    return p.stdout


def level_count(pct, L, H):
    """round(p/100 x L x H) with halves away from zero, as hs_prune_count (C lround)."""
    return int(math.floor(pct / 100.0 * L * H + 0.5))


def scores(args, strategy):
    out = os.path.join(args.work, "scores-%s.json" % strategy)
    text = run([args.headsweep, "score", "--model", args.model, "--prompts", args.calib,
                "--strategy", strategy, "--seed", str(args.seed), "--out", out])
    with open(os.path.join(args.work, "scores-%s.txt" % strategy), "w") as f:
        f.write(text)
    with open(out) as f:
        doc = json.load(f)
    L, H = doc["L"], doc["H"]
    flat = [doc["scores"][l][h] for l in range(L) for h in range(H)]
    order = sorted(range(L * H), key=lambda i: (flat[i], i))
    return out, order, L, H


def ppl(args, prompt, extra):
    text = run([args.headsweep, "ppl", "--model", args.model, "--prompt", prompt["prompt"],
                "--continuation", prompt["reference"]] + extra)
    vals = dict(line.split() for line in text.splitlines() if line.strip())
    return float(vals["mean_nll"]), int(vals["tokens"])


def evaluate(args, sample, extra):
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        res = list(ex.map(lambda p: ppl(args, p, extra), sample))
    nll = sum(m * t for m, t in res)
    tokens = sum(t for _, t in res)
    return math.exp(nll / tokens), sum(math.exp(m) for m, _ in res) / len(res), tokens


def heads_arg(order, k, H):
    return ",".join("%d.%d" % (i // H, i % H) for i in order[:k])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--headsweep", default=os.environ.get("HS_HEADSWEEP", "build/src/cli/headsweep"))
    ap.add_argument("--model", default="models/kjv-gpt2")
    ap.add_argument("--calib", default="jobs/prompts/kjv_calib.jsonl")
    ap.add_argument("--heldout", default="jobs/prompts/kjv_heldout.jsonl")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--levels", default="0,30,50,70")
    ap.add_argument("--strategies", default="entropy,random,magnitude,ablation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", required=True)
    ap.add_argument("--check-cli", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    with open(args.heldout) as f:
        prompts = [json.loads(line) for line in f if line.strip()]
    prompts = [p for p in prompts if p.get("reference")]
    sample = [prompts[i * len(prompts) // args.n] for i in range(args.n)]
    levels = [float(x) for x in args.levels.split(",")]
    cache, rows, first = {}, [], []
    for s in args.strategies.split(","):
        path, order, L, H = scores(args, s)
        first.append((s, heads_arg(order, min(8, L * H), H)))
        row = []
        for pct in levels:
            k = level_count(pct, L, H)
            key = tuple(sorted(order[:k]))
            if key not in cache:
                cache[key] = evaluate(args, sample, ["--heads-off", heads_arg(order, k, H)] if k else [])
            row.append((pct, k, cache[key]))
            if args.check_cli:
                direct = ppl(args, sample[0], ["--prune-level", "%g" % pct, "--scores", path])
                mine = ppl(args, sample[0], ["--heads-off", heads_arg(order, k, H)] if k else [])
                status = "ok" if direct == mine else "MISMATCH %r vs %r" % (direct, mine)
                print("check-cli %s %g%%: %s" % (s, pct, status), file=sys.stderr)
        rows.append((s, row))
        print("%s done" % s, file=sys.stderr)
    print("pooled perplexity exp(sum NLL / sum tokens) over %d held-out prompts (%d tokens)\n"
          % (len(sample), rows[0][1][0][2][2]))
    print("| strategy | " + " | ".join("%g%% (%d heads)" % (p, k) for p, k, _ in rows[0][1]) + " |")
    print("| --- |" + " ---: |" * len(levels))
    for s, row in rows:
        print("| %s | " % s + " | ".join("%.3f" % r[0] for _, _, r in row) + " |")
    print("\nmean of per-prompt perplexities\n")
    print("| strategy | " + " | ".join("%g%%" % p for p, _, _ in rows[0][1]) + " |")
    print("| --- |" + " ---: |" * len(levels))
    for s, row in rows:
        print("| %s | " % s + " | ".join("%.3f" % r[1] for _, _, r in row) + " |")
    print("\nfirst heads switched off (layer.head, in order)\n")
    print("| strategy | first 8 |")
    print("| --- | --- |")
    for s, heads in first:
        print("| %s | %s |" % (s, heads.replace(",", " ")))


if __name__ == "__main__":
    main()
