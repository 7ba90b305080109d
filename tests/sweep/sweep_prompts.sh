#!/usr/bin/env bash
# sweep_prompts.sh: hostile prompt sets through `headsweep sweep` (docs/sweep.md, "Prompt
# files"), serially and on 2 ranks. Refused before any cell runs, with exit 2, file:line in
# the message and no output, lock or temporary file left: invalid UTF-8, a duplicate id,
# an empty prompt, a line that is not JSON, an id holding a control character (newline,
# tab, DEL: the results reader refuses them) or over 1024 bytes, a prompt whose reference or whose
# max_new_tokens would run past the model's context (n_positions = 128). Accepted: blank
# and whitespace-only lines (skipped; the numbers equal those of the file without them, and
# a later error still names its real line), an over-context prompt past max_prompts (never
# used), and 100,000 prompts (a study of 5,000 cells of which --cells computes 2).
source "$(dirname "$0")/fixture.sh" "$1"

sweep 1 --out ref.h5 || fail "reference sweep: $(cat sweep.err)"

# refused NAME FILE PATTERN [--set ...]: exit 2 on 1 and 2 ranks, PATTERN (file:line: ...)
# in the message, nothing left in results/.
refused() {
  local name=$1 file=$2 pattern=$3 n rc
  shift 3
  for n in 1 2; do
    rm -rf results
    sweep "$n" --set "job.prompts=$file" "$@"
    rc=$?
    [ "$rc" = 2 ] || fail "$name ($n ranks): exit $rc, want 2: $(cat sweep.err)"
    grep -q -- "$pattern" sweep.err || fail "$name ($n ranks): no message matching [$pattern]: $(cat sweep.err)"
    [ "$(grep -c "$pattern" sweep.err)" = 1 ] || fail "$name ($n ranks): the message is printed more than once"
    if grep -q "cells done\|computing .* head scores" sweep.err; then
      fail "$name ($n ranks): refused too late: $(cat sweep.err)"
    fi
    [ -z "$(ls -A results 2>/dev/null)" ] || fail "$name ($n ranks): left files: $(ls -A results)"
  done
  echo "  refused: $name: $(grep -o -- "$pattern.*" sweep.err | head -c 160)"
}

# line K TEXT: prompts.jsonl with line K replaced by TEXT (printf format).
line() { awk -v k="$1" -v t="$(printf "$2")" 'NR == k {print t; next} {print}' prompts.jsonl; }

line 5 '{"id": "bad-utf8", "prompt": "caf\351 au lait"}' >utf8.jsonl
refused "invalid UTF-8" utf8.jsonl "utf8.jsonl:5: invalid UTF-8 (byte 34 of the line)"
line 7 '{"id": "gen-2", "prompt": "a second gen-2"}' >dup.jsonl
refused "duplicate id" dup.jsonl 'dup.jsonl:7: duplicate id "gen-2" (first at line 3)'
line 9 '{"id": "empty", "prompt": ""}' >empty.jsonl
refused "empty prompt" empty.jsonl 'empty.jsonl:9: empty "prompt"'
line 4 '{"id": "cut", "prompt": "no end' >cut.jsonl
refused "not JSON" cut.jsonl "cut.jsonl:4: not valid JSON"
# Ids the results file's reader refuses (a control character: headsweep-report used to
# refuse the file after the whole study ran) or that are too long to store.
# line_raw K TEXT: line K replaced by TEXT as it is (JSON escapes stay escapes).
line_raw() { T="$2" awk -v k="$1" 'NR == k {print ENVIRON["T"]; next} {print}' prompts.jsonl; }
line_raw 8 '{"id": "c\nd", "prompt": "a newline in the id"}' >idnl.jsonl
refused "newline in an id" idnl.jsonl 'idnl.jsonl:8: "id" holds a control character (0x0a at byte 2 of the id)'
line_raw 3 '{"id": "tab\there", "prompt": "a tab in the id"}' >idtab.jsonl
refused "tab in an id" idtab.jsonl 'idtab.jsonl:3: "id" holds a control character (0x09 at byte 4 of the id)'
line_raw 2 '{"id": "del\u007f", "prompt": "a DEL in the id"}' >iddel.jsonl
refused "DEL in an id" iddel.jsonl 'iddel.jsonl:2: "id" holds a control character (0x7f at byte 4 of the id)'
line_raw 6 "{\"id\": \"$(head -c 1025 /dev/zero | tr '\0' x)\", \"prompt\": \"a long id\"}" >idlong.jsonl
refused "over-long id" idlong.jsonl 'idlong.jsonl:6: "id" is 1025 bytes long, over the limit of 1024'
"$hs" prompts check idnl.jsonl >check.out 2>&1 && fail "prompts check accepted a control character in an id"
grep -qF 'idnl.jsonl:8: "id" holds a control character' check.out || fail "prompts check: $(cat check.out)"
# Over the context of 128 tokens: a long reference; a prompt that leaves less than
# max_new_tokens = 32 positions.
words=$(printf 'and the earth %.0s' $(seq 60))
line 6 "{\"id\": \"long-ref\", \"prompt\": \"in the beginning\", \"reference\": \"$words\"}" >ref.jsonl
too_long="ref.jsonl:6: prompt long-ref needs .* reference), over the model.s context of 128"
refused "prompt + reference over the context" ref.jsonl "$too_long; shorten the prompt or its reference"
long=$(printf 'and the earth %.0s' $(seq 9)) # 108 tokens
line 24 "{\"id\": \"long-prompt\", \"prompt\": \"$long\"}" >gen.jsonl
refused "prompt + max_new_tokens over the context" gen.jsonl \
  "gen.jsonl:24: prompt long-prompt needs .* generated), over the model's context of 128"
