#!/usr/bin/env bash
# sweep_corrupt.sh: a results file damaged on disk is never used silently. A half-done
# file is truncated at 32 lengths and has single bits flipped in its superblock, object
# headers, dataset chunks and anywhere but the global heap (results_tool.py damage,
# seeded with HS_TEST_SEED, default 9: 76 copies); each
# copy goes to the three readers: resume (`headsweep sweep` on it), `headsweep merge` (with
# the other half) and headsweep-report. Each must either refuse (exit 2 or 1, a message naming
# the file, the file unchanged, no merge output left) or, where the damage hit bytes no
# reader uses, give exactly the numbers of the intact file. Never a signal or a hang.
# Truncations and flips in checksummed bytes (superblock, object headers, chunks) must be
# refused by resume and merge, which read every dataset when they open a file.
source "$(dirname "$0")/fixture.sh" "$1"
report=${HS_BINARY_DIR:?HS_BINARY_DIR must name the build directory}/analysis/headsweep-report
seed=${HS_TEST_SEED:-9}

sweep 1 --out ref.h5 || fail "reference sweep: $(cat sweep.err)"
sweep 1 --out p.h5 --cells 1/2 || fail "first half: $(cat sweep.err)"
sweep 1 --out q.h5 --cells 2/2 || fail "second half: $(cat sweep.err)"
cp p.h5 x.h5
"$report" x.h5 --out rep-intact --no-figures --bootstrap 200 >/dev/null 2>&1 ||
  fail "headsweep-report on the intact file"
"$py" "$tool" damage p.h5 dmg "$seed" >cases.txt || fail "making damaged copies"

# run CMD...: rc and err.txt; a signal (128+), a sanitizer report or a hang fails.
run() {
  timeout 120 "$@" >out.txt 2>err.txt
  rc=$?
  [ "$rc" -lt 124 ] || fail "$case ($reader): exit $rc (signal or hang): $(tail -n 5 err.txt)"
  if grep -q "Sanitizer\|runtime error" err.txt; then fail "$case ($reader): $(head -n 20 err.txt)"; fi
}

# refusal: exit 2 (1 where HDF5 reports damage as a plain read error), the damaged file
# named, nothing written.
check_refusal() {
  [ "$rc" = 2 ] || [ "$rc" = 1 ] || fail "$case ($reader): exit $rc, want 2 or 1 for a damaged file: $(cat err.txt)"
  grep -q "x.h5" err.txt || fail "$case ($reader): the message does not name the file: $(cat err.txt)"
  [ "$sum" = "$(sha256sum <x.h5)" ] || fail "$case ($reader): the damaged file was changed"
  [ ! -e m.h5 ] && [ -z "$(ls m.h5.tmp.* 2>/dev/null)" ] || fail "$case ($reader): merge left a file"
  refused=$((refused + 1))
}

# acceptance: only with the intact file's numbers, timing included (a chunk read as fill
# values would lose them).
check_accepted() {
  case $cls in truncated | superblock | header | chunk)
    [ "$reader" = report ] || fail "$case ($reader): accepted damage in checksummed bytes: $(cat err.txt)" ;;
  esac
  case $reader in
    resume)
      "$py" "$tool" compare ref.h5 x.h5 >/dev/null || fail "$case: resume used wrong numbers"
      "$py" "$tool" keeps p.h5 x.h5 >/dev/null ||
        fail "$case: resume lost values: $("$py" "$tool" keeps p.h5 x.h5 2>&1)" ;;
    merge)
      "$py" "$tool" compare ref.h5 m.h5 >/dev/null || fail "$case: merge used wrong numbers"
      "$py" "$tool" keeps p.h5 m.h5 >/dev/null ||
        fail "$case: merge lost values: $("$py" "$tool" keeps p.h5 m.h5 2>&1)" ;;
    report) diff -r rep-intact rep >/dev/null || fail "$case: the report differs from the intact file's" ;;
  esac
  accepted=$((accepted + 1))
}

refused=0 accepted=0 cases=0
while read -r case cls; do
  cases=$((cases + 1))
  for reader in resume merge report; do
    cp "dmg/$case.h5" x.h5
    rm -rf m.h5 rep x.h5.lock
    sum=$(sha256sum <x.h5)
    case $reader in
      resume) run "$hs" sweep study.ini --out x.h5 ;;
      merge) run "$hs" merge m.h5 x.h5 q.h5 ;;
      report) run "$report" x.h5 --out rep --no-figures --bootstrap 200 ;;
    esac
    if [ "$rc" = 0 ]; then check_accepted; else check_refusal; fi
  done
done <cases.txt
[ "$cases" -ge 70 ] || fail "only $cases damaged copies"
echo "sweep_corrupt: ok ($cases damaged copies x 3 readers: $refused refused," \
  "$accepted accepted with the intact numbers)"
