# shellcheck shell=bash
# netns_cluster.sh: a throw-away SLURM cluster of several compute nodes on this one
# machine, each node in its own network and UTS namespace, for the multi-node tests and
# bench/multinode_bench.sh. Sourced after cluster.sh (whose slurm_install, munge_start,
# _start_daemon, cluster_stop, job_state and job_wait it uses). Needs root.
#
#   mn_cluster_start DIR N   (DIR not under /tmp: each node gets its own /tmp) N nodes
#                            hsnode1..hsnodeN and a controller; exports SLURM_CONF and
#                            puts DIR/bin (sbatch, srun, ... wrappers, see below) first
#                            on PATH; status 1 (message on stderr) if the namespaces or
#                            daemons cannot be made here at all, 2 if they run but the
#                            nodes never become idle
#   mn_cluster_stop          cancels every job, stops every daemon by pid, SIGKILLs whatever
#                            is left in the namespaces, deletes them
#   mn_node_kill K           node K dies: SIGKILL to every process in its namespace (slurmd,
#                            slurmstepd, the batch script, ranks, orted), then its link is
#                            deleted; prints the number of processes killed
#   mn_node_start K          (re)connects node K and starts its slurmd with an empty /tmp
#                            and spool (a replaced node)
#   mn_node_exec K CMD...    runs CMD inside node K (its network, host name and /etc/hosts)
#
# The layout: a controller namespace holds a bridge (br0, 10.213.0.1/24, host name hsctl)
# and slurmctld; node K's namespace holds the other end of a veth pair (eth0,
# 10.213.0.1K/24, host name hsnodeK) and slurmd with its own spool, log and pid files. The
# subnet exists only inside these namespaces: nothing is routed out of them (no default
# route; inside the cluster /etc/resolv.conf names no server and /etc/hosts names the
# cluster's hosts: DIR/etc's files bound over them). One munged in the root namespace serves
# every node through its socket file: a path-bound UNIX socket is reachable from any
# network namespace (a real cluster runs one munged per node, all with the same key).
# Every namespace sees the same file systems, as nodes see a shared /home or /scratch.
#
# SLURM's commands in the root namespace cannot reach slurmctld, so DIR/bin holds
# wrappers that run them inside the controller namespace; called inside a node (the batch
# script's srun, scontrol requeue, Open MPI's srun of its daemons: sbatch passes PATH on)
# they run the real command there.

mn_tag="" mn_dir="" mn_nodes=0
mn_net=10.213.0 # private, and only ever inside the namespaces made here

_mn_ns() { echo "hs${mn_tag}$1"; } # _mn_ns c | n1 | n2 ...: a namespace name

# _mn_hosts: DIR/etc/{hosts,resolv.conf}, bound over /etc's inside the cluster (_mn_in).
_mn_hosts() {
  local k
  mkdir -p "$mn_dir/etc"
  {
    echo "127.0.0.1 localhost"
    echo "$mn_net.1 hsctl"
    for ((k = 1; k <= mn_nodes; k++)); do echo "$mn_net.1$k hsnode$k"; done
  } >"$mn_dir/etc/hosts"
  echo "# no name server inside the test cluster" >"$mn_dir/etc/resolv.conf"
}

# _mn_link K: the veth pair of node K: v K on the controller's bridge, eth0 in the node.
_mn_link() {
  local c n
  c=$(_mn_ns c) n=$(_mn_ns "n$1")
  ip -n "$c" link add "v$1" type veth peer name eth0 netns "$n" &&
    ip -n "$c" link set "v$1" master br0 up &&
    ip -n "$n" addr add "$mn_net.1$1/24" dev eth0 &&
    ip -n "$n" link set eth0 up
}

