#!/usr/bin/env bash
# sweep_modes.sh: mode = throughput (a cell's prompts decoded together) gives every quality
# number, token and agency count (occupancy, transitions) that latency mode gives, on 1 and
# 2 ranks; per-prompt timings exist exactly for the latency sample (latency_prompts of
# each cell, spread over it: src/sweep/grid.c hs_latency_prompt);
# the mode is part of the study's identity; huge_pages = true and panels = false change no number; misuse of
# the mode keys is refused with file:line; and the report says where its numbers came from.
source "$(dirname "$0")/fixture.sh" "$1"
short=(--set generation.max_new_tokens=20)
thr=(--set job.mode=throughput --set job.batch=3)

sweep 2 --out lat.h5 "${short[@]}" || fail "latency sweep: $(cat sweep.err)"
sweep 2 --out thr.h5 "${short[@]}" "${thr[@]}" --set job.latency_prompts=1 || fail "throughput sweep: $(cat sweep.err)"
sweep 1 --out thr1.h5 "${short[@]}" "${thr[@]}" --set job.batch=16 || fail "serial throughput sweep: $(cat sweep.err)"
"$py" "$tool" check thr.h5 --ranks 2 || fail "schema check"

"$py" - lat.h5 thr.h5 thr1.h5 <<'PY' || fail "throughput mode differs from latency mode"
import sys, h5py, numpy as np
lat, thr, thr1 = (h5py.File(p, "r") for p in sys.argv[1:])
for name, ds in lat["metrics"].items():
    a = ds[...]
    for f, k in ((thr, 1), (thr1, 0)):
        b = f["metrics/" + name][...]
        if ds.attrs["timing"] == 0:
            assert np.array_equal(a, b, equal_nan=True), f"{f.filename}: {name} differs from latency mode"
for k in ("text/generated_ids", "agency/occupancy", "agency/transitions", "heads/pruned", "heads/score"):
    for f in (thr, thr1):
        assert np.array_equal(lat[k][...], f[k][...]), f"{f.filename}: {k} differs"
