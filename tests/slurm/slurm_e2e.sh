#!/usr/bin/env bash
# slurm_e2e.sh: the slurm/ scripts on a real SLURM: a private one-node cluster (munged,
# slurmctld, slurmd on this machine, 2 CPUs) runs a small study of a tiny random model
#   1. straight: hs-submit, srun, 2 ranks -> complete file (the reference);
#   2. requeue: mpirun, 2 ranks, `scontrol requeue` while it runs -> the requeued job
#      resumes: every cell computed once, quality numbers equal to the straight run;
#   3. time limit: 1 rank x 2 threads, --time=1 with the SIGUSR1 25 s ahead, a study too
#      long for one minute -> the script saves, requeues itself, restarts until done;
#   4. job array: 3 parts + the merge job; one task is cancelled, the merge job refuses
#      and prints the command to run that task again; that command resumes the part and
#      merges -> a file equal to the straight run, and the report.
# HS_SLURM_KEEP=1 keeps the work directory (logs, results) after a passing run.
# Installs slurm-wlm and munge with apt-get if missing. Exit 77 (SKIP) when they cannot
# be installed or the daemons cannot run here at all (not root, no munge user, ...).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${HS_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}
hs=${HS_HEADSWEEP:-$build/src/cli/headsweep}
py=${HS_PYTHON3:-/usr/bin/python3}
submit="$src/slurm/hs-submit"
tool="$src/tests/sweep/results_tool.py"
# shellcheck source=SCRIPTDIR/cluster.sh
source "$here/cluster.sh"
t0=$(date +%s)

