#!/usr/bin/env bash
# sweep_jobkeys.sh: job-file keys whose checks need the model, end to end:
#  - [pruning] scores = FILE (from `headsweep score`) is used instead of computing scores:
#    same heads and quality numbers as computing them, recorded as the heads' source, part
#    of the study; a bad, foreign or mismatching scores file is refused with file:line;
#  - [pruning] heads_off = L.H,... switches exactly those heads off in every variant, as
#    the study's one level; conflicts and heads the model lacks are refused with file:line;
#  - a strategy per variant ([variant.X] strategy, scores, per_layer, keep_one_per_layer):
#    each variant's scores and heads are those of its own strategy, variants with the same
#    strategy share scores, the study text names them, a rerun resumes; with heads_off a
#    variant strategy is refused;
#  - ablation = mean ([pruning] or per variant): head means computed on the calibration set
#    (also for magnitude, which otherwise needs none) or taken from the scores file, named
#    in the study text; on 2 ranks the same numbers as serially; level 0 equals zero
#    ablation and a pruned level does not; a resumed run (kill after some cells) recomputes
#    nothing differently; a scores file without means and a bad value are refused;
#  - agency = on with gating = mask is refused with file:line;
#  - a job file over 32 KiB (too large for the results file's job_file_text) is refused up
#    front, by --dry-run too, and leaves no results file;
#  - a model directory without vocab.json, or with a damaged model.safetensors, is an error
#    naming the job file and the line of `model`;
#  - a file written before /agency/transitions (or /prompts/generated) existed is resumed (without them) and is
#    not merged with one that has them.
source "$(dirname "$0")/fixture.sh" "$1"
sed -i -e 's/^max_new_tokens = .*/max_new_tokens = 12/' -e 's/^shards = .*/shards = 2\nmax_prompts = 6/' study.ini
cells=12 # 3 variants x 2 levels x 2 shards

# expect CODE NEEDLE... -- command: exit code and stderr substrings.
expect() {
  local want=$1 needles=()
  shift
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  "$@" >/dev/null 2>err.txt
  local rc=$?
  [ "$rc" = "$want" ] || fail "$* -> exit $rc, want $want: $(cat err.txt)"
  for n in "${needles[@]}"; do grep -qF -- "$n" err.txt || fail "$* -> stderr lacks '$n': $(cat err.txt)"; done
}
line_of() { grep -n "^$1 =" study.ini | cut -d: -f1; }
attr() {
  "$py" -c "import h5py, sys
v = h5py.File(sys.argv[1], 'r').attrs[sys.argv[2]]
print(v.decode() if isinstance(v, bytes) else v)" "$@"
}

# ---- scores = FILE ----
"$hs" score --model model --prompts calib.jsonl --strategy entropy --out scores.json >/dev/null 2>&1 || fail "score"
sweep 1 --out computed.h5 || fail "computed scores: $(cat sweep.err)"
sweep 2 --out saved.h5 --set pruning.scores=scores.json || fail "saved scores: $(cat sweep.err)"
grep -q "computing .* head scores" sweep.err && fail "a sweep with a scores file computed scores: $(cat sweep.err)"
"$py" "$tool" check saved.h5 --ranks 2 || fail "schema check (scores file)"
"$py" "$tool" compare --numbers-only computed.h5 saved.h5 || fail "saved scores give other numbers than computed ones"
[ "$(attr saved.h5 heads_source)" = scores_file ] && [ "$(attr saved.h5 scores_path)" = scores.json ] &&
  [ "$(attr computed.h5 heads_source)" = computed ] || fail "heads_source / scores_path"
attr saved.h5 study | grep -q "^scores_sha256 = $(sha256sum scores.json | cut -d' ' -f1)$" ||
  fail "the scores file is not part of the study"
sweep 1 --out saved.h5 --set pruning.scores=scores.json || fail "rerun with the scores file: $(cat sweep.err)"
grep -q "nothing to do" sweep.err || fail "rerun: $(cat sweep.err)"
# Another scores file is another study.
"$hs" score --model model --prompts calib.jsonl --strategy entropy --max-prompts 2 --out scores2.json >/dev/null 2>&1
expect 2 "different study" -- "$hs" sweep study.ini --out saved.h5 --set pruning.scores=scores2.json