# The same prompt fits when fewer tokens are generated.
sweep 1 --set job.prompts=gen.jsonl --set generation.max_new_tokens=4 --out "$work/short.h5" ||
  fail "a prompt that fits with max_new_tokens = 4 was refused: $(cat sweep.err)"

# Blank lines (empty, spaces, tabs, CR) anywhere: skipped, same numbers as without them,
# and the line numbers of later problems still count them.
"$py" - <<'EOF' || fail "writing blank.jsonl"
lines = open("prompts.jsonl").read().splitlines()
out = ["", "   "]
for i, l in enumerate(lines):
    out.append(l)
    if i % 5 == 0:
        out += ["", "\t", " \r"]
out += ["", ""]
open("blank.jsonl", "w").write("\n".join(out) + "\n")
EOF
for n in 1 2; do
  sweep "$n" --set job.prompts=blank.jsonl --out "$work/blank$n.h5" || fail "blank lines ($n ranks): $(cat sweep.err)"
  "$py" "$tool" compare --numbers-only ref.h5 "blank$n.h5" >/dev/null || fail "blank lines changed the numbers"
done
echo "  accepted: blank and whitespace-only lines (numbers equal the reference)"
badline=$(grep -n '"gen-9"' blank.jsonl | cut -d: -f1)
sed "${badline}s/\"gen-9\"/\"gen-1\"/" blank.jsonl >blank-dup.jsonl
refused "duplicate id after blank lines" blank-dup.jsonl "blank-dup.jsonl:$badline: duplicate id \"gen-1\""

# max_prompts with prompt_order = head: prompts past it are not used, so an over-context one
# there is accepted.
cat prompts.jsonl >tail.jsonl
echo "{\"id\": \"unused\", \"prompt\": \"$long\"}" >>tail.jsonl
sweep 1 --set job.prompts=tail.jsonl --set job.max_prompts=24 --set job.prompt_order=head --out "$work/tail.h5" ||
  fail "an over-context prompt past max_prompts was refused: $(cat sweep.err)"
"$py" "$tool" compare --numbers-only ref.h5 tail.h5 >/dev/null || fail "max_prompts: numbers differ"
echo "  accepted: an over-context prompt past max_prompts (not used)"

# max_prompts by default: a seeded sample in file order, another for another seed, named
# in the study; the over-context prompt is a book of its own, so the sample takes it.
for seed in 5 6; do
  sweep 1 --set job.max_prompts=12 --set job.prompt_seed=$seed --out "$work/s$seed.h5" ||
    fail "max_prompts sample (seed $seed): $(cat sweep.err)"
done
"$py" - "$work/s5.h5" "$work/s6.h5" <<'EOF' || fail "max_prompts: not a seeded sample"
import sys
import h5py
def ids(path):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in h5py.File(path, "r")["prompt"][...]]
a, b = ids(sys.argv[1]), ids(sys.argv[2])
head = [f"gen-{i}" for i in range(12)]
assert a != head and b != head and a != b, (a, b)
for x in (a, b):
    assert len(set(x)) == 12 and set(x) <= {f"gen-{i}" for i in range(24)}, x
    assert x == sorted(x, key=lambda s: int(s[4:])), x
