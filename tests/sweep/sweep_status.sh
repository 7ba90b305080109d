#!/usr/bin/env bash
# sweep_status.sh: the machine-readable state the Slurm scripts use instead of log text:
# `sweep --dry-run [--json]` (the plan after every --set, a continued INI line included,
# nothing computed), `status FILE [--json]` (cells done and missing, complete flag, study
# identity, lock holder) and exit code 4 for "a live sweep holds the file" (status and
# sweep). JSON is checked with Python's json module. Also --progress-interval: progress
# lines by time under mpirun, not only when a cell finishes.
source "$(dirname "$0")/fixture.sh" "$1"

# jq-free checks: json_check FILE PYTHON-EXPRESSION-over-d
json_check() {
  "$py" -c 'import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)' "$1" "$2" || fail "$1: not true: $2 in $(cat "$1")"
}

# ---- dry run: the plan, no output file, no MPI ----
"$hs" sweep study.ini --dry-run --json >plan.json || fail "--dry-run --json"
"$py" -m json.tool plan.json >/dev/null || fail "--dry-run --json is not JSON"
json_check plan.json 'd["cells"] == 36 and d["cells_in_slice"] == 36 and d["slice"] is None'
json_check plan.json \
  'd["levels"] == [0, 50] and [v["name"] for v in d["variants"]] == ["baseline", "agency", "baseline-skip"]'
json_check plan.json \
  'd["prompts"] == {"file": "prompts.jsonl", "used": 24, "shards": 6} and d["output"] == "results/study.h5"'
json_check plan.json \
  'd["variants"][1] == {"name": "agency", "gating": "skip", "agency": True} and d["max_new_tokens"] == 32'
[ ! -e results/study.h5 ] || fail "--dry-run created the results file"
"$hs" sweep study.ini --dry-run --json --set pruning.levels=0,25,50 --set job.shards=4 --cells 2/5 >p2.json ||
  fail "dry run with --set"
# 3 x 3 x 4 = 36 cells; timings interleaved (the default), a slice takes whole (level, shard)
# items: cell i = (variant * 3 + level) * 4 + shard is in part 2 of 5 when (level * 4 + shard) % 5 == 1
in_part='len([i for i in range(36) if ((i // 4 % 3) * 4 + i % 4) % 5 == 1])'
json_check p2.json "d[\"cells\"] == 36 and d[\"cells_in_slice\"] == $in_part and d[\"slice\"] == {\"k\": 2, \"n\": 5}"
# A value continued on the next line (INI continuation) is one list: 4 levels, 72 cells.
sed 's/^levels = .*/levels = 0, 25,\n  50, 75/' study.ini >cont.ini
grep -q "^  50, 75" cont.ini || fail "cont.ini has no continuation line"
"$hs" sweep cont.ini --dry-run --json >p3.json || fail "dry run of cont.ini"
json_check p3.json 'd["levels"] == [0, 25, 50, 75] and d["cells"] == 72'
"$hs" sweep study.ini --dry-run >plan.txt || fail "--dry-run (text)"
grep -q "^cells *36 (3 variants x 2 levels x 6 shards)" plan.txt || fail "dry-run text: $(cat plan.txt)"
"$hs" sweep study.ini --dry-run --set job.shards=30 2>err.txt
[ $? = 2 ] && grep -q "shards = 30 but only 24" err.txt || fail "dry run of an impossible job: $(cat err.txt)"

# ---- status of half a study ----
"$hs" status results/study.h5 2>err.txt
[ $? = 2 ] && grep -q "results/study.h5" err.txt || fail "status of a missing file: $(cat err.txt)"
sweep 1 --cells 1/2 || fail "sweep --cells 1/2: $(cat sweep.err)"
"$hs" status results/study.h5 --json >s1.json || fail "status --json (exit $?)"
"$py" -m json.tool s1.json >/dev/null || fail "status --json is not JSON"
json_check s1.json \
  'd["cells"] == {"total": 36, "done": 18, "missing": 18} and d["complete"] is False and d["lock"] == {"held": False}'
json_check s1.json '(len(d["by_variant_level"]) == 6 and sum(c["done"] for c in d["by_variant_level"]) == 18
  and all(c["done"] + c["missing"] == 6 for c in d["by_variant_level"]))'
json_check s1.json 'len(d["study"]["sha256"]) == 64 and "seed = 11" in d["study"]["settings"]'
"$hs" status results/study.h5 >s1.txt || fail "status (text)"
grep -q "^cells *18 of 36 done, 18 missing" s1.txt && grep -q "^lock *free" s1.txt || fail "status text: $(cat s1.txt)"

# ---- a live sweep holds the file: exit 4 from status and from a second sweep ----
# Paced so that it is still running when status looks (see fixture.sh), then stopped.
HS_TEST_PROMPT_PACE_MS=200 sweep 2 &
job=$!
wait_cells results/study.h5 19
pids=$(rank_pids results/study.h5)
[ -n "$pids" ] || fail "the sweep ended before status could look"
kill -STOP $pids || fail "the sweep ended before status could look (kill -STOP)"
"$hs" status results/study.h5 --json >s2.json
rc=$?
[ "$rc" = 4 ] || fail "status of a file a live sweep holds: exit $rc, want 4"
json_check s2.json "(d['lock']['held'] is True and d['lock']['pid'] == $(cut -d' ' -f1 results/study.h5.lock)
  and d['cells']['done'] >= 19)"
"$hs" sweep study.ini 2>err.txt
rc=$?
[ "$rc" = 4 ] && grep -q "is being written by another sweep" err.txt ||
  fail "second sweep: exit $rc, want 4: $(cat err.txt)"
