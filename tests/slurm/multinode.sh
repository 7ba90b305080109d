#!/usr/bin/env bash
# multinode.sh: the slurm/ scripts on a SLURM cluster of two compute nodes on this machine
# (netns_cluster.sh: each node its own network, UTS and mount namespace joined by veth
# links to a bridge, its own slurmd; one slurmctld, one munged). The demo study, shortened
# as in slurm_e2e.sh (8 prompts, 16 new tokens, 64 cells):
#   1. one node x 2 ranks (hs-submit --nodes 1 --ranks 2, srun --mpi=pmix): the reference;
#   2. two nodes x 1 rank each through hs-submit --nodes 2 (srun --mpi=pmix): /cells/host
#      names both nodes, quality numbers equal to step 1;
#   3. the same with a bare `sbatch -N 2 -n 2 slurm/headsweep.sbatch ... --launcher mpirun`
#      (Open MPI starts its daemon on the second node with srun inside the allocation);
#   4. a node lost mid-sweep: 2 nodes x 1 rank, paced; once 4 cells are saved, node 1 (the
#      batch script, rank 0 and the results writer) dies: SIGKILL to its slurmd and every
#      process in it, its link deleted. SLURM marks it DOWN, the job NODE_FAIL and requeued
#      (--requeue, as hs-submit submits); the node comes back (a new link and slurmd), the
#      job restarts and resumes: every cell saved before the loss kept as it was, the rest
#      computed exactly once by the restart, quality numbers equal to step 1;
#   5. the same with node 2 (rank 1 alone) lost: the writer survives the loss of its peer.
# The files are checked with h5dump and `headsweep merge` (which refuses cells with
# different quality numbers). HS_SLURM_KEEP=1 keeps the work directory.
# Exit 77 (SKIP) only when this machine cannot make network namespaces (not root, or
# no permission); a missing package is installed (tools/setup.sh, cluster.sh), not skipped.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${HS_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}
hs=${HS_HEADSWEEP:-$build/src/cli/headsweep}
submit="$src/slurm/hs-submit"
# shellcheck source=SCRIPTDIR/cluster.sh
source "$here/cluster.sh"
# shellcheck source=SCRIPTDIR/netns_cluster.sh
source "$here/netns_cluster.sh"
# A checkout or build under /tmp (CI may clone there) stays visible inside the nodes.
MN_KEEP_TMP=""
for p in "$src" "$build" "$(dirname "$hs")"; do
  p=$(realpath "$p")
  case $p in
    /tmp/?*) top=${p#/tmp/}; top=/tmp/${top%%/*} ;; # its top folder under /tmp
    *) continue ;;
  esac
  case " $MN_KEEP_TMP " in *" $top "*) ;; *) MN_KEEP_TMP+=" $top" ;; esac
done
export MN_KEEP_TMP
t0=$(date +%s)

step() { echo "[$(($(date +%s) - t0)) s] $*"; }
skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || skip "not root: the two-node cluster needs network namespaces"
if ! unshare --net --uts --mount true 2>unshare.err.$$; then
  e=$(cat unshare.err.$$)
  rm -f unshare.err.$$
  skip "this machine does not allow new network, UTS and mount namespaces: $e"
fi
rm -f unshare.err.$$
slurm_install ||
  fail "slurm-wlm, munge or hdf5-tools are missing and apt-get cannot install them (tools/setup.sh installs them)"
for b in nsenter unshare ip; do command -v "$b" >/dev/null || fail "$b is missing (util-linux, iproute2)"; done