study = h5py.File(sys.argv[1], "r").attrs["study"].decode()
study = study.decode() if isinstance(study, bytes) else str(study)
assert "prompt_order = sample\nprompt_seed = 5\n" in study, study
EOF
sweep 1 --set job.max_prompts=12 --set job.prompt_seed=5 --out "$work/s5b.h5" || fail "max_prompts sample again"
"$py" "$tool" compare --numbers-only "$work/s5.h5" "$work/s5b.h5" >/dev/null ||
  fail "max_prompts: a seed's sample differs"
sweep 1 --set job.prompts=tail.jsonl --set job.max_prompts=24 --out "$work/tail2.h5" &&
  fail "the sample left out the over-context prompt, a book of its own"
grep -q "unused needs" sweep.err || fail "the over-context sampled prompt: $(cat sweep.err)"
echo "  sampled: max_prompts = 12 of 24, seeded, in file order; an over-context prompt sampled is refused"

# The sample's rows of the prompt file: /prompts/file_index, /prompts/line and /prompts/book
# against the file read here (blank lines make line and index differ), the same rows in
# `sweep --dry-run --json` and its text; a resume whose rows differ from the file's is refused.
sample=(--set job.prompts=blank.jsonl --set job.max_prompts=12 --set job.prompt_seed=5)
sweep 1 "${sample[@]}" --out "$work/rows.h5" || fail "max_prompts sample of blank.jsonl: $(cat sweep.err)"
"$hs" sweep study.ini "${sample[@]}" --dry-run --json >rows.json || fail "dry run of the sample"
"$hs" sweep study.ini "${sample[@]}" --dry-run >rows.txt || fail "dry run of the sample (text)"
"$py" - "$work/rows.h5" rows.json rows.txt <<'EOF' || fail "the sample's rows"
import json, re, sys
import h5py
h = h5py.File(sys.argv[1], "r")
s = lambda x: x.decode() if isinstance(x, bytes) else str(x)
ids = [s(x) for x in h["prompt"][...]]
index, line = [int(x) for x in h["prompts/file_index"][...]], [int(x) for x in h["prompts/line"][...]]
book = [s(x) for x in h["prompts/book"][...]]
rows = [(n, json.loads(l)) for n, l in enumerate(open("blank.jsonl"), 1) if l.strip()]  # (line, prompt), file order
assert len(ids) == 12 and index == sorted(index) and len(set(index)) == 12, index
for i, k, n, b in zip(ids, index, line, book):
    assert rows[k][1]["id"] == i and rows[k][0] == n and b == re.sub(r"(-[0-9]+){1,2}$", "", i), (i, k, n, b)
assert any(n != k + 1 for k, n in zip(index, line)), "blank lines should make lines differ from indices"
d = json.load(open(sys.argv[2]))["sample"]
assert d["order"] == "sample" and d["seed"] == 5 and d["used"] == 12 and d["of"] == 24, d
assert d["books"] == [{"book": "gen", "count": 12}], d["books"]
assert [(p["id"], p["file_index"], p["line"], p["book"]) for p in d["prompts"]] == list(zip(ids, index, line, book))
text = open(sys.argv[3]).read()
assert "sample      sample, 12 of 24, prompt_seed 5; 1 book: gen 12\n" in text, text
assert "rows        " + ", ".join("%s (line %d)" % (i, n) for i, n in zip(ids, line)) + "\n" in text, text
EOF
cp "$work/rows.h5" "$work/rows2.h5"
"$py" -c 'import sys, h5py
with h5py.File(sys.argv[1], "r+") as h:
    v = h["prompts/line"][...]
    v[3] += 1
    h["prompts/line"][...] = v' "$work/rows2.h5" || fail "editing /prompts/line"
sweep 1 "${sample[@]}" --out "$work/rows2.h5" && fail "a resume with other prompt rows was accepted"
differ="and this run's sample of blank.jsonl hold different prompts:"
grep -q "rows2.h5 $differ prompt 3 (gen-[0-9]*): /prompts/line is [0-9]* vs [0-9]*" sweep.err ||
  fail "the refused resume: $(cat sweep.err)"
