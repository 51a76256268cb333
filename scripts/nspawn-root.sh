#!/usr/bin/env bash
# Makes the Debian 12 root that tests/systemd/nspawn_test.sh boots with systemd-nspawn (and
# nspawn_containers_test.sh runs containers of): debootstrap minbase with systemd, dbus, procps
# and the shared libraries gssgated and the gssgate command load (the tests install gssgate into
# copies with `cmake --install`). Downloads from Debian's archive: about a minute here.
# Idempotent and safe to run twice at once: a finished root (DIR/.complete) is left as it is, and
# a second run waits for the first (flock). scripts/test.sh starts it in the background before the
# builds, so the download overlaps the compilers.
# DIR's parent is made root's and private (0700): root later runs programs of DIR (chroot
# ldconfig), so nobody else may be able to put a root there.
# Usage: nspawn-root.sh DIR
# Exit: 0 ready; 1 debootstrap failed (the end of its log is printed); 2 Debian's archive is not
# reachable from here (the tests skip then).
set -euo pipefail
dir="${1:?usage: nspawn-root.sh DIR}"
parent="$(dirname "${dir}")"
if [ ! -e "${parent}" ]; then
  mkdir -p "$(dirname "${parent}")"
  mkdir -m 0700 "${parent}"
fi
# Never chmod what this script did not make (DIR=/var/tmp/x must not make /var/tmp private).
if [ -L "${parent}" ] || [ ! -d "${parent}" ] || [ "$(stat -c %u:%a "${parent}")" != 0:700 ]; then
  echo "nspawn-root: ${parent} must be a directory of root's with mode 0700 (not a link);" \
       "refusing to make a root there" >&2
  exit 1
fi
exec 9> "${dir}.lock"
flock 9
if [ -e "${dir}/.complete" ]; then
  echo "nspawn root ready: ${dir}"
  exit 0
fi
# A run that was killed may have left debootstrap's mounts (proc, sys, devpts) inside.
if [ -d "${dir}" ]; then
  findmnt -rn -o TARGET | grep -F "${dir}/" | sort -r | while read -r mount; do
    umount -l "${mount}" 2> /dev/null || true
  done
  rm -rf --one-file-system "${dir}"
fi
# What `ldd gssgated gssgate` needs from Debian, beside systemd itself.
libs=libgrpc++1.51,libgrpc29,libprotobuf32,libspdlog1.10,libfmt9,libtomlplusplus3,libabsl20220623
libs+=,libssl3,libkrb5-3,libgssapi-krb5-2,libc-ares2,libre2-9
# procps: /bin/kill, which the unit's ExecReload= runs (Debian installs it everywhere but minbase).
libs+=,procps
mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources \
            2> /dev/null | head -n 1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
host="$(sed -n 's|^https\?://\([^/:]*\).*|\1|p' <<< "${mirror}")"
if ! timeout 10 bash -c "exec 3<> /dev/tcp/${host}/80" 2> /dev/null; then
  echo "nspawn-root: Debian's archive (${mirror}) is not reachable from here" >&2
  exit 2
fi
if ! debootstrap --variant=minbase --include="systemd,systemd-sysv,dbus,${libs}" bookworm \
     "${dir}" "${mirror}" > "${dir}.log" 2>&1; then
  tail -n 20 "${dir}.log"
  echo "nspawn-root: debootstrap failed; the whole log is ${dir}.log" >&2
  exit 1
fi
touch "${dir}/.complete"
echo "nspawn root ready: ${dir}"
