#!/usr/bin/env bash
# ctest FuzzTargetsReplaySeedsAndRegressions: records a fresh realm and seed corpora with
# gssgate-fuzz-seeds (a real KDC, stopped when the tool exits), then runs every fuzz target once on
# its seeds and on tests/fuzz/regressions/ (inputs that once crashed or hung a target). Proves the
# targets and their harness work in every build; the fuzzing itself is scripts/fuzz.sh.
set -euo pipefail
build="$1"
source="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/gssgate-fuzz-replay.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

"${build}/tests/fuzz/gssgate-fuzz-seeds" "${work}" "${source}"/deploy/*.toml \
  "${source}"/deploy/containers/*.toml
export GSSGATE_FUZZ_REALM="${work}/realm"
# Full malloc stacks, so tests/lsan.supp can match MIT frames in sanitizer builds.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0:allocator_may_return_null=1:max_allocation_size_mb=256"
for corpus in requests tokens policy wire; do
  target="${build}/tests/fuzz/gssgate-fuzz_${corpus}"
  count=$(find "${work}/seeds/${corpus}" -type f | wc -l)
  if [[ "${count}" -lt 1 ]]; then
    echo "no ${corpus} seeds were recorded" >&2
    exit 1
  fi
  inputs=("${work}/seeds/${corpus}")
  if [[ -d "${source}/tests/fuzz/regressions/${corpus}" ]]; then
    inputs+=("${source}/tests/fuzz/regressions/${corpus}")
  fi
  echo "==> ${target##*/}: ${count} seed(s) + regressions"
  "${target}" "${inputs[@]}"
done
echo "fuzz replay passed"
