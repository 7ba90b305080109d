#!/usr/bin/env bash
# setup.sh: installs headsweep's Debian dependencies (when missing) and builds it.
#   tools/setup.sh                 release build in build/
#   HS_BUILD_DIR=dir HS_CMAKE_ARGS="-DHS_SANITIZE=ON" tools/setup.sh   another build
# Works on a brand-new Debian 12 as root or with sudo; installs nothing when every
# package is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config git
  libopenblas-dev libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  libcmocka-dev libjansson-dev libssl-dev libpcre2-dev libinih-dev valgrind strace procps clang libclang-rt-14-dev
  python3 python3-numpy python3-h5py python3-regex gnuplot-nox nodejs npm
  slurm-wlm munge iproute2) # the slurm tests' clusters (tests/slurm: SLURM, munge, network namespaces)
# HS_TEST_PACKAGES: what only the tests need (tools/test.sh), kept out of the demo's set-up.
read -r -a extra <<<"${HS_TEST_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere (e.g. a NodeSource install): do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${HS_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${HS_BUILD_TYPE:-RelWithDebInfo} ${HS_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "setup: built $build/src/cli/headsweep" >&2
