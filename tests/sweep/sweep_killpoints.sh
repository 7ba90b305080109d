#!/usr/bin/env bash
# sweep_killpoints.sh: SIGKILL at 30 points of a sweep's and a merge's life loses no
# finished cell. Rank 0 (the writer) runs under strace, which sends SIGKILL when the
# process enters the Nth matching system call (`-e inject=SYSCALL:signal=KILL:when=N`);
# N comes from a trace of an uninterrupted run (the Nth pwrite64 on the results file is
# always the same step: cell k's done flag, the end-of-run stamp, ...), so every point is
# the same on every machine. Other ranks are killed while strace holds rank 0 at a known
# point (delay_enter), or mid-cell with HS_TEST_PROMPT_PACE_MS. After each kill the same
# command is run again and must: not be blocked by a lock, complete the file, compute
# exactly the cells that were not done (every cell once: cells done before the kill keep
# run 1), remove the killed run's temporary file, and give the quality numbers of an
# uninterrupted run (results_tool.py compare) in a file that passes the schema check.
# Skipped (77) when strace is missing or cannot trace (no ptrace permission).
source "$(dirname "$0")/fixture.sh" "$1"
if ! command -v strace >/dev/null; then
  echo "sweep_killpoints: skipped: strace is not installed (tools/setup.sh installs it)"
  exit 77
fi
if ! strace -f -qq -o /dev/null true 2>/dev/null; then
  echo "sweep_killpoints: skipped: strace cannot trace here (no ptrace permission," \
    "e.g. a container without CAP_SYS_PTRACE)"
  exit 77
fi
# LeakSanitizer (the sanitizer build's tests) cannot run under ptrace and aborts the
# traced process at exit: off for processes under strace (a later option wins).
no_lsan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export no_lsan
# Only rank 0 runs under strace: the launcher starts this wrapper on every rank.
cat >rank0.sh <<'EOF'
#!/usr/bin/env bash
if [ "${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}" = 0 ] && [ -n "${HS_KILL_STRACE:-}" ]; then
  # shellcheck disable=SC2086
  ASAN_OPTIONS=$no_lsan exec strace -f -qq -o "${HS_KILL_TRACE:-/dev/null}" $HS_KILL_STRACE "$@"
fi
exec "$@"
EOF
chmod +x rank0.sh

# run_sweep NRANKS OUT STRACE_ARGS: the fixture's sweep with rank 0 under strace.
run_sweep() {
  local n=$1 out=$2
  if [ "$n" -eq 1 ]; then
    HS_KILL_STRACE=$3 ./rank0.sh "$hs" sweep study.ini --progress lines --out "$out" 2>sweep.err
  else
    HS_KILL_STRACE=$3 "$mpiexec" -n "$n" ./rank0.sh "$hs" sweep study.ini --progress lines --out "$out" 2>sweep.err
  fi
}

sweep 1 --out ref.h5 || fail "reference sweep: $(cat sweep.err)"

# The uninterrupted runs' system calls on the results file, serially and on 2 ranks.
traced="access,openat,pwrite64,fsync"
for n in 1 2; do
  HS_KILL_TRACE=$work/rec$n.trace run_sweep $n "$work/rec$n.h5" "-P $work/rec$n.h5 -e trace=$traced" ||
    fail "recorded run on $n ranks: $(cat sweep.err)"
  "$py" "$tool" compare ref.h5 rec$n.h5 >/dev/null || fail "the traced run differs from the reference"
done
# points.py TRACE: "name syscall N" for every step named below (N counts that system call
# on the results file). Cell k's write is: its data (pwrite64 x m), fsync, its done flag
# (one small pwrite64); the run begins with a stamp + fsync and ends with one.
cat >points.py <<'EOF'
import re, sys
total = int(sys.argv[2])
calls = []  # (syscall, ordinal among its kind, bytes for pwrite64)
count = {}
for line in open(sys.argv[1]):
    m = re.match(r"^\d+\s+(\w+)\((.*)", line)
    if not m or "resumed>" in line:
        continue
    name = m.group(1)
    count[name] = count.get(name, 0) + 1
    size = int(re.search(r", (\d+), \d+\)? ", m.group(2)).group(1)) if name == "pwrite64" else 0
    calls.append((name, count[name], size))
fsyncs = [i for i, c in enumerate(calls) if c[0] == "fsync"]
assert len(fsyncs) == total + 2, f"{len(fsyncs)} fsyncs, want {total + 2} (begin, one per cell, end)"
def next_pwrite(i):
    return next(j for j in range(i + 1, len(calls)) if calls[j][0] == "pwrite64")
