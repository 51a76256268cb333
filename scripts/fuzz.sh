#!/usr/bin/env bash
# Fuzzes the daemon (issue 7): builds the libFuzzer targets (preset "fuzz": clang-14, ASan+UBSan),
# records a fresh realm and seed corpora with gssgate-fuzz-seeds (from the default build; a real KDC
# that stops when the tool exits), then runs each target for SECONDS (default 60).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      TARGET: requests tokens policy wire (default: all)
#   FUZZ_JOBS=N       parallel fuzzing processes per target (default 1)
#   FUZZ_CORPUS=DIR   keep the grown corpora in DIR/<target> across runs (default: a fresh dir)
# Crashes, leaks and sanitizer reports stop the run with the input saved under
# build/fuzz/artifacts/; add it to tests/fuzz/regressions/<target>/ with the fix (ctest replays it).
# Prints, per target, executions and the final corpus size; exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(requests tokens policy wire)

seeds_tool=build/default/tests/fuzz/gssgate-fuzz-seeds
if [[ ! -x "${seeds_tool}" ]]; then
  ./scripts/build.sh default
fi
./scripts/build.sh fuzz

work="$(pwd)/build/fuzz/run"
rm -rf "${work}"
mkdir -p "${work}" build/fuzz/artifacts
"${seeds_tool}" "${work}" deploy/*.toml deploy/containers/*.toml
export GSSGATE_FUZZ_REALM="${work}/realm"
# MIT krb5's own leak on a failed named acquisition (see the file) is not ours.
# allocator_may_return_null, max_allocation_size_mb: MIT's context deserializer (ImportContext)
# allocates lengths read from the token, up to 4 GiB; here such a request fails (MIT then returns
# ENOMEM) instead of being a report or exhausting the fuzzer's memory. In the daemon only rules
# with export_context reach that parser (docs/security.md).
fuzz_asan="allocator_may_return_null=1:max_allocation_size_mb=256:detect_leaks=0"
# Leaks are checked in a second pass over the grown corpus, with full stacks at malloc (Debian's
# libraries have no frame pointers, and a suppression must see the MIT frame it names); that
# unwinder is ten times slower, too slow for the fuzzing loop itself.
leak_asan="allocator_may_return_null=1:max_allocation_size_mb=256:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

total=0
for target in "${targets[@]}"; do
  corpus="$(realpath -m "${FUZZ_CORPUS:-${work}/corpus}/${target}")"
  mkdir -p "${corpus}"
  inputs=("${corpus}" "${work}/seeds/${target}")
  [[ -d "tests/fuzz/regressions/${target}" ]] && inputs+=("$(pwd)/tests/fuzz/regressions/${target}")
  log="${work}/${target}.log"
  echo "==> fuzz_${target}: ${seconds}s, ${FUZZ_JOBS:-1} job(s)"
  binary=build/fuzz/tests/fuzz/gssgate-fuzz_"${target}"
  common=(-timeout=20 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1
          -artifact_prefix="$(pwd)/build/fuzz/artifacts/${target}-")
  status=0
  parallel=()
  if [[ "${FUZZ_JOBS:-1}" -gt 1 ]]; then
    # libFuzzer writes one fuzz-N.log per job into the working directory: keep them in ${work}.
    parallel=(-jobs="${FUZZ_JOBS}" -workers="${FUZZ_JOBS}" -fork=0)
  fi
  (cd "${work}" && ASAN_OPTIONS="${fuzz_asan}" "${OLDPWD}/${binary}" "${common[@]}" \
    -max_total_time="${seconds}" -detect_leaks=0 "${parallel[@]}" "${inputs[@]}") \
    > "${log}" 2>&1 || status=$?
  stats=("${log}")
  if [[ ${#parallel[@]} -gt 0 ]]; then stats=("${work}"/fuzz-*.log); fi
  execs=$(grep -h "stat::number_of_executed_units" "${stats[@]}" | awk '{s += $2} END {print s + 0}')
  if [[ ${#parallel[@]} -gt 0 ]]; then cat "${stats[@]}" >> "${log}"; rm -f "${stats[@]}"; fi
  total=$((total + execs))
  if [[ ${status} -eq 0 ]]; then
    echo "    ${execs} executions; leak check over the corpus ($(find "${corpus}" -type f | wc -l) file(s))"
    ASAN_OPTIONS="${leak_asan}" "${binary}" "${common[@]}" -runs=0 -detect_leaks=1 \
      "${inputs[@]}" > "${log}.leaks" 2>&1 || status=$?
    cat "${log}.leaks" >> "${log}"
  fi
  if [[ ${status} -ne 0 ]]; then
    grep -v "^#\|^INFO\|^\[" "${log}" | tail -n 60
    echo "fuzz_${target}: FINDING after ${execs} executions (log: ${log}; input: build/fuzz/artifacts/)" >&2
    exit 1
  fi
  echo "    no crash, leak or sanitizer report"
done
echo "==> fuzzing passed: ${total} executions in all"
