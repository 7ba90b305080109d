#!/bin/sh
# cli_tokenize.sh: `headsweep tokenize` / `detokenize` on the fixture tokenizer (data/):
# ids, --no-special, --jsonl, round trip of arbitrary bytes, and exit code 2 with a
# "headsweep: ..." message for every kind of bad input.
set -u
HS=${HS_HEADSWEEP:?}
DATA=${HS_SOURCE_DIR:?}/tests/tokenizer/data
T=$(mktemp -d "${TMPDIR:-/tmp}/hs-tokcli-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
check() { # name expected actual
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2] got [$3]"; fails=$((fails + 1)); fi
}
# name expected-exit expected-message-fragment command...
check_error() {
    name=$1 want=$2 frag=$3
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    check "$name: exit code" "$want" "$rc"
    if grep -q "^headsweep: .*$frag" "$T/err"; then echo "ok   $name: message"; else
        echo "FAIL $name: stderr lacks 'headsweep: ...$frag': $(cat "$T/err")"; fails=$((fails + 1)); fi
}

check "tokenize" "259 266 267" "$(printf "hello world's" | "$HS" tokenize --model "$DATA")"
check "special" "256 276 256" "$(printf 'he<|endoftext|>he' | "$HS" tokenize --model "$DATA")"
check "no-special" "256 60 124" "$(printf 'he<|' | "$HS" tokenize --model "$DATA" --no-special)"
check "empty input" "" "$(printf '' | "$HS" tokenize --model "$DATA")"
check "jsonl" "$(printf '259\n\n256 276\n0 195 191\n')" \
    "$(printf '"hello"\n""\n"he<|endoftext|>"\n"\\u0000\\u00ff"\n' | "$HS" tokenize --model "$DATA" --jsonl)"
check "detokenize --ids" "hello world" "$("$HS" detokenize --model "$DATA" --ids "259 266")"
check "detokenize stdin" "hello world's" "$(echo "259 266
267" | "$HS" detokenize --model "$DATA")"

# Round trip of arbitrary bytes (invalid UTF-8 included), by file comparison.
i=0
for spec in '\377\376\000abc\303' 'he\377llo \303\251\n\n\t<|endoftext|>' '\355\240\200\364\220\200\200\300\257'; do
    printf "$spec" >"$T/in.$i"
    "$HS" tokenize --model "$DATA" <"$T/in.$i" | "$HS" detokenize --model "$DATA" >"$T/back.$i"
    if cmp -s "$T/in.$i" "$T/back.$i"; then
        echo "ok   round trip $i"
    else
        echo "FAIL round trip $i"; fails=$((fails + 1))
    fi
    i=$((i + 1))
done
head -c 65536 /dev/urandom >"$T/rand"
"$HS" tokenize --model "$DATA" <"$T/rand" | "$HS" detokenize --model "$DATA" >"$T/rand.back"
if cmp -s "$T/rand" "$T/rand.back"; then
    echo "ok   round trip random"
else
    echo "FAIL round trip random"; fails=$((fails + 1))
fi

"$HS" tokenize --help >"$T/help" 2>&1; check "tokenize --help exit" 0 $?
grep -q -- "--jsonl" "$T/help" && echo "ok   --help documents --jsonl" ||
    { echo "FAIL --help lacks --jsonl"; fails=$((fails + 1)); }
"$HS" detokenize --help >/dev/null 2>&1; check "detokenize --help exit" 0 $?

check_error "id out of range" 2 "277" "$HS" detokenize --model "$DATA" --ids "1 277"
check_error "id not a number" 2 "'abc' is not a token id" "$HS" detokenize --model "$DATA" --ids "1 abc"
check_error "negative id" 2 "'-1' is not a token id" sh -c "echo '-1' | \"$HS\" detokenize --model \"$DATA\""
check_error "missing model" 2 "vocab.json: cannot open" "$HS" tokenize --model "$T/nowhere"
check_error "no --model" 2 "--model DIR is required" "$HS" tokenize
check_error "unknown option" 2 "unknown option" "$HS" tokenize --model "$DATA" --frobnicate
check_error "jsonl not a string" 2 "stdin:2: expected one JSON string" \
    sh -c "printf '\"a\"\n[1]\n' | \"$HS\" tokenize --model \"$DATA\" --jsonl"
check_error "jsonl bad json" 2 "stdin:1:" sh -c "printf '\"a\n' | \"$HS\" tokenize --model \"$DATA\" --jsonl"
mkdir "$T/badmodel" && cp "$DATA/vocab.json" "$T/badmodel/" && printf 'a b c\n' >"$T/badmodel/merges.txt"
check_error "bad merges" 2 "merges.txt:1: expected two tokens" "$HS" tokenize --model "$T/badmodel"

if [ "$fails" -ne 0 ]; then echo "$fails failed"; exit 1; fi
echo "all passed"
