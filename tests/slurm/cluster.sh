# shellcheck shell=bash
# cluster.sh: a throw-away one-node SLURM cluster on this machine, for the slurm tests.
# Sourced. Needs root (the daemons run as root, munged as the munge user).
#
#   slurm_install            installs slurm-wlm, munge and hdf5-tools (h5dump, which the
#                            test reads the results with) with apt-get when missing
#                            (status 1 if they are missing and cannot be installed)
#   munge_start DIR          munged alone (its key, socket and logs under DIR/munge, DIR/log)
#   cluster_start DIR        munged, slurmctld and slurmd with every file under DIR, on free
#                            ports, one node with 2 CPUs ($cluster_cpus); exports SLURM_CONF;
#                            status 1 (message on stderr) if a daemon cannot run at all, 2 if
#                            they run but the node never becomes idle
#   cluster_stop             cancels every job, waits for them, stops the daemons by pid
#   job_state ID             JobState of a job (its array tasks: one line each)
#   job_wait ID SECONDS      until the job (every array task) has ended; prints the states
#
# The cluster is private: its own munge socket and key, its own ports, state, spool and
# logs, so it neither needs nor disturbs a system SLURM or munge.

cluster_pids=()
cluster_dir=""
cluster_cpus=2 # the issue's "one-node cluster with 2 CPUs", whatever this machine has

slurm_install() {
  local bins=(munged mungekey slurmctld slurmd sbatch scontrol squeue scancel srun h5dump)
  local b missing=0
  for b in "${bins[@]}"; do command -v "$b" >/dev/null 2>&1 || missing=1; done
  [ "$missing" = 1 ] || return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "slurm-wlm/munge/hdf5-tools are not installed and cannot be installed here (need root and apt-get)" >&2
    return 1
  fi
  echo "installing slurm-wlm, munge and hdf5-tools with apt-get ..." >&2
  local i
  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do # another apt-get may hold the dpkg lock
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge hdf5-tools \
      >"${TMPDIR:-/tmp}/hs-slurm-apt.log" 2>&1; then
      break
    fi
    grep -q "Could not get lock" "${TMPDIR:-/tmp}/hs-slurm-apt.log" || {
      # Maybe the package lists are missing (a fresh container): update once and retry.
      [ "$i" = 1 ] && apt-get update >/dev/null 2>&1 && continue
      break
    }
    sleep 10
  done
  for b in "${bins[@]}"; do
    command -v "$b" >/dev/null 2>&1 || {
      echo "apt-get could not install slurm-wlm, munge and hdf5-tools:" >&2
      tail -n 5 "${TMPDIR:-/tmp}/hs-slurm-apt.log" >&2
      return 1
    }
  done
}

# free_port: a TCP port nobody listens on.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  return 1
}

# _start_daemon NAME LOG cmd...: starts a foreground daemon in the background and records
# its pid; status 1 if it is gone a second later.
_start_daemon() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  local pid=$!
  cluster_pids+=("$pid")
  sleep 1
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$name cannot run here; its output:" >&2
    tail -n 15 "$log" >&2
    return 1
  fi
}

# munge_start DIR: munged as the munge user with its own key, socket, pid and seed files
# under DIR/munge (logs in DIR/log); status 1 if it cannot run or does not answer.
munge_start() {
  local d=$1
  chown munge:munge "$d/munge"
  chmod 755 "$d/munge" # munged wants its socket directory world-executable
  setpriv --reuid=munge --regid=munge --init-groups mungekey --create --keyfile="$d/munge/munge.key" \
    >"$d/log/mungekey.log" 2>&1 || { cat "$d/log/mungekey.log" >&2; echo "mungekey cannot create a key" >&2; return 1; }
  _start_daemon munged "$d/log/munged.log" setpriv --reuid=munge --regid=munge --init-groups \
    munged --foreground --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
    --pid-file="$d/munge/munged.pid" --seed-file="$d/munge/munged.seed" --log-file="$d/log/munged.file.log" || return 1
  munge -S "$d/munge/munge.socket" -n </dev/null | unmunge -S "$d/munge/munge.socket" >/dev/null 2>&1 ||
    { echo "munged runs but does not answer on $d/munge/munge.socket" >&2; return 1; }
}

cluster_start() {
  local d=$1 host node cport dport
  cluster_dir=$d
  mkdir -p "$d"/{state,spool,log,munge}
  chmod 755 "$d" "$d/log"
  host=$(hostname -s)
  munge_start "$d" || return 1
  if ! cport=$(free_port) || ! dport=$(free_port); then
    echo "no free TCP port" >&2
    return 1
  fi
  node=$(slurmd -C 2>/dev/null | head -n 1)
  [[ $node == NodeName=* ]] || { echo "slurmd -C cannot describe this node: $node" >&2; return 1; }
  # The node's name and memory from slurmd -C, its CPUs pinned to $cluster_cpus (one socket,
  # one thread per core) so that the test's jobs see the same cluster on any machine.
  # SlurmdParameters=config_overrides below keeps a machine with fewer CPUs from being
  # drained for having less than this (the jobs then share them; task/none binds nothing).
  node="${node%% *} CPUs=$cluster_cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cluster_cpus ThreadsPerCore=1 $(
    grep -o 'RealMemory=[0-9]*' <<<"$node")"
  # cred_expire is also how long a requeued job waits before it may start again
  # (default 120 s): 10 s keeps the test short.
  cat >"$d/slurm.conf" <<EOF
ClusterName=hstest$$
SlurmctldHost=$host
SlurmctldPort=$cport
SlurmdPort=$dport
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
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SchedulerParameters=sched_interval=5
KillWait=30
MinJobAge=3600
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$d/slurm.conf"
  _start_daemon slurmctld "$d/log/slurmctld.out" slurmctld -D -i -f "$SLURM_CONF" || return 1
  _start_daemon slurmd "$d/log/slurmd.out" slurmd -D -f "$SLURM_CONF" || return 1
  local state
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1)
    [ "$state" = idle ] && return 0
    sleep 1
  done
  echo "the node never became idle (state '$state'); slurmctld log:" >&2
  tail -n 20 "$d/log/slurmctld.log" >&2
  return 2
}

cluster_stop() {
  if [ -n "$cluster_dir" ] && [ -n "${SLURM_CONF:-}" ] && [ "${#cluster_pids[@]}" -ge 3 ]; then
    scancel --full --quiet --user=root 2>/dev/null || true
    for _ in $(seq 40); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 1
    done
  fi
  local i
  for ((i = ${#cluster_pids[@]} - 1; i >= 0; i--)); do
    kill "${cluster_pids[i]}" 2>/dev/null || true
  done
  for i in "${cluster_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$i" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$i" 2>/dev/null || true
    wait "$i" 2>/dev/null || true
  done
  cluster_pids=()
}

job_state() { scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

job_wait() {
  local id=$1 limit=$2 states
  local final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$'
  for _ in $(seq "$limit"); do
    states=$(job_state "$id")
    if [ -n "$states" ] && ! grep -qvE "$final" <<<"$states"; then
      echo "$states"
      return 0
    fi
    sleep 1
  done
  echo "job $id still not finished after $limit s: $(echo "$states" | tr '\n' ' ')" >&2
  return 1
}
