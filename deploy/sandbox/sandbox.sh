#!/usr/bin/env bash
# The sandbox realm: a throwaway MIT realm on 127.0.0.1 with a user `alice` and a service
# `HTTP/localhost`, their keytabs (mode 0600), and the demo run against it.
#
# Usage: deploy/sandbox/sandbox.sh BUILD_DIR
#
# Everything lives in a fresh directory under ${TMPDIR:-/tmp}; Ctrl-C (or any exit) stops the KDC
# and removes it. Until gssgated lands the demo is the in-process handshake (gssgate-inproc-demo).
set -euo pipefail

build="${1:?usage: sandbox.sh BUILD_DIR}"
minikdc="${build}/tests/gssgate-minikdc"
demo="${build}/deploy/gssgate-inproc-demo"
for tool in "${minikdc}" "${demo}"; do
  [ -x "${tool}" ] || { echo "sandbox: ${tool} not built (run scripts/build.sh)" >&2; exit 1; }
done

realm=GSSGATE.SANDBOX
state="$(mktemp -d "${TMPDIR:-/tmp}/gssgate-sandbox-XXXXXX")"
kdc_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "${kdc_pid}" ] && kill -0 "${kdc_pid}" 2>/dev/null; then
    echo "==> stopping the sandbox KDC"
    kill -TERM "${kdc_pid}" 2>/dev/null || true
    wait "${kdc_pid}" 2>/dev/null || true
  fi
  rm -rf "${state}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> sandbox realm ${realm} in ${state}"
"${minikdc}" --dir "${state}/realm" --realm "${realm}" \
  --user "alice:alice-sandbox-pw" --service "HTTP/localhost" \
  --keytab "${state}/http.keytab:HTTP/localhost" \
  --keytab "${state}/alice.keytab:alice" > "${state}/minikdc.log" 2>&1 &
kdc_pid=$!
for _ in $(seq 1 200); do
  [ -f "${state}/realm/env" ] && break
  kill -0 "${kdc_pid}" 2>/dev/null || { cat "${state}/minikdc.log" >&2; exit 1; }
  sleep 0.05
done
[ -f "${state}/realm/env" ] || { echo "sandbox: realm not ready after 10 s" >&2; cat "${state}/minikdc.log" >&2; exit 1; }
cat "${state}/minikdc.log"
# shellcheck disable=SC1091
. "${state}/realm/env"
echo "==> principals: alice@${realm} (password, client keytab), HTTP/localhost@${realm} (keytab)"
ls -l "${state}/http.keytab" "${state}/alice.keytab"

echo "==> in-process handshake and wrap/unwrap through lib/ (gssgate::gss)"
"${demo}" --client "alice@${realm}" --client-keytab "${state}/alice.keytab" \
  --service "HTTP@localhost" --service-keytab "${state}/http.keytab"
echo "==> sandbox demo done"