done = {k: next_pwrite(fsyncs[k]) for k in range(1, total + 1)}
assert all(calls[j][2] < 16 for j in done.values()), "a done flag is not one small write"
first = {k: next_pwrite(done[k - 1] if k > 1 else fsyncs[0]) for k in range(1, total + 1)}
pts = {"open_for_writing": next_pwrite(-1), "begin_fsync": fsyncs[0], "end_stamp": next_pwrite(done[total]),
       "end_fsync": fsyncs[total + 1], "close": max(i for i, c in enumerate(calls) if c[0] == "pwrite64")}
for k in range(1, total + 1):
    pts[f"mid_cell_{k}"] = (first[k] + fsyncs[k]) // 2
    pts[f"cell_fsync_{k}"] = fsyncs[k]
    pts[f"before_done_{k}"] = done[k]
    pts[f"after_done_{k}"] = first[k + 1] if k < total else pts["end_stamp"]
assert calls[pts["mid_cell_1"]][0] == "pwrite64" and pts["mid_cell_1"] > first[1], "cell writes too short"
accesses = [c for c in calls if c[0] == "access"]
assert len(accesses) >= 3, "want 3 access() calls: lock taken, file creation, file opened"
for name, i in pts.items():
    print(name, calls[i][0], calls[i][1])
for k in (1, 2, 3):
    print(f"access_{k} access {k}")
# The openat calls on OUT before it exists fail (the identity lock's probes, HDF5's open
# attempt); the last of them comes just before the file is built in memory, and the
# first that succeeds just after the rename (the identity lock taken on the new file).
opens = [(n, line) for n, line in enumerate(l for l in open(sys.argv[1]) if re.match(r"^\d+\s+openat\(", l)
         and "resumed>" not in l)]
first_ok = next(n for n, line in opens if not re.search(r"\) = -1 ", line))
assert first_ok > 0, "no failed open of OUT before the file exists"
print(f"core_open openat {first_ok}")
print(f"after_rename openat {first_ok + 1}")
EOF
for n in 1 2; do
  "$py" points.py rec$n.trace $total >points$n.txt || fail "cannot read the trace of rank 0: $(tail rec$n.trace)"
done
point() { grep "^$2 " "points$1.txt" | cut -d' ' -f2,3; }

# runs_of OUT: "run:count ..." as results_tool prints it.
runs_of() { "$py" "$tool" runs "$1"; }

# rerun NRANKS OUT DONE_BEFORE RUNS_BEFORE: the same command again completes the file with
# exactly the cells that were missing.
rerun() {
  local n=$1 out=$2 before=$3 runs_before=$4 got
  sweep "$n" --out "$out" || fail "$name: rerun: $(cat sweep.err)"
  if grep -q "is being written by another sweep\|is locked by" sweep.err; then
    fail "$name: a lock blocked the rerun"
  fi
  if [ "$before" = "$total" ]; then
    grep -q "nothing to do, $total of $total cells done" sweep.err || fail "$name: rerun: $(cat sweep.err)"
  elif [ "$runs_before" = none ]; then
    grep -q -e "created, 0 of $total cells done; computing $total cells" \
      -e "resuming, 0 of $total cells done; computing $total cells" sweep.err ||
      fail "$name: rerun did not compute every cell: $(cat sweep.err)"
  else
    grep -q "resuming, $before of $total cells done; computing $((total - before)) cells" sweep.err ||
      fail "$name: rerun did not plan the missing cells: $(cat sweep.err)"
  fi
  [ "$(cells_done "$out")" = $total ] || fail "$name: incomplete after the rerun"
  got=$(runs_of "$out")
  case $runs_before in
    none) want="1:$total" ;;
    *) want=$([ "$before" = 0 ] && echo "2:$total" || ([ "$before" = "$total" ] && echo "1:$total") ||
         echo "1:$before 2:$((total - before))") ;;
  esac
  [ "$got" = "$want" ] || fail "$name: cells per run $got, want $want"
  [ -z "$(ls "$out".tmp.* 2>/dev/null)" ] || fail "$name: temporary files left: $(ls "$out".tmp.*)"
  "$py" "$tool" compare ref.h5 "$out" >/dev/null || fail "$name: quality numbers differ from the uninterrupted run"
  "$py" "$tool" check "$out" >/dev/null || fail "$name: schema check: $("$py" "$tool" check "$out" 2>&1 | tail -n 5)"
  points_done=$((points_done + 1))
  echo "  $name: $before cells done at the kill, completed ($got)"
}

