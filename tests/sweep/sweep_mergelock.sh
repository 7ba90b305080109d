#!/usr/bin/env bash
# sweep_mergelock.sh: lock files and merges never lose cells or write through a planted
# link (issue 17):
#   - OUT.lock planted as a symlink or a hard link to another file: sweep and merge refuse
#     with exit 2 and the other file is unchanged;
#   - merge onto an output a sweep is writing, and merge of an input a sweep is writing
#     (paced with HS_TEST_PROMPT_PACE_MS): refused with exit 4 (busy), the sweep then
#     finishes every cell;
#   - an output created by someone else while a merge runs (HS_TEST_MERGE_PAUSE_MS holds
#     the merge before its rename): that file is kept, the merge exits 2 and leaves no
#     temporary file; a sweep started during a merge on its output is refused.
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

# Planted links as the lock file.
echo "precious" >victim.txt
ln -s victim.txt s.h5.lock
expect 2 "is a symbolic link" "$hs" sweep study.ini --out s.h5
expect 2 "is a symbolic link" "$hs" merge s.h5 p.h5 q.h5
ln -s victim.txt p2.h5.lock && cp p.h5 p2.h5
expect 2 "is a symbolic link" "$hs" merge m0.h5 p2.h5 q.h5
ln victim.txt h.h5.lock
expect 2 "hard link" "$hs" sweep study.ini --out h.h5
[ "$(cat victim.txt)" = precious ] || fail "a planted lock link changed its target"
[ ! -e s.h5 ] && [ ! -e h.h5 ] && [ ! -e m0.h5 ] || fail "a refused run left an output"

# Merge onto a file a sweep is writing.
HS_TEST_PROMPT_PACE_MS=300 "$hs" sweep study.ini --out w.h5 2>w.err &
busy=$!
wait_cells w.h5 1
expect 4 "being written by another sweep" "$hs" merge w.h5 p.h5 q.h5
# Merge of an input a sweep is writing.
expect 4 "being written by another sweep" "$hs" merge m1.h5 w.h5 q.h5
[ ! -e m1.h5 ] || fail "merge of a busy input left an output"
kill -TERM "$busy"
wait "$busy"
[ -e w.h5.lock ] && fail "the sweep left its lock"
"$hs" sweep study.ini --out w.h5 2>w.err || fail "resume after the refused merges: $(cat w.err)"
[ "$(cells_done w.h5)" = "$total" ] || fail "the sweep lost cells: $(cells_done w.h5) of $total"

# OUT appears while the merge runs: kept, not replaced.
HS_TEST_MERGE_PAUSE_MS=3000 "$hs" merge m2.h5 p.h5 q.h5 2>m2.err &
merging=$!
for _ in $(seq 100); do [ -n "$(ls m2.h5.tmp.* 2>/dev/null)" ] && break; sleep 0.05; done
[ -e m2.h5.lock ] || fail "merge does not hold its output's lock"
expect 4 "being written by another sweep" "$hs" sweep study.ini --out m2.h5
echo "someone else's file" >m2.h5
wait "$merging"
rc=$?
[ "$rc" = 2 ] || fail "merge replaced or failed oddly (exit $rc): $(cat m2.err)"
grep -q "not replacing it" m2.err || fail "merge message: $(cat m2.err)"
[ "$(cat m2.h5)" = "someone else's file" ] || fail "merge replaced a file that appeared meanwhile"
[ -z "$(ls m2.h5.tmp.* 2>/dev/null)" ] || fail "merge left its temporary file"
[ ! -e m2.h5.lock ] || fail "merge left its lock"

# And a plain merge still works, releasing every lock.
"$hs" merge m3.h5 p.h5 q.h5 2>m3.err || fail "merge: $(cat m3.err)"
[ ! -e m3.h5.lock ] && [ ! -e p.h5.lock ] && [ ! -e q.h5.lock ] || fail "merge left a lock file"
echo "sweep_mergelock: ok"