sweep 1 "${sample[@]}" --out "$work/rows.h5" || fail "a resume of the same sample: $(cat sweep.err)"
# The same rule (merge_rule.c) in `headsweep merge` and the report's multi-file reading: files
# of one study text whose /prompts rows differ (line, book, file_index) are refused naming both.
report=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}/analysis/headsweep-report
edit_rows() { # FILE DATASET: prompt 5's entry of /prompts/DATASET changed
  "$py" -c 'import sys, h5py
with h5py.File(sys.argv[1], "r+") as h:
    v = h["prompts/" + sys.argv[2]][...]
    v[5] = b"exo" if v.dtype.kind == "S" else v[5] + 1  # a book as long as "gen": the strings are fixed-length
    h["prompts/" + sys.argv[2]][...] = v' "$1" "$2" || fail "editing /prompts/$2 of $1"
}
for ds in line book file_index; do
  cp "$work/rows.h5" "$work/e-$ds.h5"
  edit_rows "$work/e-$ds.h5" "$ds"
  rm -f "$work/m.h5"
  "$hs" merge "$work/m.h5" "$work/rows.h5" "$work/e-$ds.h5" 2>merge.err && fail "merge with another /prompts/$ds"
  want="rows.h5 and $work/e-$ds.h5 hold different prompts: prompt 5 (gen-[0-9]*): /prompts/$ds is"
  grep -q -- "$want" merge.err || fail "merge with another /prompts/$ds: $(cat merge.err)"
  [ ! -e "$work/m.h5" ] || fail "merge with another /prompts/$ds left an output"
  "$report" "$work/rows.h5" "$work/e-$ds.h5" --out "rep-$ds" --no-figures --bootstrap 100 >/dev/null 2>report.err
  rc=$?
  [ "$rc" = 2 ] || fail "report of files with another /prompts/$ds: exit $rc, want 2: $(cat report.err)"
  grep -q -- "$want" report.err || fail "report of files with another /prompts/$ds: $(cat report.err)"
  echo "  refused (merge and report): another /prompts/$ds: $(grep -o 'hold different.*' merge.err | head -c 100)"
done
sweep 1 "${sample[@]}" --out "$work/e-book.h5" && fail "a resume with another /prompts/book was accepted"
grep -q "e-book.h5 $differ prompt 5 (gen-[0-9]*): /prompts/book is exo vs gen" sweep.err ||
  fail "the resume with another book: $(cat sweep.err)"
cp "$work/rows.h5" "$work/rows3.h5"
"$hs" merge "$work/m.h5" "$work/rows.h5" "$work/rows3.h5" 2>merge.err ||
  fail "merge of the same sample: $(cat merge.err)"
echo "  rows: /prompts/file_index, line and book match the prompt file, --dry-run shows them," \
  "resume, merge and the report check them"

# 100,000 prompts: 1 variant x 1 level x 5,000 shards of 20 prompts; --cells 1/2500
# computes cells 0 and 2500.
"$py" - <<'EOF' || fail "writing big.jsonl"
import json
words = "in the beginning god created the heaven and the earth and the earth was without form and void".split()
with open("big.jsonl", "w") as f:
    for i in range(100000):
        k = i % 12
        f.write(json.dumps({"id": f"p{i}", "prompt": " ".join(words[k:k + 4]), "reference": " " + words[k + 4]}) + "\n")
EOF
for n in 1 2; do
  t0=$(date +%s)
  sweep "$n" --set job.prompts=big.jsonl --set job.shards=5000 --set job.variants=baseline --set pruning.levels=50 \
    --set generation.max_new_tokens=4 --cells 1/2500 --out "$work/big$n.h5" ||
    fail "100,000 prompts ($n ranks): $(cat sweep.err)"
  secs=$(($(date +%s) - t0))
  grep -q "created, 0 of 5000 cells done; computing 2 cells (40 prompts)" sweep.err ||
    fail "100,000 prompts ($n ranks): wrong plan: $(cat sweep.err)"
  [ "$(cells_done "big$n.h5")" = 2 ] || fail "100,000 prompts: $(cells_done "big$n.h5") cells done, want 2"
  [ "$secs" -lt 120 ] || fail "100,000 prompts took $secs s"
done
"$py" - "$work/big1.h5" "$work/big2.h5" <<'EOF' || fail "100,000 prompts: files differ or the prompt axis is wrong"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert a["prompt"].shape == (100000,) and a["prompt"][99999] == b"p99999"
done = a["cells/done"][...].ravel()
assert list(np.nonzero(done)[0]) == [0, 2500]
for k in ("text/generated_ids", "metrics/distinct_1", "metrics/reference_perplexity"):
    assert np.array_equal(a[k][...], b[k][...], equal_nan=True), k
EOF
echo "  accepted: 100,000 prompts, 2 of 5,000 cells computed ($secs s on 2 ranks), same on 1 and 2 ranks"
echo "sweep_prompts: ok"