kill -TERM $pids
kill -CONT $pids
wait $job
[ $? = 3 ] || fail "the paced sweep did not stop with 3 after SIGTERM: $(cat sweep.err)"
# The rest, under mpirun (stderr a pipe, so plain lines) with --progress-interval: a line
# every 0.1 s whether a cell has finished or not, so the same cell count comes more than
# once (each cell is 4 prompts of at least 100 ms; rank 0 checks in between its prompts).
HS_TEST_PROMPT_PACE_MS=100 sweep 2 --progress-interval 0.1 || fail "the rest of the sweep: $(cat sweep.err)"
repeats=$(sed -n 's|^headsweep: \([0-9]*/[0-9]*\) cells, .*prompts/s.*|\1|p' sweep.err | uniq -d | wc -l)
[ "$repeats" -ge 1 ] || fail "no progress line between cells with --progress-interval 0.1: $(grep cells, sweep.err)"
"$hs" sweep study.ini --progress-interval 0 2>err.txt
[ $? = 2 ] && grep -q "progress-interval: '0' is not a number in" err.txt ||
  fail "--progress-interval 0: $(cat err.txt)"
# The same as the job key progress_interval (here for a slice of 6 cells into another file).
HS_TEST_PROMPT_PACE_MS=100 sweep 2 --set job.progress_interval=0.1 --cells 1/6 --out "$work/pi.h5" ||
  fail "progress_interval = 0.1: $(cat sweep.err)"
repeats=$(sed -n 's|^headsweep: \([0-9]*/[0-9]*\) cells, .*prompts/s.*|\1|p' sweep.err | uniq -d | wc -l)
[ "$repeats" -ge 1 ] || fail "no progress line between cells with progress_interval = 0.1: $(grep cells, sweep.err)"
"$hs" sweep study.ini --set job.progress_interval=0 2>err.txt
[ $? = 2 ] && grep -q "progress_interval = '0': expected a number in \[0.01, 86400\]" err.txt ||
  fail "progress_interval = 0: $(cat err.txt)"
"$hs" status results/study.h5 --json >s3.json || fail "status after the sweep: exit $?"
json_check s3.json 'd["cells"]["done"] == 36 and d["complete"] is True and d["lock"]["held"] is False'
# status --cells K/N counts a part's cells as the sweep divides them (whole work items): the
# same numbers as the dry run's, adding up to the study, all done in the complete file.
sum=0
for k in 1 2 3 4 5; do
  "$hs" status results/study.h5 --json --cells "$k/5" >sk.json || fail "status --cells $k/5: exit $?"
  "$hs" sweep study.ini --dry-run --json --cells "$k/5" >pk.json || fail "dry run --cells $k/5"
  want=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["cells_in_slice"])' pk.json)
  json_check sk.json "d['slice']['k'] == $k and d['slice']['total'] == $want and d['slice']['done'] == $want"
  [ $((want % 3)) = 0 ] || fail "part $k of 5 holds $want cells, not whole items of the 3 variants"
  sum=$((sum + want))
done
[ "$sum" = 36 ] || fail "the five parts hold $sum cells, not 36"
"$hs" status results/study.h5 --cells 6/5 2>err.txt
[ $? = 2 ] && grep -q "expected K/N" err.txt || fail "status --cells 6/5: $(cat err.txt)"

# ---- strings of a hostile shared file: no terminal escape reaches stdout ----
# The study text and last_git_describe with escape sequences (ESC ]0;...BEL sets the
# window title, ESC [31m colours): printed with every control character but the study's
# newlines as '?'. A study that is not UTF-8: --json names the file and the attribute.
cp results/study.h5 esc.h5 && cp results/study.h5 latin.h5
"$py" - <<'PY' || fail "making the hostile files"
import h5py, numpy as np
E = b"\x1b]0;PWNED-TITLE\x07\x1b[31;1mRED\x1b[0m"
def put(f, name, value, size=None):
    t = f.attrs.get_id(name).dtype if size else np.dtype("S%d" % len(value))
    v = np.zeros((), dtype=t); v[()] = value
    del f.attrs[name]; f.attrs.create(name, v, dtype=t)
with h5py.File("esc.h5", "r+") as f:
    put(f, "study", bytes(f.attrs["study"]) + b"zz = " + E + b"\n")
    put(f, "last_git_describe", b"v1" + E, size=True)
with h5py.File("latin.h5", "r+") as f:
    put(f, "study", bytes(f.attrs["study"]) + b"zz = caf\xe9\n")
PY
"$hs" status esc.h5 >esc.out 2>err.txt || fail "status of the file with escapes: $(cat err.txt)"
grep -q $'[\x01-\x08\x0b-\x1f\x7f]' esc.out && fail "status printed control characters: $(cat -v esc.out | tail -3)"
grep -qF 'zz = ?]0;PWNED-TITLE??[31;1mRED?[0m' esc.out && grep -qF 'last build  v1?]0;PWNED' esc.out ||
  fail "status of the file with escapes: $(cat -v esc.out)"
[ "$(grep -c '' esc.out)" -gt 10 ] || fail "the study text lost its newlines"
"$hs" status esc.h5 --json >esc.json || fail "status --json of the file with escapes"
"$py" -m json.tool esc.json >/dev/null || fail "status --json with escapes is not JSON"
grep -q $'\x1b' esc.json && fail "status --json printed a raw escape"
"$hs" status latin.h5 --json >/dev/null 2>err.txt
rc=$?
[ $rc = 2 ] && grep -qF "latin.h5: the root attribute study is not valid UTF-8" err.txt ||
  fail "status --json of a study that is not UTF-8: exit $rc: $(cat err.txt)"
echo "sweep_status: ok"