# killed_state OUT: sets before (cells done) and runs_before ("none" when no run had
# begun writing cells: no file, or a file whose runs attribute is still 0).
killed_state() {
  before=0 runs_before=none
  [ -e "$1" ] || return 0
  before=$(cells_done "$1")
  [ "$("$py" -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['runs']))" "$1" 2>/dev/null)" = 0 ] ||
    runs_before=1
}

# kill_point NRANKS NAME SYSCALL N EXPECT_DONE [PATH]: SIGKILL to rank 0 when it enters
# the Nth SYSCALL on PATH (the output file; "-" for any path), then the rerun.
# EXPECT_DONE: cells done at the kill ("-" when it may vary), "none" for no output file.
kill_point() {
  local n=$1 syscall=$3 nth=$4 expect=$5 path=${6:-} out filter rc
  name="$2 ($n rank$([ "$n" = 1 ] || echo s))"
  out=$work/k$((++kills)).h5
  [ -n "$path" ] || path=$out
  filter="-P $path"
  [ "$path" = - ] && filter=""
  # (braces: the shell's "Killed" notice goes to /dev/null, sweep.err keeps the output)
  { run_sweep "$n" "$out" "$filter -e trace=$syscall -e inject=$syscall:signal=KILL:when=$nth"; } 2>/dev/null
  rc=$?
  [ "$rc" != 0 ] || fail "$name: the run was not killed (rc 0): $(tail -n 3 sweep.err)"
  killed_state "$out"
  if [ ! -e "$out" ]; then
    [ "$expect" = none ] || fail "$name: no output file after the kill, expected $expect cells done"
  else
    [ "$expect" != none ] || fail "$name: the kill should have come before the file existed"
    [ "$expect" = - ] || [ "$before" = "$expect" ] || fail "$name: $before cells done at the kill, want $expect"
  fi
  rerun "$n" "$out" "$before" "$runs_before"
}

kills=0 points_done=0
at() { point "$1" "$2"; }
echo "serial:"
kill_point 1 "lock taken, before the head scores" $(at 1 access_1) none
kill_point 1 "head scores computed, before the file is built" $(at 1 access_2) none
kill_point 1 "file being built in memory" $(at 1 core_open) none
kill_point 1 "file written as OUT.tmp.PID, before the rename" renameat2 1 none -
[ "$(grep -c "removed .*k$kills.h5.tmp.[0-9]*, left by a run that was killed" sweep.err)" = 1 ] ||
  fail "the rerun did not remove the killed run's temporary file: $(cat sweep.err)"
kill_point 1 "just after the rename" $(at 1 after_rename) 0
kill_point 1 "opening the file for writing" $(at 1 open_for_writing) 0
kill_point 1 "run stamp written, before its fsync" $(at 1 begin_fsync) 0
kill_point 1 "mid-way through writing cell 1" $(at 1 mid_cell_1) 0
kill_point 1 "cell 1 written, before its fsync" $(at 1 cell_fsync_1) 0
kill_point 1 "just before cell 1's done flag" $(at 1 before_done_1) 0
kill_point 1 "just after cell 1's done flag" $(at 1 after_done_1) 1
kill_point 1 "mid-way through writing cell 18" $(at 1 mid_cell_18) 17
kill_point 1 "just after cell 18's done flag" $(at 1 after_done_18) 18
kill_point 1 "just before the last cell's done flag" $(at 1 before_done_$total) $((total - 1))
kill_point 1 "final flush: before the end-of-run stamp" $(at 1 end_stamp) $total
kill_point 1 "final flush: before its fsync" $(at 1 end_fsync) $total
kill_point 1 "closing the file" $(at 1 close) $total
# A work item is the 3 variants' cells of one (level, shard), interleaved prompt by prompt:
# 12 evaluations, each opening /proc/self/clear_refs 4 times (the per-phase RSS probes), so
# the 54th open is inside the second item, after the first item's 3 cells were saved.
kill_point 1 "rank 0 mid-item, computing the second item's prompts" openat 54 3 /proc/self/clear_refs

echo "2 and 3 ranks, rank 0 killed:"
kill_point 2 "file written as OUT.tmp.PID, before the rename" renameat2 1 none -
kill_point 2 "mid-way through writing cell 5" $(at 2 mid_cell_5) 4
kill_point 2 "just before cell 12's done flag" $(at 2 before_done_12) 11
kill_point 3 "just after cell 20's done flag" $(at 2 after_done_20) 20
kill_point 3 "final flush: before the end-of-run stamp" $(at 2 end_stamp) $total
kill_point 3 "rank 0 mid-cell, computing its prompt 3" openat 3 - /proc/self/clear_refs

