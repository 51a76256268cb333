#!/usr/bin/env bash
# README's test command: installs the packages, builds, and runs the whole test suite twice —
# a plain build and an AddressSanitizer + UndefinedBehaviorSanitizer build — then the daemon's
# concurrency tests under ThreadSanitizer (the daemon instrumented too), the full soak and the
# fuzz targets. Each test that needs a KDC starts its own throwaway MIT realm on a free loopback
# port and stops it when it ends.
# Exits non-zero if anything fails. Needs root (package installation).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# The Debian root that the systemd test boots with systemd-nspawn (tests/systemd/nspawn_test.sh):
# debootstrap fetches it while the builds run; the test waits for it (or, if this failed, tries
# again and skips with the reason).
mkdir -p build
setsid ./scripts/nspawn-root.sh build/nspawn/base > build/nspawn-root.log 2>&1 &
nspawn_root=$!  # its own process group, debootstrap included; ended with this script
trap 'kill -- "-${nspawn_root}" 2> /dev/null || true' EXIT
for preset in default asan tsan; do
  ./scripts/build.sh "${preset}"
  echo "==> ctest --preset ${preset}"
  ctest --preset "${preset}"
done
# The soak at full size on the plain build: 64 callers, 1,000,000 calls (or 15 minutes), no error,
# handles back to 0, daemon RSS within 10% of warm-up (docs/reliability.md).
echo "==> soak"
build/default/tests/gssgate-soak --callers 64 --calls 1000000 --seconds 900
# The fuzz targets under libFuzzer, briefly (fresh realm and seeds; each target 30 s, then a leak
# check over what it found). Long runs: scripts/fuzz.sh SECONDS (docs/fuzzing.md).
./scripts/fuzz.sh 30
echo "==> all tests passed (default, asan, the tsan concurrency set), the soak passed and fuzzing found nothing"
