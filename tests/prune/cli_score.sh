#!/bin/sh
# cli_score.sh: `headsweep score` and the shared pruning options end to end on a tiny
# random model: every strategy prints its table and order and writes a loadable scores
# file, bad input exits 2, and (once logits takes the pruning options) --prune-level with
# a scores file switches off the same heads as --heads-off with the first heads of the
# printed order, and 50% pruning really changes the logits.
# Exits 77 (skipped) while `score` is not wired into the headsweep command.
set -u
HS=${HS_HEADSWEEP:?HS_HEADSWEEP names the headsweep binary}
if ! "$HS" score --help >/dev/null 2>&1; then
    echo "headsweep score is not available yet: skipped"
    exit 77
fi
work=$(mktemp -d /tmp/hs-prune-cli-XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_rc() { want=$1; shift; "$@" >"$work/out" 2>"$work/err"; rc=$?
    [ "$rc" = "$want" ] || fail "exit $rc, want $want: $* ($(cat "$work/err"))"; }

"$HS" mkmodel --shape tiny --seed 1 --out "$work/m" 2>/dev/null || { echo "mkmodel failed"; exit 1; }
{
    echo '{"id": "a", "prompt": "In the beginning ", "reference": "God created the heaven and the earth."}'
    echo '{"id": "b", "prompt": "And the earth was without form, and void; ",' \
        '"reference": "and darkness was upon the face of the deep."}'
} >"$work/c.jsonl"

for s in entropy magnitude random ablation gradient taylor iterative; do
    expect_rc 0 "$HS" score --model "$work/m" --prompts "$work/c.jsonl" --strategy $s --out "$work/$s.json"
    cp "$work/out" "$work/$s.txt"
    grep -q "^# $s head scores" "$work/$s.txt" || fail "$s: no header"
    [ "$(grep -cE '^ +[01] ' "$work/$s.txt")" = 2 ] || fail "$s: table does not have 2 layer rows"
    grep -q "^pruning order" "$work/$s.txt" || fail "$s: no pruning order"
    grep -q "\"strategy\": \"$s\"" "$work/$s.json" || fail "$s: scores file lacks the strategy"
done
# magnitude and random need no prompts; the seed changes random
expect_rc 0 "$HS" score --model "$work/m" --strategy random --seed 5
grep -A1 "^pruning order" "$work/out" >"$work/r5"
grep -A1 "^pruning order" "$work/random.txt" >"$work/r0"
cmp -s "$work/r0" "$work/r5" && fail "random: seeds 0 and 5 give the same order"

expect_rc 2 "$HS" score --model "$work/m" --prompts "$work/c.jsonl"
expect_rc 2 "$HS" score --model "$work/m" --prompts "$work/c.jsonl" --strategy gates
expect_rc 2 "$HS" score --model "$work/m" --strategy entropy
expect_rc 2 "$HS" score --model "$work/m" --prompts "$work/c.jsonl" --strategy entropy --max-tokens 1
expect_rc 2 "$HS" score --model "$work/m" --strategy magnitude --bogus
expect_rc 0 "$HS" score --help
grep -q "^usage: headsweep score" "$work/out" || fail "--help prints no usage"
printf 'not json\n' >"$work/bad.jsonl"
expect_rc 2 "$HS" score --model "$work/m" --prompts "$work/bad.jsonl" --strategy entropy

# logits with the shared pruning options (skipped until logits accepts them)
if "$HS" logits --help 2>/dev/null | grep -q -- "--prune-level"; then
    ids="5 17 300 42 9 77 12"
    first4=$(grep -A1 "^pruning order" "$work/magnitude.txt" | tail -1 | cut -d: -f2 | awk '{print $1","$2","$3","$4}')
    expect_rc 0 "$HS" logits --model "$work/m" --ids "$ids"; cp "$work/out" "$work/full"
    expect_rc 0 "$HS" logits --model "$work/m" --ids "$ids" --prune-level 50 --scores "$work/magnitude.json"
    cp "$work/out" "$work/level"
    expect_rc 0 "$HS" logits --model "$work/m" --ids "$ids" --heads-off "$first4"; cp "$work/out" "$work/list"
    cmp -s "$work/level" "$work/list" || fail "--prune-level 50 --scores differs from --heads-off $first4"
    /usr/bin/python3 - "$work/full" "$work/level" <<'PY' || fail "50% pruning does not move the logits by > 1e-3"
import sys
a = [float(x) for x in open(sys.argv[1])]
b = [float(x) for x in open(sys.argv[2])]
sys.exit(0 if len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) > 1e-3 else 1)
PY
    expect_rc 2 "$HS" logits --model "$work/m" --ids "$ids" --prune-level 50 --heads-off 0.1
    expect_rc 2 "$HS" logits --model "$work/m" --ids "$ids" --prune-level 50 --scores "$work/magnitude.json" \
        --strategy entropy
else
    echo "logits does not take --prune-level yet: that part skipped"
fi

# A link planted at the old fixed temporary name (OUT.tmp) is never written through.
echo precious >"$work/victim"
ln -s "$work/victim" "$work/planted.json.tmp"
expect_rc 0 "$HS" score --model "$work/m" --strategy random --seed 5 --out "$work/planted.json"
[ "$(cat "$work/victim")" = precious ] && [ -f "$work/planted.json" ] && [ ! -L "$work/planted.json" ] &&
    [ -z "$(ls "$work" | grep '^planted.json.tmp.')" ] ||
    fail "score --out followed a planted link or left a temporary file"

# Output-path mistakes are bad input (exit 2) named as such, found before any scoring, and
# leave nothing behind (issue 17: they were exit 1, "cannot rename .tmp.XXXXXX to it").
echo text >"$work/plain"
mkdir -p "$work/adir"
for o in "" "$work/adir" "$work/plain/s.json" "$work/nodir/s.json"; do
    expect_rc 2 "$HS" score --model "$work/m" --prompts "$work/c.jsonl" --strategy ablation --out "$o"
    case "$o" in
    "") want="the output path is empty" ;;
    */adir) want="is a directory; give the output file's name" ;;
    *) want="cannot use .* as the directory of output file $o" ;;
    esac
    grep -q "^headsweep: .*$want" "$work/err" || fail "score --out '$o': message '$(cat "$work/err")'"
    grep -q "ablation" "$work/out" && fail "score --out '$o' scored before refusing the path"
done
[ -z "$(ls "$work" "$work/adir" | grep '\.tmp\.')" ] || fail "a refused --out left a temporary file"

[ "$fails" = 0 ] && echo "all checks passed"
[ "$fails" = 0 ]
