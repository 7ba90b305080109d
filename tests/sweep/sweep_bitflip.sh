#!/usr/bin/env bash
# sweep_bitflip.sh DRIVER N SEED: single bit flips at N offsets of two real results files
# (tests/sweep/test_bitflip.c says what is checked). The files are a tiny study made here by
# the headsweep under test (mkmodel --shape tiny, 4 prompts, 2 shards, 2 new tokens, 2
# variants of which one runs agency, 2 levels; the study of tests/fuzz/make_results_seeds.sh):
# one finished, one half done (--cells 1/2), so the flips always meet the current schema.
# Small on purpose: every reader reads every byte, thousands of times. The damaged copies go
# to /dev/shm when it is there (resume fsyncs every cell).
set -euo pipefail
driver=${1:?usage: sweep_bitflip.sh DRIVER N SEED}
n=${2:?N}
seed=${3:?SEED}
hs=${HS_HEADSWEEP:?HS_HEADSWEEP must name the headsweep binary}
py=${HS_PYTHON3:-/usr/bin/python3}
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/hs-bitflip-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$hs" mkmodel --shape tiny --seed 3 --out model 2>/dev/null
"$py" - <<'PY'
import json
words = "in the beginning god created the heaven and the earth and the earth was without form".split()
with open("prompts.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"id": f"p-{i}", "prompt": " ".join(words[i:i + 3]),
                            "reference": " " + " ".join(words[i + 3:i + 5])}) + "\n")
PY
cat >study.ini <<'INI'
[job]
model = model
prompts = prompts.jsonl
shards = 2
output = full.h5
variants = baseline, agency

[generation]
max_new_tokens = 2
seed = 1

[pruning]
strategy = random
levels = 0, 50
INI
"$hs" sweep study.ini --progress lines 2>sweep.err || { cat sweep.err >&2; exit 1; }
"$hs" sweep study.ini --out half.h5 --cells 1/2 --progress lines 2>sweep.err || { cat sweep.err >&2; exit 1; }
mkdir flips
"$driver" "$work/flips" full.h5 half.h5 "$n" "$seed"
