#!/bin/sh
# cli_prompts.sh: `headsweep prompts check` (every problem with file:line, summary, exit
# 0/2, context checks with --model and --max-new) and `headsweep prompts shard` (files,
# partition, byte-identical lines, reproducible). The model is the tokenizer fixture of
# tests/tokenizer/data plus a config.json with a context of 8 tokens.
set -u
HS=${HS_HEADSWEEP:?}
TOKDATA=${HS_SOURCE_DIR:?}/tests/tokenizer/data
T=$(mktemp -d "${TMPDIR:-/tmp}/hs-promptcli-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
expect_rc() { if [ "$2" = "$3" ]; then ok "$1: exit $2"; else bad "$1: exit $3, expected $2"; fi; }
expect_line() { # name pattern file
    if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1: no line matching [$2] in: $(cat "$3")"; fi
}

mkdir "$T/model"
cp "$TOKDATA/vocab.json" "$TOKDATA/merges.txt" "$T/model/"
printf '{"n_embd": 8, "n_head": 2, "n_layer": 1, "vocab_size": 277, "n_positions": 8}\n' >"$T/model/config.json"

# --- check: a clean file ---------------------------------------------------------
cat >"$T/good.jsonl" <<'JSONL'
{"id": "g1", "prompt": "hello", "reference": " world"}
{"id": 2, "prompt": "hello world hello"}

{"id": "g3", "prompt": "abc", "reference": "xyxy"}
JSONL
"$HS" prompts check "$T/good.jsonl" >"$T/out" 2>&1
expect_rc "check clean" 0 $?
expect_line "clean summary" "good.jsonl: 3 prompts, 2 with a reference, 0 problems" "$T/out"
expect_line "byte lengths without --model" "prompt bytes: min 3, median 5, max 17" "$T/out"
expect_line "blank line is a note" "good.jsonl:3: note: blank line (skipped)" "$T/out"
expect_line "blank lines counted" "0 problems, 1 blank line skipped" "$T/out"
expect_line "context not checked is said" "model context: not checked (give --model DIR" "$T/out"
"$HS" prompts check "$T/good.jsonl" --require-reference >"$T/out" 2>&1
expect_rc "check --require-reference" 2 $?
expect_line "missing reference is a problem" "good.jsonl:2: no \"reference\"" "$T/out"
expect_line "one problem" "good.jsonl: 3 prompts, 2 with a reference, 1 problem," "$T/out"
"$HS" prompts check "$T/good.jsonl" --model "$T/model" >"$T/out" 2>&1
expect_rc "check clean with model" 0 $?
expect_line "token lengths" "prompt tokens: min 1, median 2, max 4" "$T/out"
expect_line "reference tokens" "reference tokens: min 1, median 1.5, max 2" "$T/out"
expect_line "context" "model context: 8 tokens" "$T/out"

# --- check: every problem, in line order ---------------------------------------
printf '%s\n' \
    '{"id": "a", "prompt": "ok"}' \
    'not json' \
    '{"prompt": ""}' \
    '{"id": "a", "prompt": "again"}' \
    '{"id": "long", "prompt": "hello world world world world world", "reference": " world world world"}' \
    '[1]' >"$T/bad.jsonl"
printf '{"id": "u", "prompt": "caf\351"}\n' >>"$T/bad.jsonl"
"$HS" prompts check "$T/bad.jsonl" --model "$T/model" --max-new 4 >"$T/out" 2>&1
expect_rc "check problems" 2 $?
expect_line "line 2" "bad.jsonl:2: not valid JSON" "$T/out"
expect_line "line 3 id" "bad.jsonl:3: missing \"id\"" "$T/out"
expect_line "line 3 prompt" "bad.jsonl:3: empty \"prompt\"" "$T/out"
expect_line "line 4" "bad.jsonl:4: duplicate id \"a\" (first at line 1)" "$T/out"
expect_line "line 5 context" \
    "bad.jsonl:5: prompt (6 tokens) + reference (3 tokens) = 9 tokens, over the model's context of 8" "$T/out"
expect_line "line 5 max-new" "bad.jsonl:5: prompt (6 tokens) + --max-new 4 = 10 tokens" "$T/out"
expect_line "line 6" "bad.jsonl:6: expected a JSON object, found a JSON array" "$T/out"
expect_line "line 7" "bad.jsonl:7: invalid UTF-8" "$T/out"
expect_line "problem count" "bad.jsonl: 2 prompts, 1 with a reference, 8 problems" "$T/out"
order=$(grep -o '^[^ ]*bad.jsonl:[0-9][0-9]*' "$T/out" | sed 's/.*://' | tr '\n' ' ')
if [ "$order" = "2 3 3 4 5 5 6 7 " ]; then ok "line order"; else bad "line order: $order"; fi

"$HS" prompts check "$T/nope.jsonl" >"$T/out" 2>&1
expect_rc "check missing file" 2 $?
expect_line "missing file message" "^headsweep: .*nope.jsonl: cannot open" "$T/out"
"$HS" prompts check "$T/good.jsonl" --max-new 3 >"$T/out" 2>&1
expect_rc "--max-new without --model" 2 $?
"$HS" prompts check "$T/good.jsonl" --model "$T/nomodel" >"$T/out" 2>&1
expect_rc "check missing model" 2 $?
"$HS" prompts --help >"$T/out" 2>&1
expect_rc "prompts --help" 0 $?
"$HS" prompts frob >"$T/out" 2>&1
expect_rc "unknown subcommand" 2 $?

# --- shard ---------------------------------------------------------------------
i=0
: >"$T/ten.jsonl"
while [ $i -lt 10 ]; do
    printf '{"id": "p%d",   "prompt": "text %d"}\n' $i $i >>"$T/ten.jsonl"
    [ $i -eq 4 ] && printf '\n' >>"$T/ten.jsonl"
    i=$((i + 1))
done
"$HS" prompts shard "$T/ten.jsonl" --shards 3 --out-dir "$T/shards" >"$T/out" 2>&1
expect_rc "shard" 0 $?
counts=""
for k in 0 1 2; do counts="$counts$(wc -l <"$T/shards/ten.shard-$k-of-3.jsonl" | tr -d ' ') "; done
if [ "$counts" = "4 3 3 " ]; then ok "shard sizes"; else bad "shard sizes: $counts"; fi
if [ "$(sed -n 2p "$T/shards/ten.shard-1-of-3.jsonl")" = '{"id": "p4",   "prompt": "text 4"}' ]; then
    ok "shard 1 holds prompts 1, 4, 7 with lines unchanged"; else bad "shard 1 content"; fi
cat "$T"/shards/ten.shard-*-of-3.jsonl | sort >"$T/union"
grep -v '^$' "$T/ten.jsonl" | sort >"$T/orig"
if cmp -s "$T/union" "$T/orig"; then ok "shards partition the file"; else bad "shards do not partition the file"; fi
cp -r "$T/shards" "$T/shards.first"
"$HS" prompts shard "$T/ten.jsonl" --shards 3 --out-dir "$T/shards" >/dev/null 2>&1
if diff -r "$T/shards" "$T/shards.first" >/dev/null; then
    ok "shard is reproducible"
else
    bad "shard output changed"
fi
# More shards than prompts: an empty shard is an empty prompt file, which a sweep refuses.
"$HS" prompts shard "$T/ten.jsonl" --shards 12 --out-dir "$T/many" >"$T/out" 2>&1
expect_rc "more shards than prompts" 2 $?
expect_line "more shards than prompts message" "ten.jsonl: 10 prompts cannot fill 12 shards.*--shards 10 or fewer" \
    "$T/out"
if [ ! -e "$T/many" ]; then ok "nothing written for more shards than prompts"; else bad "wrote $T/many"; fi
"$HS" prompts shard "$T/bad.jsonl" --shards 2 --out-dir "$T/s2" >"$T/out" 2>&1
expect_rc "shard of a bad file" 2 $?
expect_line "shard bad file message" "^headsweep: .*bad.jsonl:2: not valid JSON" "$T/out"
"$HS" prompts shard "$T/ten.jsonl" --shards 0 --out-dir "$T/s0" >"$T/out" 2>&1
expect_rc "--shards 0" 2 $?
"$HS" prompts shard "$T/ten.jsonl" --shards 2 --out-dir "" >"$T/out" 2>&1
expect_rc "--out-dir \"\"" 2 $?
expect_line "--out-dir \"\" message" "^headsweep: the output directory path is empty" "$T/out"

# A link planted at the old fixed temporary name (OUT.tmp) is never written through.
echo precious >"$T/victim"
mkdir -p "$T/s3" && ln -s "$T/victim" "$T/s3/ten.shard-0-of-2.jsonl.tmp"
"$HS" prompts shard "$T/ten.jsonl" --shards 2 --out-dir "$T/s3" >"$T/out" 2>&1
expect_rc "shard beside a planted .tmp link" 0 $?
if [ "$(cat "$T/victim")" = precious ] && [ -f "$T/s3/ten.shard-0-of-2.jsonl" ] &&
    [ ! -L "$T/s3/ten.shard-0-of-2.jsonl" ] &&
    [ -z "$(ls "$T/s3" | grep -v '^ten.shard-[01]-of-2.jsonl\(.tmp\)\?$')" ]; then
    ok "shard writes through a unique temporary name"
else
    bad "shard followed a planted link or left a temporary file"
fi

if [ "$fails" -ne 0 ]; then echo "$fails failed"; exit 1; fi
echo "all passed"