# other_rank NAME NRANKS WAIT_CELLS [STRACE_ARGS]: once WAIT_CELLS cells are done, another
# rank is killed, while rank 0 is held by strace (delay_enter) at a known step or, without
# STRACE_ARGS, mid-cell with paced prompts.
other_rank() {
  local n=$2 wait=$3 out victim r0
  name="$1 ($n ranks)"
  out=$work/k$((++kills)).h5
  if [ -n "${4:-}" ]; then
    run_sweep "$n" "$out" "-P $out $4" &
  else
    HS_TEST_PROMPT_PACE_MS=20 run_sweep "$n" "$out" "" &
  fi
  local job=$!
  for _ in $(seq 600); do
    [ -s "$out.lock" ] && [ "$(cells_done "$out")" -ge "$wait" ] && break
    sleep 0.1
  done
  [ -s "$out.lock" ] || fail "$name: the sweep never took its lock"
  [ "$wait" != 0 ] || sleep 1 # held for 3 s at the first access() after the lock
  r0=$(cut -d' ' -f1 "$out.lock")
  victim=$(ps -eo pid=,comm=,args= |
    awk -v o="$out" -v r0="$r0" '$2 == "headsweep" && index($0, o) && $1 != r0 {print $1; exit}')
  [ -n "$victim" ] || fail "$name: no rank other than rank 0 ($r0) found"
  kill -9 "$victim"
  wait $job && fail "$name: the run was not stopped by the kill"
  killed_state "$out"
  [ "$before" -lt $total ] || fail "$name: the run finished before the kill"
  rerun "$n" "$out" "$before" "$runs_before"
}
echo "other ranks killed:"
other_rank "rank 1 killed while rank 0 is held just before the head scores" 2 0 \
  "-e trace=access -e inject=access:delay_enter=3000000:when=1"
other_rank "rank 2 killed while rank 0 is held just after cell 10's done flag" 3 10 \
  "-e trace=pwrite64 -e inject=pwrite64:delay_enter=3000000:when=$(at 2 after_done_10 | cut -d' ' -f2)"
other_rank "rank 1 killed mid-cell" 2 3

echo "merge:"
sweep 1 --out "$work/p.h5" --cells 1/2 || fail "first half: $(cat sweep.err)"
sweep 1 --out "$work/q.h5" --cells 2/2 || fail "second half: $(cat sweep.err)"
# merge_kill NAME SYSCALL N PATH: SIGKILL to `headsweep merge` at the Nth SYSCALL on PATH.
merge_kill() {
  name="merge: $1"
  local out=$work/m$((++kills)).h5 filter=()
  [ "$4" = - ] || filter=(-P "$4")
  { ASAN_OPTIONS=$no_lsan strace -f -qq -o /dev/null "${filter[@]}" -e trace="$2" -e inject="$2:signal=KILL:when=$3" \
    "$hs" merge "$out" "$work/p.h5" "$work/q.h5" >/dev/null 2>merge.err; } 2>/dev/null &&
    fail "$name: the merge was not killed"
  [ ! -e "$out" ] || fail "$name: a killed merge left $out"
  "$hs" merge "$out" "$work/p.h5" "$work/q.h5" >/dev/null 2>merge.err || fail "$name: rerun: $(cat merge.err)"
  [ -z "$(ls "$out".tmp.* 2>/dev/null)" ] || fail "$name: temporary files left: $(ls "$out".tmp.*)"
  "$py" "$tool" compare ref.h5 "$out" >/dev/null || fail "$name: merged numbers differ from the uninterrupted run"
  points_done=$((points_done + 1))
  echo "  $name: rerun merged every cell"
}
merge_kill "copying the first input" read 3 "$work/p.h5"
merge_kill "adding the second input's cells" pread64 200 "$work/q.h5"
merge_kill "merged, before the rename" renameat2 1 -
[ -n "$(grep "removed .*.h5.tmp.[0-9]*, left by a run that was killed" merge.err)" ] ||
  fail "the merge rerun did not remove the killed merge's temporary file: $(cat merge.err)"

[ "$points_done" -ge 20 ] || fail "only $points_done kill points"
echo "sweep_killpoints: ok ($points_done kill points, every file completed with the uninterrupted run's numbers)"
