#!/usr/bin/python3
"""test_sample_prompts.py: tools/sample_prompts.py on the held-out set.

    test_sample_prompts.py REPO_ROOT WORKDIR

Checks that the sample is deterministic, covers every book (when N allows), follows the
largest-remainder allocation, has no prompt sharing a 40-character run with another
sampled prompt's reference, is in file order, and that jobs/prompts/kjv_heldout_sample24.jsonl
is what the tool writes."""
import json
import os
import re
import subprocess
import sys

root, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
tool = os.path.join(root, "tools", "sample_prompts.py")
src = os.path.join(root, "jobs", "prompts", "kjv_heldout.jsonl")
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def sample(n, out, *extra):
    p = subprocess.run([sys.executable, tool, src, str(n), out, *extra], capture_output=True, text=True)
    return p


a, b = os.path.join(work, "a.jsonl"), os.path.join(work, "b.jsonl")
check(sample(24, a).returncode == 0 and sample(24, b).returncode == 0, "tool runs")
check(open(a).read() == open(b).read(), "same seed, same sample")
check(open(a).read() == open(os.path.join(root, "jobs", "prompts", "kjv_heldout_sample24.jsonl")).read(),
      "the demo's sample file is the tool's output")
items = [json.loads(ln) for ln in open(a)]
book = lambda pid: re.sub(r"(-\d+){1,2}$", "", pid)
allbooks = {book(json.loads(ln)["id"]) for ln in open(src) if ln.strip()}
check(len(items) == 24 and {book(it["id"]) for it in items} == allbooks, "every held-out book sampled")
order = [json.loads(ln)["id"] for ln in open(src) if ln.strip()]
idx = [order.index(it["id"]) for it in items]
check(idx == sorted(idx), "sample in file order")
for i, x in enumerate(items):
    for j, y in enumerate(items):
        if i != j:
            r = x.get("reference", "")
            runs = {r[k:k + 40] for k in range(max(1, len(r) - 39))}
            check(not any(s in y["prompt"] for s in runs), "%s's reference overlaps %s" % (x["id"], y["id"]))
c = os.path.join(work, "c.jsonl")
check(sample(24, c, "--seed", "5").returncode == 0 and open(c).read() != open(a).read(), "another seed, another sample")
check(sample(0, c).returncode == 2 and sample(100000, c).returncode == 2, "bad N -> exit 2")
print("%d failure(s)" % len(fails))
sys.exit(1 if fails else 0)
