#!/usr/bin/env bash
# Issue 17, section 5: callers in containers made by a real container manager, systemd-nspawn,
# with a user namespace of their own (--private-users: uid 1000 inside is BASE+1000 on the host,
# and SO_PEERCRED tells gssgated the host uid) and nothing of the host but the containers socket's
# directory bound in. gssgated runs on the host with a host socket and a containers socket, each
# with its own rules, on a throwaway realm (gssgate-minikdc). Checks: a container caller is known by
# its host uid and gets the containers rule; it completes a Kerberos handshake through the daemon
# (keys only on the host); a container uid no rule names is refused, and so is one whose rule
# selects by executable (a process in its own user namespace never matches one) or by a cgroup
# the container is not in; a daemon restart
# while a container runs with the directory mounted is survived (its next call connects to the new
# socket). The client root is the Debian root of nspawn_test.sh with gssgate installed.
# Usage: nspawn_containers_test.sh BUILD_DIR SOURCE_DIR
# Exit: 0 passed; 77 skipped (reason printed); 1 failed (what was seen is printed).
set -euo pipefail
build="$1"
source="$2"
# shellcheck source=tests/systemd/nspawn_common.sh
. "${source}/tests/systemd/nspawn_common.sh"

# The container's uids 0..65535 are the host's BASE..BASE+65535 (a multiple of 65536 far above
# any real account).
userns_base=1868169216
alice_host_uid=$((userns_base + 1000))

# One fixed place, emptied first: a run that ctest killed leaves nothing the next does not remove.
work="$(dirname "${base}")/run-containers"
rm -rf --one-file-system "${work}"
mkdir -p "${work}"
kdc_pid=""
daemon_pid=""
container=""
stop() {  # PID: TERM, then KILL after 5 s
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2> /dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2> /dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2> /dev/null || true
}
cleanup() {
  stop "${container}"
  stop "${daemon_pid}"
  stop "${kdc_pid}"
  nspawn_unmount
  rm -rf --one-file-system "${work}"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; echo "==> gssgated's log"; tail -n 40 "${work}/gssgated.log"; exit 1; }
wait_for() {  # FILE NEEDLE PID WHAT
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2> /dev/null && return 0
    kill -0 "$3" 2> /dev/null || { cat "$1"; fail "$4 exited"; }
    sleep 0.05
  done
  cat "$1"; fail "$4 not ready after 10 s"
}

root="${work}/root"
cp -a "${base}" "${root}"
DESTDIR="${root}" cmake --install "${build}" --prefix /usr > "${work}/install.log"
chroot "${root}" /sbin/ldconfig
for uid in 1000 1001 1002 1003; do chroot "${root}" useradd -M -u "${uid}" "user${uid}"; done

# The realm, and gssgated on the host.
"${build}/tests/gssgate-minikdc" --dir "${work}/realm" --realm CONTAINERS.TEST \
  --user "alice:alice-containers-pw" --service HTTP/localhost \
  --keytab "${work}/http.keytab:HTTP/localhost" --keytab "${work}/alice.keytab:alice" \
  > "${work}/minikdc.log" 2>&1 &
kdc_pid=$!
wait_for "${work}/minikdc.log" "^ready" "${kdc_pid}" "the KDC"
# shellcheck disable=SC1091
. "${work}/realm/env"
mkdir -p "${work}/run"
cat > "${work}/gssgated.toml" << TOML
[daemon]
socket_mode = "0666"

[[listener]]
name = "host"
path = "${work}/run/gssgate.sock"
rules = ["host"]

[[listener]]
name = "containers"
path = "${work}/run/containers/gssgate.sock"
rules = ["pod", "pod-by-exe", "pod-by-cgroup"]

[[listener]]
name = "containers-wire"
path = "${work}/run/containers/gssgate.wire"
transport = "wire"
rules = ["pod", "pod-by-exe", "pod-by-cgroup"]

[[rule]]
name = "host"
uids = [0]
usages = ["initiate"]
client_keytab = "${work}/alice.keytab"

[[rule]]
name = "pod"
uids = [${alice_host_uid}]
usages = ["initiate", "accept"]
client_keytab = "${work}/alice.keytab"
keytab = "${work}/http.keytab"

[[rule]]
name = "pod-by-exe"
uids = [$((userns_base + 1002))]
executables = ["/usr/bin/gssgate"]
usages = ["initiate"]
client_keytab = "${work}/alice.keytab"

