#!/usr/bin/env bash
# demo.sh: the README's main job. Installs and builds when needed, runs the demo sweep
# (jobs/demo.ini: the bundled model, variants baseline/agency/baseline-skip/agency-cal at 0/30/50/70%
# pruning) on 2 MPI ranks, and writes the report.
#   tools/demo.sh [RANKS] [extra sweep arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:-2}
shift || true
tools/setup.sh
mpi_flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)
mkdir -p results
mpirun "${mpi_flags[@]}" -n "$ranks" build/src/cli/headsweep sweep jobs/demo.ini --out results/demo.h5 "$@"
build/analysis/headsweep-report results/demo.h5 --out results/demo-report
