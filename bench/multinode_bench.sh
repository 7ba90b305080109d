#!/usr/bin/env bash
# multinode_bench.sh: 1 node x 2 ranks against 2 nodes x 1 rank on the two-node test
# cluster (tests/slurm/netns_cluster.sh: network namespaces on this one machine, so both
# "nodes" share its cores and the link between them is a veth pair, not a real network).
#
#   bench/multinode_bench.sh BUILD_DIR [REPEATS]     (as root; default 3 repeats)
#
# 1. The demo study as in tests/slurm/multinode.sh (48 cells of 2 prompts) REPEATS times
#    in each layout, alternating, each into a new file via hs-submit: cells/min from rank
#    0's own "N cells done (..., S s; writing results W s" line, the write time per cell,
#    and the cells each node computed (/cells/host). Medians are printed.
# 2. bench-comm (bench/comm_bench.c, the sweep's MPI layer with the compute replaced by
#    busy loops of PROMPT_MS per prompt, 2 prompts a cell, 4 KB cell messages) in both
#    layouts: the wall time of each window operation (counter, progress, stop flag), of a
#    cell's send and of rank 0's receive.
# Prints a table; nothing is written outside a temporary directory under /var/tmp.
set -euo pipefail
build=$(cd "${1:?usage: bench/multinode_bench.sh BUILD_DIR [REPEATS]}" && pwd)
reps=${2:-3}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=SCRIPTDIR/../tests/slurm/cluster.sh
source "$src/tests/slurm/cluster.sh"
# shellcheck source=SCRIPTDIR/../tests/slurm/netns_cluster.sh
source "$src/tests/slurm/netns_cluster.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
[ -x "$build/bench/bench-comm" ] || { echo "build $build/bench/bench-comm first" >&2; exit 2; }

work=$(mktemp -d /var/tmp/hs-mnbench-XXXXXX)
chmod 755 "$work"
trap 'mn_cluster_stop; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cd "$work"
mn_cluster_start "$work/cluster" 2 >/dev/null || { echo "the two-node cluster did not start" >&2; exit 1; }
ln -s "$src/jobs" jobs
ln -s "$src/models" models
demo=(jobs/demo.ini --set job.max_prompts=8 --set generation.max_new_tokens=16 --set pruning.calibration_max_prompts=16)

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
hosts() {
  h5dump -y -w 0 -d /cells/host "$1" 2>/dev/null | awk '/^ *DATA \{/ { on = 1; next } on && /^ *\}/ { exit } on' |
    grep -o '"[^"]*"' | tr -d '"' | sort | uniq -c | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }'
}

echo "== the demo (48 cells of 2 prompts, 16 new tokens), $reps runs per layout, alternating"
for ((r = 1; r <= reps; r++)); do
  for layout in 1x2 2x1; do
    nodes=${layout%x*}
    out="results/$layout-$r.h5"
    id=$("$src/slurm/hs-submit" --build "$build" --nodes "$nodes" --ranks 2 "${demo[@]}" --out "$out" 2>/dev/null |
      tail -n 1)
    st=$(job_wait "$id" 600)
    [ "$st" = COMPLETED ] || { echo "job $id ($layout) ended $st" >&2; exit 1; }
    line=$(grep 'cells done (' "logs/hs-demo-$id.rank0.log")
    s=$(sed -n 's/.* in this run, \([0-9.]*\) s; writing results \([0-9.]*\) s.*/\1 \2/p' <<<"$line")
    read -r secs write <<<"$s"
    printf '%s run %d: %.1f s, %.1f cells/min, writing %.2f s (%.1f ms a cell); cells by host: %s\n' "$layout" "$r" \
      "$secs" "$(echo "48 * 60 / $secs" | bc -l)" "$write" "$(echo "1000 * $write / 48" | bc -l)" "$(hosts "$out")"
    echo "$layout $secs $write" >>runs.txt
  done
done
for layout in 1x2 2x1; do
  m=$(awk -v l="$layout" '$1 == l { print $2 }' runs.txt | median)
  w=$(awk -v l="$layout" '$1 == l { print $3 }' runs.txt | median)
  printf '%s median: %.1f s, %.1f cells/min, writing %.1f ms a cell\n' "$layout" "$m" "$(echo "48 * 60 / $m" | bc -l)" \
    "$(echo "1000 * $w / 48" | bc -l)"
done

for ms in 20 100; do
  echo "== bench-comm: 40 cells of 2 prompts, $ms ms of busy loop a prompt, 4096-byte cell messages"
  for layout in 1x2 2x1; do
    nodes=${layout%x*}
    echo "-- $layout"
    srun -N "$nodes" -n 2 --mpi=pmix "$build/bench/bench-comm" 40 2 "$ms" 4096 | sort
  done
done