[[rule]]
name = "pod-by-cgroup"
uids = [$((userns_base + 1003))]
cgroups = ["/machine.slice/**"]
usages = ["initiate"]
client_keytab = "${work}/alice.keytab"
TOML
start_daemon() {
  "${build}/daemon/gssgated" --config "${work}/gssgated.toml" >> "${work}/gssgated.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 200); do
    [ "$(grep -c "serving on" "${work}/gssgated.log")" -ge "$1" ] && return 0
    kill -0 "${daemon_pid}" 2> /dev/null || fail "gssgated exited"
    sleep 0.05
  done
  fail "gssgated not serving after 10 s"
}
start_daemon 1

nspawn_mount
mkdir -p "${work}/probe"
chmod 0777 "${work}/probe"  # the container's users are host uids of its range
# Runs COMMAND in a fresh container as container uid UID: only the containers socket directory
# (at the client's default /run/gssgate) and a scratch directory are bound in.
in_container() {  # UID COMMAND...
  local uid="$1"; shift
  timeout -k 10 120 systemd-nspawn -D "${root}" --register=no --keep-unit --quiet \
    --private-users="${userns_base}:65536" --private-users-ownership=map --private-network \
    --bind-ro="${work}/run/containers:/run/gssgate" --bind="${work}/probe:/probe" \
    --user="user${uid}" -- "$@"
}

in_container 1000 /bin/true ||
  skip "systemd-nspawn cannot start a container with --private-users and idmapped mounts here"

echo "==> a container caller is known by its host uid and gets the containers rule"
who="$(in_container 1000 /usr/bin/gssgate --json whoami)" || fail "whoami in the container: ${who}"
echo "${who}"
grep -q "\"uid\": ${alice_host_uid}," <<< "${who}" || fail "not seen as host uid ${alice_host_uid}"
grep -q '"listener": "containers", "rule": "pod"' <<< "${who}" || fail "not the pod rule"

echo "==> a Kerberos handshake from the container, keys only on the host"
token="$(in_container 1000 /usr/bin/gssgate --json init HTTP@localhost)" || fail "init: ${token}"
b64="$(sed -n 's/.*"token": "\([^"]*\)".*/\1/p' <<< "${token}")"
[ -n "${b64}" ] || fail "no token in: ${token}"
accepted="$(in_container 1000 /usr/bin/gssgate --json accept "${b64}")" || fail "accept: ${accepted}"
echo "${accepted}"
grep -q '"complete": true, "initiator": "alice@CONTAINERS.TEST"' <<< "${accepted}" ||
  fail "the handshake did not complete"
# The container has no network (--private-network): the KDC it never reached was reached by
# gssgated, with keytabs that never left the host.

echo "==> container uids without a rule, or with a rule by executable, are refused"
refused="$(in_container 1001 /usr/bin/gssgate whoami 2>&1)" && fail "uid 1001 was served: ${refused}"
echo "${refused}"
grep -q "no policy rule for uid $((userns_base + 1001)) .* on listener \"containers\"" \
  <<< "${refused}" || fail "refusal does not name the host uid and the listener"
refused="$(in_container 1002 /usr/bin/gssgate whoami 2>&1)" && fail "uid 1002 was served: ${refused}"
echo "${refused}"
grep -q "user namespace" <<< "${refused}" || fail "refusal does not say the user namespace is why"
refused="$(in_container 1003 /usr/bin/gssgate whoami 2>&1)" && fail "uid 1003 was served: ${refused}"
echo "${refused}"
grep -q "no policy rule for uid $((userns_base + 1003)) (gid [0-9]*, cgroup /" <<< "${refused}" ||
  fail "refusal does not name the container's cgroup"

echo "==> a daemon restart while a container has the directory mounted"
in_container 1000 /bin/sh -c '
  /usr/bin/gssgate whoami > /probe/before.txt 2>&1; touch /probe/called
  for i in $(seq 600); do [ -e /probe/restarted ] && break; sleep 0.1; done
  /usr/bin/gssgate whoami > /probe/after.txt 2>&1' &
container=$!
for _ in $(seq 200); do [ -e "${work}/probe/called" ] && break; sleep 0.05; done
[ -e "${work}/probe/called" ] || fail "the container made no call"
stop "${daemon_pid}"
start_daemon 2
touch "${work}/probe/restarted"
wait "${container}" || true
container=""
grep -q "rule: *pod" "${work}/probe/before.txt" || fail "before: $(cat "${work}/probe/before.txt")"
grep -q "rule: *pod" "${work}/probe/after.txt" || fail "after: $(cat "${work}/probe/after.txt")"
echo "served before and after the restart, through the same mount"
grep -q "uid=${alice_host_uid} " "${work}/gssgated.log" || fail "no log line with the host uid"
echo "nspawn containers test passed"
