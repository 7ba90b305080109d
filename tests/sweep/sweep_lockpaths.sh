#!/usr/bin/env bash
# sweep_lockpaths.sh: one results file is one lock, whatever path names it (issue 17).
# While a paced sweep (HS_TEST_PROMPT_PACE_MS) writes real/w.h5:
#   - a second sweep through a hard link (same directory and another one), a symbolic
#     link to the file, and a symbolic link to its directory is refused with exit 4
#     ("being written by another sweep") and leaves no output or lock file;
#   - `headsweep merge` with an input or an output through a hard link is refused with 4;
#   - `headsweep status` through a hard link says the file is locked;
# then the sweep finishes every cell. Before the file exists, a second sweep through the
# symbolic link to the directory is refused too (one OUT.lock in the canonical directory).
source "$(dirname "$0")/fixture.sh" "$1"
sed -i -e 's/^max_new_tokens = .*/max_new_tokens = 8/' study.ini

expect() {
  local want=$1 needle=$2
  shift 2
  timeout 120 "$@" >/dev/null 2>cmd.err
  local rc=$?
  [ "$rc" = "$want" ] || fail "$* -> exit $rc, want $want: $(cat cmd.err)"
  grep -qF -- "$needle" cmd.err || fail "$* -> stderr lacks '$needle': $(cat cmd.err)"
}

sweep 1 --out p.h5 --cells 1/2 || fail "first half: $(cat sweep.err)"
sweep 1 --out q.h5 --cells 2/2 || fail "second half: $(cat sweep.err)"
mkdir real other
ln -s real alias

# Before the file exists: the sweep holds real/w.h5.lock; alias/w.h5 is the same name.
HS_TEST_PROMPT_PACE_MS=300 "$hs" sweep study.ini --out real/w.h5 2>w.err &
busy=$!
for _ in $(seq 200); do [ -s real/w.h5.lock ] && break; sleep 0.05; done
[ -s real/w.h5.lock ] || fail "the sweep never took its lock: $(cat w.err)"
expect 4 "being written by another sweep" "$hs" sweep study.ini --out alias/w.h5
wait_cells real/w.h5 1

ln real/w.h5 hard.h5
ln real/w.h5 other/hard2.h5
ln -s real/w.h5 sym.h5
expect 4 "being written by another sweep" "$hs" sweep study.ini --out hard.h5
expect 4 "being written by another sweep" "$hs" sweep study.ini --out other/hard2.h5
expect 4 "being written by another sweep" "$hs" sweep study.ini --out sym.h5
expect 4 "being written by another sweep" "$hs" sweep study.ini --out alias/w.h5
expect 4 "being written by another sweep" "$hs" merge m1.h5 hard.h5 q.h5
expect 4 "being written by another sweep" "$hs" merge other/hard2.h5 p.h5 q.h5
[ ! -e m1.h5 ] || fail "merge of a busy input left an output"
for f in hard.h5 other/hard2.h5 sym.h5 m1.h5; do [ ! -e "$f.lock" ] || fail "a refused run left $f.lock"; done
"$hs" status hard.h5 --json >st.json 2>st.err
rc=$?
[ "$rc" = 4 ] || fail "status through a hard link: exit $rc, want 4: $(cat st.err)"
"$py" -c "import json,sys; d=json.load(open('st.json')); sys.exit(0 if d['lock']['held'] else 1)" ||
  fail "status through a hard link does not see the lock: $(cat st.json st.err)"

wait "$busy" || fail "the sweep failed beside the refused runs: $(cat w.err)"
[ "$(cells_done real/w.h5)" = "$total" ] || fail "the sweep lost cells: $(cells_done real/w.h5) of $total"
[ ! -e real/w.h5.lock ] || fail "the sweep left its lock"
# Free again: the hard link resumes (nothing to do) and a merge reads it.
"$hs" sweep study.ini --out hard.h5 2>h.err || fail "sweep through the hard link once free: $(cat h.err)"
"$hs" merge m2.h5 hard.h5 2>m2.err || fail "merge through the hard link once free: $(cat m2.err)"
echo "sweep_lockpaths: ok"
