#!/usr/bin/env bash
# sweep_each_head.sh: the each_head study kind end to end on the tiny model (2 layers x 4
# heads): a sweep on 2 ranks with [pruning] each_head = on, levels 0, 25, 50 and two
# variants (zero and mean ablation), then headsweep-report, then each_head_check.py, which
# checks against the file and an independent computation:
#   (a) one level per head, each switching off exactly that head in every variant (/level
#       attribute single_head, /heads/pruned), every cell done;
#   (b) head_effects.csv equals numpy's per-token NLL differences from the per-prompt values
#       in the file, and the single-head cells' reference perplexities equal the numpy
#       reference model's (tests/reference/ref_gpt2.py) with that head off;
#   (c) head_interactions.csv equals cumulative minus the sum of the individual effects.
# Also: the job refusals (no level 0, with heads_off) and the study text's each_head line.
# Usage: sweep_each_head.sh MPIEXEC (HS_HEADSWEEP, HS_BINARY_DIR, HS_PYTHON3 from CTest)
source "$(dirname "$0")/fixture.sh" "$1"
report=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}/analysis/headsweep-report

cat >each.ini <<'EOF'
[job]
model = model
prompts = prompts.jsonl
shards = 3
variants = zero, mean
measure_unpruned_ppl = off

[generation]
max_new_tokens = 4

[pruning]
strategy = magnitude
levels = 0, 25, 50
each_head = on
calibration = calib.jsonl

[variant.zero]
gating = skip

[variant.mean]
gating = mask
ablation = mean
EOF

# Refusals, before anything runs.
"$hs" sweep each.ini --set pruning.levels=25,50 --dry-run >/dev/null 2>err.txt && fail "each_head without level 0 ran"
grep -q "each_head = on needs level 0" err.txt || fail "no level 0: $(cat err.txt)"
printf '[job]\nmodel = model\nprompts = prompts.jsonl\n[pruning]\nheads_off = 0.1\neach_head = on\n' >list.ini
"$hs" sweep list.ini --dry-run >/dev/null 2>err.txt && fail "each_head with heads_off ran"
grep -q "cannot be combined with heads_off" err.txt || fail "heads_off: $(cat err.txt)"
# The dry run counts the single-head levels: 2 variants x (3 + 8) levels x 3 shards.
"$hs" sweep each.ini --dry-run --json >dry.json || fail "dry run"
"$py" -c 'import json,sys; d=json.load(open("dry.json")); sys.exit(d["cells"] != 66)' || fail "dry run: $(cat dry.json)"
# The single-head levels say what they are (which head, how many), not 8 copies of 12.5: the
# dry run's text and JSON, then (after the sweep) status's text and JSON.
heads='["0.0", "0.1", "0.2", "0.3", "1.0", "1.1", "1.2", "1.3"]'
"$py" -c 'import json,sys; d=json.load(open("dry.json")); h=d["single_head"]
sys.exit(not (len(d["levels"]) == 11 and h[:3] == [None] * 3 and h[3:] == json.loads(sys.argv[1])))' "$heads" ||
  fail "dry run --json single_head: $(cat dry.json)"
"$hs" sweep each.ini --dry-run >dry.txt || fail "dry run (text)"
singles="8 single-head levels (each_head: heads 0.0 to 1.3 alone, layer by layer, one head off each, 12.5%)"
grep -qF "levels      0, 25, 50, and $singles" dry.txt || fail "dry run text: $(grep levels dry.txt)"

"$mpiexec" -n 2 "$hs" sweep each.ini --out each.h5 --progress lines 2>sweep.err || fail "sweep: $(cat sweep.err)"
"$report" each.h5 --out rep --bootstrap 500 >/dev/null 2>report.err || fail "report: $(cat report.err)"
"$hs" status each.h5 >st.txt || fail "status: exit $?"
grep -qF "levels      0, 25, 50, and $singles" st.txt || fail "status levels: $(grep levels st.txt)"
grep -qE "^mean +1\.2 alone +3 +0$" st.txt && [ "$(grep -cE "^(zero|mean) +[0-9]\.[0-9] alone +3 +0$" st.txt)" = 16 ] &&
  ! grep -qE "^(zero|mean) +12\.5 " st.txt || fail "status rows of the single-head levels: $(cat st.txt)"
"$hs" status each.h5 --json >st.json || fail "status --json: exit $?"
"$py" -c 'import json,sys; d=json.load(open("st.json")); h=d["single_head"]; by=d["by_variant_level"]
ok = h[:3] == [None] * 3 and h[3:] == json.loads(sys.argv[1]) and len(by) == 22
ok = ok and [c["single_head"] for c in by if c["variant"] == "mean"] == h and all(c["done"] == 3 for c in by)
sys.exit(not ok)' "$heads" || fail "status --json single_head: $(cat st.json)"
for f in head_effects.csv head_interactions.csv head_effects_zero.dat head_effects_mean.gp; do
  [ -s "rep/$f" ] || fail "report: no $f"
done
grep -q "^## Each head alone" rep/REPORT.md || fail "REPORT.md has no section Each head alone"
# measure_unpruned_ppl = off: said once, not as a missing value of every cell
grep -qF -- "- perplexity of the generated text under the unpruned model: not measured in this study" rep/REPORT.md &&
  ! grep -q "generated text under the unpruned model is missing (NaN)" rep/REPORT.md ||
  fail "REPORT.md: the metric switched off is listed per cell: $(grep -i "unpruned model" rep/REPORT.md)"
# the two maps on one colour scale, labels never "-0.0", a star where the interval excludes 0
[ "$(grep -h "set cbrange" rep/head_effects_zero.gp)" = "$(grep -h "set cbrange" rep/head_effects_mean.gp)" ] ||
  fail "head maps on different colour scales: $(grep -h "set cbrange" rep/head_effects_*.gp)"
"$py" - rep/head_effects_zero.dat rep/head_effects_mean.dat <<'PY' || fail "head map labels"
import sys
for path in sys.argv[1:]:
    for line in open(path):
        if line.startswith("#"): continue
        f = line.split()
        lo, hi, label = float(f[4]), float(f[5]), f[7]
        assert label != "-0.0" and label.endswith("*") == (lo > 0 or hi < 0), (path, line)
PY
# The mean-ablation variant is labelled as such in the title (and provenance), the zero one not.
head -1 rep/REPORT.md | grep -qF "(head pruning: magnitude, magnitude (mean ablation))" ||
  fail "REPORT.md title: $(head -1 rep/REPORT.md)"
grep -qF '`mean`: mask, agency off, strategy magnitude (mean ablation)' rep/REPORT.md || fail "provenance label"
"$py" "$here/each_head_check.py" --headsweep "$hs" --model model --prompts prompts.jsonl --results each.h5 \
  --report rep || fail "each_head_check.py"
echo ok
