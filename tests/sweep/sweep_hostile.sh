#!/usr/bin/env bash
# sweep_hostile.sh: results files crafted by hand (h5py) to crash the readers (issue 17)
# are refused by all four, resume, `headsweep merge`, headsweep-report and `headsweep
# status`, with exit 2 and a message naming the file: never a signal, a sanitizer report,
# a hang or a file changed. Each case is one that crashed or misled a reader before the shared schema
# check (src/results/results_check.c):
#   bigger-grid       the study text of the job, the grid of a larger study (resume overflowed)
#   long-dim, dim-2^32  a dimension scale declaring 2^31+5 or 2^32 entries (int truncation, hours of loops)
#   schema-array, study-array, runs-array  array-valued root attributes read as one value
#   occupancy-max, transitions-max  counters near INT64_MAX (summed past it)
#   done-7            a done flag of 7 (merge said "9180 of 36 cells done")
#   runs-max          runs = INT32_MAX (the next run number overflowed)
#   score-nan         a non-finite head score (the level's message named no file)
#   copies-200, copies-8, copies-text  a speed-copies value outside the HS_COPY_* bits and not
#                     the fill 255, and the dataset as 300-byte strings
#   chunk-huge        a dataset chunked in chunks larger than the dataset
# and output paths that are user mistakes: empty (read out of bounds), a directory (was
# "corrupt or truncated?"), under a regular file (was exit 1).
source "$(dirname "$0")/fixture.sh" "$1"
report=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}/analysis/headsweep-report

sweep 1 --out p.h5 --cells 1/2 || fail "first half: $(cat sweep.err)"
sweep 1 --out q.h5 --cells 2/2 || fail "second half: $(cat sweep.err)"
sed 's/^shards = 6/shards = 8/' study.ini >big.ini
"$hs" sweep big.ini --out big.h5 --cells 1/8 2>sweep.err || fail "bigger study: $(cat sweep.err)"

"$py" - <<'EOF' || fail "crafting the hostile files"
import shutil
import h5py
import numpy as np

def craft(name, edit, src="p.h5"):
    shutil.copy(src, f"{name}.h5")
    with h5py.File(f"{name}.h5", "r+") as f:
        edit(f)

def replace_scale(f, name, n):
    attrs = dict(f[name].attrs)
    del f[name]
    d = f.create_dataset(name, shape=(n,), dtype=np.int32, chunks=(1024,))
    for k in ("units", "long_name"):
        if k in attrs:
            d.attrs[k] = attrs[k]

def study_of_p(f):
    with h5py.File("p.h5", "r") as g:
        f.attrs["study"] = g.attrs["study"]

def setitem(path, value):
    def edit(f):
        d = f[path]
        idx = (0,) * d.ndim
        d[idx] = value
    return edit

craft("bigger-grid", study_of_p, src="big.h5")
craft("long-dim", lambda f: replace_scale(f, "new_token", 2**31 + 5))
craft("dim-2^32", lambda f: replace_scale(f, "shard", 2**32))
craft("schema-array", lambda f: f.attrs.__setitem__("schema_version", np.array([1, 1, 1, 1], dtype=np.int32)))
craft("study-array", lambda f: f.attrs.__setitem__("study", [f.attrs["study"].decode(), "x"]))
craft("runs-array", lambda f: f.attrs.__setitem__("runs", np.arange(64, dtype=np.int32)))
craft("runs-max", lambda f: f.attrs.__setitem__("runs", np.int32(2**31 - 1)))
craft("occupancy-max", setitem("agency/occupancy", 2**63 - 10))
craft("transitions-max", setitem("agency/transitions", 2**63 - 10))
craft("done-7", setitem("cells/done", 7))
craft("score-nan", setitem("heads/score", float("nan")))
craft("copies-200", setitem("cells/copies_used", 200))
craft("copies-8", setitem("cells/copies_requested", 8))

def copies_as_text(f):
    shape = f["cells/copies_used"].shape
    del f["cells/copies_used"]
    f.create_dataset("cells/copies_used", data=np.full(shape, b"x" * 300, dtype="S300"), chunks=shape,
                     fletcher32=True)
