#!/usr/bin/env bash
# summary.sh [HISTORY.tsv]: totals per target over the runs run_fuzz.sh recorded
# (default tests/fuzz/history.tsv, the committed record of the campaign; columns: UTC
# time, target, requested seconds, wall s, CPU s, executions, cov, ft, result):
# runs, wall and CPU seconds, executions, the coverage of the latest run and crashes
# (runs stopped by a signal, "interrupted", are not crashes).
# Replays (SECONDS 0) count as runs but add next to nothing.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
hist=${1:-${HS_FUZZ_HISTORY:-$src/tests/fuzz/history.tsv}}
[ -f "$hist" ] || { echo "summary: no $hist (run tests/fuzz/run_fuzz.sh first)" >&2; exit 2; }
printf "%-20s %5s %9s %9s %13s %6s %6s %7s\n" target runs "wall s" "CPU s" executions cov ft crashes
awk -F'\t' '
  { t = $2; runs[t]++; wall[t] += $4; cpu[t] += $5; ex[t] += $6
    if ($7 != "") { cov[t] = $7; ft[t] = $8 }
    if ($9 ~ /^CRASH/) crash[t]++ }
  END {
    for (t in runs)
      printf "%-20s %5d %9d %9d %13d %6s %6s %7d\n", t, runs[t], wall[t], cpu[t], ex[t], cov[t], ft[t], crash[t]
  }' "$hist" | sort
