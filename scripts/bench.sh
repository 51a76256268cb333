#!/usr/bin/env bash
# Runs the benchmark: installs packages, builds the default (RelWithDebInfo) preset, then
# gssgate-bench on a throwaway realm, printing each row with its ratio and target.
# Usage: scripts/bench.sh [--seconds S] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh default
echo "==> gssgate-bench $*"
build/default/tests/gssgate-bench "$@"
