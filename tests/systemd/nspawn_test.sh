#!/usr/bin/env bash
# Issue 17, section 4: gssgated under a real systemd. Boots a Debian 12 root (scripts/nspawn-root.sh)
# with systemd as PID 1 under systemd-nspawn, with gssgate installed into it by `cmake --install`,
# and runs tests/systemd/nspawn_probe.sh inside as a unit once the system is up: socket
# activation by an unprivileged member of the gssgate group, Type=notify readiness, systemctl
# reload (and a broken file refused), the watchdog, systemctl stop releasing handles, the
# least-privilege drop-in, and `systemd-analyze security` of the running unit.
# Usage: nspawn_test.sh BUILD_DIR SOURCE_DIR
# Exit: 0 every check passed; 77 skipped (the reason is printed: not root, no systemd-nspawn or
# debootstrap, no Debian archive); 1 a check failed (the probe's results and journal are printed).
set -euo pipefail
build="$1"
source="$2"
# shellcheck source=tests/systemd/nspawn_common.sh
. "${source}/tests/systemd/nspawn_common.sh"

# One fixed place, emptied first: a run that ctest killed (SIGKILL: no trap) leaves nothing that
# the next run does not remove.
work="$(dirname "${base}")/run-systemd"
rm -rf --one-file-system "${work}"
mkdir -p "${work}"
boot_pid=""
cleanup() {
  if [ -n "${boot_pid}" ] && kill -0 "${boot_pid}" 2> /dev/null; then
    # timeout passes TERM on to systemd-nspawn, which powers the container off; KILL after 20 s.
    kill -TERM "${boot_pid}" 2> /dev/null || true
    wait "${boot_pid}" 2> /dev/null || true
  fi
  nspawn_unmount
  rm -rf --one-file-system "${work}"
}
trap cleanup EXIT

root="${work}/root"
cp -a "${base}" "${root}"
DESTDIR="${root}" cmake --install "${build}" --prefix /usr > "${work}/install.log"
chroot "${root}" /sbin/ldconfig
mkdir -p "${work}/probe/bin"
cp "${source}/tests/systemd/nspawn_probe.sh" "${work}/probe/probe.sh"
cp "${build}/tests/gssgate-test-caller" "${work}/probe/bin/"
chmod -R a+rX "${work}/probe"

# A keytab for the acceptor rule, made with MIT's own tools on a throwaway database (no KDC runs:
# acquiring acceptor credentials from a keytab needs none).
kdb="${work}/kdb"
mkdir -p "${kdb}"
cat > "${kdb}/kdc.conf" << KDC
[realms]
	GSSGATE.TEST = {
		database_name = ${kdb}/principal
		key_stash_file = ${kdb}/stash
	}
KDC
printf '[libdefaults]\n\tdefault_realm = GSSGATE.TEST\n' > "${kdb}/krb5.conf"
export KRB5_CONFIG="${kdb}/krb5.conf" KRB5_KDC_PROFILE="${kdb}/kdc.conf"
kdb5_util create -s -r GSSGATE.TEST -P "$(head -c 12 /dev/urandom | base64)" > /dev/null
mkdir -p "${root}/etc/gssgate"
kadmin.local -q "addprinc -randkey HTTP/localhost@GSSGATE.TEST" > /dev/null
kadmin.local -q "ktadd -k ${root}/etc/gssgate/http.keytab HTTP/localhost@GSSGATE.TEST" > /dev/null
unset KRB5_CONFIG KRB5_KDC_PROFILE
chmod 0600 "${root}/etc/gssgate/http.keytab"
cat > "${root}/etc/gssgate/gssgated.toml" << 'TOML'
[daemon]
socket = "/run/gssgate/gssgate.sock"
socket_mode = "0660"
socket_group = "gssgate"

[[rule]]
name = "alice"
users = ["alice"]
usages = ["accept"]
keytab = "FILE:/etc/gssgate/http.keytab"
TOML
# users = ["alice"] must resolve when gssgated starts; the probe adds alice before that, but
# `gssgated --check-config` at the first start runs then too. Nothing else names a user.

# The probe runs as a unit once the system is up, then powers the container off.
cat > "${root}/etc/systemd/system/gssgate-probe.service" << 'UNIT'
[Unit]
Description=gssgate probe (tests/systemd/nspawn_probe.sh)
After=multi-user.target
# The container powers off when the probe ends, however it ends.
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/probe/probe.sh
TimeoutStartSec=240
StandardOutput=journal+console
UNIT
mkdir -p "${root}/etc/systemd/system/default.target.wants"
ln -s /etc/systemd/system/gssgate-probe.service \
  "${root}/etc/systemd/system/default.target.wants/gssgate-probe.service"

nspawn_mount
echo "==> booting ${root} with systemd-nspawn"
timeout -k 20 300 systemd-nspawn -b -D "${root}" --register=no --keep-unit --private-network \
  --bind="${work}/probe:/probe" --console=pipe --machine="gssgate-probe-$$" \
  > "${work}/console.txt" 2>&1 < /dev/null &
boot_pid=$!
wait "${boot_pid}" || echo "systemd-nspawn exited with $?"
boot_pid=""

results="${work}/probe/results"
if [ ! -s "${results}" ]; then
  echo "the probe did not run; the container's console:"
  tail -n 60 "${work}/console.txt"
  exit 1
fi
cat "${results}"
if grep -q "^fail" "${results}" || ! grep -qx done "${results}"; then
  echo "==> the container's journal (gssgated and the probe)"
  grep -E "gssgate|probe" "${work}/probe/journal.txt" | tail -n 80 || tail -n 80 "${work}/console.txt"
  exit 1
fi
grep "Overall exposure" "${work}/probe/security.txt" || true
echo "nspawn test passed"
