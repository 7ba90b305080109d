#!/usr/bin/env bash
# run_fuzz.sh TARGET SECONDS [libFuzzer options...]: fuzzes one target of tests/fuzz for
# SECONDS of wall time, at nice 19 (HS_FUZZ_NICE), from its working corpus plus the
# committed seeds, and prints executions, coverage (cov/ft from libFuzzer's last status line), CPU time
# and any crash. Builds the clang fuzz build first when needed.
#   TARGET   st_parse model_load config tokenizer_files tokenizer_roundtrip job prompts
#            scores results_check results_report (tests/fuzz/corpus/<TARGET>)
#   SECONDS  0 replays the corpus and the regression inputs once and stops
# Environment:
#   HS_FUZZ_BUILD  the build directory (default build-fuzz in the repository)
#   HS_FUZZ_WORK   the working corpus, where new inputs go (default
#                  $HS_FUZZ_BUILD/fuzz-corpus/TARGET; the committed seeds are never written)
#   HS_FUZZ_JOBS   parallel compile jobs for the build (default 2)
#   HS_FUZZ_HISTORY  where the run's line goes (default tests/fuzz/history.tsv, committed:
#                  the campaign's record outlasts build directories and machines)
#   HS_FUZZ_NICE   the fuzzer's niceness (default 19: a campaign in the background; 0
#                  when the CPU-hours themselves are the point on a shared machine)
# Crashes are saved in $HS_FUZZ_BUILD/fuzz-artifacts/TARGET/, logs in
# $HS_FUZZ_BUILD/fuzz-logs/. Exit status: libFuzzer's (0 when nothing was found).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -lt 2 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
target=$1 secs=$2
shift 2
seeds=$src/tests/fuzz/corpus/$target
if [ ! -d "$seeds" ]; then
  echo "run_fuzz: unknown target '$target' (no $seeds)" >&2
  exit 2
fi
case $secs in ''|*[!0-9]*) echo "run_fuzz: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;; esac

build=$(realpath -m "${HS_FUZZ_BUILD:-$src/build-fuzz}")
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    >/dev/null 2>&1; then
  echo "run_fuzz: clang with libFuzzer is needed (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 77
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "run_fuzz: configuring $build (clang, HS_FUZZ=ON)" >&2
  nice -n 19 cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DHS_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
fi
nice -n 19 cmake --build "$build" --target "fuzz_$target" -j"${HS_FUZZ_JOBS:-2}" \
  >"$build/fuzz-build-$target.log" 2>&1 ||
  { tail -n 40 "$build/fuzz-build-$target.log" >&2; exit 1; }
bin=$build/tests/fuzz/fuzz_$target
nice=${HS_FUZZ_NICE:-19}
case $nice in ''|*[!0-9]*) echo "run_fuzz: HS_FUZZ_NICE must be 0-19, not '$nice'" >&2; exit 2 ;; esac

work=$(realpath -m "${HS_FUZZ_WORK:-$build/fuzz-corpus/$target}")
art=$build/fuzz-artifacts/$target
logs=$build/fuzz-logs
mkdir -p "$work" "$art" "$logs"
log=$logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log
opts=(-print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 -timeout=60 -rss_limit_mb=2048
  "-artifact_prefix=$art/")
[ -f "$src/tests/fuzz/dict/$target.dict" ] && opts+=("-dict=$src/tests/fuzz/dict/$target.dict")
case $target in tokenizer_roundtrip) opts+=(-max_len=16384) ;; esac

export HS_SOURCE_DIR=$src OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# HDF5 (results_*) mallocs sizes read from the file before it can check them: ASan returns
# NULL for the absurd ones, as a release build's malloc does, and HDF5 reports an error.
# Its leak on a damaged header is suppressed (hdf5-lsan.supp), which needs whole stacks
# through the library's frames (fast_unwind_on_malloc=0).
asan=abort_on_error=1:detect_leaks=1:allocator_may_return_null=0
case $target in
  results_*) asan=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/fuzz/hdf5-lsan.supp} ;;
esac
export ASAN_OPTIONS=${ASAN_OPTIONS:-$asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

regress=()
if [ -d "$src/tests/fuzz/regressions/$target" ]; then
  while IFS= read -r -d '' f; do regress+=("$f"); done \
    < <(find "$src/tests/fuzz/regressions/$target" -type f ! -name '*.md' -print0 | sort -z)
fi

rc=0
cpu0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
start=$(date +%s)
if ((${#regress[@]})); then
  # Saved crashes first: each must now run clean.
  nice -n "$nice" "$bin" "${opts[@]}" "${regress[@]}" >"$log.regressions" 2>&1 || rc=$?
  if ((rc)); then
    echo "fuzz $target: a regression input crashes again (log $log.regressions):" >&2
    grep -E "ERROR|invariant|runtime error|Running:" "$log.regressions" | head -n 20 >&2
    exit "$rc"
  fi
  echo "fuzz $target: ${#regress[@]} regression input(s) replayed clean"
fi
if ((secs == 0)); then
  nice -n "$nice" "$bin" "${opts[@]}" -runs=0 "$work" "$seeds" "$@" >"$log" 2>&1 || rc=$?
else
  nice -n "$nice" "$bin" "${opts[@]}" -max_total_time="$secs" "$work" "$seeds" "$@" >"$log" 2>&1 || rc=$?
fi
wall=$(($(date +%s) - start))
cpu=$(awk -v t="$(getconf CLK_TCK)" -v c0="$cpu0" '{printf "%.0f", ($14 + $15 + $16 + $17 - c0) / t}' /proc/$$/stat)

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1 || true)
cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
result=ok
if ((rc == 72)); then
  # libFuzzer's -interrupted_exitcode: stopped by SIGINT/SIGTERM, nothing found
  result="interrupted (exit 72)"
elif ((rc)); then
  result="CRASH (exit $rc)"
fi
printf 'fuzz %s: %ss wall, %ss CPU, %s executions (%s/s), cov: %s ft: %s, corpus %s, peak RSS %s MB: %s\n' \
  "$target" "$wall" "$cpu" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$result"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$secs" "$wall" "$cpu" \
  "${execs:-}" "${cov:-}" "${ft:-}" "$result" >>"${HS_FUZZ_HISTORY:-$src/tests/fuzz/history.tsv}"
if ((rc)); then
  grep -E "^==[0-9]+==ERROR|fuzz invariant broken|runtime error|SUMMARY|^artifact_prefix|Test unit written" "$log" |
    head -n 20 >&2
  echo "run_fuzz: full log in $log" >&2
fi
exit "$rc"
