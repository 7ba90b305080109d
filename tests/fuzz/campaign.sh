#!/usr/bin/env bash
# campaign.sh GOAL_CPU_S TARGET...: fuzzes each TARGET in turn (run_fuzz.sh, in chunks of at
# most HS_FUZZ_CHUNK wall seconds, default 900) until tests/fuzz/history.tsv credits it with
# at least GOAL_CPU_S CPU seconds in total; stops at the first crash. Run one campaign per
# core with disjoint targets, e.g.
#   tests/fuzz/campaign.sh 3600 job config &  tests/fuzz/campaign.sh 3600 model_load scores &
# Chunks keep a record line per chunk, so a campaign cut off loses at most one chunk, and
# CPU (not wall) time is what counts: on a busy machine a nice-19 fuzzer gets little CPU.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -lt 2 ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
goal=$1
shift
case $goal in ''|*[!0-9]*) echo "campaign: GOAL_CPU_S must be a whole number, not '$goal'" >&2; exit 2 ;; esac
chunk=${HS_FUZZ_CHUNK:-900}
hist=${HS_FUZZ_HISTORY:-$src/tests/fuzz/history.tsv}

cpu_so_far() {
  [ -f "$hist" ] || { echo 0; return; }
  awk -F'\t' -v t="$1" '$2 == t { s += $5 } END { printf "%d", s }' "$hist"
}

for target in "$@"; do
  while :; do
    have=$(cpu_so_far "$target")
    ((have < goal)) || break
    # Ask for a little more wall time than the CPU still missing: nice 19 never gets a
    # whole core, and a too-short last chunk would cost another start-up.
    want=$(((goal - have) * 11 / 10 + 30))
    ((want <= chunk)) || want=$chunk
    echo "campaign: $target has ${have} of ${goal} CPU s; fuzzing ${want} s" >&2
    "$src/tests/fuzz/run_fuzz.sh" "$target" "$want" || {
      echo "campaign: $target stopped with a finding; see the run_fuzz output above" >&2
      exit 1
    }
  done
  echo "campaign: $target done ($(cpu_so_far "$target") CPU s)" >&2
done
