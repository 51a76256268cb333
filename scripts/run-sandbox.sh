#!/usr/bin/env bash
# README's run command: installs the packages, builds, brings up the sandbox realm (a real krb5kdc
# on loopback with alice and HTTP/localhost) and runs the demo on it, then tears it all down.
# Needs root (package installation).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh default
exec ./deploy/sandbox/sandbox.sh build/default