# Bad scores files name the job line (here the --set argument) and the problem.
echo '{"format": "headsweep-head-scores"' >broken.json
expect 2 "--set pruning.scores=broken.json: scores" "broken.json" -- \
  "$hs" sweep study.ini --out x.h5 --set pruning.scores=broken.json
"$hs" mkmodel --shape tiny --seed 4 --out other 2>/dev/null || fail "mkmodel other"
"$hs" score --model other --prompts calib.jsonl --strategy magnitude --out other.json >/dev/null 2>&1 ||
  fail "score other"
expect 2 "--set pruning.scores=other.json: scores" "computed for model sha256" -- \
  "$hs" sweep study.ini --out x.h5 --set pruning.scores=other.json
"$hs" score --model model --prompts calib.jsonl --strategy magnitude --out magnitude.json >/dev/null 2>&1
expect 2 "study.ini:$(line_of strategy): strategy = entropy, but the scores file" "holds magnitude scores" -- \
  "$hs" sweep study.ini --out x.h5 --set pruning.scores=magnitude.json
expect 2 "--set pruning.scores=nowhere.json" "No such file" -- \
  "$hs" sweep study.ini --out x.h5 --set pruning.scores=nowhere.json
[ ! -e x.h5 ] || fail "a refused sweep left x.h5"
# throughput mode's latency sample must fit the smallest shard (6 prompts in 2 shards: 3);
# levels are kept to the 9 digits of the study text
for run in --dry-run "--out x.h5"; do
  # shellcheck disable=SC2086 # run holds two words on purpose
  expect 2 "--set job.latency_prompts=4: latency_prompts = 4 but the smallest of the 2 shards has 3" -- \
    "$hs" sweep study.ini $run --set job.mode=throughput --set job.latency_prompts=4
  # shellcheck disable=SC2086
  expect 2 "--set pruning.levels=0,0.1000000001: levels: 0.1000000001 has more than 9 significant" -- \
    "$hs" sweep study.ini $run --set pruning.levels=0,0.1000000001
  # The dry run refuses what the sweep refuses (slurm/hs-submit trusts it before queueing an
  # array): prompts over the context, texts too long for the file, levels keep_one_per_layer
  # cannot meet, bad scores and calibration files; the same message from either.
  # shellcheck disable=SC2086
  expect 2 "prompts.jsonl:1: prompt gen-0 needs" "over the model's context of 128" -- \
    "$hs" sweep study.ini $run --set generation.max_new_tokens=200
  # shellcheck disable=SC2086
  expect 2 "--set generation.max_new_tokens=1048576: max_new_tokens = 1048576: the generated texts could take" -- \
    "$hs" sweep study.ini $run --set generation.max_new_tokens=1048576
  # shellcheck disable=SC2086
  expect 2 "variant baseline, level 100: level 100% switches off 8 heads, but keep-one-per-layer allows at most 6" \
    -- "$hs" sweep study.ini $run --set pruning.keep_one_per_layer=on --set pruning.levels=0,100
  # shellcheck disable=SC2086
  expect 2 "broken.json:1: not valid JSON" -- "$hs" sweep study.ini $run --set pruning.calibration=broken.json
  # shellcheck disable=SC2086
  expect 2 "--set pruning.scores=broken.json: scores" "broken.json" -- \
    "$hs" sweep study.ini $run --set pruning.scores=broken.json
  # shellcheck disable=SC2086
  expect 2 "--set pruning.scores=other.json: scores" "computed for model sha256" -- \
    "$hs" sweep study.ini $run --set pruning.scores=other.json
done
grep -q "computing" err.txt && fail "a sweep refused for its scores file computed something: $(cat err.txt)"
"$hs" sweep study.ini --dry-run --set pruning.scores=scores.json >/dev/null 2>err.txt ||
  fail "--dry-run refuses the model's own scores file: $(cat err.txt)"
# the dry run (which hs-submit trusts) refuses a results path that names no file to be
mkdir -p adir
expect 2 "adir/ ends with '/'" -- "$hs" sweep study.ini --dry-run --out adir/
expect 2 "adir is a directory" -- "$hs" sweep study.ini --dry-run --out adir
ln -s nowhere/x.h5 dangling.h5
expect 2 "dangling.h5 is a symbolic link to a file that does not exist" -- \
  "$hs" sweep study.ini --dry-run --out dangling.h5
