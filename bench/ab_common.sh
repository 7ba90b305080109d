# ab_common.sh: sourced by the bench/ab_*.sh scripts (from the repository's root).
#   ab_need_engine BENCH_ENGINE SCRIPT   exits 2 with a message when it is not built
#   ab_need_model BENCH_ENGINE DIR       makes the gpt2-shape model in DIR when missing
#   ab_tmp                               sets $out to a temporary file removed on exit
#   ab_anchor_env                        sets anchor_env, the anchors' command prefix

ab_need_engine() {
  [ -x "$1" ] || { echo "$2: no $1 (build first)" >&2; exit 2; }
}

ab_need_model() {
  local hs
  hs=$(dirname "$1")/../src/cli/headsweep
  [ -f "$2/model.safetensors" ] || "$hs" mkmodel --shape gpt2 --seed 1 --out "$2" >&2
}

ab_tmp() {
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
}

# ab_anchor_env: sets the array anchor_env, the prefix of the anchors' commands (PyTorch,
# OpenBLAS sgemm) for their best correct configuration: OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE (which this machine sets) unset, and OPENBLAS_CORETYPE set to the core
# bench/openblas_best.py timed fastest with correct results where OpenBLAS's own choice is
# clearly slower (an OpenBLAS older than the CPU falls back to an old kernel: Prescott on
# the 2026-12-07 Intel Xeon, a quarter of SkylakeX's rate). Its table goes to stderr.
ab_anchor_env() {
  local core
  core=$(/usr/bin/python3 bench/openblas_best.py) || core=
  anchor_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
  if [ -n "$core" ]; then anchor_env+=("OPENBLAS_CORETYPE=$core"); fi
}
