#!/usr/bin/env bash
# sweep_valgrind.sh: the sweep's own memory handling under valgrind (serial runs: MPI is
# not initialised without a launcher, so every allocation seen is ours or a library's):
# no invalid access and no definite leak in a partial run (--cells), its resume, a merge
# and a job-file error. Labelled slow so that the sanitizer build, whose binaries
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

vg() {
  local want=$1
  shift
  valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 "$hs" "$@" 2>vg.err
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
echo "sweep_valgrind: ok"
