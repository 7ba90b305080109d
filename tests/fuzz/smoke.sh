#!/usr/bin/env bash
# smoke.sh: the `fuzz_smoke` CTest test. Runs every fuzz target for
# $HS_FUZZ_SMOKE_SECONDS (default 15) from its committed seed corpus, after replaying
# the target's saved crashes in tests/fuzz/regressions/, one target at a time at nice
# 19. The working corpus is a fresh directory per run, so the result does not depend on
# earlier campaigns. Exits 77 (CTest: skipped) when clang or libFuzzer is missing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${HS_FUZZ_SMOKE_SECONDS:-15}
export HS_FUZZ_BUILD=${HS_FUZZ_BUILD:-$here/../../build-fuzz}
mkdir -p "$HS_FUZZ_BUILD"
smoke=$(mktemp -d "${TMPDIR:-/tmp}/hs-fuzz-smoke-XXXXXX")
trap 'rm -rf "$smoke"' EXIT

failed=()
for dir in "$here"/corpus/*/; do
  t=$(basename "$dir")
  HS_FUZZ_WORK=$smoke/$t HS_FUZZ_HISTORY=$smoke/history.tsv bash "$here/run_fuzz.sh" "$t" "$secs"
  rc=$?
  if ((rc == 77)); then
    echo "fuzz_smoke: skipped: clang with libFuzzer is not installed" >&2
    exit 77
  fi
  ((rc == 0)) || failed+=("$t")
done
if ((${#failed[@]})); then
  echo "fuzz_smoke: FAILED: ${failed[*]} (artifacts in $HS_FUZZ_BUILD/fuzz-artifacts/)" >&2
  exit 1
fi
echo "fuzz_smoke: every target ran ${secs}s clean"
