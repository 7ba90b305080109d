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
# a model directory that contradicts itself or Hugging Face's reading of it is refused at load
variant() { # variant NAME SED-SCRIPT FILE: a copy of m with FILE edited
  cp -r "$work/m" "$work/$1" && sed -i "$2" "$work/$1/$3"
}
variant inv 's/"n_head": 4,/"n_head": 4, "scale_attn_by_inverse_layer_idx": true,/' config.json
variant noscale 's/"n_head": 4,/"n_head": 4, "scale_attn_weights": false,/' config.json
variant llama 's/"model_type": "gpt2"/"model_type": "llama"/' config.json
variant layers 's/"n_layer": 2/"n_layer": 1/' config.json
variant untied 's/"n_head": 4,/"n_head": 4, "tie_word_embeddings": false,/' config.json
variant gap 's/"<|endoftext|>":1023/"<|endoftext|>":2000/' vocab.json
cp -r "$work/m" "$work/nan"
${HS_PYTHON3:-/usr/bin/python3} - "$work/nan/model.safetensors" <<'PY'
import json, struct, sys
with open(sys.argv[1], "r+b") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    begin = json.loads(f.read(n))["h.0.ln_1.weight"]["data_offsets"][0]
    f.seek(8 + n + begin + 4 * 3)
    f.write(struct.pack("<f", float("nan")))
PY
[ $? -eq 0 ] || { echo "FAIL: cannot write the NaN model"; fails=$((fails + 1)); }

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
expect 2 "config.json: \"scale_attn_by_inverse_layer_idx\": true is not supported" -- "$hs" info --model "$work/inv"
expect 2 "config.json: \"scale_attn_weights\": false is not supported" -- \
  "$hs" logits --model "$work/noscale" --ids "1 2"
expect 2 "config.json: \"model_type\": \"llama\" is not supported" -- "$hs" info --model "$work/llama"
expect 2 "model.safetensors: tensor h.1.attn.c_attn.bias belongs to layer 1, but config.json has n_layer 1" -- \
  "$hs" info --model "$work/layers"
expect 2 "model.safetensors: no tensor lm_head.weight, but config.json has tie_word_embeddings false" -- \
  "$hs" info --model "$work/untied"
expect 2 "model.safetensors: tensor h.0.ln_1.weight: value nan at index 3" -- \
  "$hs" generate --model "$work/nan" --prompt "the" --max-new 2
expect 2 "vocab.json: no token has id 1023, though ids run up to 2000" -- "$hs" tokenize --model "$work/gap"
expect 2 "exceed the context" -- "$hs" generate --model "$work/m" --prompt "$(printf 'abc %.0s' $(seq 1 200))" \
  --max-new 8
expect 2 "--temperature" -- "$hs" generate --model "$work/m" --prompt "hi" --temperature -1
expect 2 "--top-p" -- "$hs" generate --model "$work/m" --prompt "hi" --top-p 0
expect 2 "unknown shape" -- "$hs" mkmodel --shape huge --seed 1 --out "$work/x"
expect 2 "must both have tokens" -- "$hs" ppl --model "$work/m" --prompt "a b" --continuation ""
expect 2 "expected f32, bf16, int8 or w8a8" -- "$hs" logits --model "$work/m" --ids "1" --weights f16
expect 2 "--threads" -- "$hs" logits --model "$work/m" --ids "1" --threads 0
# the good paths work too (exit 0)
expect 0 "" -- "$hs" logits --model "$work/m" --ids "1 2 3"
expect 0 "generated" -- "$hs" generate --model "$work/m" --prompt "the quick brown fox" --max-new 5
expect 0 "" -- "$hs" generate --model "$work/m" --prompt "$(printf 'abc %.0s' $(seq 1 200))" --max-new 8 --truncate
expect 0 "" -- "$hs" ppl --model "$work/m" --prompt "a b c" --continuation " d e f"

# --threads never changes a number; --weights bf16 changes them a little.
"$hs" mkmodel --shape tiny --seed 5 --out "$work/t" 2>/dev/null
ids="$(seq -s ' ' 1 100)"
"$hs" logits --model "$work/t" --ids "$ids" >"$work/l1" &&
  "$hs" logits --model "$work/t" --ids "$ids" --threads 3 >"$work/l3" &&
  "$hs" logits --model "$work/t" --ids "$ids" --weights bf16 >"$work/lb" ||
  { echo "FAIL: logits runs"; fails=$((fails + 1)); }
if cmp -s "$work/l1" "$work/l3"; then
  passes=$((passes + 1))
else
  echo "FAIL: --threads 3 changed the logits"; fails=$((fails + 1))
fi
if paste "$work/l1" "$work/lb" | awk '{d = $1 - $2; d = d < 0 ? -d : d; if (d > m) m = d; if ($1 != $2) n++}
     END {exit !(n > 0 && m < 0.05)}'; then
  passes=$((passes + 1))
