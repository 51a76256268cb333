#!/usr/bin/env bash
# The sandbox: a throwaway MIT realm on 127.0.0.1 (user `alice`, service `HTTP/localhost`, their
# keytabs mode 0600 root), gssgated serving it with a policy for the unprivileged user `nobody`,
# and, running as `nobody`, the demo (a full handshake and wrap/unwrap through the daemon with
# libgssgate) and the HTTP Negotiate examples (client/examples).
#
# Usage: deploy/sandbox/sandbox.sh BUILD_DIR [--serve]
#   --serve  keep the realm and daemon running after the demo until Ctrl-C (try your own calls)
#
# Everything lives in a fresh directory under ${TMPDIR:-/tmp}; Ctrl-C (or any exit) stops the
# daemon and the KDC and removes it. Needs root (the daemon reads root-only keytabs).
set -euo pipefail

build="${1:?usage: sandbox.sh BUILD_DIR [--serve]}"
serve="${2:-}"
minikdc="${build}/tests/gssgate-minikdc"
gssgated="${build}/daemon/gssgated"
demo="${build}/deploy/gssgate-demo"
negotiate_initiate="${build}/client/gssgate-negotiate-initiate"
negotiate_accept="${build}/client/gssgate-negotiate-accept"
for tool in "${minikdc}" "${gssgated}" "${demo}" "${negotiate_initiate}" "${negotiate_accept}"; do
  [ -x "${tool}" ] || { echo "sandbox: ${tool} not built (run scripts/build.sh)" >&2; exit 1; }
done
caller_user=nobody
caller_uid="$(id -u "${caller_user}")"

realm=GSSGATE.SANDBOX
state="$(mktemp -d "${TMPDIR:-/tmp}/gssgate-sandbox-XXXXXX")"
chmod 0755 "${state}"  # the socket inside must be reachable by the caller
kdc_pid=""
daemon_pid=""
stop() {
  local pid="$1" what="$2"
  if [ -n "${pid}" ] && kill -0 "${pid}" 2>/dev/null; then
    echo "==> stopping ${what}"
    kill -TERM "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  fi
}
cleanup() {
  trap - EXIT INT TERM
  stop "${daemon_pid}" gssgated
  stop "${kdc_pid}" "the sandbox KDC"
  rm -rf "${state}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # FILE NEEDLE PID WHAT
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "sandbox: $4 exited:" >&2; cat "$1" >&2; exit 1; }
    sleep 0.05
  done
  echo "sandbox: $4 not ready after 10 s:" >&2; cat "$1" >&2; exit 1
}

echo "==> sandbox realm ${realm} in ${state}"
"${minikdc}" --dir "${state}/realm" --realm "${realm}" \
  --user "alice:alice-sandbox-pw" --service "HTTP/localhost" \
  --keytab "${state}/http.keytab:HTTP/localhost" \
  --keytab "${state}/alice.keytab:alice" > "${state}/minikdc.log" 2>&1 &
kdc_pid=$!
wait_for "${state}/minikdc.log" "^ready" "${kdc_pid}" "the KDC"
cat "${state}/minikdc.log"
# shellcheck disable=SC1091
. "${state}/realm/env"
ls -l "${state}/http.keytab" "${state}/alice.keytab"

cat > "${state}/gssgated.toml" <<TOML
# Sandbox policy: ${caller_user} (uid ${caller_uid}) may initiate as alice and accept as
# HTTP/localhost, with keytabs it cannot read.
[daemon]
socket = "${state}/gssgate.sock"
socket_mode = "0666"

[[rule]]
name = "sandbox"
users = ["${caller_user}"]
usages = ["initiate", "accept"]
client_keytab = "${state}/alice.keytab"
keytab = "${state}/http.keytab"
principals = ["alice@${realm}", "HTTP/localhost@${realm}"]
TOML
echo "==> gssgated --check-config"
"${gssgated}" --check-config "${state}/gssgated.toml"
echo "==> starting gssgated (log: ${state}/gssgated.log)"
"${gssgated}" --config "${state}/gssgated.toml" > "${state}/gssgated.log" 2>&1 &
daemon_pid=$!
wait_for "${state}/gssgated.log" "serving on" "${daemon_pid}" "gssgated"

echo "==> as ${caller_user}: can it read the keytabs?"
for kt in "${state}/alice.keytab" "${state}/http.keytab"; do
  if setpriv --reuid="${caller_uid}" --regid="$(id -g "${caller_user}")" --clear-groups \
       test -r "${kt}"; then
    echo "   ${kt}: READABLE (unexpected)"; exit 1
  else
    echo "   ${kt}: no"
  fi
done
as_caller() {
  setpriv --reuid="${caller_uid}" --regid="$(id -g "${caller_user}")" --clear-groups \
    env GSSGATE_SOCKET="${state}/gssgate.sock" "$@"
}
echo "==> as ${caller_user}: handshake and wrap/unwrap through gssgated (libgssgate)"
as_caller "${demo}" --target HTTP@localhost
echo "==> the same over the wire socket (framed protobuf on SOCK_SEQPACKET, docs/wire.md)"
setpriv --reuid="${caller_uid}" --regid="$(id -g "${caller_user}")" --clear-groups \
  env GSSGATE_SOCKET="${state}/gssgate.wire" "${demo}" --target HTTP@localhost
echo "==> as ${caller_user}: HTTP Negotiate (SPNEGO) header for HTTP@localhost, then accepting it"
header="$(as_caller "${negotiate_initiate}" HTTP@localhost)"
echo "   ${header:0:72}..."
as_caller "${negotiate_accept}" "${header}" | sed 's/^/   /' | cut -c1-100
echo "==> the daemon's audit lines"
grep "audit" "${state}/gssgated.log" | sed 's/^/   /'
if [ "${serve}" = "--serve" ]; then
  echo "==> serving on ${state}/gssgate.sock and ${state}/gssgate.wire until Ctrl-C"
  wait "${daemon_pid}"
fi
echo "==> sandbox demo done"
