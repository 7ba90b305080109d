#!/usr/bin/env bash
# sweep_signal.sh: SIGTERM / SIGINT / SIGUSR1 (what SLURM and mpirun send before a time
# limit or on preemption) stop the sweep with exit code 3 after saving the finished cells
# and removing the lock; the same command then continues, and the finished file equals an
# uninterrupted run. A stop during the head scoring comes within a calibration prompt's
# time and leaves no results file.
source "$(dirname "$0")/fixture.sh" "$1"
# Enough cells for four interrupted runs and a last one.
sed -i -e 's/^levels = .*/levels = 0, 25, 50, 75/' -e 's/^max_new_tokens = .*/max_new_tokens = 64/' study.ini
total=72

sweep 2 --out ref.h5 || fail "reference sweep: $(cat sweep.err)"

# stop_run NRANKS HOW: starts a sweep on t.h5, waits for 2 more cells, sends the signal
# and expects exit 3 with the cells saved.
stop_run() {
  local n=$1 how=$2 before victim
  before=$(cells_done t.h5)
  [ $((before + 2)) -lt $total ] ||
    fail "$how: only $((total - before)) cells left; the study is too short for this test"
  HS_TEST_PROMPT_PACE_MS=20 sweep "$n" --out t.h5 &
  local job=$!
  wait_cells t.h5 $((before + 2))
  case $how in
    term-all) kill -TERM $(rank_pids t.h5) ;;
    term-one) victim=$(rank_pids t.h5 | grep -vx "$(cut -d' ' -f1 t.h5.lock)" | head -n 1)
              kill -TERM "$victim" ;;
    usr1-launcher) kill -USR1 "$(ps -o ppid= -p "$(cut -d' ' -f1 t.h5.lock)" | tr -d ' ')" ;;
    int-serial) kill -INT "$(cut -d' ' -f1 t.h5.lock)" ;;
  esac
  wait $job
  local rc=$?
  [ "$rc" = 3 ] || fail "$how: exit $rc, want 3; stderr: $(cat sweep.err)"
  grep -q "stopped by SIG" sweep.err || fail "$how: no 'stopped by' message: $(cat sweep.err)"
  grep -q "run the same command again" sweep.err || fail "$how: no resume hint: $(cat sweep.err)"
  [ ! -e t.h5.lock ] || fail "$how: the lock file was left behind"
  local now
  now=$(cells_done t.h5)
  [ "$now" -ge $((before + 2)) ] && [ "$now" -lt $total ] || fail "$how: $now cells done (had $before)"
  grep -q "$((now - before)) in this run" sweep.err || fail "$how: saved cells not reported: $(cat sweep.err)"
}

# SIGTERM during the head scoring (ablation: L*H + 1 passes over the calibration set, each
# calibration prompt paced like an evaluation prompt): exit 3 within about a prompt's
# time and no results file. The scoring used to run to its end, then create the file.
for n in 1 2; do
  rm -f sc.h5
  HS_TEST_PROMPT_PACE_MS=300 sweep $n --out sc.h5 --set pruning.strategy=ablation &
  job=$!
  for _ in $(seq 300); do
    grep -q "computing ablation head scores" sweep.err 2>/dev/null && [ -s sc.h5.lock ] && break
    sleep 0.1
  done
  grep -q "computing ablation head scores" sweep.err || fail "scoring stop ($n ranks): no scoring: $(cat sweep.err)"
  sleep 0.5
  start=$(date +%s%N)
  kill -TERM $(rank_pids sc.h5)
  wait $job
  rc=$?
  ms=$((($(date +%s%N) - start) / 1000000))
  [ $rc = 3 ] || fail "scoring stop ($n ranks): exit $rc, want 3: $(cat sweep.err)"
  grep -q "stopped by SIGTERM while computing the head scores, before any cell: no results file" sweep.err ||
    fail "scoring stop ($n ranks): $(cat sweep.err)"
  [ ! -e sc.h5 ] && [ ! -e sc.h5.lock ] || fail "scoring stop ($n ranks): left $(ls sc.h5*)"
  [ $ms -lt 5000 ] || fail "scoring stop ($n ranks): took $ms ms after SIGTERM"
done

# SIGTERM while the agency thresholds are calibrated (before the lock, so serial; each
# calibration sequence paced): exit 3 at once, no results file. It used to run to its end.
rm -f ac.h5
HS_TEST_PROMPT_PACE_MS=1000 "$hs" sweep study.ini --out ac.h5 --set variant.agency.agency_thresholds=calibrated \
  2>ac.err &
job=$!
for _ in $(seq 300); do grep -q "calibrating agency thresholds" ac.err 2>/dev/null && break; sleep 0.1; done
grep -q "calibrating agency thresholds" ac.err || fail "calibration stop: no calibration: $(cat ac.err)"
sleep 0.3
kill -TERM $job
wait $job
rc=$?
[ $rc = 3 ] || fail "calibration stop: exit $rc, want 3: $(cat ac.err)"
grep -q "stopped by SIGTERM while calibrating the agency thresholds of variant agency, before any cell" ac.err ||
  fail "calibration stop: $(cat ac.err)"
[ ! -e ac.h5 ] && [ ! -e ac.h5.lock ] || fail "calibration stop: left $(ls ac.h5*)"

stop_run 2 term-all
stop_run 3 term-one
stop_run 2 usr1-launcher
stop_run 1 int-serial
sweep 2 --out t.h5 || fail "final resume: $(cat sweep.err)"
[ "$(cells_done t.h5)" = $total ] || fail "t.h5 incomplete"
"$py" "$tool" compare ref.h5 t.h5 || fail "interrupted runs differ from the uninterrupted one"
"$py" "$tool" check t.h5 || fail "schema check"
runs=$("$py" "$tool" runs t.h5)
[ "$(echo "$runs" | wc -w)" = 5 ] || fail "cells should come from 5 runs, got: $runs"
echo "sweep_signal: ok (cells per run: $runs)"
