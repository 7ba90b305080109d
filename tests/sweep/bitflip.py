#!/usr/bin/python3
"""bitflip.py HEADSWEEP REPORT FILE WORKDIR N SEED: flips one bit at each of N offsets of the
real results file FILE (a third in object headers, a third in data chunks, a third anywhere,
the global heap included) and gives each damaged copy to headsweep-report and to
`headsweep merge`, each under `timeout`. Every outcome must be exit 0 with the pristine
file's output (the report's tables and REPORT.md, the merged file's numbers) or exit 2 with
a message; a crash, a hang, another exit status or a changed result is a failure (issue 17).
Prints one line per failure and a summary per region; exits 1 when anything failed.
The CTest test sweep_bitflip (test_bitflip.c) does the same in one process, thousands of
flips, with resume too; this script runs the real programs (the report's output files, merge
through the command line) and is for longer campaigns by hand. Run by hand, e.g. on the fuzz seed:
  tests/sweep/bitflip.py build/src/cli/headsweep build/analysis/headsweep-report \
      tests/fuzz/corpus/results_check/sweep-complete.h5 /tmp/bf 1500 9"""
import filecmp
import os
import random
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

TIMEOUT = 60  # seconds per run: a loaded 2-core machine, not a hang


def run(cmd, cwd):
    try:
        p = subprocess.run(["timeout", "-s", "KILL", str(TIMEOUT), *cmd], cwd=cwd, capture_output=True, text=True,
                           errors="replace")
    except OSError as e:
        return -1, str(e)
    return p.returncode, p.stderr


def report_files(d):
    """The report's text outputs (tables and REPORT.md); no figures were asked for."""
    return sorted(n for n in os.listdir(d) if n.endswith((".md", ".csv")))


def same_report(a, b):
    fa, fb = report_files(a), report_files(b)
    return fa == fb and all(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False) for n in fa)


def numbers(path):
    """Every dataset of a merged file (timings too): a merge of one input copies it whole."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) else None)
    return out


def same_numbers(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def regions(data, path):
    heads = [m.start() for m in re.finditer(b"OHDR|OCHK", data)]
    chunks = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                for i in range(obj.id.get_num_chunks()):
                    c = obj.id.get_chunk_info(i)
                    chunks.append((c.byte_offset, c.size))
        f.visititems(visit)
    return heads, chunks


def offsets(data, path, n, rng):
    heads, chunks = regions(data, path)
    picks = []
    for _ in range(n // 3):
        h = rng.choice(heads)
        picks.append(("header", min(len(data) - 1, h + rng.randrange(4, 512))))
        off, size = rng.choice(chunks)
        picks.append(("chunk", off + rng.randrange(size)))
    while len(picks) < n:
        picks.append(("anywhere", rng.randrange(len(data))))
    return picks


def check(hs, report, work, name, ref_report, ref_numbers):
    """None when the damaged copy at work/f.h5 was handled, else what went wrong."""
    out = os.path.join(work, "rep")
    shutil.rmtree(out, ignore_errors=True)
    rc, err = run([report, "f.h5", "--out", out, "--no-figures", "--bootstrap", "200"], work)
    if rc not in (0, 2) or (rc == 2 and not err.strip()):
        return f"report exit {rc}: {err.strip()[-300:]}"
    if rc == 0 and not same_report(out, ref_report):
        return "report exit 0 with another result"
    merged = os.path.join(work, "m.h5")
    for p in (merged, merged + ".lock"):
        if os.path.exists(p):
            os.unlink(p)
    rc, err = run([hs, "merge", merged, "f.h5"], work)
    if rc not in (0, 2) or (rc == 2 and not err.strip()):
        return f"merge exit {rc}: {err.strip()[-300:]}"
    if rc == 0:
        try:
            if not same_numbers(numbers(merged), ref_numbers):
                return "merge exit 0 with other numbers"
        except Exception as e:  # h5py cannot read what merge wrote
            return f"merge exit 0 with an unreadable output: {e}"
    return None


def main():
    hs, report, src, work, n, seed = sys.argv[1:7]
    work = os.path.abspath(work)
    rng = random.Random(int(seed))
    os.makedirs(work, exist_ok=True)
    data = open(src, "rb").read()
    target = os.path.join(work, "f.h5")
    shutil.copy(src, target)
    ref_report = os.path.join(work, "ref-report")
    rc, err = run([report, "f.h5", "--out", ref_report, "--no-figures", "--bootstrap", "200"], work)
    if rc != 0:
        sys.exit(f"the pristine file's report failed ({rc}): {err}")
    rc, err = run([hs, "merge", "ref.h5", "f.h5"], work)
    if rc != 0:
        sys.exit(f"the pristine file's merge failed ({rc}): {err}")
    ref_numbers = numbers(os.path.join(work, "ref.h5"))
    tally, failures = {}, 0
    for region, off in offsets(data, src, int(n), rng):
        b = bytearray(data)
        b[off] ^= 1 << rng.randrange(8)
        with open(target, "wb") as f:
            f.write(b)
        bad = check(hs, report, work, "f.h5", ref_report, ref_numbers)
        key = (region, "FAIL" if bad else "ok")
        tally[key] = tally.get(key, 0) + 1
        if bad:
            failures += 1
            print(f"FAIL {region} offset {off}: {bad}", flush=True)
    for (region, outcome), k in sorted(tally.items()):
        print(f"{region:9s} {outcome:4s} {k}")
    print(f"bitflip: {int(n)} flips, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