"$hs" sweep study.ini --dry-run --set job.mode=throughput --set job.latency_prompts=3 >/dev/null 2>err.txt ||
  fail "latency_prompts = 3 in shards of 3 refused: $(cat err.txt)"
[ ! -e x.h5 ] || fail "a refused sweep left x.h5"

# ---- a strategy per variant ----
"$hs" score --model model --strategy random --seed 0 --out random.json >/dev/null 2>&1 || fail "score random"
sweep 2 --out per.h5 --set variant.baseline.strategy=magnitude --set variant.baseline-skip.strategy=random \
  --set variant.baseline-skip.per_layer=on || fail "strategy per variant: $(cat sweep.err)"
grep -q "computing magnitude head scores" sweep.err && grep -q "computing random head scores" sweep.err &&
  grep -q "computing entropy head scores" sweep.err || fail "per-variant scores not computed: $(cat sweep.err)"
"$py" "$tool" check per.h5 --ranks 2 || fail "schema check (strategy per variant)"
"$py" - per.h5 magnitude.json scores.json random.json <<'PY' || fail "strategy per variant"
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
want = [np.array(json.load(open(p))["scores"], float) for p in sys.argv[2:]]  # baseline, agency, baseline-skip
strat = [s.decode() if isinstance(s, bytes) else s for s in f["variant"].attrs["strategy"]]
assert strat == ["magnitude", "entropy", "random"], strat
assert list(f["variant"].attrs["per_layer"]) == [0, 0, 1]
vs, pruned, levels = f["heads/variant_score"][...], f["heads/pruned"][...], f["level"][...]
L, H = vs.shape[1:]
for v in range(3):
    assert np.array_equal(vs[v], want[v]), f"variant {v} scores"
    for li, pct in enumerate(levels):
        got = pruned[v, li]
        if v == 2:  # per layer: each layer loses its round(pct/100 H) lowest
            k = int(np.floor(pct / 100 * H + 0.5))
            exp = np.zeros((L, H), np.uint8)
            for l in range(L):
                exp[l, np.lexsort((np.arange(H), want[v][l]))[:k]] = 1
        else:
            k = int(np.floor(pct / 100 * L * H + 0.5))
            order = np.lexsort((np.arange(L * H), want[v].ravel()))
            exp = np.zeros(L * H, np.uint8)
            exp[order[:k]] = 1
            exp = exp.reshape(L, H)
        assert np.array_equal(got, exp), f"variant {v} level {pct}: {np.argwhere(got)} vs {np.argwhere(exp)}"
assert not np.array_equal(pruned[0, 1], pruned[1, 1]), "magnitude and entropy prune the same heads"
study = f.attrs["study"].decode()
assert "variant.baseline = gating mask, agency off, strategy magnitude, scores computed" in study, study
agency_line = [l for l in study.splitlines() if l.startswith("variant.agency =")][0]
assert "strategy" not in agency_line, agency_line  # inherits [pruning]: the text says nothing new
assert np.array_equal(f["heads/score"][...], want[0])
PY
sweep 1 --out per.h5 --set variant.baseline.strategy=magnitude --set variant.baseline-skip.strategy=random \
  --set variant.baseline-skip.per_layer=on || fail "strategy per variant, rerun: $(cat sweep.err)"
grep -q "nothing to do" sweep.err || fail "strategy per variant, rerun: $(cat sweep.err)"
expect 2 "different study" -- "$hs" sweep study.ini --out per.h5 --set variant.baseline.strategy=magnitude
# a variant's scores file, and strategy = magnitude beside it, must agree
sweep 1 --out pfile.h5 --set variant.baseline.scores=magnitude.json || fail "variant scores file: $(cat sweep.err)"
magnitude_sha=$(sha256sum magnitude.json | cut -d' ' -f1)
"$py" -c "import h5py,sys; f=h5py.File('pfile.h5','r')
line = 'variant.baseline = gating mask, agency off, strategy magnitude, scores $magnitude_sha'
assert line in f.attrs['study'].decode(), f.attrs['study']" ||
  fail "variant scores file not in the study"
