#!/usr/bin/env bash
# sweep_guard.sh: what the sweep refuses, always with a clear message and never touching
# the file in the way: a second sweep on the same output, a file of another study, a
# corrupt or foreign file, an impossible output path, a file-size limit hit while the
# file is created, and job-file mistakes (file:line); and a results file removed or
# replaced while the sweep writes it (exit 1 saying so, not a success).
source "$(dirname "$0")/fixture.sh" "$1"
# Paced prompts (see fixture.sh), and the first sweep's ranks frozen (SIGSTOP) while the
# others try, so it still holds the lock however fast the machine is: unpaced, the tiny
# model once finished the whole sweep before the check.
sed -i -e 's/^levels = .*/levels = 0, 25, 50, 75/' -e 's/^max_new_tokens = .*/max_new_tokens = 64/' study.ini

# expect CODE NEEDLE... -- command: exit code and stderr substrings.
expect() {
  local want=$1 needles=()
  shift
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  "$@" 2>guard.err
  local rc=$?
  [ "$rc" = "$want" ] || fail "$* -> exit $rc, want $want: $(cat guard.err)"
  for n in "${needles[@]}"; do grep -qF -- "$n" guard.err || fail "$* -> stderr lacks '$n': $(cat guard.err)"; done
}

# A second sweep while one is running.
HS_TEST_PROMPT_PACE_MS=50 sweep 2 --out g.h5 &
job=$!
wait_cells g.h5 1
pids=$(rank_pids g.h5)
[ -n "$pids" ] || fail "the first sweep ended before the second one could try"
kill -STOP $pids
expect 4 "g.h5 is being written by another sweep (pid $(cut -d' ' -f1 g.h5.lock) on host" -- \
  "$hs" sweep study.ini --out g.h5
expect 4 "being written by another sweep" -- "$mpiexec" -n 2 "$hs" sweep study.ini --out g.h5
kill -TERM $pids
kill -CONT $pids
wait $job
[ $? = 3 ] || fail "the first sweep did not stop with 3 after SIGTERM"

# Another study on the same file: refused, file untouched.
sum=$(sha256sum g.h5)
expect 2 "g.h5 holds results of a different study" "sample_seed = 11" "sample_seed = 99" -- \
  "$hs" sweep study.ini --out g.h5 --set generation.seed=99
expect 2 "different study" "levels = 0, 25, 50, 75" -- "$hs" sweep study.ini --out g.h5 --set pruning.levels=0,25
# The prefill's route (our tiles or OpenBLAS, whose rows round otherwise) is part of the
# study: resuming on the other one is refused; so are ranks that disagree on it.
expect 2 "different study" "prefill_route = openblas" -- env HS_GEMM_BLAS=1 "$hs" sweep study.ini --out g.h5
[ "$sum" = "$(sha256sum g.h5)" ] || fail "a refused sweep changed g.h5"
rank_on=("$hs" sweep study.ini --out routes.h5)
expect 2 "rank 1 (" "this rank's prefill products run on openblas, rank 0's on tiles" -- \
  "$mpiexec" -n 1 env HS_GEMM_BLAS=0 "${rank_on[@]}" : -n 1 env HS_GEMM_BLAS=1 "${rank_on[@]}"
[ ! -e routes.h5 ] || fail "ranks on two prefill routes left routes.h5"
# Every rank computes from the bytes rank 0 does (a stale node-local copy of the model or the
# prompts would put other numbers under rank 0's study): one rank given other prompts, or a
# model directory whose config.json or merges.txt differs, is refused before any output.
sed 's/"prompt": "/"prompt": "And /' prompts.jsonl > other-prompts.jsonl
cmp -s prompts.jsonl other-prompts.jsonl && fail "other-prompts.jsonl is no other"
expect 2 "rank 1 (" "this rank read another other-prompts.jsonl than rank 0" "every rank must read the same files" -- \
  "$mpiexec" -n 1 "${rank_on[@]}" : -n 1 "${rank_on[@]}" --set job.prompts=other-prompts.jsonl
for f in config.json merges.txt; do
  rm -rf model2 && cp -r model model2
  if [ $f = config.json ]; then sed -i 's/"layer_norm_epsilon": [0-9.e-]*/"layer_norm_epsilon": 0.001/' model2/$f
  else sed -i '$d' model2/$f; fi
  cmp -s model/$f model2/$f && fail "model2/$f is no other"
  expect 2 "rank 1 (" "this rank read another $f than rank 0" -- \
    "$mpiexec" -n 1 "${rank_on[@]}" : -n 1 "${rank_on[@]}" --set job.model=model2