# _mn_in NS HOST: sets mn_in to the words that run a command in namespace NS as host
# HOST: its network (nsenter), its own host name (UTS) and mount namespace in which the
# cluster's hosts and resolv.conf are bound over /etc's and DIR/tmp/HOST over /tmp (a
# node's /tmp is its own: srun --mpi=pmix makes /tmp/spmix_appdir_UID_JOB.STEP on every
# node, and a shared /tmp makes the second node's step fail with "File exists").
# nsenter, unshare and sh exec one another, so the pid is the command's. (Not `ip netns
# exec`: it remounts /sys without the cgroup file systems, which slurmd refuses.)
_mn_in() {
  mkdir -p "$mn_dir/tmp/$2"
  chmod 1777 "$mn_dir/tmp/$2"
  # shellcheck disable=SC2016 # expanded by that sh
  # Paths under /tmp that every node must still see (MN_KEEP_TMP, space-separated: a
  # checkout or build under /tmp, as CI's may be) are bound at the same place inside the
  # node's own /tmp first, and that /tmp is bound recursively so they come along.
  mn_in=(nsenter "--net=/run/netns/$1" unshare --uts --mount sh -c 'h=$0 e=$1 k=$2; shift 2
    for p in $k; do mkdir -p "$e/tmp/$h/${p#/tmp/}" && mount --bind "$p" "$e/tmp/$h/${p#/tmp/}" || exit 1; done
    mount --bind "$e/etc/hosts" /etc/hosts && mount --bind "$e/etc/resolv.conf" /etc/resolv.conf &&
      mount --rbind "$e/tmp/$h" /tmp && hostname "$h" && exec "$@"' "$2" "$mn_dir" "${MN_KEEP_TMP:-}")
}

mn_node_exec() {
  local k=$1
  shift
  _mn_in "$(_mn_ns "n$k")" "hsnode$k"
  "${mn_in[@]}" "$@"
}

mn_node_start() {
  local k=$1
  # A new node has an empty /tmp and spool. A node restarted with the old ones fails the
  # requeued job: its first srun --mpi=pmix step has the dead run's job and step ids, and
  # slurmstepd cannot bind SPOOL/stepd.slurm.pmix.JOB.STEP ("Address already in use").
  rm -rf "${mn_dir:?}/tmp/hsnode$k" "$mn_dir/spool/hsnode$k"
  mkdir -p "$mn_dir/spool/hsnode$k"
  ip -n "$(_mn_ns c)" link show "v$k" >/dev/null 2>&1 || _mn_link "$k" ||
    { echo "cannot connect node $k" >&2; return 1; }
  _mn_in "$(_mn_ns "n$k")" "hsnode$k"
  _start_daemon "slurmd of hsnode$k" "$mn_dir/log/slurmd-hsnode$k.out" "${mn_in[@]}" \
    slurmd -D -N "hsnode$k" -f "$SLURM_CONF"
}

mn_node_kill() {
  local n pids
  n=$(_mn_ns "n$1")
  # Until nothing is left: a dying slurmstepd may still fork.
  local count=0
  for _ in 1 2 3 4 5; do
    pids=$(ip netns pids "$n" 2>/dev/null | tr '\n' ' ')
    [ -n "${pids// /}" ] || break
    # shellcheck disable=SC2086 # a list of pids
    kill -9 $pids 2>/dev/null || true
    count=$((count + $(wc -w <<<"$pids")))
    sleep 0.2
  done
  ip -n "$(_mn_ns c)" link del "v$1" 2>/dev/null || true
  echo "$count"
}

mn_cluster_start() {
  local d=$1 k c n b
  case $d in
    /tmp/*)
      echo "mn_cluster_start $d: the cluster's directory must not be under /tmp (each node has its own /tmp)" >&2
      return 1 ;;
  esac
  mn_dir=$d mn_nodes=$2 mn_tag=$$
  # shellcheck disable=SC2034 # cluster.sh's, read by cluster_stop
  cluster_dir=$d
  mkdir -p "$d"/{state,spool,log,munge,run,bin}
  chmod 755 "$d" "$d/log"
  c=$(_mn_ns c)
  # The namespaces and links: the first thing that fails where namespaces are not allowed.
  if ! ip netns add "$c" 2>"$d/log/netns.err"; then
    echo "cannot create a network namespace: $(cat "$d/log/netns.err")" >&2
    return 1
  fi
  mn_made=("$c")
  if ! { ip -n "$c" link set lo up && ip -n "$c" link add br0 type bridge &&
    ip -n "$c" addr add "$mn_net.1/24" dev br0 && ip -n "$c" link set br0 up; }; then
    echo "cannot make the bridge in $c" >&2
    return 1
  fi
  _mn_hosts
  for ((k = 1; k <= mn_nodes; k++)); do
    n=$(_mn_ns "n$k")
    ip netns add "$n" || { echo "cannot create network namespace $n" >&2; return 1; }
    mn_made+=("$n")
    ip -n "$n" link set lo up
    _mn_link "$k" || { echo "cannot link $n to the bridge" >&2; return 1; }
  done
  # The wrappers for SLURM's commands (see the top).
  local rootns
  rootns=$(readlink /proc/self/ns/net)
  for b in sbatch srun squeue scontrol scancel sinfo sacct; do
    cat >"$d/bin/$b" <<EOF
#!/bin/sh
# $b in the test cluster's controller namespace when called from outside the cluster.
if [ "\$(readlink /proc/self/ns/net)" = "$rootns" ]; then exec nsenter --net=/run/netns/$c $(command -v "$b") "\$@"; fi
exec $(command -v "$b") "\$@"
EOF
    chmod +x "$d/bin/$b"
  done
  export PATH="$d/bin:$PATH"
  munge_start "$d" || return 1
  local nodes_conf=""
  for ((k = 1; k <= mn_nodes; k++)); do
    # 2 CPUs each, whatever the machine has (the nodes share its cores; config_overrides).
    nodes_conf+="NodeName=hsnode$k NodeAddr=$mn_net.1$k CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2"
    nodes_conf+=" ThreadsPerCore=1 RealMemory=2000 State=UNKNOWN"$'\n'
  done
  # SlurmdTimeout=10: a dead node is DOWN (and its jobs requeued) 10-20 s after its last
  # answer instead of 300 s. cred_expire=10: a requeued job may start again after 10 s.
  cat >"$d/slurm.conf" <<EOF
ClusterName=hsmulti$$
SlurmctldHost=hsctl($mn_net.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdTimeout=10
SchedulerParameters=sched_interval=5
KillWait=10
MinJobAge=3600
$nodes_conf
PartitionName=test Nodes=hsnode[1-$mn_nodes] Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$d/slurm.conf"
  _mn_in "$c" hsctl
  _start_daemon slurmctld "$d/log/slurmctld.out" "${mn_in[@]}" slurmctld -D -i -f "$SLURM_CONF" || return 1
  for ((k = 1; k <= mn_nodes; k++)); do mn_node_start "$k" || return 1; done
  mn_wait_idle "$mn_nodes" 60 || return 2
}

# mn_wait_idle N SECONDS: until N nodes are idle; status 1 (and the log) if not in time.
mn_wait_idle() {
  local idle
  for _ in $(seq "$2"); do
    idle=$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle$' || true)
    [ "$idle" -ge "$1" ] && return 0
    sleep 1
  done
  echo "only $idle of $1 nodes became idle: $(sinfo -h -N -o '%N %T' 2>&1 | tr '\n' ' '); slurmctld log:" >&2
  tail -n 20 "$mn_dir/log/slurmctld.log" >&2
  return 1
}

mn_cluster_stop() {
  [ -n "$mn_tag" ] || return 0
  cluster_stop
  local ns pids
  for ns in "${mn_made[@]}"; do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086 # a list of pids
    [ -z "${pids// /}" ] || kill -9 $pids 2>/dev/null || true
  done
  sleep 0.3
  for ns in "${mn_made[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  mn_made=() mn_tag=""
}
mn_made=()
