#!/usr/bin/env bash
# sweep_merge.sh: job-array parts (--cells K/N) merged with `headsweep merge` equal a
# single run; merge refuses another study, cells whose quality numbers disagree (naming
# the cell, the number and the files) and an existing output.
source "$(dirname "$0")/fixture.sh" "$1"
sed -i -e 's/^max_new_tokens = .*/max_new_tokens = 16/' -e 's/^shards = .*/shards = 6\nmax_prompts = 12/' study.ini

expect() {
  local want=$1 needles=()
  shift
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  "$@" 2>merge.err
  local rc=$?
  [ "$rc" = "$want" ] || fail "$* -> exit $rc, want $want: $(cat merge.err)"
  for n in "${needles[@]}"; do grep -qF -- "$n" merge.err || fail "$* -> stderr lacks '$n': $(cat merge.err)"; done
}

sweep 1 --out full.h5 || fail "full run: $(cat sweep.err)"
sweep 2 --out part1.h5 --cells 1/2 || fail "part 1: $(cat sweep.err)"
grep -q "computing $((total / 2)) cells" sweep.err ||
  fail "part 1 of 2 should compute $((total / 2)) of $total cells: $(cat sweep.err)"
sweep 2 --out part2.h5 --cells 2/2 || fail "part 2: $(cat sweep.err)"
[ "$(cells_done part1.h5)" = $((total / 2)) ] && [ "$(cells_done part2.h5)" = $((total / 2)) ] ||
  fail "parts should hold half the cells each"
sweep 1 --out part1.h5 --cells 1/2 || fail "rerun of part 1"
grep -q "nothing to do" sweep.err || fail "a finished part should have nothing to do: $(cat sweep.err)"

expect 0 "merged 2 files into merged.h5: $total of $total cells done" -- "$hs" merge merged.h5 part1.h5 part2.h5
"$py" "$tool" compare full.h5 merged.h5 || fail "merged parts differ from the single run"
"$py" "$tool" check merged.h5 || fail "schema check of the merged file"
"$py" -c "import h5py, sys
sys.exit(0 if h5py.File('merged.h5')['/'].attrs['merged_from'] == b'part1.h5, part2.h5' else 1)" ||
  fail "merged_from attribute"

# Overlapping inputs that agree are fine; the output is never overwritten.
expect 0 "$total of $total cells done" -- "$hs" merge overlap.h5 part1.h5 full.h5
expect 2 "merged.h5 already exists" -- "$hs" merge merged.h5 part1.h5 part2.h5

# Another study (a different seed) is refused, naming the setting.
sweep 1 --out other.h5 --cells 1/9 --set generation.seed=5 || fail "other study: $(cat sweep.err)"
expect 2 "cannot merge other.h5 with part1.h5" "different study" "sample_seed = 11" -- \
  "$hs" merge x.h5 part1.h5 other.h5
[ ! -e x.h5 ] || fail "a refused merge left x.h5"

# A cell done in two inputs with different quality numbers is refused, naming it.
cp part1.h5 tampered.h5
cell=$("$py" "$tool" tamper tampered.h5) || fail "tamper"
read -r variant level shard <<<"$cell"
expect 2 "cell (variant $variant, level $level, shard $shard) is done in both tampered.h5 and full.h5" \
  "distinct_2 of prompt" -- "$hs" merge y.h5 tampered.h5 full.h5
[ ! -e y.h5 ] || fail "a refused merge left y.h5"

expect 2 "an output and at least one input" -- "$hs" merge only.h5
expect 2 "nothing.h5: No such file or directory" -- "$hs" merge z.h5 nothing.h5
# one input twice, by its name or through another link: said so (it waited on its own lock, exit 4)
ln -sf part1.h5 alias1.h5
expect 2 "merge: part1.h5 and part1.h5 are the same file: give each input once" -- "$hs" merge z.h5 part1.h5 part1.h5
expect 2 "merge: part1.h5 and alias1.h5 are the same file" -- "$hs" merge z.h5 part1.h5 part2.h5 alias1.h5
[ ! -e z.h5 ] || fail "a refused merge left z.h5"
# the output one of the inputs, by its name or another link: said so (exit 2, not 4)
cp part1.h5 self.h5 && ln -f self.h5 self-link.h5
expect 2 "merge: the output self.h5 is one of the inputs (self.h5)" -- "$hs" merge self.h5 self.h5
expect 2 "merge: the output self-link.h5 is one of the inputs (self.h5)" -- "$hs" merge self-link.h5 part2.h5 self.h5
cmp -s part1.h5 self.h5 || fail "a refused merge changed its output (an input)"
echo "sweep_merge: ok"
