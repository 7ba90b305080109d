#!/usr/bin/env bash
# sweep_kill.sh: kill -9 at any point loses only the cells in flight. Three runs are killed
# mid-way (every rank; the writer, rank 0, alone; another rank alone) and resumed with the
# same command: the final files have every cell exactly once (cells done before a kill
# keep the run number that wrote them) and the same quality numbers as an uninterrupted run.
source "$(dirname "$0")/fixture.sh" "$1"

sweep 2 --out ref.h5 || fail "reference sweep: $(cat sweep.err)"

# kill_run OUT NRANKS WHICH: starts a sweep, waits for a few cells, kill -9s the chosen
# ranks (all, first = rank 0, other = one rank that is not rank 0) and prints the cells
# that were done.
kill_run() {
  local out=$1 n=$2 which=$3 pids victim
  HS_TEST_PROMPT_PACE_MS=20 sweep "$n" --out "$out" &
  local job=$!
  wait_cells "$out" 3
  pids=$(rank_pids "$out")
  case $which in
    all) victim=$pids ;;
    first) victim=$(cut -d' ' -f1 "$out.lock") ;;
    other) victim=$(echo "$pids" | grep -vx "$(cut -d' ' -f1 "$out.lock")" | head -n 1) ;;
  esac
  [ -n "$victim" ] || fail "no rank to kill ($which) among: $pids"
  kill -9 $victim
  wait $job
  local done
  done=$(cells_done "$out")
  [ "$done" -lt $total ] || fail "$out: the run finished before the kill; the test needs a slower study"
  echo "$done"
}

# resume OUT NRANKS DONE_BEFORE: the rerun computes exactly the missing cells.
resume() {
  local out=$1 n=$2 before=$3
  sweep "$n" --out "$out" || fail "resume of $out: $(cat sweep.err)"
  grep -q "resuming, $before of $total cells done; computing $((total - before)) cells" sweep.err ||
    fail "resume of $out did not plan the missing cells: $(cat sweep.err)"
  [ "$(cells_done "$out")" = $total ] || fail "$out incomplete after resume"
  [ "$("$py" "$tool" runs "$out")" = "1:$before 2:$((total - before))" ] ||
    fail "$out: cells per run $("$py" "$tool" runs "$out"), want 1:$before 2:$((total - before))"
  "$py" "$tool" compare ref.h5 "$out" || fail "$out differs from the uninterrupted run"
}

done_all=$(kill_run all.h5 2 all) || exit 1
resume all.h5 2 "$done_all"
done_first=$(kill_run first.h5 2 first) || exit 1
resume first.h5 3 "$done_first"
done_other=$(kill_run other.h5 3 other) || exit 1
resume other.h5 1 "$done_other"
"$py" "$tool" check all.h5 || fail "schema check after resume"
echo "sweep_kill: ok (killed with $done_all, $done_first, $done_other of $total cells done)"