expect 2 "--set variant.baseline.strategy=random: strategy = random, but the scores file" "holds magnitude scores" -- \
  "$hs" sweep study.ini --out x.h5 --set variant.baseline.scores=magnitude.json --set variant.baseline.strategy=random
[ ! -e x.h5 ] || fail "a refused sweep left x.h5"

# ---- ablation = mean ----
sweep 1 --out zero.h5 --set pruning.strategy=magnitude || fail "magnitude, zero ablation: $(cat sweep.err)"
sweep 1 --out mean1.h5 --set pruning.strategy=magnitude --set variant.baseline.ablation=mean \
  --set variant.agency.ablation=mean || fail "mean ablation: $(cat sweep.err)"
grep -q "computing head means on calib.jsonl (4 prompts)" sweep.err || fail "head means not computed: $(cat sweep.err)"
# the log names the prompts used, not the file's count, under calibration_max_prompts
sweep 1 --out meancap.h5 --set pruning.strategy=entropy --set variant.baseline.ablation=mean \
  --set pruning.calibration_max_prompts=3 || fail "calibration_max_prompts: $(cat sweep.err)"
grep -q "computing entropy head scores on calib.jsonl (3 of 4 prompts)" sweep.err &&
  grep -q "computing head means on calib.jsonl (3 of 4 prompts)" sweep.err ||
  fail "calibration_max_prompts: the log does not say 3 of 4 prompts: $(cat sweep.err)"
sweep 2 --out mean2.h5 --set pruning.strategy=magnitude --set variant.baseline.ablation=mean \
  --set variant.agency.ablation=mean || fail "mean ablation, 2 ranks: $(cat sweep.err)"
"$py" "$tool" check mean2.h5 --ranks 2 || fail "schema check (mean ablation)"
"$py" "$tool" compare --numbers-only mean1.h5 mean2.h5 || fail "mean ablation: 2 ranks differ from 1"
"$py" - zero.h5 mean1.h5 <<'PY' || fail "mean ablation"
import sys, h5py, numpy as np
z, m = (h5py.File(p, "r") for p in sys.argv[1:])
rz, rm = (f["metrics/reference_perplexity"][...] for f in (z, m))  # (variant, level, prompt)
assert np.array_equal(rz[:, 0], rm[:, 0]), "level 0 (no head off) differs under mean ablation"
assert np.array_equal(rz[2], rm[2]), "baseline-skip keeps zero ablation"
assert not np.allclose(rz[0, 1], rm[0, 1]) and not np.allclose(rz[1, 1], rm[1, 1]), "mean ablation = zero ablation"
study = m.attrs["study"].decode()  # fixed-length strings (schema 2) come back as bytes
assert "variant.baseline = gating mask, agency off, ablation mean" in study, study
assert "ablation" not in z.attrs["study"].decode() and m.attrs["calibration_sha256"] != b"", study
PY
expect 2 "different study" -- "$hs" sweep study.ini --out mean1.h5 --set pruning.strategy=magnitude
# a killed run resumes with the same means: every cell equals the uninterrupted run's
HS_TEST_PROMPT_PACE_MS=150 sweep 1 --out mean3.h5 --set pruning.strategy=magnitude --set pruning.ablation=mean &
job=$!
wait_cells mean3.h5 2
kill -9 $(rank_pids mean3.h5)
wait $job
[ "$(cells_done mean3.h5)" -lt $cells ] || fail "mean3.h5: the run finished before the kill"
sweep 1 --out mean3.h5 --set pruning.strategy=magnitude --set pruning.ablation=mean || fail "resume: $(cat sweep.err)"
grep -q "resuming" sweep.err || fail "mean ablation did not resume: $(cat sweep.err)"
sweep 1 --out mean4.h5 --set pruning.strategy=magnitude --set pruning.ablation=mean || fail "mean4: $(cat sweep.err)"
"$py" "$tool" compare --numbers-only mean3.h5 mean4.h5 || fail "a resumed mean-ablation run differs"
# means from a scores file (score stores them with --prompts); a file without them is refused
"$hs" score --model model --prompts calib.jsonl --strategy entropy --out withmeans.json >/dev/null 2>&1 ||
  fail "score with means"
sweep 1 --out meanfile.h5 --set pruning.scores=withmeans.json --set pruning.ablation=mean ||
  fail "means from a scores file: $(cat sweep.err)"
