#!/usr/bin/env bash
# Runs the benchmark: installs packages (plus the bench's own: gssproxy for its comparison row,
# gnuplot-nox for the chart), builds the default (RelWithDebInfo) preset, then gssgate-bench on a
# throwaway realm, printing each row with its ratio and target and writing the chart.
# Usage: scripts/bench.sh [--seconds S] [--rounds N] [--handles N] [--connections N]
#                         [--chart FILE.png] [--json FILE] [--profile-noop SECONDS]
#                         [--profile-accept SECONDS] [--profile-module SECONDS]
#                         (default chart: build/bench/ratios.png)
# The full run (1,000,000 handles, 1,000 connections) takes about 16 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# Not in install-deps.sh: installing gssproxy enables its GSSAPI interposer module system-wide
# (/etc/gss/mech.d/proxymech.conf; inert unless GSS_USE_PROXY=yes), which the test suite does not
# need loaded into every process.
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gssproxy gnuplot-nox
./scripts/build.sh default
mkdir -p build/bench
echo "==> gssgate-bench $*"
build/default/tests/gssgate-bench --chart build/bench/ratios.png "$@"
