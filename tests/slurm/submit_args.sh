#!/usr/bin/env bash
# submit_args.sh: slurm/hs-submit's and slurm/headsweep.sbatch's reading of their arguments,
# without SLURM: a fake sbatch records what it is asked and a fake srun records the sweep
# command, so the test takes a few seconds and runs everywhere (slurm_e2e.sh runs the
# scripts on a real cluster). Checks:
#  - a job the sweep refuses on the node (a prompt over the model's context) is refused by
#    hs-submit before anything is submitted (its --dry-run is the sweep's checks);
#  - --set job.output is read as the sweep reads it (blanks around the name and before the
#    value): accepted by hs-submit and by the batch script alike, and a conflict with --out
#    is refused by both;
#  - numbers are digits below 10^9, --tasks ranges are increasing and inside --array, and
#    --array is at most the study's work items (more tasks would have no cell);
#  - `--` ends the options (a job file named like an option).
set -u
hs=${HS_HEADSWEEP:?HS_HEADSWEEP must name the headsweep binary}
src=${HS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
submit="$src/slurm/hs-submit"
batch="$src/slurm/headsweep.sbatch"
work=$(mktemp -d /tmp/hs-submit-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fails=0

fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
# expect CODE NEEDLE -- command...: exit code and a substring of stdout + stderr.
expect() {
  local want=$1 needle=$2
  shift 3
  "$@" >out.txt 2>&1 </dev/null
  local rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$needle" out.txt; then
    fail "$* -> exit $rc (want $want), output: $(head -c 600 out.txt) (want '$needle')"
  fi
}

"$hs" mkmodel --shape tiny --seed 3 --out model 2>/dev/null || { echo "FAIL: mkmodel"; exit 1; }
for i in 0 1 2 3; do
  printf '{"id": "p-%d", "prompt": "in the beginning god created the heaven", "reference": " and the earth"}\n' "$i"
done >prompts.jsonl
cat >job.ini <<'EOF'
[job]
model = model
prompts = prompts.jsonl
shards = 2
output = out/job.h5
variants = baseline

[generation]
max_new_tokens = 4

[pruning]
strategy = magnitude
levels = 0, 50
EOF
cp job.ini ./-j.ini
mkdir fakebin
cat >fakebin/sbatch <<EOF
#!/bin/bash
printf '%s\n' "\$*" >>"$work/sbatch.log"
echo "4242;cluster"
EOF
cat >fakebin/srun <<EOF
#!/bin/bash
while [ \$# -gt 0 ]; do case \$1 in --*) shift ;; *) break ;; esac; done
printf '%s\n' "\$*" >>"$work/srun.log"
EOF
chmod +x fakebin/sbatch fakebin/srun
export PATH="$work/fakebin:$PATH" HS_BIN="$hs" HS_REPORT_BIN="$hs"

# A job the sweep refuses: refused, nothing submitted.
expect 2 "over the model's context of 128" -- "$submit" job.ini --array 2 --set generation.max_new_tokens=200
[ ! -e sbatch.log ] || fail "hs-submit submitted a job the sweep refuses: $(cat sbatch.log)"

# --set job.output with blanks: one results file for hs-submit, the batch script and the sweep.
expect 0 "--out out/sp.h5 " -- "$submit" job.ini --dry-run --set "job.output= out/sp.h5"
expect 0 "--out out/sp.h5 " -- "$submit" job.ini --dry-run --set "job.output =out/sp.h5" --out out/sp.h5
expect 2 "--out out/a.h5 and --set job.output=out/b.h5 name different results files" -- \
  "$submit" job.ini --dry-run --set "job.output =out/b.h5" --out out/a.h5
run_batch() {
  SLURM_JOB_ID=1 SLURM_SUBMIT_DIR=$work SLURM_JOB_NAME=hs-job bash "$batch" job.ini --logs logs --bin "$hs" "$@"
}
expect 0 "is complete" -- run_batch --out out/sp.h5 --set "job.output= out/sp.h5"
grep -qF -- "--out out/sp.h5 " srun.log || fail "the batch script ran another output: $(cat srun.log)"
expect 2 "--out out/a.h5 and --set job.output=out/b.h5 name different results files" -- \
  run_batch --out out/a.h5 --set "job.output =out/b.h5"

# Numbers: digits below 10^9; --tasks increasing and inside --array.
expect 2 "--array 99999999999999999999: expected a positive number below 1000000000" -- \
  "$submit" job.ini --dry-run --array 99999999999999999999
expect 2 "--ranks 1e3: expected a positive number" -- "$submit" job.ini --dry-run --ranks 1e3
expect 2 "--tasks 3-1: range 3-1 is reversed" -- "$submit" job.ini --dry-run --array 4 --tasks 3-1
expect 2 "--tasks 0,4: task 4 is outside 0..3" -- "$submit" job.ini --dry-run --array 4 --tasks 0,4
expect 2 "expected ids like 2,5" -- "$submit" job.ini --dry-run --array 4 --tasks 1234567890
expect 0 "--array=1-2 " -- "$submit" job.ini --dry-run --array 4 --tasks 1-2
# More tasks than work items (2 levels x 2 shards): refused, the extra tasks would have no cell.
expect 2 "give N of at most 4" -- "$submit" job.ini --dry-run --array 5

# `--` ends the options; a job file named like an option reaches everything as ./-j.ini.
expect 0 "headsweep.sbatch job.ini " -- "$submit" --dry-run -- job.ini
expect 0 "headsweep.sbatch ./-j.ini " -- "$submit" --dry-run --array 2 -- -j.ini
grep -qF -- "--resubmit '$submit --array 2 ./-j.ini'" out.txt ||
  fail "the resubmit command keeps -- or the bare job name: $(cat out.txt)"
expect 2 "after --, only the job file" -- "$submit" --dry-run -- job.ini --set job.shards=1

[ "$fails" = 0 ] || exit 1
echo "submit_args: ok"
