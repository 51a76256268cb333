#!/usr/bin/env bash
# Makes the Debian 12 root that tests/systemd/nspawn_test.sh boots with systemd-nspawn: debootstrap
# minbase with systemd, dbus and the shared libraries gssgated and the gssgate command load (the
# test installs gssgate into a copy with `cmake --install`). Downloads from Debian's archive, ~3 min.
# Idempotent and safe to run twice at once: a finished root (DIR/.complete) is left as it is, and a
# second run waits for the first (flock). scripts/test.sh starts it in the background before the
# builds, so the download overlaps the compilers.
# Usage: nspawn-root.sh DIR     Exit: 0 ready, 1 debootstrap failed (its log is printed).
set -euo pipefail
dir="${1:?usage: nspawn-root.sh DIR}"
mkdir -p "$(dirname "${dir}")"
exec 9> "${dir}.lock"
flock 9
if [ -e "${dir}/.complete" ]; then
  echo "nspawn root ready: ${dir}"
  exit 0
fi
rm -rf "${dir}"
# What `ldd gssgated gssgate` needs from Debian, beside systemd itself.
libs=libgrpc++1.51,libgrpc29,libprotobuf32,libspdlog1.10,libfmt9,libtomlplusplus3,libabsl20220623
libs+=,libssl3,libkrb5-3,libgssapi-krb5-2,libc-ares2,libre2-9
# procps: /bin/kill, which the unit's ExecReload= runs (Debian installs it everywhere but minbase).
libs+=,procps
mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources \
            2>/dev/null | head -n 1)"
if ! debootstrap --variant=minbase --include="systemd,systemd-sysv,dbus,${libs}" bookworm \
     "${dir}" "${mirror:-http://deb.debian.org/debian}" > "${dir}.log" 2>&1; then
  tail -n 20 "${dir}.log"
  echo "nspawn-root: debootstrap failed; the whole log is ${dir}.log" >&2
  exit 1
fi
touch "${dir}/.complete"
echo "nspawn root ready: ${dir}"
