#!/usr/bin/env bash
# slurm_e2e.sh: the slurm/ scripts on a real SLURM: a private one-node cluster (munged,
# slurmctld, slurmd on this machine, declared with 2 CPUs) runs the demo study,
# jobs/demo.ini on the bundled model, shortened with --set (8 prompts, 16 new tokens,
# 16 calibration prompts: 64 cells, about 12 s on 2 ranks instead of 26 s, a minute
# under load):
#   1. straight: hs-submit, srun, 2 ranks -> complete file (the reference);
#   2. requeue: mpirun, 2 ranks, `scontrol requeue` while it runs -> the requeued job
#      resumes: every cell computed once, quality numbers equal to the straight run;
#   3. time limit: 1 rank, --time=1 with the SIGUSR1 25 s ahead, the demo with 512 cells
#      (too long for one minute) -> the script saves, requeues itself, restarts, resumes;
#   4. job array: 3 parts + the merge job; task 1 is killed part-way, the merge job refuses
#      and prints the command that runs task 1 alone (hs-submit --tasks 1, which it gets as
#      --resubmit); that command resumes the part and merges -> a file equal to the
#      straight run with every cell computed exactly once, and the report;
#   5. threads: --threads 2 reaches the sweep; a log directory with a % in its name;
#   6. an sbatch that refuses the merge job: hs-submit prints the command to submit it.
# Before those: hs-submit --dry-run (options, --set job.output, --array above the work
# items, a continued line in the job file, a job the sweep refuses, no sbatch) and the merge
# script on an unreadable `headsweep status --json`.
# The files are checked with h5dump (hdf5-tools) and `headsweep merge` (which refuses
# cells with different quality numbers), so neither Python nor h5py is needed.
# HS_SLURM_KEEP=1 keeps the work directory (logs, results) after a passing run.
# Installs slurm-wlm, munge and hdf5-tools with apt-get if missing. Exit 77 (SKIP) when
# they cannot be installed or the daemons cannot run here at all (not root, no munge
# user, ...).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${HS_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}
hs=${HS_HEADSWEEP:-$build/src/cli/headsweep}
submit="$src/slurm/hs-submit"
# shellcheck source=SCRIPTDIR/cluster.sh
source "$here/cluster.sh"
t0=$(date +%s)