done
[ ! -e routes.h5 ] || fail "ranks on other inputs left routes.h5"
# config.json and the tokenizer are part of the study: resuming with either changed is refused.
expect 2 "different study" "merges_sha256 = " -- "$hs" sweep study.ini --out g.h5 --set job.model=model2

# A variable-length string attribute (h5py's default for a str) is refused unread, file
# unchanged: its text would come from HDF5's global heap, which no checksum covers.
cp g.h5 v.h5
"$py" -c "import h5py; h5py.File('v.h5', 'r+').attrs['last_git_describe'] = 'old-build'"
sum=$(sha256sum v.h5)
expect 2 "v.h5" "attribute last_git_describe" "variable-length" -- "$hs" sweep study.ini --out v.h5
[ "$sum" = "$(sha256sum v.h5)" ] || fail "a refused sweep changed v.h5"

# Attributes in HDF5's dense storage (h5repack --latest moves the root's 40-odd there), whose
# entries over 4 KiB no checksum covers, are refused before any attribute is read, by resume,
# merge and the report alike; the file is unchanged.
if command -v h5repack >/dev/null; then
  h5repack --latest g.h5 dense.h5 || fail "h5repack --latest g.h5"
  sum=$(sha256sum dense.h5)
  want=(2 "dense.h5" "the attributes of / are kept in HDF5's dense storage" "refusing")
  expect "${want[@]}" -- "$hs" sweep study.ini --out dense.h5
  expect "${want[@]}" -- "$hs" merge dense-merged.h5 dense.h5
  [ ! -e dense-merged.h5 ] || fail "a refused merge left dense-merged.h5"
  expect "${want[@]}" -- "${HS_BINARY_DIR:?}/analysis/headsweep-report" dense.h5 --out dense-report --no-figures
  [ "$sum" = "$(sha256sum dense.h5)" ] || fail "a refused reader changed dense.h5"
else
  echo "sweep_guard: h5repack (hdf5-tools) missing: dense-attribute case skipped" >&2
fi

# Resuming a file another build wrote works, with a warning. The other tool stored the
# attribute as a fixed-length string of another size than the sweep's; the resume (the
# whole remainder, so that it surely has cells to write: the first sweep's progress
# depends on timing) rewrites it in its own type.
"$py" -c "import h5py, numpy as np
h5py.File('g.h5', 'r+').attrs.create('last_git_describe', np.bytes_('old-build'), dtype='S9')"
expect 0 "warning: g.h5 was last written by headsweep old-build" -- "$hs" sweep study.ini --out g.h5
"$py" - <<'PY' || fail "the resume did not restamp last_git_describe in its own type"
import h5py
a = h5py.File('g.h5', 'r').attrs
t = h5py.h5a.open(h5py.File('g.h5', 'r').id, b'last_git_describe').get_type()
assert not t.is_variable_str() and t.get_size() != 9, 'not rewritten in the sweep\'s type'
assert a['last_git_describe'] != b'old-build' and a['complete'] == 1, (a['last_git_describe'], a['complete'])
PY

# Corrupt and foreign files are refused and kept.
head -c 3000 g.h5 >cut.h5
printf 'not an hdf5 file' >junk.h5
"$py" -c "import h5py; h5py.File('plain.h5', 'w')['x'] = [1, 2]"
for f in cut.h5 junk.h5 plain.h5; do
  sum=$(sha256sum $f)
  expect 2 "$f" "refusing" -- "$hs" sweep study.ini --out $f
  [ "$sum" = "$(sha256sum $f)" ] || fail "the sweep changed $f"
done

# Impossible output paths and a file-size limit (a stand-in for a full disk) name the path;
# a path through a regular file is the user's mistake (exit 2), /proc an I/O error (exit 1).
: >afile
expect 2 "afile/out.h5" -- "$hs" sweep study.ini --out afile/out.h5
expect 1 "/proc/headsweep.h5" -- "$hs" sweep study.ini --out /proc/headsweep.h5
# a symbolic link to nothing: refused before the head scores, as what it is
ln -sf nowhere/x.h5 dangling.h5
expect 2 "dangling.h5 is a symbolic link to a file that does not exist" -- "$hs" sweep study.ini --out dangling.h5
grep -q "head scores" guard.err && fail "a dangling output link was refused only after the head scores"
(ulimit -f 16 && "$hs" sweep study.ini --out big/out.h5 2>guard.err)
rc=$?
[ "$rc" = 1 ] || fail "file-size limit: exit $rc, want 1: $(cat guard.err)"
grep -q "big/out.h5" guard.err && grep -q "File too large" guard.err || fail "file-size limit message: $(cat guard.err)"
[ ! -e big/out.h5 ] && [ -z "$(ls big | grep -v lock)" ] || fail "file-size limit left files: $(ls big)"

