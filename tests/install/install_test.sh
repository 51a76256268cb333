#!/usr/bin/env bash
# Installs the build into a temporary prefix, starts the *installed* gssgated on a throwaway realm
# (gssgate-minikdc from the build tree), then builds a consumer program against the prefix twice —
# with CMake's find_package(gssgate) and with pkg-config — and runs each against that daemon: a full
# handshake and wrap/unwrap. Stops the daemon and the KDC and removes everything, also on failure.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/gssgate-install-XXXXXX")"
prefix="${work}/prefix"
kdc_pid=""
daemon_pid=""
cleanup() {
  for pid in "${daemon_pid}" "${kdc_pid}"; do
    if [ -n "${pid}" ] && kill -0 "${pid}" 2>/dev/null; then
      kill -TERM "${pid}" 2>/dev/null || true
      wait "${pid}" 2>/dev/null || true
    fi
  done
  rm -rf "${work}"
}
trap cleanup EXIT
wait_for() {  # FILE NEEDLE PID WHAT
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "$4 exited:"; cat "$1"; exit 1; }
    sleep 0.05
  done
  echo "$4 not ready after 10 s:"; cat "$1"; exit 1
}

echo "==> cmake --install into ${prefix}"
cmake --install "${build}" --prefix "${prefix}" > "${work}/install.log"
for f in sbin/gssgated bin/gssgate include/gssgate/gssgate.h etc/gss/mech.d/gssgate.conf; do
  [ -e "${prefix}/${f}" ] || { echo "missing ${f}"; cat "${work}/install.log"; exit 1; }
done
# The mech.d entry names the installed interposer module, which exists and exports only MIT's
# entry points.
module="$(awk '/^gssgate /{print $3}' "${prefix}/etc/gss/mech.d/gssgate.conf")"
[ -f "${module}" ] || { echo "the mech.d entry names ${module}, which is not installed"; exit 1; }
case "${module}" in "${prefix}"/*) ;; *) echo "${module} is outside ${prefix}"; exit 1;; esac
if nm -D --defined-only "${module}" | awk '{print $3}' | grep -v -e '^gss_mech_interposer$' -e '^gssi_'; then
  echo "the interposer exports more than gss_mech_interposer and gssi_*"; exit 1
fi
lib="$(find "${prefix}" -name 'libgssgate.so' | head -n 1)"
[ -n "${lib}" ] || { echo "libgssgate.so not installed"; exit 1; }
libdir="$(dirname "${lib}")"

echo "==> a sandbox realm and the installed gssgated"
"${build}/tests/gssgate-minikdc" --dir "${work}/realm" --user "alice:alice-install-pw" \
  --service "HTTP/localhost" --keytab "${work}/http.keytab:HTTP/localhost" \
  --keytab "${work}/alice.keytab:alice" > "${work}/minikdc.log" 2>&1 &
kdc_pid=$!
wait_for "${work}/minikdc.log" "^ready" "${kdc_pid}" "the KDC"
# shellcheck disable=SC1091
. "${work}/realm/env"
cat > "${work}/gssgated.toml" <<TOML
[daemon]
socket = "${work}/gssgate.sock"
[[rule]]
name = "consumer"
uids = [$(id -u)]
usages = ["initiate", "accept"]
client_keytab = "${work}/alice.keytab"
keytab = "${work}/http.keytab"
TOML
"${prefix}/sbin/gssgated" --config "${work}/gssgated.toml" > "${work}/gssgated.log" 2>&1 &
daemon_pid=$!
wait_for "${work}/gssgated.log" "serving on" "${daemon_pid}" "gssgated"
"${prefix}/bin/gssgate" --socket "${work}/gssgate.sock" status

echo "==> consumer via find_package(gssgate)"
cmake -S "${src}/tests/install/consumer" -B "${work}/cmake-build" \
  -DCMAKE_PREFIX_PATH="${prefix}" > "${work}/configure.log" 2>&1 ||
  { cat "${work}/configure.log"; exit 1; }
cmake --build "${work}/cmake-build" > "${work}/build.log" 2>&1 || { cat "${work}/build.log"; exit 1; }
"${work}/cmake-build/consumer" "${work}/gssgate.sock" "${work}/no-daemon.sock"

echo "==> consumer via pkg-config gssgate"
export PKG_CONFIG_PATH="${libdir}/pkgconfig"
# shellcheck disable=SC2046
c++ -o "${work}/pc-consumer" "${src}/tests/install/consumer/main.cc" \
  $(pkg-config --cflags --libs gssgate) -Wl,-rpath,"${libdir}"
"${work}/pc-consumer" "${work}/gssgate.sock"
grep -q "audit op=accept" "${work}/gssgated.log" || { echo "no accept audited:"; cat "${work}/gssgated.log"; exit 1; }
echo "==> install test passed"