step() { echo "[$(($(date +%s) - t0)) s] $*"; }
skip() {
  echo "SKIP: $* -- the SLURM test needs root, apt-get (or slurm-wlm, munge and hdf5-tools installed)" \
    "and the right to run daemons"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The scripts themselves first: syntax, shellcheck when it is there, --help, --dry-run.
for f in "$src"/slurm/*.sbatch "$src/slurm/hs-submit" "$here"/*.sh; do
  bash -n "$f" || fail "bash -n $f"
done
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -x "$src"/slurm/*.sbatch "$src/slurm/hs-submit" "$here"/*.sh || fail "shellcheck"
fi

[ "$(id -u)" -eq 0 ] || skip "not root"
slurm_install || skip "slurm-wlm, munge or hdf5-tools are missing and apt-get cannot install them"

work=$(mktemp -d /tmp/hs-slurm-XXXXXX)
chmod 755 "$work"
cleanup() {
  local rc=$?
  cluster_stop
  if [ -n "${HS_SLURM_KEEP:-}" ]; then
    echo "kept $work (HS_SLURM_KEEP is set)"
  elif [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    echo "--- logs of the failed run (kept in $work) ---" >&2
    for f in "$work"/logs/*; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
    done
    tail -n 20 "$work/cluster/log/slurmctld.log" >&2 2>/dev/null || true
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

step "starting munged, slurmctld and slurmd in $work/cluster"
crc=0
cluster_start "$work/cluster" || crc=$?
[ "$crc" = 0 ] || [ "$crc" = 2 ] || skip "the SLURM daemons cannot run on this machine (see above)"
[ "$crc" = 0 ] || fail "the SLURM daemons run but the node never became idle"
sinfo
# The issue's cluster: one node with 2 CPUs, whatever this machine has (cluster.sh).
cpus=$(scontrol -o show node | sed -n 's/.* CPUTot=\([0-9]*\) .*/\1/p')
[ "$cpus" = 2 ] || fail "the test node has ${cpus:-no} CPUs, want 2: $(scontrol -o show node)"

# --- the study: jobs/demo.ini, shortened with --set --------------------------------------
# The job's paths are relative to the repository root: the work directory links the two
# folders it uses, so that jobs run here and write their logs and results here.
ln -s "$src/jobs" jobs
ln -s "$src/models" models
demo=(jobs/demo.ini --set job.max_prompts=8 --set generation.max_new_tokens=16
  --set pruning.calibration_max_prompts=16)
cells=64 # 4 variants x 4 levels x 4 shards
# Step 3: 96 prompts in 32 shards, 512 cells of 3 prompts, paced (see there); its own
# name (logs hs-demo-long-*) and results file, given as --set job.output (no --out).
long=("${demo[@]}" --set job.prompts=jobs/prompts/kjv_heldout.jsonl --set job.max_prompts=96 --set job.shards=32
  --set job.name=demo-long --set job.output=results/long.h5)
long_cells=512

export HDF5_USE_FILE_LOCKING=FALSE # the tests read files a sweep is writing
# h5values FILE DATASET: the dataset's values, one per line, in /cells/done's order
# (variant-major); nothing when the file cannot be read (yet).
h5values() {
  h5dump -y -w 0 -d "$2" "$1" 2>/dev/null | awk '/^ *DATA \{/ { on = 1; next } on && /^ *\}/ { exit } on' |
    tr ',' '\n' | tr -d ' ' | grep -v '^$' || true
}
h5attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): //p'; } # h5attr FILE NAME
done_cells() { h5values "$1" /cells/done | grep -c '^1$' || true; }
# check_complete FILE N: /cells/done has N entries, every one 1; attribute complete is 1;
# the quality numbers defined for every prompt (token counts, perplexities) are finite.
check_complete() {
  local d m v
  d=$(h5values "$1" /cells/done)
  [ "$(grep -c . <<<"$d")" = "$2" ] || fail "$1: /cells/done has $(grep -c . <<<"$d") cells, want $2"
  ! grep -qv '^1$' <<<"$d" || fail "$1: $(grep -cv '^1$' <<<"$d") of its $2 cells are not done"
  [ "$(h5attr "$1" complete)" = 1 ] || fail "$1: attribute complete is '$(h5attr "$1" complete)', want 1"
  for m in generated_tokens reference_perplexity generated_perplexity_unpruned decode_seconds; do
    v=$(h5values "$1" "/metrics/$m")
    [ -n "$v" ] || fail "$1: no /metrics/$m"
    ! grep -qiE 'nan|inf' <<<"$v" || fail "$1: /metrics/$m has $(grep -ciE 'nan|inf' <<<"$v") non-finite values"
  done
}
# same_results A B: every cell of A and B done and equal in every quality number, by
# headsweep merge, which refuses a cell done in both with any quality number different
# (docs/sweep.md, Merge) or files of different studies.
same_results() {
  local m="$work/same-$$.h5"
  rm -f "$m"
  "$hs" merge "$m" "$1" "$2" 2>same.err || fail "$1 and $2 differ: $(cat same.err)"
  grep -q ": $cells of $cells cells done" same.err || fail "merging $1 and $2: $(cat same.err)"
  rm -f "$m"
}
# computed_once RANK0_LOG N: the "(K in this run" counts of every run add up to N.
computed_once() {
  local sum=0 k
  while read -r k; do sum=$((sum + k)); done < <(sed -n 's/.*cells done (\([0-9]*\) in this run.*/\1/p' "$1")
  [ "$sum" = "$2" ] ||
    fail "$1: the runs computed $sum cells in all, want $2 (each cell once): $(grep 'in this run' "$1")"
}
# runs_count FILE RUN: cells of FILE written by sweep run RUN (/cells/run).
runs_count() { h5values "$1" /cells/run | grep -c "^$2\$" || true; }
# --cells K/N divides whole work items, the 4 variants' cells of one (level, shard): cell i
# (variant-major) is in item i % items, and part K of N holds the items that are K-1 modulo N.
nvariants=4
items=$((cells / nvariants))
share_of() { echo $((nvariants * ((items - $1 + 3) / 3))); } # share_of K: cells of part K of 3
# part_cells FILE K N: part K of N has done exactly its items' cells.
part_cells() {
  local i=0 v wrong=0
  while read -r v; do
    if [ $((i % items % $3)) = $(($2 - 1)) ]; then
      [ "$v" = 1 ] || wrong=$((wrong + 1))
    else
      [ "$v" = 0 ] || wrong=$((wrong + 1))
    fi
    i=$((i + 1))
  done < <(h5values "$1" /cells/done)
  { [ "$i" = "$cells" ] && [ "$wrong" = 0 ]; } || fail "$1: $wrong of its $i cell flags are not those of part $2 of $3"
}
wait_cells() { # wait_cells FILE N SECONDS
  for _ in $(seq $((10 * $3))); do
    [ -f "$1" ] && [ "$(done_cells "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 never reached $2 done cells in $3 s"
}
restarts() { scontrol -o show job "$1" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p'; }
run_submit() { # run_submit ARGS...: hs-submit, prints the job ids it printed last
  "$submit" --build "$build" "$@" >submit.out 2>submit.err || fail "hs-submit $*: $(cat submit.err)"
  grep -E '^[0-9]+$' submit.out || fail "hs-submit $* printed no job id: $(cat submit.out submit.err)"
}

# hs-submit --dry-run writes the commands and submits nothing.
"$submit" --build "$build" --dry-run --ranks 4 --nodes 2 --threads 2 --time 1:00:00 --partition test \
  "${demo[@]}" --out results/x.h5 >dry.out || fail "hs-submit --dry-run"
for want in "--nodes=2" "--ntasks=4" "--cpus-per-task=2" "--time=1:00:00" "--partition=test" "--requeue" \
  "--signal=B:USR1@120" "--output=logs/%x-%j.out" "headsweep.sbatch jobs/demo.ini --out results/x.h5" \
  "--set job.max_prompts=8 --set generation.max_new_tokens=16"; do
  grep -qF -- "$want" dry.out || fail "hs-submit --dry-run lacks '$want': $(cat dry.out)"
done
# A % in the log directory reaches sbatch as %% (else %x, %j, ... would be expanded there).
"$submit" --build "$build" --dry-run --array 3 --logs 'logs/a%b' "${demo[@]}" --out results/x.h5 >dry.out ||
  fail "hs-submit --dry-run --array"
for want in "ARRAY_JOB_ID=\$(sbatch" "--array=0-2" "--output=logs/a%%b/%x-%A_%a.out" "--logs logs/a%b " "--parts 3" \
  "--dependency=afterany:\$ARRAY_JOB_ID" "--output=logs/a%%b/%x-%j.out" \
  "headsweep-merge.sbatch --out results/x.h5 --parts 3"; do
  grep -qF -- "$want" dry.out || fail "hs-submit --dry-run --array lacks '$want': $(cat dry.out)"
done
# --set job.output=FILE is --out FILE; a different --out beside it is refused.
"$submit" --build "$build" --dry-run "${demo[@]}" --set job.output=results/y.h5 >dry.out ||
  fail "hs-submit --set job.output"
grep -qF -- "--out results/y.h5 " dry.out || fail "hs-submit ignored --set job.output=results/y.h5: $(cat dry.out)"
rc=0
"$submit" --build "$build" --dry-run "${demo[@]}" --out results/x.h5 --set job.output=results/y.h5 \
  >dry.out 2>dry.err || rc=$?
{ [ "$rc" = 2 ] && grep -q "name different results files" dry.err; } ||
  fail "hs-submit --out x --set job.output=y: exit $rc, want 2 and a message: $(cat dry.err)"
# More array tasks than work items (levels x shards: the variants of a level and shard are
# timed together, so a part holds whole work items): refused, since the extra tasks would
# have no cell (the sweep refuses such a --cells K/N, and hs-submit asks its dry run).
items=16 # 4 levels x 4 shards
over=$((items + 2))
rc=0
"$submit" --build "$build" --dry-run --array $over "${demo[@]}" >dry.out 2>dry.err || rc=$?
{ [ "$rc" = 2 ] && grep -q "the study has $items work items" dry.err; } ||
  fail "hs-submit --array $over: exit $rc, want 2 and a message: $(cat dry.err)"
"$submit" --build "$build" --dry-run --array "$items" "${demo[@]}" >dry.out 2>dry.err || fail "hs-submit --array $items"
! grep -q "warning" dry.err || fail "a warning for --array $items: $(cat dry.err)"
[ -z "$(squeue -h)" ] || fail "--dry-run submitted a job"
# The count is the sweep's own (--dry-run --json): a value continued on the next line
# of the job file counts (the awk reader hs-submit once had saw 2 levels of these 4).
sed 's/^levels = .*/levels = 0, 30,\n  50, 70/' jobs/demo.ini >cont.ini
grep -q "^  50, 70" cont.ini || fail "cont.ini has no continuation line"
"$submit" --build "$build" --dry-run --array "$items" cont.ini "${demo[@]:1}" >dry.out 2>dry.err ||
  fail "hs-submit cont.ini: $(cat dry.err)"
rc=0
"$submit" --build "$build" --dry-run --array $((items + 1)) cont.ini "${demo[@]:1}" >dry.out 2>dry.err || rc=$?
[ "$rc" = 2 ] || fail "continued levels miscounted: --array $((items + 1)) exit $rc: $(cat dry.err)"
# A job the sweep refuses is refused before anything is written; so is a submit host
# without sbatch (PATH without it: only what hs-submit needs before it checks).
rc=0
"$submit" --build "$build" --dry-run "${demo[@]}" --set job.shards=99 >dry.out 2>dry.err || rc=$?
{ [ "$rc" = 2 ] && grep -q "shards = 99 but only 8" dry.err; } ||
  fail "hs-submit of a bad job: exit $rc: $(cat dry.err)"
mkdir -p nosbatch
for t in dirname basename python3; do ln -sf "$(command -v "$t")" "nosbatch/$t"; done
rc=0
PATH=$work/nosbatch "$submit" --build "$build" --logs nologs "${demo[@]}" --out results/nosb.h5 \
  >dry.out 2>dry.err || rc=$?
{ [ "$rc" = 2 ] && grep -q "sbatch not found" dry.err && [ ! -e nologs ]; } ||
  fail "hs-submit without sbatch: exit $rc (want 2, nothing written): $(cat dry.err)"
# The merge script (outside SLURM, as it also runs by hand) with a headsweep whose status
# prints no JSON: an error (exit 2), never a complete part.
mkdir -p fake/x.parts
touch fake/x.parts/part-1-of-2.h5 fake/x.parts/part-2-of-2.h5
cat >fake/hs <<'EOF'
#!/bin/sh
[ "$1" = status ] && echo "1 of 4 cells done"
exit 0
EOF
chmod +x fake/hs
rc=0
"$src/slurm/headsweep-merge.sbatch" --out fake/x.h5 --parts 2 --bin fake/hs --report-bin fake/hs >fake/log 2>&1 || rc=$?
{ [ "$rc" = 2 ] && grep -q "could not read headsweep status --json" fake/log && [ ! -e fake/x.h5 ]; } ||
  fail "merge script with an unreadable status: exit $rc, want 2: $(cat fake/log)"

# --- 1. straight: srun, 2 ranks -----------------------------------------------------------
step "1. straight run of the demo: srun, 2 ranks"
id=$(run_submit --ranks 2 "${demo[@]}" --out results/straight.h5)
st=$(job_wait "$id" 300) || fail "straight run did not end"
[ "$st" = COMPLETED ] || fail "straight run ended $st"
check_complete results/straight.h5 "$cells"
grep -q "2 rank(s) x 1 thread(s) via srun" "logs/hs-demo-$id.out" || fail "batch log: $(cat "logs/hs-demo-$id.out")"
[ "$(find logs -name "hs-demo-$id.rank*.log" | wc -l)" = 2 ] || fail "want one log per rank: $(ls logs)"
computed_once "logs/hs-demo-$id.rank0.log" "$cells"

# --- 2. scontrol requeue while it runs: mpirun, 2 ranks -----------------------------------
step "2. requeue: mpirun, 2 ranks, scontrol requeue after 4 cells"
id=$(run_submit --ranks 2 --launcher mpirun "${demo[@]}" --out results/requeue.h5)
wait_cells results/requeue.h5 4 120
scontrol requeue "$id" || fail "scontrol requeue $id"
st=$(job_wait "$id" 300) || fail "requeued run did not end"
[ "$st" = COMPLETED ] || fail "requeued run ended $st"
[ "$(restarts "$id")" = 1 ] || fail "want 1 restart, scontrol says $(restarts "$id")"
log="logs/hs-demo-$id.out" r0="logs/hs-demo-$id.rank0.log"
{ grep -q "restart count 0" "$log" && grep -q "restart count 1" "$log"; } ||
  fail "$log lacks the restart counts: $(cat "$log")"
grep -q "caught SIGTERM" "$log" || fail "$log: the requeue's SIGTERM was not seen: $(cat "$log")"
check_complete results/requeue.h5 "$cells"
# Each cell once: the restart resumed exactly the cells the first run wrote (/cells/run 1)
# and computed the others (run 2).
first=$(runs_count results/requeue.h5 1)
[ "$first" -ge 4 ] || fail "results/requeue.h5: the first run wrote $first cells, want at least 4"
grep -q "resuming, $first of $cells cells done" "$r0" ||
  fail "the requeued job did not resume the $first cells: $(cat "$r0")"
[ $((first + $(runs_count results/requeue.h5 2))) = "$cells" ] ||
  fail "results/requeue.h5: /cells/run is not 1 or 2 everywhere"
computed_once "$r0" "$cells"
same_results results/straight.h5 results/requeue.h5

# --- 3 and 4 side by side, one CPU each -------------------------------------------------------
# 3. The time limit: --time=1 with SIGUSR1 25 s ahead. SLURM checks time limits every 30 s,
# so the signal comes 5 to 35 s after the start; the study must take longer than that on
# one core whatever the machine's speed, so every prompt is stretched by 50 ms
# (HS_TEST_PROMPT_PACE_MS, timings only; sbatch passes the environment on, to the restart
# too): 1152 prompts, at least 58 s. Its cells are small (3 prompts) so that one is saved
# before the signal. The script forwards the signal, the sweep saves its cells and exits 3,
# the script requeues the job, and the restart resumes. Then the test cancels it
# (finishing a resumed run is what step 2 checks). No --out: hs-submit and the batch
# script take the file from --set job.output.
step "3. time limit: 1 rank, --time=1 --signal-lead=25; in parallel 4. job array: 3 parts + merge"
tl=$(HS_TEST_PROMPT_PACE_MS=50 run_submit --ranks 1 --time 1 --signal-lead 25 "${long[@]}")

# 4. A job array of 3 parts and its merge job, submitted held (--sbatch=--hold) so that the
# test releases the tasks in its own order, and paced (200 ms a prompt: 16 cells of 2
# prompts, at least 6 s a part) so that a part is still running when the test acts on it.
# Task 1 fails part-way: frozen with scontrol suspend once a cell is saved, then cancelled
# (SLURM kills a suspended job outright, like a crashed node). Task 0 gets the time-limit
# signal by hand (scancel --batch --signal=USR1, what --signal=B:USR1 does) once it has
# saved a cell: it must requeue itself alone (ARRAYID_0; the bare array id would requeue
# every task), and the merge job must wait for its restart. The merge job then refuses and
# prints the command that runs task 1 alone; that command resumes the part file and merges.
ids=$(HS_TEST_PROMPT_PACE_MS=200 run_submit --array 3 --ranks 1 --sbatch=--hold "${demo[@]}" --out results/array.h5)
aid=$(sed -n 1p <<<"$ids") mid=$(sed -n 2p <<<"$ids")
[ -n "$mid" ] || fail "no merge job id: $ids"
share=$(share_of 2) # part 2's cells
scontrol release "$mid" "${aid}_1"
part2=results/array.parts/part-2-of-3.h5
resumable=0
wait_cells "$part2" 1 180
if scontrol suspend "${aid}_1" 2>/dev/null; then
  [ "$(done_cells "$part2")" -lt "$share" ] && resumable=1
fi
scancel "${aid}_1"
if [ "$resumable" = 0 ]; then # too quick to catch despite the pace: lose its file instead
  step "   part 2 finished before it could be stopped; removing it instead (its resume is not checked)"
  job_wait "${aid}_1" 60 >/dev/null
  rm -f "$part2"
fi
scontrol release "${aid}_0"
wait_cells results/array.parts/part-1-of-3.h5 1 180
scancel --batch --signal=USR1 "${aid}_0" || true # fails only if task 0 has just finished
scontrol release "${aid}_2"
st=$(job_wait "$mid" 300) || fail "merge job did not end"
mlog="logs/hs-demo-merge-$mid.out"
[ "$st" = FAILED ] || fail "the merge job should refuse while part 2 is unfinished; it ended $st: $(cat "$mlog")"
[ ! -e results/array.h5 ] || fail "a refused merge wrote results/array.h5"
for k in 0 2; do
  [ "$(job_state "${aid}_$k")" = COMPLETED ] || fail "array task $k ended $(job_state "${aid}_$k")"
done
if [ "$resumable" = 1 ]; then
  [[ $(job_state "${aid}_1") =~ ^(CANCELLED|FAILED)$ ]] ||
    fail "array task 1 ended $(job_state "${aid}_1"), want CANCELLED"
fi
grep -q "array task(s) 1 did not finish" "$mlog" || fail "$mlog does not name task 1: $(cat "$mlog")"
again=$(sed -n 's/.*headsweep-merge.sbatch:   //p' "$mlog")
[[ $again == *"hs-submit "*"--array 3 "*"--tasks 1" ]] ||
  fail "$mlog gives no hs-submit command to run task 1 again: $(cat "$mlog")"
{ [ -f "logs/hs-demo-${aid}_0.out" ] && [ -f "logs/hs-demo-${aid}_0.rank0.log" ]; } || fail "array logs: $(ls logs)"
log="logs/hs-demo-${aid}_0.out"
if grep -q "stopped by SIGUSR1" "logs/hs-demo-${aid}_0.rank0.log"; then
  { grep -q "requeueing job ${aid}_0 (restart 1 will resume)" "$log" && grep -q "restart count 1" "$log"; } ||
    fail "array task 0 did not requeue itself: $(cat "$log")"
  grep -q "resuming, [1-9][0-9]* of $cells cells done" "logs/hs-demo-${aid}_0.rank0.log" ||
    fail "array task 0 did not resume: $(cat "logs/hs-demo-${aid}_0.rank0.log")"
else
  step "   array task 0 finished before its SIGUSR1 arrived: its self-requeue was not exercised"
fi
kept=0 # cells of part 2 saved by the failed task (run 1 of its file)
[ "$resumable" = 0 ] || kept=$(runs_count "$part2" 1)
[ "$resumable" = 0 ] || [ "$kept" -ge 1 ] || fail "$part2: the failed task saved no cell"
step "   merge job: task 1 did not finish ($kept of its $share cells saved); running what it printed: $again"
eval "$again" >submit.out 2>submit.err || fail "resubmitting task 1: $(cat submit.err)"
mapfile -t ids2 < <(grep -E '^[0-9]+$' submit.out)
[ "${#ids2[@]}" = 2 ] || fail "resubmission printed no job ids: $(cat submit.out submit.err)"
grep -q -- "--array=1 " submit.out || fail "the resubmission is not task 1 alone: $(cat submit.out)"
scontrol release "${ids2[1]}" "${ids2[0]}_1" # held like the first submission
st=$(job_wait "${ids2[1]}" 300) || fail "second merge job did not end"
mlog="logs/hs-demo-merge-${ids2[1]}.out"
[ "$st" = COMPLETED ] || fail "second merge job ended $st: $(cat "$mlog")"
r0="logs/hs-demo-${ids2[0]}_1.rank0.log"
if [ "$resumable" = 1 ]; then
  grep -q "resuming, $kept of $cells cells done" "$r0" ||
    fail "task 1 did not resume its $kept saved cells: $(cat "$r0")"
fi
# Every cell exactly once: each part holds exactly its own cells; the resubmitted task
# computed only the cells the failed one had not saved; each task's runs add up to its share.
for k in 1 2 3; do part_cells "results/array.parts/part-$k-of-3.h5" "$k" 3; done
computed_once "$r0" $((share - kept))
[ "$(runs_count "$part2" $((kept > 0 ? 2 : 1)))" = $((share - kept)) ] ||
  fail "$part2: /cells/run: $(h5values "$part2" /cells/run | tr '\n' ' ')"
computed_once "logs/hs-demo-${aid}_0.rank0.log" "$(share_of 1)"
computed_once "logs/hs-demo-${aid}_2.rank0.log" "$(share_of 3)"
check_complete results/array.h5 "$cells"
same_results results/straight.h5 results/array.h5
[ -s results/array-report/REPORT.md ] || fail "no report: $(cat "$mlog")"
step "   array: task 1 resubmitted alone, merged, every cell once, equal to step 1, reported"

# Back to 3: wait for the time limit's requeue and the resumed run.
log="logs/hs-demo-long-$tl.out" r0="logs/hs-demo-long-$tl.rank0.log"
for _ in $(seq 300); do
  grep -q "resuming, " "$r0" 2>/dev/null && break
  [ "$(job_state "$tl")" != COMPLETED ] ||
    fail "the time-limited job finished without reaching its limit: $(cat "$log")"
  sleep 1
done
grep -q "resuming, " "$r0" || fail "the time-limited job never resumed: $(cat "$log")"
scancel "$tl"
job_wait "$tl" 120 >/dev/null || fail "time-limited job did not end after scancel"
grep -q "caught SIGUSR1" "$log" || fail "$log: no SIGUSR1 before the time limit: $(cat "$log")"
grep -q "requeueing job $tl (restart 1 will resume)" "$log" || fail "$log: no self-requeue: $(cat "$log")"
grep -q "restart count 1" "$log" || fail "$log: no restart 1: $(cat "$log")"
grep -q "results/long.h5: resuming" "$r0" ||
  fail "$r0: the sweep did not write --set job.output=results/long.h5: $(cat "$r0")"
saved=$(sed -n 's/.*cells done (\([0-9]*\) in this run.*/\1/p' "$r0" | head -n 1)
[ "${saved:-0}" -ge 1 ] || fail "$r0: the first run saved no cell: $(cat "$r0")"
grep -q "resuming, $saved of $long_cells cells done" "$r0" ||
  fail "$r0: the restart did not resume the $saved saved cells: $(cat "$r0")"
step "   time limit: SIGUSR1 $(grep -m1 'caught SIGUSR1' "$log" | cut -c12-19), $saved cells saved, requeued, resumed"

# --- 5. threads per rank: --threads 2 -> --cpus-per-task=2 -> --set job.threads=2 ----------
# Its logs go to a directory with a % in its name, which must stay literal (sbatch and srun
# would expand %x).
step "5. threads: 1 rank x 2 threads on the finished straight file (nothing to do), logs in logs/pct%x"
pl='logs/pct%x'
id=$(run_submit --ranks 1 --threads 2 --logs "$pl" "${demo[@]}" --out results/straight.h5)
st=$(job_wait "$id" 120) || fail "threads run did not end"
log="$pl/hs-demo-$id.out"
[ -f "$log" ] || fail "no batch log $log: $(find logs -newer dry.out -type f)"
[ "$st" = COMPLETED ] || fail "threads run ended $st: $(cat "$log")"
grep -q "1 rank(s) x 2 thread(s) via srun" "$log" || fail "$log: $(cat "$log")"
grep -q -- "--set job.threads=2 " "$log" || fail "$log: job.threads not passed: $(cat "$log")"
[ -f "$pl/hs-demo-$id.rank0.log" ] || fail "no rank log $pl/hs-demo-$id.rank0.log: $(find logs -newer dry.out -type f)"
grep -q "nothing to do, $cells of $cells cells done" "$pl/hs-demo-$id.rank0.log" ||
  fail "$(cat "$pl/hs-demo-$id.rank0.log")"

# --- 6. the merge job cannot be submitted: hs-submit says how to submit it by hand ---------
step "6. merge job refused by sbatch: hs-submit prints the command"
mkdir -p fakebin
cat >fakebin/sbatch <<EOF
#!/bin/bash
# sbatch that refuses the merge job (and passes every other job to the real one).
case " \$* " in *" --job-name=hs-demo-merge "*) echo "sbatch: error: refused by the test" >&2; exit 1 ;; esac
exec $(command -v sbatch) "\$@"
EOF
chmod +x fakebin/sbatch
rc=0
PATH="$work/fakebin:$PATH" "$submit" --build "$build" --array 2 --sbatch=--hold "${demo[@]}" --out results/nomerge.h5 \
  >submit.out 2>submit.err || rc=$?
aid=$(grep -E '^[0-9]+$' submit.out | head -n 1) || fail "the array was not submitted: $(cat submit.out submit.err)"
scancel "$aid"
[ "$rc" = 1 ] || fail "hs-submit exited $rc when the merge job was refused, want 1: $(cat submit.err)"
{ grep -q "Submit it by hand" submit.err &&
  grep -qF -- "--dependency=afterany:$aid --ntasks=1" submit.err &&
  grep -qF "headsweep-merge.sbatch --out results/nomerge.h5 --parts 2" submit.err; } ||
  fail "hs-submit gave no command for the merge job: $(cat submit.err)"
job_wait "$aid" 60 >/dev/null || fail "the held array did not end after scancel"

step "slurm_e2e: ok"
