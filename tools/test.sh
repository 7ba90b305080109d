#!/usr/bin/env bash
# test.sh: builds and runs the whole test suite twice: a release build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build (slow reference tests are run in
# the release build only). Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# python3-torch: the independent references (numpy model vs torch, gate gradients vs
# autograd) run instead of skipping. udunits-bin, python3-xarray, python3-netcdf4,
# python3-h5netcdf: the results file's CF units and the documented xarray snippets
# (tests/sweep/sweep_netcdf.sh).
# -DHS_WERROR=ON: a warning fails the tests' builds (a user's build only warns).
HS_TEST_PACKAGES="python3-torch udunits-bin python3-xarray python3-netcdf4 python3-h5netcdf" \
  HS_CMAKE_ARGS="-DHS_WERROR=ON" tools/setup.sh
ctest --test-dir build --output-on-failure -j2 --timeout 1200
echo "test.sh: release build and tests done at ${SECONDS} s"

HS_BUILD_DIR=build-asan HS_BUILD_TYPE=Debug HS_CMAKE_ARGS="-DHS_SANITIZE=ON -DHS_WERROR=ON" tools/setup.sh
# LeakSanitizer on; tests/lsan.supp names what Open MPI's start-up and HDF5's error paths
# never free.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS="suppressions='$PWD/tests/lsan.supp'" \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2 --timeout 1200 -LE slow
echo "test.sh: sanitizer build and tests done at ${SECONDS} s"
