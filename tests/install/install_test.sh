#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs a consumer program against it
# twice: with CMake's find_package(gssgate) and with pkg-config. Removes everything it made.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/gssgate-install-XXXXXX")"
trap 'rm -rf "${work}"' EXIT
prefix="${work}/prefix"

echo "==> cmake --install into ${prefix}"
cmake --install "${build}" --prefix "${prefix}" > "${work}/install.log"
for f in sbin/gssgated include/gssgate/gssgate.h; do
  [ -e "${prefix}/${f}" ] || { echo "missing ${f}"; cat "${work}/install.log"; exit 1; }
done
libdir="$(dirname "$(find "${prefix}" -name 'libgssgate.so' | head -n 1)")"
[ -n "${libdir}" ] || { echo "libgssgate.so not installed"; exit 1; }

echo "==> consumer via find_package(gssgate)"
cmake -S "${src}/tests/install/consumer" -B "${work}/cmake-build" \
  -DCMAKE_PREFIX_PATH="${prefix}" > "${work}/configure.log" 2>&1 ||
  { cat "${work}/configure.log"; exit 1; }
cmake --build "${work}/cmake-build" > "${work}/build.log" 2>&1 || { cat "${work}/build.log"; exit 1; }
"${work}/cmake-build/consumer" "${work}/no-daemon.sock"

echo "==> consumer via pkg-config gssgate"
export PKG_CONFIG_PATH="${libdir}/pkgconfig"
# shellcheck disable=SC2046
c++ -o "${work}/pc-consumer" "${src}/tests/install/consumer/main.cc" \
  $(pkg-config --cflags --libs gssgate) -Wl,-rpath,"${libdir}"
"${work}/pc-consumer" "${work}/no-daemon.sock"
echo "==> install test passed"