grep -q "computing head means" sweep.err && fail "means recomputed despite the scores file: $(cat sweep.err)"
"$hs" score --model model --strategy magnitude --out nomeans.json >/dev/null 2>&1 || fail "score without means"
expect 2 "--set variant.agency.ablation=mean: variant agency has ablation = mean" "holds no head means" -- \
  "$hs" sweep study.ini --out x.h5 --set pruning.strategy=magnitude --set pruning.scores=nomeans.json \
  --set variant.agency.ablation=mean
expect 2 "--set pruning.ablation=average" "zero or mean" -- \
  "$hs" sweep study.ini --out x.h5 --set pruning.ablation=average
[ ! -e x.h5 ] || fail "a refused sweep left x.h5"

# ---- heads_off = L.H,... ----
sed -e '/^\[pruning\]/,$d' study.ini >list.ini
printf '[pruning]\nheads_off = 1.3, 0.2,1.3\n' >>list.ini
"$hs" sweep list.ini --out list.h5 --progress lines 2>sweep.err || fail "heads_off sweep: $(cat sweep.err)"
"$py" "$tool" check list.h5 || fail "schema check (heads_off)"
"$py" - list.h5 <<'PY' || fail "heads_off"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
pruned = f["heads/pruned"][...]  # (variant, level, layer, head) on a 2 x 4 model
want = np.zeros((2, 4), np.uint8)
want[1, 3] = want[0, 2] = 1
assert pruned.shape[1] == 1 and (pruned == want).all(), f"pruned heads {np.argwhere(pruned)}"
assert list(f["level"][...]) == [25.0], f"level {f['level'][...]}"
assert f.attrs["heads_source"] == b"heads_off" and f.attrs["heads_off"] == b"0.2, 1.3", f.attrs["heads_off"]
assert "heads_off = 0.2, 1.3" in f.attrs["study"].decode() and "strategy = heads_off" in f.attrs["study"].decode()
assert f.attrs["strategy"] == b"heads_off" and f["heads/score"].attrs["strategy"] == b"heads_off"
assert (f["metrics/live_heads"][...] == 6).all()
PY
# Another spelling of the same heads is the same study: resumes with nothing to do.
sed -i 's/^heads_off = .*/heads_off = 0.2,1.3/' list.ini
"$hs" sweep list.ini --out list.h5 2>sweep.err || fail "heads_off rerun: $(cat sweep.err)"
grep -q "nothing to do" sweep.err || fail "heads_off rerun: $(cat sweep.err)"
hl=$(grep -n '^heads_off' list.ini | cut -d: -f1)
sed 's/^heads_off = .*/heads_off = 0.1, 2.0/' list.ini >badlist.ini
expect 2 "badlist.ini:$hl: heads_off" "head 2.0 does not exist" -- "$hs" sweep badlist.ini --out y.h5
expect 2 "--set pruning.levels=50: levels cannot be combined with heads_off (list.ini:$hl)" -- \
  "$hs" sweep list.ini --out y.h5 --set pruning.levels=50
expect 2 "study.ini:$(line_of strategy): strategy cannot be combined with heads_off" -- \
  "$hs" sweep study.ini --out y.h5 --set pruning.heads_off=0.1
[ ! -e y.h5 ] || fail "a refused sweep left y.h5"

expect 2 "--set variant.baseline.strategy=random: strategy cannot be combined with heads_off" -- \
  "$hs" sweep list.ini --out y.h5 --set variant.baseline.strategy=random

# ---- agency needs skip gating ----
expect 2 "--set variant.agency.gating=mask: variant agency has agency = on with gating = mask" -- \
  "$hs" sweep study.ini --out z.h5 --set variant.agency.gating=mask

# ---- model files: the error names the job line of `model` ----
cp -r model novocab && rm novocab/vocab.json
sed 's/^model = .*/model = novocab/' study.ini >novocab.ini
expect 2 "novocab.ini:$(line_of model): model = novocab" "novocab/vocab.json" -- "$hs" sweep novocab.ini --out z.h5
cp -r model trunc && head -c 3000 model/model.safetensors >trunc/model.safetensors
expect 2 "--set job.model=trunc: model = trunc" "model.safetensors" -- \
  "$hs" sweep study.ini --out z.h5 --set job.model=trunc
