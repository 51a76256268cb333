#!/usr/bin/env bash
# Configures and builds one CMake preset (default: "default"; "asan" for ASan+UBSan).
# Usage: scripts/build.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
echo "==> cmake --preset ${preset}"
cmake --preset "${preset}" > /dev/null
echo "==> cmake --build --preset ${preset} (-j2)"
cmake --build --preset "${preset}"