else
  echo "FAIL: bf16 logits not close to f32 (or identical)"; fails=$((fails + 1))
fi

# ---- one command-line style (cliopt.h): every command, the same options and wording ----
report=${HS_BINARY_DIR:?}/analysis/headsweep-report
[ -x "$report" ] || { echo "FAIL: no $report"; fails=$((fails + 1)); }
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# help_ok NAME cmd...: exit 0, a usage line and the exit codes on stdout, nothing on stderr.
help_ok() {
  local name=$1; shift
  "$@" >"$work/out" 2>"$work/err" </dev/null
  local rc=$?
  if [ "$rc" -eq 0 ] && grep -q "^usage: " "$work/out" && grep -q "^Exit status: .*0 .*2 bad input" "$work/out" &&
    [ ! -s "$work/err" ]; then
    ok
  else
    bad "$name: exit $rc, stdout: $(head -c 200 "$work/out") stderr: $(head -c 200 "$work/err")"
  fi
}
for cmd in info tokenize detokenize logits generate ppl mkmodel prompts "prompts check" "prompts shard" score sweep \
  merge status; do
  # shellcheck disable=SC2086
  set -- $cmd
  help_ok "$cmd -h" "$hs" "$@" -h
  help_ok "$cmd --help" "$hs" "$@" --help
  "$hs" "$@" --help >"$work/help1" 2>/dev/null
  if [ "$#" -eq 1 ]; then
    help_ok "help $cmd" "$hs" help "$cmd"
    "$hs" help "$cmd" >"$work/help2" 2>/dev/null
    cmp -s "$work/help1" "$work/help2" && ok || bad "headsweep help $cmd differs from $cmd --help"
  fi
  "$hs" "$@" --version >"$work/out" 2>"$work/err"
  rc=$?
  [ "$rc" -eq 0 ] && grep -q "^headsweep [0-9]" "$work/out" && ok ||
    bad "$cmd --version: exit $rc: $(cat "$work/out" "$work/err")"
  expect 2 "headsweep: $cmd: unknown option '--no-such-option'" -- "$hs" "$@" --no-such-option
  grep -qxF "see 'headsweep $cmd --help'" "$work/err" && ok || bad "$cmd: no --help hint: $(cat "$work/err")"
  expect 2 "headsweep: $cmd: option '--help' takes no value" -- "$hs" "$@" --help=yes
done
help_ok "headsweep --help" "$hs" --help
help_ok "headsweep help" "$hs" help
expect 2 "unknown command 'nope'" -- "$hs" help nope
# missing values and bad numbers: one wording, whatever the command
expect 2 "headsweep: info: option '--model' needs a value" -- "$hs" info --model
expect 2 "headsweep: prompts shard: option '--shards' needs a value" -- "$hs" prompts shard f --shards
expect 2 "headsweep: mkmodel: --seed: 'x' is not a non-negative integer" -- \
  "$hs" mkmodel --shape tiny --out "$work/y" --seed x
expect 2 "headsweep: score: --max-prompts: '0' is not an integer in [1, " -- \
  "$hs" score --model "$work/m" --strategy random --max-prompts 0
expect 2 "headsweep: generate: --top-p: '2' is not a number in [" -- \
  "$hs" generate --model "$work/m" --prompt hi --top-p 2
expect 2 "headsweep: logits: --prune-level: '101' is not a number in [0, 100]" -- \
  "$hs" logits --model "$work/m" --ids 1 --prune-level 101
expect 2 "headsweep: sweep: --progress: expected bar or lines" -- "$hs" sweep x.ini --progress fancy
expect 2 "headsweep: info: info takes no operands" -- "$hs" info --model "$work/m" extra
# --opt=VALUE works as --opt VALUE everywhere
expect 0 "" -- "$hs" info --model="$work/m"
# headsweep-report: the same layer
help_ok "report -h" "$report" -h
help_ok "report --help" "$report" --help
"$report" --version >"$work/out" 2>&1 && grep -q "^headsweep-report [0-9]" "$work/out" && ok ||
  bad "report --version: $(cat "$work/out")"
expect 2 "headsweep-report: unknown option '--no-such-option'" -- "$report" --no-such-option
grep -qxF "see 'headsweep-report --help'" "$work/err" && ok || bad "report: no --help hint: $(cat "$work/err")"
expect 2 "headsweep-report: option '--out' needs a value" -- "$report" x.h5 --out
expect 2 "headsweep-report: --seed: 'x' is not a non-negative integer" -- "$report" x.h5 --out "$work/r" --seed x

