# fixture.sh: sourced by the sweep script tests. Makes a work directory with a tiny random
# model, 24 short prompts, a calibration set and study.ini (3 variants x 2 levels x 6
# shards = $total = 36 cells of 4 prompts), and helpers to run sweeps, find their ranks
# and read the results.
# Usage: source fixture.sh MPIEXEC
set -u
hs=${HS_HEADSWEEP:?HS_HEADSWEEP must name the headsweep binary}
py=${HS_PYTHON3:-/usr/bin/python3}
mpiexec=${1:?the test needs the MPI launcher as its first argument}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tool="$here/results_tool.py"
work=$(mktemp -d /tmp/hs-sweep-XXXXXX)
# On exit, sweeps still running in the background go too, launcher and ranks alike.
killtree() {
  local c
  for c in $(pgrep -P "$1"); do killtree "$c"; done
  kill -9 "$1" 2>/dev/null
}
trap 'for p in $(jobs -p); do killtree "$p"; done; rm -rf "$work"' EXIT
cd "$work" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$hs" mkmodel --shape tiny --seed 3 --out model 2>/dev/null || fail "mkmodel"
"$py" - <<'EOF' || fail "writing prompts"
import json
words = ("in the beginning god created the heaven and the earth and the earth was without form and void "
         "and darkness was upon the face of the deep and the spirit of god moved upon the face of the waters").split()
with open("prompts.jsonl", "w") as f:
    for i in range(24):
        f.write(json.dumps({"id": f"gen-{i}", "prompt": " ".join(words[i:i + 5]),
                            "reference": " " + " ".join(words[i + 5:i + 9])}) + "\n")
with open("calib.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"id": f"cal-{i}", "prompt": " ".join(words[3 * i:3 * i + 12])}) + "\n")
EOF
cat >study.ini <<'EOF'
[job]
model = model
prompts = prompts.jsonl
shards = 6
output = results/study.h5
variants = baseline, agency, baseline-skip

[generation]
max_new_tokens = 32
temperature = 0.8
top_k = 20
seed = 11

[pruning]
strategy = entropy
levels = 0, 50
calibration = calib.jsonl
EOF

total=36

# Tests that act on a running sweep (signals, kill -9, a second sweep) set
# HS_TEST_PROMPT_PACE_MS for it: every prompt then lasts that much longer, so the sweep is
# still running when they act, on any machine. Only timings change.

# sweep NRANKS args...: runs a sweep (serially for 1), stderr to sweep.err.
sweep() {
  local n=$1
  shift
  if [ "$n" -eq 1 ]; then
    "$hs" sweep study.ini --progress lines "$@" 2>sweep.err
  else
    "$mpiexec" -n "$n" "$hs" sweep study.ini --progress lines "$@" 2>sweep.err
  fi
}

cells_done() { HDF5_USE_FILE_LOCKING=FALSE "$py" "$tool" done "$1" 2>/dev/null || echo 0; }

# wait_cells FILE N: until at least N cells are done (or 60 s pass).
wait_cells() {
  for _ in $(seq 600); do
    [ -f "$1" ] && [ "$(cells_done "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 never reached $2 done cells"
}

# rank_pids OUT: pids of every rank writing OUT: rank 0 holds the lock (its pid is in the
# lock file); under an MPI launcher the other ranks are its siblings.
rank_pids() {
  local r0 parent
  r0=$(cut -d' ' -f1 "$1.lock")
  parent=$(ps -o ppid= -p "$r0" | tr -d ' ')
  case $(ps -o comm= -p "$parent") in
    mpirun | mpiexec | orterun | orted | prterun | prted) pgrep -P "$parent" ;;
    *) echo "$r0" ;;
  esac
}
