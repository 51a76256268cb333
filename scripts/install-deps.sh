#!/usr/bin/env bash
# Installs every Debian 12 package gssgate needs to build, test and run its sandbox realm.
# Idempotent: packages already installed are left as they are. Needs root.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libkrb5-dev libspdlog-dev libtomlplusplus-dev
  # SHA-256 of callers' executables (executable_sha256 rules)
  libssl-dev
  # the C client of the wire protocol (client/wire/): no C++ runtime, no gRPC
  libprotobuf-c-dev protobuf-c-compiler
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing: clang-14 with libFuzzer and the sanitizer runtimes (scripts/fuzz.sh)
  clang-14 libclang-rt-14-dev
  # the real MIT KDC and tools the test realm runs (krb5kdc, kdb5_util, kadmin.local, kinit)
  krb5-kdc krb5-admin-server krb5-user
  # unmodified GSSAPI programs the interposer's tests run (gss-client, gss-server, python-gssapi,
  # curl --negotiate against Apache with mod_auth_gssapi)
  krb5-gss-samples python3-gssapi python3-parameterized curl apache2 libapache2-mod-auth-gssapi
  # systemd-analyze, systemd-socket-activate, systemd-sysusers/-tmpfiles and man for the unit tests
  systemd man-db
  # gssgated under a real systemd, and container callers: Debian roots run with systemd-nspawn
  # (tests/systemd/nspawn_*test.sh); the Kubernetes manifests' check (tests/deploy)
  systemd-container debootstrap python3-yaml
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get install needs it)" >&2
  exit 1
fi
echo "==> apt-get update"
apt-get update -q
echo "==> apt-get install ${packages[*]}"
# krb5-config asks for a default realm; the project never uses the host's realm, so no answer
# is needed and the frontend must not wait for one.
# Installing apache2 must not start it (it would listen on every address, port 80): the tests run
# their own Apache on 127.0.0.1. A policy-rc.d that refuses every start does that, for this install
# only, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "${policy}" ]; then
  printf '#!/bin/sh\nexit 101\n' > "${policy}"
  chmod 755 "${policy}"
  made_policy=1
fi
trap '[ "${made_policy}" = 1 ] && rm -f "${policy}"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
echo "==> packages ready"
