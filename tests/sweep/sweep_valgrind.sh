#!/usr/bin/env bash
# sweep_valgrind.sh: the sweep's own memory handling under valgrind memcheck: no invalid
# access and no definite leak. Serial runs (MPI is not initialised without a launcher, so
# every allocation seen is ours or a library's): a partial run (--cells), its resume, a
# merge and a job-file error. Then on 2 ranks, every rank under valgrind (mpirun ...
# valgrind ... headsweep): a whole sweep with 2 OpenMP threads per rank, a partial run
# and its resume, and a study mismatch refused on every rank. valgrind-mpi.supp (beside
# this script, commented) suppresses only what Open MPI, PMIx and libgomp report about
# their own allocations. Labelled slow so that the sanitizer build, whose binaries
# valgrind cannot run, leaves it out.
source "$(dirname "$0")/fixture.sh" "$1"
command -v valgrind >/dev/null || fail "valgrind is not installed (tools/setup.sh installs it)"
cat >small.ini <<'INI'
[job]
model = model
prompts = prompts.jsonl
max_prompts = 4
shards = 2
variants = baseline, agency
[generation]
max_new_tokens = 4
temperature = 0.8
[pruning]
levels = 50
calibration = calib.jsonl
calibration_max_prompts = 2
INI

supp=$here/valgrind-mpi.supp
vgopts=(-q --num-callers=40 --suppressions="$supp" --leak-check=full --errors-for-leak-kinds=definite
  --error-exitcode=99)
vg() {
  local want=$1
  shift
  valgrind "${vgopts[@]}" "$hs" "$@" 2>vg.err
  local rc=$?
  [ "$rc" = "$want" ] || fail "valgrind $* -> exit $rc, want $want: $(tail -n 40 vg.err)"
  if grep -q "^==[0-9]*== " vg.err; then fail "valgrind $* reported: $(grep "^==" vg.err | head -n 40)"; fi
}

vg 0 sweep small.ini --out a.h5 --cells 1/2
vg 0 sweep small.ini --out a.h5
vg 0 sweep small.ini --out b.h5 --cells 2/2
vg 0 merge m.h5 a.h5 b.h5
vg 2 sweep small.ini --out a.h5 --set generation.seed=2
printf '[job]\nmodel = model\nprompts = prompts.jsonl\nbogus = 1\n' >bad.ini
vg 2 sweep bad.ini
"$py" "$tool" compare a.h5 m.h5 || fail "merge differs"

# vg_mpi WANT args...: the command on 2 ranks, each under valgrind with its own log
# (vg.RANK.log), which must stay empty.
vg_mpi() {
  local want=$1 log
  shift
  rm -f vg.*.log
  "$mpiexec" -n 2 valgrind "${vgopts[@]}" --log-file="$work/vg.%q{OMPI_COMM_WORLD_RANK}.log" "$hs" "$@" 2>vg.err
  local rc=$?
  [ "$rc" = "$want" ] ||
    fail "2 ranks under valgrind: $* -> exit $rc, want $want: $(tail -n 20 vg.err; cat vg.*.log | head -n 60)"
  [ "$(ls vg.*.log | wc -l)" = 2 ] || fail "2 ranks under valgrind: $*: want a log per rank, got: $(ls vg.*.log)"
  for log in vg.*.log; do
    [ ! -s "$log" ] || fail "2 ranks under valgrind: $*: $log: $(head -n 60 "$log")"
  done
}
vg_mpi 0 sweep small.ini --out c.h5 --set job.threads=2
grep -q "on 2 ranks" vg.err || fail "the MPI sweep did not run on 2 ranks: $(cat vg.err)"
vg_mpi 0 sweep small.ini --out d.h5 --cells 2/2
vg_mpi 0 sweep small.ini --out d.h5
vg_mpi 2 sweep small.ini --out d.h5 --set generation.seed=2
grep -q "d.h5" vg.err || fail "the study mismatch was not reported: $(cat vg.err)"
"$py" "$tool" compare a.h5 c.h5 d.h5 || fail "the MPI runs differ from the serial one"
echo "sweep_valgrind: ok"