# Job-file mistakes reach the user with file:line, once, even on several ranks.
printf '[job]\nmodel = model\nprompts = prompts.jsonl\nshardz = 2\n' >bad.ini
expect 2 "bad.ini:4: unknown key 'shardz' in [job]" -- "$hs" sweep bad.ini
expect 2 "bad.ini:4: unknown key" -- "$mpiexec" -n 2 "$hs" sweep bad.ini
[ "$(grep -c "unknown key" guard.err)" = 1 ] || fail "the job-file error was printed more than once"
printf '[job]\nmodel = nomodel\nprompts = prompts.jsonl\n' >bad.ini
expect 2 "bad.ini:2: model = nomodel: No such file or directory" -- "$hs" sweep bad.ini
expect 2 "--set job.shards=30: shards = 30 but only 24 evaluation prompts" -- \
  "$hs" sweep study.ini --set job.shards=30 --out s.h5
expect 2 "--set generation.top_p=2" -- "$hs" sweep study.ini --set generation.top_p=2
expect 2 "--cells 3/2" -- "$hs" sweep study.ini --cells 3/2
# More parts than work items (levels x shards): every part above their count would be empty;
# the sweep computed the head scores and made a results file with no cell for it (exit 0).
items=$("$py" -c 'import json, sys; d = json.load(sys.stdin); print(len(d["levels"]) * d["prompts"]["shards"])' \
  < <("$hs" sweep study.ini --dry-run --json)) || fail "work items from the dry run"
for run in --dry-run "--out empty.h5"; do
  # shellcheck disable=SC2086 # run holds two words on purpose
  expect 2 "--cells $((items + 1))/1000: the study has $items work items" "give N of at most $items" -- \
    "$hs" sweep study.ini --cells $((items + 1))/1000 $run
done
"$hs" sweep study.ini --dry-run --cells "$items/$items" >/dev/null 2>guard.err ||
  fail "--cells $items/$items refused: $(cat guard.err)"
[ ! -e empty.h5 ] || fail "a sweep of an empty part made a results file"
# A level keep-one-per-layer cannot satisfy names the job file, variant and level (issue 17:
# the message named none), before any file or lock exists.
expect 2 "study.ini: variant baseline, level 90: " "keep-one-per-layer allows at most" -- \
  "$hs" sweep study.ini --set pruning.levels=0,90 --set pruning.keep_one_per_layer=on --out k1.h5
[ ! -e k1.h5 ] && [ ! -e k1.h5.lock ] || fail "a refused level left k1.h5 or its lock"
expect 2 "a job file is required" -- "$hs" sweep

# The results file removed (rm), or moved away and replaced, while a paced sweep writes
# it: the sweep used to go on and end with exit 0, "N of N cells done", every result lost.
# Now it stops at its next prompt (it looks once a second) with exit 1 saying so.
for how in removed replaced; do
  HS_TEST_PROMPT_PACE_MS=50 sweep 2 --out "$how.h5" &
  job=$!
  wait_cells "$how.h5" 1
  if [ $how = removed ]; then rm "$how.h5"; else mv "$how.h5" moved.h5 && echo other >"$how.h5"; fi
  wait $job
  rc=$?
  [ $rc = 1 ] || fail "results file $how mid-run: exit $rc, want 1: $(tail -3 sweep.err)"
  want="results file $how.h5 was $how"
  [ $how = replaced ] && want="results file $how.h5 was replaced by another file while the sweep ran"
  grep -qF "$want" sweep.err && grep -qF "run the sweep again" sweep.err ||
    fail "results file $how mid-run: $(tail -3 sweep.err)"
  grep -q "cells done (" sweep.err && fail "results file $how mid-run: reported as done: $(tail -3 sweep.err)"
  [ ! -e "$how.h5.lock" ] || fail "results file $how mid-run: the lock file was left"
done
[ "$(cat replaced.h5)" = other ] || fail "the file put in the results file's place was changed"
[ "$(cells_done moved.h5)" -ge 1 ] || fail "the moved results file lost its cells"
echo "sweep_guard: ok"
