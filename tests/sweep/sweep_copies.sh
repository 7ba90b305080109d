#!/usr/bin/env bash
# sweep_copies.sh: the speed copies each cell's timings had (/cells/copies_requested,
# /cells/copies_used; docs/sweep.md, "Memory per rank"). A sweep whose head-major c_attn gives
# way for memory (HS_TEST_COPY_ENOMEM, the path a full node takes; test_model's
# test_copy_gives_way takes it with a real address-space cap) records it for the skip-mode
# cells, which read that copy, and not for the mask-mode ones, which do not; the report says
# how many cells ran without a copy and withholds the speed verdicts whose every pair mixes
# a cell with the copy and one without (baseline vs agency), as it does for run order; a
# comparison of two skip variants, both without it, keeps its verdict. A file without the
# two datasets (written before them) still reads, resumes and merges, as "not recorded".
source "$(dirname "$0")/fixture.sh" "$1"
report=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}/analysis/headsweep-report
sed -i 's/^max_new_tokens = .*/max_new_tokens = 8/' study.ini

sweep 1 --out full.h5 || fail "sweep with every copy: $(cat sweep.err)"
HS_TEST_COPY_ENOMEM=2 sweep 1 --out short.h5 || fail "sweep whose head-major copy gives way: $(cat sweep.err)"
grep -q "warning: out of memory (HS_TEST_COPY_ENOMEM) for head-major c_attn; going on without that copy" sweep.err ||
  fail "no warning on stderr: $(cat sweep.err)"
"$py" "$tool" check short.h5 || fail "schema check"
# on 2 ranks the copies travel with each cell to the writer (the wire header)
HS_TEST_COPY_ENOMEM=2 sweep 2 --out short2.h5 || fail "2 ranks whose head-major copy gives way: $(cat sweep.err)"
"$py" - <<'PY' || fail "2 ranks record other copies than 1"
import sys
import h5py
import numpy as np
with h5py.File("short.h5", "r") as a, h5py.File("short2.h5", "r") as b:
    for d in ("cells/copies_requested", "cells/copies_used"):
        if not np.array_equal(a[d][...], b[d][...]):
            sys.exit(f"{d}: {a[d][...].ravel()} vs {b[d][...].ravel()}")
    if len(set(b["cells/rank"][...].ravel())) < 2:
        print("sweep_copies: note: one rank computed every cell", file=sys.stderr)
PY
"$py" "$tool" compare --numbers-only full.h5 short.h5 || fail "a copy giving way changed a quality number"

"$py" - <<'PY' || fail "the copies are not recorded as documented"
import sys
import h5py
import numpy as np

def fail(msg):
    sys.exit("sweep_copies: " + msg)

HEAD_MAJOR, PANELS = 2, 4
for name, gave_way in (("full.h5", 0), ("short.h5", HEAD_MAJOR)):
    with h5py.File(name, "r") as f:
        req, used = f["cells/copies_requested"][...], f["cells/copies_used"][...]
        gating = [g.decode() for g in f["variant"].attrs["gating"]]
        if int(f["cells/copies_used"].attrs["_FillValue"]) != 255:
            fail(f"{name}: _FillValue of /cells/copies_used is not 255")
        for v, g in enumerate(gating):
            want = (HEAD_MAJOR if g == "skip" else 0) | (req[v] & PANELS)
            if not (req[v] == want).all():
                fail(f"{name}: variant {v} ({g}) requested {np.unique(req[v])}, want {want.ravel()[0]}")
            lost = req[v] & ~used[v]
            if not (lost == (gave_way if g == "skip" else 0)).all():
                fail(f"{name}: variant {v} ({g}) ran without {np.unique(lost)}")
PY

# headsweep status counts the done cells that ran without a copy (text and --json), by
# variant and level, as the file records them (the skip variants' cells in short.h5).
for f in full short; do
  "$hs" status $f.h5 >st-$f.txt || fail "status $f.h5: exit $?"
  "$hs" status $f.h5 --json >st-$f.json || fail "status $f.h5 --json: exit $?"
done
grep -qE "^copies +all [0-9]+ done cells with a record ran with the speed copies" st-full.txt ||
  fail "status of full.h5: $(grep copies st-full.txt)"
want="^copies +[1-9][0-9]* of [0-9]+ done cells with a record ran without a speed copy their rank asked for"
grep -qE "$want \(head-major c_attn [1-9]" st-short.txt ||
  fail "status of short.h5: $(grep copies st-short.txt)"
