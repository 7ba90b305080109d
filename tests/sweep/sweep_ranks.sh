#!/usr/bin/env bash
# sweep_ranks.sh: the same study on 1, 2 and 3 ranks gives identical quality numbers
# (every metric with timing = 0, generated tokens, agency occupancy and transitions,
# scores, pruned heads), every rank takes cells, and the file passes the h5py schema check.
source "$(dirname "$0")/fixture.sh" "$1"
short=(--set generation.max_new_tokens=16 --set job.max_prompts=12)
# Thresholds that a random tiny model crosses, so that agency states change (and the
# transition counts compared below are not all zero).
short+=(--set variant.agency.overload_threshold=0.02 --set variant.agency.alignment_threshold=0.05
        --set variant.agency.recovery_steps=3)

sweep 1 "${short[@]}" || fail "serial sweep: $(cat sweep.err)"
[ -f results/study.h5 ] || fail "default output results/study.h5 not written"
grep -q "$total of $total cells done" sweep.err || fail "serial run did not report $total cells: $(cat sweep.err)"
sweep 2 --out two.h5 "${short[@]}" || fail "2-rank sweep: $(cat sweep.err)"
sweep 3 --out three.h5 "${short[@]}" || fail "3-rank sweep: $(cat sweep.err)"
"$py" "$tool" compare results/study.h5 two.h5 three.h5 || fail "ranks disagree"
"$py" "$tool" check three.h5 --ranks 3 || fail "schema check"
"$py" "$tool" check results/study.h5 --ranks 1 || fail "schema check (serial)"
"$py" - three.h5 <<'PY' || fail "not every rank computed cells"
import sys, h5py, numpy as np
ranks = set(np.unique(h5py.File(sys.argv[1], "r")["cells/rank"][...]).tolist())
sys.exit(0 if ranks == {0, 1, 2} else f"cells computed by ranks {sorted(ranks)}")
PY
"$py" -c "import h5py, sys; sys.exit(0 if h5py.File('three.h5', 'r')['agency/transitions'][...].sum() > 0 else 1)" ||
  fail "no agency transitions: the comparison of transition counts would be vacuous"

# Running the finished study again computes nothing and leaves the file as it was.
before=$(sha256sum two.h5)
sweep 2 --out two.h5 "${short[@]}" || fail "rerun of a finished study: $(cat sweep.err)"
grep -q "nothing to do, $total of $total cells done" sweep.err || fail "rerun: $(cat sweep.err)"
[ "$before" = "$(sha256sum two.h5)" ] || fail "a rerun with nothing to do changed the file"
echo "sweep_ranks: ok"