craft("copies-text", copies_as_text)

def huge_chunks(f):
    attrs = dict(f["metrics/hit_eot"].attrs)
    shape = f["metrics/hit_eot"].shape
    del f["metrics/hit_eot"]
    d = f.create_dataset("metrics/hit_eot", shape=shape, dtype=np.float64, chunks=(shape[0], shape[1], 4096),
                         maxshape=(None, None, None))
    for k, v in attrs.items():
        if k in ("units", "long_name", "timing", "_FillValue"):
            d.attrs[k] = v
craft("chunk-huge", huge_chunks)
EOF

# run CMD...: rc and err.txt; a signal (128+), a sanitizer report or a hang fails.
run() {
  timeout 60 "$@" >out.txt 2>err.txt
  rc=$?
  [ "$rc" -lt 124 ] || fail "$case ($reader): exit $rc (signal or hang): $(tail -n 5 err.txt)"
  if grep -q "Sanitizer\|runtime error" err.txt; then fail "$case ($reader): $(head -n 20 err.txt)"; fi
}

n=0
for case in bigger-grid long-dim dim-2^32 schema-array study-array runs-array runs-max occupancy-max \
  transitions-max done-7 score-nan chunk-huge copies-200 copies-8 copies-text; do
  for reader in resume merge report status; do
    cp "$case.h5" x.h5
    rm -rf m.h5 rep x.h5.lock
    sum=$(sha256sum <x.h5)
    case $reader in
      resume) run "$hs" sweep study.ini --out x.h5 ;;
      merge) run "$hs" merge m.h5 q.h5 x.h5 ;;
      report) run "$report" x.h5 --out rep --no-figures ;;
      status) run "$hs" status x.h5 --json ;;
    esac
    # The report and status read no grid from a job: the bigger grid is a valid file to them.
    if [ "$case" = bigger-grid ] && [ "$reader" != resume ]; then
      [ "$reader" != merge ] && { [ "$rc" = 0 ] || fail "$case ($reader): exit $rc: $(cat err.txt)"; }
      [ "$reader" = merge ] && { [ "$rc" = 2 ] || fail "$case (merge): exit $rc: $(cat err.txt)"; }
      continue
    fi
    [ "$rc" = 2 ] || fail "$case ($reader): exit $rc, want 2: $(cat err.txt)"
    grep -q "x.h5" err.txt || fail "$case ($reader): the message does not name the file: $(cat err.txt)"
    case $case in
      copies-*) grep -q "/cells/copies_" err.txt || fail "$case ($reader): not the dataset: $(cat err.txt)" ;;
    esac
    [ "$sum" = "$(sha256sum <x.h5)" ] || fail "$case ($reader): the file was changed"
    [ ! -e m.h5 ] || fail "$case ($reader): merge left an output"
    n=$((n + 1))
  done
done
# Output paths that are user mistakes: exit 2, one message, nothing created.
touch afile
mkdir adir
for out in "" adir afile/x.h5; do
  case=out-"$out" reader=sweep
  run "$hs" sweep study.ini --out "$out"
  [ "$rc" = 2 ] || fail "sweep --out '$out': exit $rc, want 2: $(cat err.txt)"
  case=out-"$out" reader=merge
  run "$hs" merge "$out" p.h5 q.h5
  [ "$rc" = 2 ] || fail "merge '$out': exit $rc, want 2: $(cat err.txt)"
done
run "$hs" sweep study.ini --out adir
grep -q "adir is a directory" err.txt || fail "sweep --out DIR: $(cat err.txt)"
grep -q "corrupt" err.txt && fail "sweep --out DIR still says corrupt: $(cat err.txt)"
for out in "" afile/rep; do
  case=report-out-"$out" reader=report
  run "$report" p.h5 --out "$out" --no-figures
  [ "$rc" = 2 ] || fail "headsweep-report --out '$out': exit $rc, want 2: $(cat err.txt)"
done
[ "$(ls adir)" = "" ] && [ ! -e afile.lock ] || fail "a refused output left files"
echo "sweep_hostile: ok ($n refusals with exit 2, and the output-path mistakes)"
