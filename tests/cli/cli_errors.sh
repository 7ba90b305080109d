#!/usr/bin/env bash
# cli_errors.sh: bad input of every kind reaches the user as one clear message on
# stderr and exit code 2, never a crash (a signal or exit >= 128) and never exit 0.
set -u
hs=${HS_HEADSWEEP:?HS_HEADSWEEP must name the headsweep binary}
work=$(mktemp -d /tmp/hs-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0

# expect CODE NEEDLE -- command...: exit code and a stderr substring.
expect() {
  local want=$1 needle=$2; shift 3
  "$@" >"$work/out" 2>"$work/err" </dev/null
  local rc=$?
  if [ "$rc" -ne "$want" ] || { [ -n "$needle" ] && ! grep -qF -- "$needle" "$work/err"; }; then
    echo "FAIL: $* -> exit $rc (want $want), stderr: $(head -c 400 "$work/err") (want '$needle')"
    fails=$((fails + 1))
  else
    passes=$((passes + 1))
  fi
}

"$hs" mkmodel --shape tiny --seed 5 --out "$work/m" 2>/dev/null || { echo "mkmodel failed"; exit 1; }
cp -r "$work/m" "$work/trunc"
head -c 5000 "$work/m/model.safetensors" >"$work/trunc/model.safetensors"
cp -r "$work/m" "$work/nomerges" && rm "$work/nomerges/merges.txt"
cp -r "$work/m" "$work/badvocab" && echo '{"a": "x"}' >"$work/badvocab/vocab.json"
cp -r "$work/m" "$work/badcfg" && echo '{"n_embd": 64}' >"$work/badcfg/config.json"
mkdir -p "$work/empty"

expect 2 "unknown command" -- "$hs" frobnicate
expect 2 "required" -- "$hs" logits --ids "1 2"
expect 2 "config.json" -- "$hs" info --model "$work/nonexistent"
expect 2 "config.json" -- "$hs" info --model "$work/empty"
expect 2 "model.safetensors" -- "$hs" info --model "$work/trunc"
expect 2 "missing \"n_head\"" -- "$hs" info --model "$work/badcfg"
expect 2 "out of range" -- "$hs" logits --model "$work/m" --ids "1 99999"
expect 2 "not a token id" -- "$hs" logits --model "$work/m" --ids "1 x"
expect 2 "exceed the context" -- "$hs" logits --model "$work/m" --ids "$(seq -s ' ' 1 200)"
expect 2 "expected mask or skip" -- "$hs" logits --model "$work/m" --ids "1" --gating half
expect 2 "does not exist" -- "$hs" logits --model "$work/m" --ids "1" --heads-off "9.0"
expect 2 "LAYER.HEAD" -- "$hs" logits --model "$work/m" --ids "1" --heads-off "1-2"
expect 2 "merges.txt" -- "$hs" tokenize --model "$work/nomerges"
expect 2 "vocab.json" -- "$hs" tokenize --model "$work/badvocab"
expect 2 "exceed the context" -- "$hs" generate --model "$work/m" --prompt "$(printf 'abc %.0s' $(seq 1 200))" --max-new 8
expect 2 "--temperature" -- "$hs" generate --model "$work/m" --prompt "hi" --temperature -1
expect 2 "--top-p" -- "$hs" generate --model "$work/m" --prompt "hi" --top-p 0
expect 2 "unknown shape" -- "$hs" mkmodel --shape huge --seed 1 --out "$work/x"
expect 2 "must both have tokens" -- "$hs" ppl --model "$work/m" --prompt "a b" --continuation ""
expect 2 "expected f32 or bf16" -- "$hs" logits --model "$work/m" --ids "1" --weights f16
expect 2 "--threads" -- "$hs" logits --model "$work/m" --ids "1" --threads 0
# the good paths work too (exit 0)
expect 0 "" -- "$hs" logits --model "$work/m" --ids "1 2 3"
expect 0 "generated" -- "$hs" generate --model "$work/m" --prompt "the quick brown fox" --max-new 5
expect 0 "" -- "$hs" generate --model "$work/m" --prompt "$(printf 'abc %.0s' $(seq 1 200))" --max-new 8 --truncate
expect 0 "" -- "$hs" ppl --model "$work/m" --prompt "a b c" --continuation " d e f"

# --threads never changes a number; --weights bf16 changes them a little.
"$hs" mkmodel --shape tiny --seed 5 --out "$work/t" 2>/dev/null
ids="$(seq -s ' ' 1 100)"
"$hs" logits --model "$work/t" --ids "$ids" >"$work/l1" && "$hs" logits --model "$work/t" --ids "$ids" --threads 3 >"$work/l3" &&
  "$hs" logits --model "$work/t" --ids "$ids" --weights bf16 >"$work/lb" || { echo "FAIL: logits runs"; fails=$((fails + 1)); }
if cmp -s "$work/l1" "$work/l3"; then passes=$((passes + 1)); else echo "FAIL: --threads 3 changed the logits"; fails=$((fails + 1)); fi
if paste "$work/l1" "$work/lb" | awk '{d = $1 - $2; d = d < 0 ? -d : d; if (d > m) m = d; if ($1 != $2) n++}
     END {exit !(n > 0 && m < 0.05)}'; then passes=$((passes + 1)); else echo "FAIL: bf16 logits not close to f32 (or identical)"; fails=$((fails + 1)); fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