# no cell done yet (the done flags cleared): nothing to count
cp full.h5 none.h5
"$py" -c 'import h5py; f = h5py.File("none.h5", "r+"); f["cells/done"][...] = 0; f.close()' || fail "clearing done"
"$hs" status none.h5 >st-none.txt || fail "status of a file with no cell done: exit $?"
grep -qE "^copies +no done cell with a record yet$" st-none.txt || fail "status of none.h5: $(grep copies st-none.txt)"
"$py" - <<'PY' || fail "status --json copies"
import json, sys
import h5py
for name, gave_way in (("full", False), ("short", True)):
    d = json.load(open(f"st-{name}.json"))
    with h5py.File(f"{name}.h5", "r") as f:
        gating = [g.decode() for g in f["variant"].attrs["gating"]]
        names = [n.decode() for n in f["variant"][...]]
        lost = (f["cells/copies_requested"][...] & ~f["cells/copies_used"][...]) != 0
    c = d["copies"]
    want = int(lost.sum())
    if (want > 0) != gave_way or c != {"recorded": True, "without_copy": want, "not_recorded": 0,
                                        "without_by_copy": {"packed": 0, "head_major": want, "panels": 0}}:
        sys.exit(f"{name}: copies {c}, want {want} cells without the head-major copy")
    for row in d["by_variant_level"]:
        v = names.index(row["variant"])
        skip = gating[v] == "skip"
        if row["without_copy"] != (row["done"] if skip and gave_way else 0):
            sys.exit(f"{name}: {row}")
PY

"$report" full.h5 --out rep-full --no-figures --bootstrap 200 >/dev/null 2>report.err ||
  fail "report on the full file: $(cat report.err)"
grep -q "Speed copies: every timed cell ran with the speed copies its rank requested" rep-full/REPORT.md ||
  fail "REPORT.md does not say every cell had its copies"
grep -q "speed copies differ" rep-full/*.csv rep-full/REPORT.md && fail "a verdict withheld with every copy in use"
"$report" short.h5 --out rep-short --no-figures --bootstrap 200 >/dev/null 2>report.err ||
  fail "report on the file with a copy that gave way: $(cat report.err)"
want="Speed copies: \*\*96 of 144\*\* prompts' cells were timed without a speed copy their rank requested"
grep -q "$want (head-major c_attn)" rep-short/REPORT.md ||
  fail "REPORT.md does not count the cells without the copy: $(grep -i 'speed copies' rep-short/REPORT.md)"
"$py" - <<'PY' || fail "speed verdicts not withheld where the copies differ"
import csv, sys
rows = list(csv.DictReader(open("rep-short/comparisons.csv")))
speed = [r for r in rows if r["metric"] == "speed"]
if not speed:
    sys.exit("no speed rows in comparisons.csv")
for r in speed:
    mixed = {r["a"], r["b"]} == {"baseline", "agency"} or {r["a"], r["b"]} == {"baseline", "baseline-skip"}
    withheld = r["verdict"].startswith("no verdict: speed copies differ")
    if r["a"] != r["b"] and mixed and not withheld:
        sys.exit(f"{r['a']} vs {r['b']} at {r['level']}: verdict {r['verdict']!r}, want it withheld")
    if {r["a"], r["b"]} == {"agency", "baseline-skip"} and withheld:
        sys.exit(f"agency vs baseline-skip (both without the copy) withheld at {r['level']}")
PY

# A file from before the datasets: the same file without them reads as "not recorded",
# resumes (writing no copies) and merges.
sweep 1 --out old.h5 --cells 1/2 || fail "first half: $(cat sweep.err)"
"$py" - <<'PY' || fail "removing the datasets"
import h5py
with h5py.File("old.h5", "r+") as f:
    del f["cells/copies_requested"]
    del f["cells/copies_used"]
PY
"$report" old.h5 --out rep-old --no-figures --bootstrap 200 >/dev/null 2>report.err ||
  fail "report on a file without the copies: $(cat report.err)"
grep -q "Speed copies: \*\*not recorded\*\*" rep-old/REPORT.md || fail "REPORT.md on an old file"
"$hs" status old.h5 >st-old.txt || fail "status of a file without the copies: exit $?"
grep -qE "^copies +not recorded" st-old.txt || fail "status of old.h5: $(grep copies st-old.txt)"
"$hs" status old.h5 --json >st-old.json || fail "status --json of a file without the copies: exit $?"
"$py" -c 'import json; c = json.load(open("st-old.json"))["copies"]; exit(c["recorded"] is not False)' ||
  fail "status --json of old.h5: $(cat st-old.json)"
"$hs" merge merged.h5 full.h5 old.h5 2>merge.err || fail "merge of a new and an old file: $(cat merge.err)"
sweep 1 --out old.h5 || fail "resuming the old file: $(cat sweep.err)"
"$py" - <<'PY' || fail "the resumed old file"
import sys
import h5py
with h5py.File("old.h5", "r") as f:
    if "copies_used" in f["cells"] or not f["cells/done"][...].all():
        sys.exit("the resumed old file gained the datasets or is not complete")
PY
"$report" old.h5 --out rep-old2 --no-figures --bootstrap 200 >/dev/null 2>report.err ||
  fail "report on the resumed old file: $(cat report.err)"
"$report" old.h5 full.h5 --out rep-both --no-figures --bootstrap 200 >/dev/null 2>report.err ||
  fail "report on an old and a new file: $(cat report.err)"
echo "sweep_copies: ok"