step() { echo "[$(($(date +%s) - t0)) s] $*"; }
skip() {
  echo "SKIP: $* -- the SLURM test needs root, apt-get (or slurm-wlm and munge installed) and the right to run daemons"
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
slurm_install || skip "slurm-wlm and munge are missing and apt-get cannot install them"

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

# --- the study: a tiny random model, 96 prompts, 3 variants x 3 levels x 6 shards -----------
"$hs" mkmodel --shape tiny --seed 1 --out model >/dev/null 2>&1 || fail "mkmodel"
"$py" - <<'EOF' || fail "writing prompts"
import json
words = ("in the beginning god created the heaven and the earth and the earth was without form and void "
         "and darkness was upon the face of the deep and the spirit of god moved upon the face of the waters "
         "and god said let there be light and there was light").split()
with open("prompts.jsonl", "w") as f:
    for i in range(192):
        j = i % (len(words) - 10)
        f.write(json.dumps({"id": f"p-{i}", "prompt": " ".join(words[j:j + 3 + i % 3]),
                            "reference": " " + " ".join(words[j + 6:j + 10])}) + "\n")
with open("calib.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"id": f"cal-{i}", "prompt": " ".join(words[3 * i:3 * i + 12])}) + "\n")
EOF
cat >study.ini <<'EOF'
[job]
model = model
prompts = prompts.jsonl
max_prompts = 96
shards = 6
variants = baseline, agency, baseline-skip

[generation]
max_new_tokens = 48
temperature = 0.8
top_k = 20
seed = 11

[pruning]
strategy = entropy
levels = 0, 25, 50
calibration = calib.jsonl
EOF
# Twice the prompts, four levels, twice the tokens (step 3 stops it; paced there).
sed -e 's/^max_prompts = .*/max_prompts = 192/' -e 's/^shards = .*/shards = 16/' -e 's/^levels = .*/levels = 0, 25, 50, 75/' \
  -e 's/^max_new_tokens = .*/max_new_tokens = 96/' study.ini >long.ini
cells=54 long_cells=192

export HDF5_USE_FILE_LOCKING=FALSE # the tests read files a sweep is writing
done_cells() { "$py" -c '
import sys, h5py
with h5py.File(sys.argv[1], "r") as f: print(int(f["cells/done"][...].sum()))' "$1" 2>/dev/null || echo 0; }
# check_complete FILE N: every /cells/done is 1 and the grid has N cells; every quality
# number that is defined everywhere (token counts, distinct-n, perplexities) is finite.
check_complete() {
  "$py" - "$1" "$2" <<'EOF' || fail "$1 is not complete"
import sys, h5py, numpy as np
path, want = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "r") as f:
    done = f["cells/done"][...]
    assert done.size == want, f"{path}: {done.size} cells, want {want}"
    assert (done == 1).all(), f"{path}: {int((done != 1).sum())} cells not done"
    assert bool(f.attrs["complete"]), f"{path}: attribute complete is false"
    for m in ("generated_tokens", "reference_perplexity", "generated_perplexity_unpruned", "decode_seconds"):
        v = f["metrics/" + m][...]
        assert np.isfinite(v).all(), f"{path}: /metrics/{m} has {int((~np.isfinite(v)).sum())} non-finite values"
EOF
}
# computed_once RANK0_LOG N: the "(K in this run" counts of every run add up to N.
computed_once() {
  local sum=0 k
  while read -r k; do sum=$((sum + k)); done < <(sed -n 's/.*cells done (\([0-9]*\) in this run.*/\1/p' "$1")
  [ "$sum" = "$2" ] || fail "$1: the runs computed $sum cells in all, want $2 (each cell once): $(grep 'in this run' "$1")"
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
  study.ini --out results/x.h5 >dry.out || fail "hs-submit --dry-run"
for want in "--nodes=2" "--ntasks=4" "--cpus-per-task=2" "--time=1:00:00" "--partition=test" "--requeue" \
  "--signal=B:USR1@120" "--output=logs/%x-%j.out" "headsweep.sbatch study.ini --out results/x.h5"; do
  grep -qF -- "$want" dry.out || fail "hs-submit --dry-run lacks '$want': $(cat dry.out)"
done
"$submit" --build "$build" --dry-run --array 3 study.ini --out results/x.h5 >dry.out || fail "hs-submit --dry-run --array"
for want in "ARRAY_JOB_ID=\$(sbatch" "--array=0-2" "--output=logs/%x-%A_%a.out" "--parts 3" \
  "--dependency=afterany:\$ARRAY_JOB_ID" "headsweep-merge.sbatch --out results/x.h5 --parts 3"; do
  grep -qF -- "$want" dry.out || fail "hs-submit --dry-run --array lacks '$want': $(cat dry.out)"
done
[ -z "$(squeue -h)" ] || fail "--dry-run submitted a job"

# --- 1. straight: srun, 2 ranks -----------------------------------------------------------
step "1. straight run: srun, 2 ranks"
id=$(run_submit --ranks 2 study.ini --out results/straight.h5)
st=$(job_wait "$id" 300) || fail "straight run did not end"
[ "$st" = COMPLETED ] || fail "straight run ended $st"
check_complete results/straight.h5 "$cells"
grep -q "2 rank(s) x 1 thread(s) via srun" "logs/hs-study-$id.out" || fail "batch log: $(cat "logs/hs-study-$id.out")"
[ "$(find logs -name "hs-study-$id.rank*.log" | wc -l)" = 2 ] || fail "want one log per rank: $(ls logs)"
computed_once "logs/hs-study-$id.rank0.log" "$cells"

# --- 2. scontrol requeue while it runs: mpirun, 2 ranks -----------------------------------
step "2. requeue: mpirun, 2 ranks, scontrol requeue after 4 cells"
id=$(run_submit --ranks 2 --launcher mpirun study.ini --out results/requeue.h5)
wait_cells results/requeue.h5 4 120
scontrol requeue "$id" || fail "scontrol requeue $id"
st=$(job_wait "$id" 300) || fail "requeued run did not end"
[ "$st" = COMPLETED ] || fail "requeued run ended $st"
[ "$(restarts "$id")" = 1 ] || fail "want 1 restart, scontrol says $(restarts "$id")"
log="logs/hs-study-$id.out"
{ grep -q "restart count 0" "$log" && grep -q "restart count 1" "$log"; } || fail "$log lacks the restart counts: $(cat "$log")"
grep -q "caught SIGTERM" "$log" || fail "$log: the requeue's SIGTERM was not seen: $(cat "$log")"
grep -q "resuming, [1-9][0-9]* of $cells cells done" "logs/hs-study-$id.rank0.log" ||
  fail "the requeued job did not resume: $(cat "logs/hs-study-$id.rank0.log")"
check_complete results/requeue.h5 "$cells"
computed_once "logs/hs-study-$id.rank0.log" "$cells"
"$py" "$tool" compare results/straight.h5 results/requeue.h5 || fail "requeued run differs from the straight run"

# --- 3 and 4 side by side, one CPU each -------------------------------------------------------
# 3. The time limit: --time=1 with SIGUSR1 25 s ahead. SLURM checks time limits every 30 s,
# so the signal comes 5 to 35 s after the start; the study must take longer than that on
# one core whatever the machine's speed (it took 22 s once the kernels got faster), so
# every prompt is stretched by 50 ms (HS_TEST_PROMPT_PACE_MS, timings only; sbatch passes
# the environment on, to the restart too): at least 115 s. The script forwards the signal,
# the sweep saves its cells and exits 3, the script requeues the job, and the restart
# resumes. Then the test cancels it (finishing a resumed run is what step 2 checks).
step "3. time limit: 1 rank, --time=1 --signal-lead=25; in parallel 4. job array: 3 parts + merge"
tl=$(HS_TEST_PROMPT_PACE_MS=50 run_submit --ranks 1 --time 1 --signal-lead 25 long.ini --out results/long.h5)

# 4. A job array of 3 parts and its merge job, submitted held (--sbatch=--hold) so that the
# test releases the tasks in its own order. Part 2 fails part-way (frozen with scontrol
# suspend once a cell is saved, then cancelled: SLURM kills a suspended job outright, like
# a crashed node). Task 0 gets the time-limit signal by hand (scancel --batch
# --signal=USR1, what --signal=B:USR1 does) once it has saved a cell: it must requeue
# itself alone (ARRAYID_0; the bare array id would requeue every task), and the merge job
# must wait for its restart. The merge job then refuses and prints the command that runs
# task 1 alone; that command resumes the part file and merges.
ids=$(run_submit --array 3 --ranks 1 --sbatch=--hold study.ini --out results/array.h5)
aid=$(sed -n 1p <<<"$ids") mid=$(sed -n 2p <<<"$ids")
[ -n "$mid" ] || fail "no merge job id: $ids"
scontrol release "$mid" "${aid}_1"
part2=results/array.parts/part-2-of-3.h5
resumable=0
wait_cells "$part2" 1 180
if scontrol suspend "${aid}_1" 2>/dev/null; then
  [ "$(done_cells "$part2")" -lt $((cells / 3)) ] && resumable=1
fi
scancel "${aid}_1"
if [ "$resumable" = 0 ]; then # too quick to catch: lose its file instead
  step "   part 2 finished before it could be stopped; removing it instead"
  job_wait "${aid}_1" 60 >/dev/null
  rm -f "$part2"
fi
scontrol release "${aid}_0"
wait_cells results/array.parts/part-1-of-3.h5 1 180
scancel --batch --signal=USR1 "${aid}_0" || true # fails only if task 0 has just finished
scontrol release "${aid}_2"
st=$(job_wait "$mid" 300) || fail "merge job did not end"
mlog="logs/hs-study-merge-$mid.out"
[ "$st" = FAILED ] || fail "the merge job should refuse while part 2 is unfinished; it ended $st: $(cat "$mlog")"
[ ! -e results/array.h5 ] || fail "a refused merge wrote results/array.h5"
grep -q "array task(s) 1 did not finish" "$mlog" || fail "$mlog does not name task 1: $(cat "$mlog")"
again=$(sed -n 's/.*headsweep-merge.sbatch:   //p' "$mlog")
[[ $again == *"--tasks 1" ]] || fail "$mlog gives no command to run task 1 again: $(cat "$mlog")"
{ [ -f "logs/hs-study-${aid}_0.out" ] && [ -f "logs/hs-study-${aid}_0.rank0.log" ]; } || fail "array logs: $(ls logs)"
log="logs/hs-study-${aid}_0.out"
if grep -q "stopped by SIGUSR1" "logs/hs-study-${aid}_0.rank0.log"; then
  { grep -q "requeueing job ${aid}_0 (restart 1 will resume)" "$log" && grep -q "restart count 1" "$log"; } ||
    fail "array task 0 did not requeue itself: $(cat "$log")"
  grep -q "resuming, [1-9][0-9]* of $cells cells done" "logs/hs-study-${aid}_0.rank0.log" ||
    fail "array task 0 did not resume: $(cat "logs/hs-study-${aid}_0.rank0.log")"
else
  step "   array task 0 finished before its SIGUSR1 arrived: its self-requeue was not exercised"
fi
step "   merge job: task 1 did not finish; running what it printed: $again"
eval "$again" >submit.out 2>submit.err || fail "resubmitting task 1: $(cat submit.err)"
mapfile -t ids2 < <(grep -E '^[0-9]+$' submit.out)
[ "${#ids2[@]}" = 2 ] || fail "resubmission printed no job ids: $(cat submit.out submit.err)"
scontrol release "${ids2[1]}" "${ids2[0]}_1" # held like the first submission
st=$(job_wait "${ids2[1]}" 300) || fail "second merge job did not end"
mlog="logs/hs-study-merge-${ids2[1]}.out"
[ "$st" = COMPLETED ] || fail "second merge job ended $st: $(cat "$mlog")"
if [ "$resumable" = 1 ]; then
  grep -q "resuming, [1-9][0-9]* of $cells cells done" "logs/hs-study-${ids2[0]}_1.rank0.log" ||
    fail "task 1 did not resume its part file: $(cat "logs/hs-study-${ids2[0]}_1.rank0.log")"
fi
check_complete results/array.h5 "$cells"
for k in 1 2 3; do
  f=results/array.parts/part-$k-of-3.h5
  [ "$(done_cells "$f")" = $((cells / 3)) ] || fail "$f holds $(done_cells "$f") cells, want $((cells / 3))"
done
"$py" "$tool" compare results/straight.h5 results/array.h5 || fail "merged parts differ from the straight run"
[ -s results/array-report/REPORT.md ] || fail "no report: $(cat "$mlog")"
step "   array: merged and reported"

# Back to 3: wait for the time limit's requeue and the resumed run.
log="logs/hs-long-$tl.out" r0="logs/hs-long-$tl.rank0.log"
for _ in $(seq 300); do
  grep -q "resuming, " "$r0" 2>/dev/null && break
  [ "$(job_state "$tl")" != COMPLETED ] || fail "the time-limited job finished without reaching its limit: $(cat "$log")"
  sleep 1
done
grep -q "resuming, " "$r0" || fail "the time-limited job never resumed: $(cat "$log")"
scancel "$tl"
job_wait "$tl" 120 >/dev/null || fail "time-limited job did not end after scancel"
grep -q "caught SIGUSR1" "$log" || fail "$log: no SIGUSR1 before the time limit: $(cat "$log")"
grep -q "requeueing job $tl (restart 1 will resume)" "$log" || fail "$log: no self-requeue: $(cat "$log")"
grep -q "restart count 1" "$log" || fail "$log: no restart 1: $(cat "$log")"
saved=$(sed -n 's/.*cells done (\([0-9]*\) in this run.*/\1/p' "$r0" | head -n 1)
[ "${saved:-0}" -ge 1 ] || fail "$r0: the first run saved no cell: $(cat "$r0")"
grep -q "resuming, $saved of $long_cells cells done" "$r0" || fail "$r0: the restart did not resume the $saved saved cells: $(cat "$r0")"
step "   time limit: SIGUSR1 $(grep -m1 'caught SIGUSR1' "$log" | cut -c12-19), $saved cells saved, requeued, resumed"

# --- 5. threads per rank: --threads 2 -> --cpus-per-task=2 -> --set job.threads=2 ----------
step "5. threads: 1 rank x 2 threads on the finished straight file (nothing to do)"
id=$(run_submit --ranks 1 --threads 2 study.ini --out results/straight.h5)
st=$(job_wait "$id" 120) || fail "threads run did not end"
log="logs/hs-study-$id.out"
[ "$st" = COMPLETED ] || fail "threads run ended $st: $(cat "$log")"
grep -q "1 rank(s) x 2 thread(s) via srun" "$log" || fail "$log: $(cat "$log")"
grep -q -- "--set job.threads=2 " "$log" || fail "$log: job.threads not passed: $(cat "$log")"
grep -q "nothing to do, $cells of $cells cells done" "logs/hs-study-$id.rank0.log" || fail "$(cat "logs/hs-study-$id.rank0.log")"

step "slurm_e2e: ok"
