# ab_common.sh: sourced by the bench/ab_*.sh scripts (from the repository's root).
#   ab_need_engine BENCH_ENGINE SCRIPT   exits 2 with a message when it is not built
#   ab_need_model BENCH_ENGINE DIR       makes the gpt2-shape model in DIR when missing
#   ab_tmp                               sets $out to a temporary file removed on exit

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