# Not under /tmp: each node has its own /tmp (netns_cluster.sh). /var/tmp plays the shared
# file system every node sees.
work=$(mktemp -d /var/tmp/hs-multinode-XXXXXX)
chmod 755 "$work"
cleanup() {
  local rc=$?
  mn_cluster_stop
  if [ -n "${HS_SLURM_KEEP:-}" ]; then
    echo "kept $work (HS_SLURM_KEEP is set)"
  elif [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    echo "--- logs of the failed run (kept in $work) ---" >&2
    for f in "$work"/logs/*; do
      [ -f "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
    done
    tail -n 30 "$work/cluster/log/slurmctld.log" >&2 2>/dev/null || true
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

step "starting munged, slurmctld and two slurmd, each node in its own namespaces, in $work/cluster"
crc=0
mn_cluster_start "$work/cluster" 2 || crc=$?
[ "$crc" = 0 ] || fail "the two-node cluster did not start (status $crc, see above)"
sinfo -N -o '%N %T %c'
[ "$(sinfo -h -N -o '%N %T' | sort | tr '\n' ' ')" = "hsnode1 idle hsnode2 idle " ] ||
  fail "want nodes hsnode1 and hsnode2 idle: $(sinfo -h -N -o '%N %T' | tr '\n' ' ')"
# The nodes are apart: each has its own host name and address, reaches the other over
# the bridge, and does not see the other's /tmp.
[ "$(mn_node_exec 2 hostname)" = hsnode2 ] || fail "node 2's host name: $(mn_node_exec 2 hostname)"
mn_node_exec 1 bash -c 'exec 3<>/dev/tcp/hsnode2/6818' || fail "hsnode1 cannot reach hsnode2's slurmd"
mn_node_exec 1 touch /tmp/hs-node1-only
! mn_node_exec 2 test -e /tmp/hs-node1-only || fail "the nodes share /tmp"

ln -s "$src/jobs" jobs
ln -s "$src/models" models
demo=(jobs/demo.ini --set job.max_prompts=8 --set generation.max_new_tokens=16
  --set pruning.calibration_max_prompts=16)
cells=64 # 4 variants x 4 levels x 4 shards

export HDF5_USE_FILE_LOCKING=FALSE # the test reads files a sweep is writing
# h5values FILE DATASET: the dataset's values, one per line, in /cells/done's order.
h5values() {
  h5dump -y -w 0 -d "$2" "$1" 2>/dev/null | awk '/^ *DATA \{/ { on = 1; next } on && /^ *\}/ { exit } on' |
    tr ',' '\n' | tr -d ' ' | grep -v '^$' || true
}
done_cells() { h5values "$1" /cells/done | grep -c '^1$' || true; }
# hosts FILE: "HOST COUNT" for every host name in /cells/host.
hosts() {
  h5dump -y -w 0 -d /cells/host "$1" 2>/dev/null | awk '/^ *DATA \{/ { on = 1; next } on && /^ *\}/ { exit } on' |
    grep -o '"[^"]*"' | tr -d '"' | sort | uniq -c | awk '{ print $2, $1 }'
}
check_complete() { # check_complete FILE: every cell done, attribute complete 1
  local d
  d=$(h5values "$1" /cells/done)
  [ "$(grep -c '^1$' <<<"$d")" = "$cells" ] || fail "$1: $(grep -c '^1$' <<<"$d") of $cells cells done"
  [ "$(h5dump -a /complete "$1" 2>/dev/null | sed -n 's/^ *(0): //p')" = 1 ] || fail "$1: attribute complete is not 1"
}
same_results() { # same_results A B: headsweep merge refuses any cell whose quality numbers differ
  rm -f same.h5
  "$hs" merge same.h5 "$1" "$2" 2>same.err || fail "$1 and $2 differ: $(cat same.err)"
  grep -q ": $cells of $cells cells done" same.err || fail "merging $1 and $2: $(cat same.err)"
  rm -f same.h5
}
run_submit() { # run_submit ARGS...: hs-submit, prints the job id
  "$submit" --build "$build" "$@" >submit.out 2>submit.err || fail "hs-submit $*: $(cat submit.err)"
  grep -E '^[0-9]+$' submit.out || fail "hs-submit $* printed no job id: $(cat submit.out submit.err)"
}
finish() { # finish ID SECONDS: waits, wants COMPLETED
  local st
  st=$(job_wait "$1" "$2") || fail "job $1 did not end"
  [ "$st" = COMPLETED ] || fail "job $1 ended $st: $(cat logs/*-"$1".out)"
}
runs_count() { h5values "$1" /cells/run | grep -c "^$2\$" || true; }
# two_hosts FILE: both nodes computed cells, and nothing else did.
two_hosts() {
  local h
  h=$(hosts "$1" | tr '\n' ' ')
  [[ $h =~ ^hsnode1\ [1-9][0-9]*\ hsnode2\ [1-9][0-9]*\ $ ]] ||
    fail "$1: /cells/host: '$h', want cells from hsnode1 and hsnode2"
  echo "$h"
}

# --- 1. one node, 2 ranks: the reference ---------------------------------------------------
step "1. one node x 2 ranks (hs-submit --nodes 1 --ranks 2, srun --mpi=pmix)"
id=$(run_submit --nodes 1 --ranks 2 "${demo[@]}" --out results/one.h5)
finish "$id" 300
check_complete results/one.h5
h=$(hosts results/one.h5 | tr '\n' ' ')
[[ $h =~ ^hsnode[12]\ $cells\ $ ]] || fail "results/one.h5: /cells/host: '$h', want one node for all $cells cells"
step "   hosts: $h"

# --- 2. two nodes, one rank each, through hs-submit (srun --mpi=pmix) ---------------------
step "2. two nodes x 1 rank (hs-submit --nodes 2 --ranks 2, srun --mpi=pmix)"
id=$(run_submit --nodes 2 --ranks 2 "${demo[@]}" --out results/srun2.h5)
finish "$id" 300
log="logs/hs-demo-$id.out"
grep -q "on hsnode\[1-2\]: 2 rank(s) x 1 thread(s) via srun" "$log" || fail "$log: $(cat "$log")"
check_complete results/srun2.h5
step "   hosts: $(two_hosts results/srun2.h5)"
same_results results/one.h5 results/srun2.h5

# --- 3. bare sbatch -N 2, mpirun inside the allocation ------------------------------------
step "3. two nodes x 1 rank (sbatch -N 2 -n 2 headsweep.sbatch --launcher mpirun)"
id=$(sbatch --parsable -N 2 -n 2 --job-name=hs-mpirun --requeue --output='logs/%x-%j.out' \
  "$src/slurm/headsweep.sbatch" "${demo[@]}" --out results/mpirun2.h5 --launcher mpirun --bin "$hs")
finish "$id" 300
log="logs/hs-mpirun-$id.out"
grep -q "on hsnode\[1-2\]: 2 rank(s) x 1 thread(s) via mpirun" "$log" || fail "$log: $(cat "$log")"
check_complete results/mpirun2.h5
step "   hosts: $(two_hosts results/mpirun2.h5)"
same_results results/one.h5 results/mpirun2.h5

# --- 4 and 5. a node lost mid-sweep ------------------------------------------------------------
# lose_node K WHAT FILE: a 2-node sweep into FILE, paced (150 ms a prompt, sbatch passes
# the environment on) so that it is still running when node K dies, whatever the
# machine's speed; SLURM must requeue it and the restart resume it.
lose_node() {
  local k=$1 what=$2 f=$3 id killed kept requeued st log r0 m d
  step "   2 nodes x 1 rank, node $k ($what) killed after 4 cells"
  id=$(HS_TEST_PROMPT_PACE_MS=150 run_submit --nodes 2 --ranks 2 "${demo[@]}" --out "$f")
  for _ in $(seq 1200); do
    [ -f "$f" ] && [ "$(done_cells "$f")" -ge 4 ] && break
    [ "$(job_state "$id")" != COMPLETED ] || fail "the paced job finished before the test could kill a node"
    sleep 0.1
  done
  [ "$(done_cells "$f")" -ge 4 ] || fail "$f never reached 4 done cells"
  killed=$(mn_node_kill "$k")
  # What the file held when the node died: cells, and their values, that must survive.
  h5values "$f" /cells/done >before.done
  h5values "$f" /metrics/generated_tokens >before.tokens
  h5values "$f" /metrics/reference_perplexity >before.ppl
  kept=$(grep -c '^1$' before.done || true)
  step "   killed $killed processes of hsnode$k and cut its link with $kept of $cells cells saved"
  [ "$kept" -lt "$cells" ] || fail "every cell was saved before the node died: nothing to resume"
  # SLURM notices (SlurmdTimeout=10), marks the node DOWN and requeues the job.
  requeued=0
  for _ in $(seq 120); do
    grep -q "Requeuing JobId=$id\$" cluster/log/slurmctld.log 2>/dev/null && { requeued=1; break; }
    sleep 1
  done
  [ "$requeued" = 1 ] ||
    fail "slurmctld did not requeue job $id after node $k died:" \
      "$(grep -E "JobId=$id|hsnode$k" cluster/log/slurmctld.log | tail -n 8)"
  step "   slurmctld: $(grep -oE "Nodes? hsnode$k not responding, setting DOWN" cluster/log/slurmctld.log |
    tail -n 1); Requeuing JobId=$id"
  st=$(job_state "$id")
  [[ $st =~ ^(PENDING|REQUEUED|REQUEUE_HOLD|CONFIGURING)$ ]] ||
    fail "job $id is $st after the requeue, want PENDING (waiting for 2 nodes)"
  [ "$(sinfo -h -n "hsnode$k" -o %T)" != idle ] || fail "hsnode$k is idle although it died"
  # Nothing saved is lost. When the writer died the file cannot have changed since; when
  # it survived, it may have saved more cells before the job was stopped.
  if [ "$k" = 1 ]; then
    cmp -s before.done <(h5values "$f" /cells/done) || fail "$f changed while no sweep ran"
  fi
  kept=$(done_cells "$f")
  step "   node $k replaced: a new link and slurmd; the job restarts and resumes ($kept cells saved)"
  mn_node_start "$k" || fail "hsnode$k could not be started again"
  finish "$id" 400
  log="logs/hs-demo-$id.out" r0="logs/hs-demo-$id.rank0.log"
  [ "$(scontrol -o show job "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')" = 1 ] || fail "job $id: want 1 restart"
  grep -q "restart count 1, on hsnode\[1-2\]" "$log" || fail "$log: no restart on both nodes: $(cat "$log")"
  check_complete "$f"
  # Every cell exactly once: the first run's cells are exactly those saved before the
  # restart, unchanged; the restart resumed them and computed the others.
  [ "$(runs_count "$f" 1)" = "$kept" ] ||
    fail "$f: $(runs_count "$f" 1) cells of run 1, want the $kept saved before the restart"
  [ "$(runs_count "$f" 2)" = $((cells - kept)) ] ||
    fail "$f: $(runs_count "$f" 2) cells of run 2, want $((cells - kept))"
  grep -q "resuming, $kept of $cells cells done" "$r0" ||
    fail "$r0: the restart did not resume the $kept saved cells: $(cat "$r0")"
  grep -q "$cells of $cells cells done ($((cells - kept)) in this run" "$r0" ||
    fail "$r0: the restart did not compute the $((cells - kept)) others once: $(cat "$r0")"
  # Values are (variant, level, prompt), not per cell: every value present right after
  # the kill (not the fill value, NaN) must be there unchanged.
  for m in tokens ppl; do
    d=/metrics/generated_tokens
    [ "$m" = ppl ] && d=/metrics/reference_perplexity
    paste "before.$m" <(h5values "$f" "$d") | awk 'tolower($1) != "nan" && $1 != $2 { bad++ } END { exit bad > 0 }' ||
      fail "$f: a value of $d saved before the kill changed"
  done
  step "   hosts: $(two_hosts "$f")"
  same_results results/one.h5 "$f"
}
step "4. node lost: the node of the batch script, rank 0 and the results writer"
lose_node 1 "batch script, rank 0, writer" results/lost1.h5
step "5. node lost: the other node (rank 1)"
lose_node 2 "rank 1" results/lost2.h5

step "multinode: ok"