# The latency sample: one prompt of each cell, its middle one (shard s holds prompts s, s+6,
# ...: the sample is spread over the file, not its first 6 prompts).
shards = 6
gen_s = thr["metrics/generation_seconds"][...]
timed = np.isfinite(gen_s)
want = np.zeros_like(timed)
n_prompts = timed.shape[2]
for s in range(shards):
    cell = list(range(s, n_prompts, shards))
    want[:, :, cell[len(cell) // 2]] = True
assert (timed == want).all(), f"timed prompts {np.argwhere(timed)[:8]} are not the middle one of each cell"
assert "latency_sample = spread" in thr.attrs["study"].decode()
assert (gen_s[timed] > 0).all() and np.isfinite(thr["metrics/decode_tokens_per_second"][...][timed]).all()
assert not np.isfinite(thr1["metrics/generation_seconds"][...]).any(), "untimed run has timings"
assert (thr1["metrics/peak_rss_bytes"][...] > 0).all(), "peak RSS missing in throughput mode"
assert "mode = throughput" in thr.attrs["study"].decode() and "latency_prompts = 1" in thr.attrs["study"].decode()
assert "mode =" not in lat.attrs["study"].decode()
print("throughput mode: identical quality, latency sample of", int(timed.sum()), "prompts")
PY

# The mode is part of the study: a latency run cannot resume a throughput file.
"$hs" sweep study.ini --out thr.h5 "${short[@]}" 2>guard.err
[ $? = 2 ] && grep -q "different study" guard.err || fail "resuming a throughput file in latency mode: $(cat guard.err)"

# Mode keys: bad values and throughput-only keys in latency mode name where they were set.
"$hs" sweep study.ini --set job.mode=fast 2>guard.err
[ $? = 2 ] && grep -q -- "--set job.mode=fast" guard.err && grep -q "latency or throughput" guard.err ||
  fail "bad mode: $(cat guard.err)"
printf '[job]\nmodel = model\nprompts = prompts.jsonl\nbatch = 8\n' >bad.ini
"$hs" sweep bad.ini 2>guard.err
[ $? = 2 ] && grep -q "bad.ini:4: batch applies to mode = throughput only" guard.err ||
  fail "batch in latency mode: $(cat guard.err)"
"$hs" sweep study.ini "${thr[@]}" --set job.batch=0 2>guard.err
[ $? = 2 ] && grep -q -- "--set job.batch=0" guard.err || fail "batch 0: $(cat guard.err)"

# bf16 weights: a different study (its numbers differ), close to f32 in quality.
sweep 1 --out bf.h5 "${short[@]}" --set job.weights=bf16 || fail "bf16 sweep: $(cat sweep.err)"
"$py" - lat.h5 bf.h5 <<'PY' || fail "bf16 sweep"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert "weights = bf16" in b.attrs["study"].decode() and "weights" not in a.attrs["study"].decode()
pa, pb = a["metrics/reference_perplexity"][...], b["metrics/reference_perplexity"][...]
ok = np.isfinite(pa) & np.isfinite(pb)
rel = np.abs(pb[ok] / pa[ok] - 1)
assert ok.sum() > 0 and np.median(rel) < 0.05, f"bf16 reference perplexity off by {np.median(rel):.3g} (median)"
print(f"bf16: reference perplexity within {rel.max():.2%} of f32 (median {np.median(rel):.2%})")
PY
# W8A8 weights (job key weights = w8a8): recorded in the study, close to f32 in quality,
# and throughput mode's batches give latency mode's every quality number and token.
sweep 1 --out w8.h5 "${short[@]}" --set job.weights=w8a8 || fail "w8a8 sweep: $(cat sweep.err)"
sweep 1 --out w8t.h5 "${short[@]}" "${thr[@]}" --set job.weights=w8a8 || fail "w8a8 throughput sweep: $(cat sweep.err)"
"$py" - lat.h5 w8.h5 w8t.h5 <<'PY' || fail "w8a8 sweep"
import sys, h5py, numpy as np
a, b, t = (h5py.File(p, "r") for p in sys.argv[1:])
assert "weights = w8a8" in b.attrs["study"].decode() and "weights = w8a8" in t.attrs["study"].decode()
for name, ds in b["metrics"].items():
    if ds.attrs["timing"] == 0:
        assert np.array_equal(ds[...], t["metrics/" + name][...], equal_nan=True), f"w8a8 throughput: {name} differs"
assert np.array_equal(b["text/generated_ids"][...], t["text/generated_ids"][...])
pa, pb = a["metrics/reference_perplexity"][...], b["metrics/reference_perplexity"][...]
ok = np.isfinite(pa) & np.isfinite(pb)
rel = np.abs(pb[ok] / pa[ok] - 1)
assert ok.sum() > 0 and np.median(rel) < 0.05, f"w8a8 reference perplexity off by {np.median(rel):.3g} (median)"
print(f"w8a8: reference perplexity within {rel.max():.2%} of f32 (median {np.median(rel):.2%}), throughput = latency")
PY
"$hs" sweep study.ini --set job.weights=f16 2>guard.err
[ $? = 2 ] && grep -q "f32, bf16, int8 or w8a8" guard.err || fail "bad weights value: $(cat guard.err)"

# Weights on huge pages: the same numbers and tokens (only timings may differ), recorded
# in the study's identity; a bad value is refused.
sweep 1 --out huge.h5 "${short[@]}" --set job.huge_pages=true || fail "huge-page sweep: $(cat sweep.err)"
"$py" - lat.h5 huge.h5 <<'PY' || fail "huge-page sweep differs"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert "huge_pages = on" in b.attrs["study"].decode() and "huge_pages" not in a.attrs["study"].decode()
for name, ds in a["metrics"].items():
    if ds.attrs["timing"] == 0:
        assert np.array_equal(ds[...], b["metrics/" + name][...], equal_nan=True), f"{name} differs"
assert np.array_equal(a["text/generated_ids"][...], b["text/generated_ids"][...])
print("huge_pages: every non-timing metric and token equal to the 4 KB-page run")
PY
"$hs" sweep study.ini --set job.huge_pages=maybe 2>guard.err
[ $? = 2 ] && grep -q "huge_pages" guard.err || fail "bad huge_pages value: $(cat guard.err)"

# Latency mode without the batch-1 panels (panels = false): the same numbers and tokens as
# with them (the default), recorded in the study's identity; a bad value is refused.
sweep 1 --out nopanels.h5 "${short[@]}" --set job.panels=false || fail "sweep without panels: $(cat sweep.err)"
"$py" - lat.h5 nopanels.h5 <<'PY' || fail "sweep without panels differs"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert "panels = off" in b.attrs["study"].decode() and "panels" not in a.attrs["study"].decode()
for name, ds in a["metrics"].items():
    if ds.attrs["timing"] == 0:
        assert np.array_equal(ds[...], b["metrics/" + name][...], equal_nan=True), f"{name} differs"
assert np.array_equal(a["text/generated_ids"][...], b["text/generated_ids"][...])
print("panels = false: every non-timing metric and token equal to the run on panels")
PY
"$hs" sweep study.ini --set job.panels=sometimes 2>guard.err
[ $? = 2 ] && grep -q "panels" guard.err || fail "bad panels value: $(cat guard.err)"

# The report tells which numbers came from which mode.
report=${HS_BINARY_DIR:?}/analysis/headsweep-report
if [ -x "$report" ]; then
  "$report" thr.h5 --out rep >/dev/null 2>rep.err || fail "report: $(cat rep.err)"
  grep -q "Measurement mode: \*\*throughput\*\*" rep/REPORT.md &&
    grep -q "from 1 prompt(s) of each cell, spread evenly through it" rep/REPORT.md ||
    fail "the report does not say how thr.h5 was measured"
  "$report" lat.h5 --out rep2 >/dev/null 2>rep.err || fail "report: $(cat rep.err)"
  grep -q "Measurement mode: \*\*latency\*\*" rep2/REPORT.md || fail "latency report lacks its mode"
fi
echo "sweep_modes: ok"
