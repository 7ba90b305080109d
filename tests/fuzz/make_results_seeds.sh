#!/usr/bin/env bash
# make_results_seeds.sh BUILD_DIR: writes the seeds of the results-file fuzz targets
# (tests/fuzz/corpus/results_check; corpus/results_report is a symbolic link to it): real
# sweep files of a tiny study (mkmodel --shape tiny, 4 prompts, 2 shards, 2 new tokens,
# 2 variants of which one runs agency, 2 levels), one complete and one half done
# (--cells 1/2), and a file written by h5py in the documented schema (make_fixture.py,
# its strings fixed-length as the readers require). Small on purpose: every byte is fuzzed.
set -euo pipefail
build=$(realpath "${1:?usage: make_results_seeds.sh BUILD_DIR}")
src=$(cd "$(dirname "$0")/../.." && pwd)
hs=$build/src/cli/headsweep
work=$(mktemp -d "${TMPDIR:-/tmp}/hs-seeds-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$hs" mkmodel --shape tiny --seed 3 --out model 2>/dev/null
"${HS_PYTHON3:-/usr/bin/python3}" - <<'PY'
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
HDF5_USE_FILE_LOCKING=FALSE "$hs" sweep study.ini --progress lines 2>sweep.err || { cat sweep.err >&2; exit 1; }
HDF5_USE_FILE_LOCKING=FALSE "$hs" sweep study.ini --out half.h5 --cells 1/2 --progress lines 2>sweep.err ||
  { cat sweep.err >&2; exit 1; }
"${HS_PYTHON3:-/usr/bin/python3}" "$src/tests/analysis/make_fixture.py" h5py.h5 \
  --variants baseline,agency --levels 0,50 --prompts 4 --shards 2 --layers 2 --heads 2 --max-new 2
seeds=$src/tests/fuzz/corpus/results_check
mkdir -p "$seeds"
cp full.h5 "$seeds/sweep-complete.h5"
cp half.h5 "$seeds/sweep-half.h5"
cp h5py.h5 "$seeds/h5py-fixture.h5"
ls -l "$seeds"
