#!/usr/bin/env bash
# sweep_timing.sh: interleaved timings (docs/timing.md). The variants of a level run back to
# back per prompt in the order of a Williams design that the file records (every variant at
# every position and after every other variant equally often), repeated timings are stored
# as medians with their count, per-phase resources are recorded with units, and the quality
# numbers are exactly those of a sequential (variant by variant) run, in latency and in
# throughput mode.
source "$(dirname "$0")/fixture.sh" "$1"
sed -i 's/^max_new_tokens = .*/max_new_tokens = 8/' study.ini

sweep 1 --out seq.h5 --set job.timing_order=sequential || fail "sequential sweep: $(cat sweep.err)"
# HS_TEST_TIMING_LOG: every timed run's repeated metrics, to check the file holds their medians.
HS_TEST_TIMING_LOG="$work/rounds.log" sweep 2 --out il.h5 --set job.timing_repeats=3 ||
  fail "interleaved sweep: $(cat sweep.err)"
"$py" "$tool" compare --numbers-only seq.h5 il.h5 || fail "interleaving changed a quality number"
"$py" "$tool" check il.h5 || fail "schema check"
sweep 1 --out thr.h5 --set job.mode=throughput --set job.latency_prompts=2 --set job.timing_repeats=2 ||
  fail "throughput sweep: $(cat sweep.err)"
"$py" "$tool" compare --numbers-only seq.h5 thr.h5 || fail "throughput + interleaving changed a quality number"

"$py" - <<'PY' || fail "order, repeats or phases not recorded as documented"
import sys
import h5py
import numpy as np

def fail(msg):
    sys.exit("sweep_timing: " + msg)

with h5py.File("il.h5", "r") as f, h5py.File("seq.h5", "r") as s:
    m = f["metrics"]
    pos, start, reps = m["run_position"][...], m["run_start_seconds"][...], m["timing_repeats"][...]
    nv, nl, npr = pos.shape
    shards = int(f.attrs["n_shards"])
    if "timing_repeats = 3" not in f.attrs["study"].decode():
        fail("the study text lacks timing_repeats = 3")
    if not (reps == 3).all():
        fail("timing_repeats is not 3 for every prompt")
    for l in range(nl):
        for p in range(npr):
            got = sorted(pos[:, l, p].astype(int))
            if got != list(range(nv)):
                fail(f"level {l}, prompt {p}: positions {got} are not a permutation")
            # the recorded start times follow the positions: the variants ran back to back
            if list(np.argsort(start[:, l, p])) != list(np.argsort(pos[:, l, p])):
                fail(f"level {l}, prompt {p}: start times {start[:, l, p]} do not follow positions")
        # Williams order: prompt j of shard s runs row j + s; with 3 variants (6 rows) and 4
        # prompts in each of 6 shards every row occurs 4 times per level, so over the level
        # each variant holds each position, and directly follows each other variant, 8 times.
        at, after = np.zeros((nv, nv), int), np.zeros((nv, nv), int)
        for p in range(npr):
            order = list(np.argsort(pos[:, l, p]))
            for q, v in enumerate(order):
                at[v, q] += 1
            for a, b in zip(order, order[1:]):
                after[a, b] += 1
        if nv != 3 or npr != 24 or shards != 6:
            fail(f"the fixture changed ({nv} variants, {npr} prompts, {shards} shards): redo the counts")
        if not (at == 8).all():
            fail(f"level {l}: positions not balanced: {at.tolist()}")
        if not (after + 8 * np.eye(nv, dtype=int) == 8).all():
            fail(f"level {l}: predecessors not balanced (row a: how often b ran right after a): {after.tolist()}")
    if not np.isnan(s["metrics/run_position"][...]).all():
        fail("a sequential run records run positions")
    for name, units in [("prefill_cpu_seconds", "s"), ("decode_cpu_seconds", "s"), ("scoring_seconds", "s"),
                        ("scoring_cpu_seconds", "s"), ("prefill_rss_growth_bytes", "bytes"),
                        ("decode_rss_growth_bytes", "bytes"), ("scoring_rss_growth_bytes", "bytes")]:
        d = m[name]
        if d.attrs["units"].decode() != units or d.attrs["timing"] != 1:
            fail(f"{name}: units {d.attrs['units']!r}, timing {d.attrs['timing']}")
        x = d[...]
        if not (np.isfinite(x).all() and (x >= 0).all()):
            fail(f"{name}: not finite and >= 0 everywhere")
    if not (m["scoring_seconds"][...] > 0).all() or not (m["decode_cpu_seconds"][...] > 0).all():
        fail("a phase took no time")

with h5py.File("thr.h5", "r") as f:
    pos, shards = f["metrics/run_position"][...], int(f.attrs["n_shards"])
    sampled = np.zeros(pos.shape[2], bool)   # 2 prompts of each shard, spread: hs_latency_prompt
    for s in range(shards):
        cell = list(range(s, pos.shape[2], shards))
        sampled[[cell[(2 * t + 1) * len(cell) // 4] for t in range(2)]] = True
    if not np.isfinite(pos[:, :, sampled]).all() or not np.isnan(pos[:, :, ~sampled]).all():
        fail("throughput mode: run positions not exactly on the latency sample")
    if not (f["metrics/timing_repeats"][:, :, sampled] == 2).all():
        fail("throughput mode: latency sample not timed twice")
# timing_repeats = 3: each repeated metric is the median of its prompt's 3 timed runs (not
# the first run, not the mean), for every variant, level and prompt.
runs = {}
for ln in open("rounds.log"):
    v, lev, pid, r, *kv = ln.split()
    runs.setdefault((v, float(lev), pid), {})[int(r)] = {k: float(x) for k, x in (t.split("=") for t in kv)}
with h5py.File("il.h5", "r") as f:
    names = [x.decode() for x in f["variant"][...]]
    levels, ids = list(f["level"][...]), [x.decode() for x in f["prompt"][...]]
    if len(runs) != len(names) * len(levels) * len(ids) or any(sorted(x) != [0, 1, 2] for x in runs.values()):
        fail(f"timing log: {len(runs)} (variant, level, prompt) with 3 rounds each expected")
    not_first = not_mean = 0
    for (v, lev, pid), rr in runs.items():
        vi, li, pi = names.index(v), levels.index(lev), ids.index(pid)
        for name in rr[0]:
            x = [rr[r][name] for r in range(3)]
            got = float(f["metrics/" + name][vi, li, pi])
            if got != float(np.median(x)):
                fail(f"{name} of {v} at {lev}%, prompt {pid}: {got!r} is not the median of the runs {x}")
            not_first += got != x[0]
            not_mean += got != sum(x) / 3
    if not (not_first and not_mean):
        fail(f"the runs never differ ({not_first}, {not_mean}): the check cannot tell a median from one run")
print("sweep_timing: order, repeats (medians of the logged runs) and phases recorded")
PY

# --cells with interleaving takes whole (level, shard) items: every part's done cells are
# complete across the variants.
sweep 1 --out part.h5 --cells 2/5 || fail "sliced sweep: $(cat sweep.err)"
"$py" - <<'PY' || fail "a slice split the variants of an item"
import sys
import h5py
import numpy as np
d = h5py.File("part.h5", "r")["cells/done"][...]
if not d.any() or not (d.all(axis=0) == d.any(axis=0)).all():
    sys.exit("sweep_timing: --cells 2/5 did not take all variants of its (level, shard) items")
PY
echo "sweep_timing: ok"
