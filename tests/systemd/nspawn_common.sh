# Sourced by the nspawn tests (nspawn_test.sh, nspawn_containers_test.sh) after `build` and
# `source` are set: skips (exit 77, with the reason) where systemd-nspawn cannot run, and makes or
# reuses the Debian root they copy, `base` (scripts/nspawn-root.sh).
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, debootstrap)"
command -v systemd-nspawn > /dev/null || skip "no systemd-nspawn (apt-get install systemd-container)"
command -v debootstrap > /dev/null || skip "no debootstrap (apt-get install debootstrap)"
# Beside the build directories (root's, 0700: root runs programs of it), shared by the builds.
base="${GSSGATE_NSPAWN_BASE:-$(dirname "${build}")/nspawn/base}"
status=0
"${source}/scripts/nspawn-root.sh" "${base}" || status=$?
[ "${status}" = 2 ] && skip "Debian's archive is not reachable, so there is no Debian root to boot"
[ "${status}" = 0 ] || { echo "FAILED: scripts/nspawn-root.sh could not make ${base}"; exit 1; }
# Without systemd as the host's PID 1, systemd-nspawn needs a tmpfs on /run/systemd/nspawn (and
# --register=no --keep-unit; docs/stack-notes.md). Call before starting a container; the EXIT
# trap unmounts what this mounted (nspawn_unmount).
nspawn_mounted=0
nspawn_mount() {
  if [ ! -d /run/systemd/system ] && ! mountpoint -q /run/systemd/nspawn; then
    mkdir -p /run/systemd/nspawn
    mount -t tmpfs tmpfs /run/systemd/nspawn
    nspawn_mounted=1
  fi
}
nspawn_unmount() {
  [ "${nspawn_mounted}" = 1 ] && umount /run/systemd/nspawn 2> /dev/null || true
}