[ ! -e z.h5 ] || fail "a refused sweep left z.h5"

# ---- files from before /agency/transitions ----
sweep 1 --out old.h5 --cells 1/2 || fail "part of the old file: $(cat sweep.err)"
"$py" -c "import h5py; del h5py.File('old.h5', 'r+')['agency/transitions']" || fail "making an old file"
expect 2 "cannot merge old.h5 with computed.h5" "written by an older headsweep" -- "$hs" merge m.h5 computed.h5 old.h5
sweep 2 --out old.h5 || fail "resuming an old file: $(cat sweep.err)"
grep -q "predates /agency/transitions" sweep.err || fail "no note about the old file: $(cat sweep.err)"
"$py" - old.h5 computed.h5 <<'PY' || fail "resumed old file"
import sys, h5py, numpy as np
old, new = (h5py.File(p, "r") for p in sys.argv[1:])
assert "agency/transitions" not in old and old["cells/done"][...].all()
for k in ("text/generated_ids", "agency/occupancy", "metrics/distinct_2"):
    assert np.array_equal(old[k][...], new[k][...], equal_nan=True), k
PY
# ---- files from before /prompts/generated: the same, without the generated texts ----
sweep 1 --out notext.h5 --cells 1/2 || fail "part of the file without texts: $(cat sweep.err)"
"$py" -c "import h5py; del h5py.File('notext.h5', 'r+')['prompts/generated']" || fail "making a file without texts"
expect 2 "cannot merge notext.h5 with computed.h5" "/prompts/generated and notext.h5, written by an older" -- \
  "$hs" merge m.h5 computed.h5 notext.h5
sweep 2 --out notext.h5 || fail "resuming a file without texts: $(cat sweep.err)"
grep -q "predates /prompts/generated" sweep.err || fail "no note about the file without texts: $(cat sweep.err)"
"$py" - notext.h5 computed.h5 <<'PY' || fail "resumed file without texts"
import sys, h5py, numpy as np
old, new = (h5py.File(p, "r") for p in sys.argv[1:])
assert "prompts/generated" not in old and "prompts/generated" in new and old["cells/done"][...].all()
for k in ("text/generated_ids", "agency/occupancy", "agency/transitions", "metrics/distinct_2"):
    assert np.array_equal(old[k][...], new[k][...], equal_nan=True), k
PY
# ---- a job file too large for the results file's job_file_text attribute ----
# (HDF5 moves an attribute over 64 KiB into dense storage, which the reader refuses: the
# sweep used to compute everything and then refuse its own file, on every rerun.)
cp study.ini big.ini
for i in $(seq 600); do echo "; comment line $i, padding padding padding padding padding padding"; done >>big.ini
big_size=$(stat -c %s big.ini)
expect 2 "big.ini: job file is $big_size bytes, over the limit of 32768 bytes" "job_file_text" -- \
  "$hs" sweep big.ini --dry-run
expect 2 "big.ini: job file is $big_size bytes, over the limit of 32768 bytes" -- "$hs" sweep big.ini --out big.h5
[ -e big.h5 ] && fail "a refused job file left a results file"
# ---- a study text too large for the results file's study attribute ----
# 360 agency variants: a short job file, but each variant's settings are a line of the study
# text (~180 bytes), over the 60 KiB the attribute may take: refused before any work.
{ sed '/^variants = /d; /^\[generation\]/,$d' study.ini
  printf 'variants = v001'; for i in $(seq 2 360); do printf ',\n  v%03d' "$i"; done; echo
  sed -n '/^\[generation\]/,$p' study.ini
  for i in $(seq 360); do printf '[variant.v%03d]\ngating = skip\nagency = on\n' "$i"; done; } >wide.ini
expect 2 "wide.ini: the study's identity text would be" "(360 variants), over the 61440 a results file keeps" -- \
  "$hs" sweep wide.ini --out wide.h5
[ -e wide.h5 ] && fail "a refused study left a results file"
# ---- the usage text is printed as it is (no printf escapes) ----
"$hs" sweep --help >help.txt || fail "sweep --help"
grep -qF "item % N == K-1" help.txt && ! grep -qF "%%" help.txt || fail "sweep --help: $(grep cells help.txt)"
echo "sweep_jobkeys: ok"