# ---- special files as inputs: refused as bad input (exit 2) naming the file, never a hang or an endless read ----
# Each run has a timeout (exit 124 fails the case): a FIFO without a writer used to block the open forever.
mkfifo "$work/fifo"
cat >"$work/job.ini" <<EOF2
[job]
model = $work/m
prompts = $work/p.jsonl
shards = 1
variants = baseline
[pruning]
strategy = magnitude
levels = 0
EOF2
echo '{"id": 1, "prompt": "the quick brown fox"}' >"$work/p.jsonl"
sed "s#^prompts = .*#prompts = $work/fifo#" "$work/job.ini" >"$work/fifo_prompts.ini"
sed "s#^prompts = .*#prompts = /dev/zero#" "$work/job.ini" >"$work/zero_prompts.ini"
expect 0 "" -- timeout 60 "$hs" sweep "$work/job.ini" --dry-run
expect 2 "fifo: is a FIFO (named pipe), not a regular file" -- timeout 20 "$hs" sweep "$work/fifo" --dry-run
expect 2 "fifo: is a FIFO (named pipe), not a regular file" -- timeout 20 "$hs" sweep "$work/fifo" --out "$work/x.h5"
expect 2 "$work: is a directory, not a regular file" -- timeout 20 "$hs" sweep "$work" --dry-run
expect 2 "fifo: is a FIFO" -- timeout 20 "$hs" sweep "$work/fifo_prompts.ini" --dry-run
expect 2 "fifo: is a FIFO" -- timeout 20 "$hs" sweep "$work/fifo_prompts.ini" --out "$work/x.h5"
expect 2 "/dev/zero: is a character device, not a regular file" -- \
  timeout 20 "$hs" sweep "$work/zero_prompts.ini" --dry-run
expect 2 "/dev/zero: is a character device" -- timeout 20 "$hs" prompts check /dev/zero
expect 2 "fifo: is a FIFO" -- timeout 20 "$hs" prompts check "$work/fifo"
expect 2 "fifo: is a FIFO" -- timeout 20 "$hs" score --model "$work/m" --prompts "$work/fifo" --strategy entropy
for f in config.json vocab.json merges.txt model.safetensors; do
  cp -r "$work/m" "$work/fifo_$f" && rm "$work/fifo_$f/$f" && mkfifo "$work/fifo_$f/$f"
  expect 2 "$f: is a FIFO" -- timeout 20 "$hs" generate --model "$work/fifo_$f" --prompt hi --max-new 1
done
expect 2 "fifo: is a FIFO" -- timeout 20 "$hs" status "$work/fifo"
expect 2 "status: the results file path is empty" -- "$hs" status ""
expect 2 "fifo: is a FIFO" -- timeout 20 "$hs" merge "$work/merged.h5" "$work/fifo"
expect 2 "fifo: not a regular file" -- timeout 20 "$report" "$work/fifo" --out "$work/rep"
# a model directory of symlinks still loads (users link models)
mkdir "$work/links" && for f in config.json vocab.json merges.txt model.safetensors; do
  ln -s "$work/m/$f" "$work/links/$f"; done
expect 0 "" -- timeout 60 "$hs" logits --model "$work/links" --ids "1 2"
# a FIFO where a results file's lock file goes: status reads no holder from it instead of hanging
printf '[generation]\nmax_new_tokens = 2\n' >>"$work/job.ini"
expect 0 "" -- timeout 120 "$hs" sweep "$work/job.ini" --out "$work/done.h5"
rm -f "$work/done.h5.lock" && mkfifo "$work/done.h5.lock"
expect 0 "" -- timeout 20 "$hs" status "$work/done.h5"

# A padded model (nanoGPT pads GPT-2's 50,257 ids to 50,304): 512 ids past the tokenizer's 1,024,
# with large embeddings so that their logits win. Generation samples among the tokenizer's ids
# only; it failed when it sampled a padded id (decoding: "not in the vocabulary").
cp -r "$work/m" "$work/padded"
python3 - "$work/padded" <<'PY' || { echo "FAIL: padding the model"; fails=$((fails + 1)); }
import json, random, struct, sys
d = sys.argv[1]
raw = open(d + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head, data = json.loads(raw[8:8 + n]), raw[8 + n:]
extra, rng, out, off = 512, random.Random(7), {}, 0
blobs = []
for name, t in sorted(((k, v) for k, v in head.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"]):
    b = data[t["data_offsets"][0]:t["data_offsets"][1]]
    if name.endswith("wte.weight"):
        b += struct.pack("<%df" % (extra * t["shape"][1]), *(rng.gauss(0, 2.0) for _ in range(extra * t["shape"][1])))
        t["shape"] = [t["shape"][0] + extra, t["shape"][1]]
    t["data_offsets"] = [off, off + len(b)]
    off += len(b)
    out[name] = t
    blobs.append(b)
txt = json.dumps(out).encode()
txt += b" " * (-len(txt) % 8)
open(d + "/model.safetensors", "wb").write(struct.pack("<Q", len(txt)) + txt + b"".join(blobs))
cfg = json.load(open(d + "/config.json"))
cfg["vocab_size"] += extra
json.dump(cfg, open(d + "/config.json", "w"))
PY
expect 0 "" -- timeout 60 "$hs" generate --model "$work/padded" --prompt "in the beginning" --max-new 16 \
  --temperature 1 --seed 3

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
