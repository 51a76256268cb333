#!/bin/bash
# Runs inside the systemd-nspawn container that tests/systemd/nspawn_test.sh boots, as the unit
# gssgate-probe.service once the system is up (systemd is PID 1). Each check writes one line to
# /probe/results, "ok NAME" or "fail NAME: what was seen"; the host test reads them. The unit
# powers the container off when this ends. Not meant to run anywhere else.
set -u
out=/probe/results
: > "${out}"
ok() { echo "ok $1" >> "${out}"; }
fail() { echo "fail $1: $2" >> "${out}"; }
check() {  # check NAME COMMAND...: ok when the command succeeds, else its output
  local name="$1"; shift
  local got
  if got="$("$@" 2>&1)"; then ok "${name}"; else fail "${name}" "$(echo "${got}" | tr '\n' ' ' | cut -c1-400)"; fi
}
eventually() {  # eventually COMMAND...: the command succeeds within 10 s (journald, a SIGHUP)
  for _ in $(seq 100); do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}
logged() {  # logged PATTERN: gssgated's journal has a line matching PATTERN (within 10 s)
  eventually journalctl -u gssgated.service -q --no-pager -g "$1"
}
prop() { systemctl show -P "$2" "$1"; }
as_alice() { runuser -u alice -- "$@"; }
sock=/run/gssgate/gssgate.sock

# The user of the test: a member of the group that may connect (sysusers.d made it at boot).
useradd -M -u 1000 -G gssgate alice

# 1. Socket activation: enabling the socket starts no daemon; the first caller does.
check enable-socket systemctl enable --now gssgated.socket
[ "$(prop gssgated.service ActiveState)" = inactive ] && ok service-waits-for-a-caller ||
  fail service-waits-for-a-caller "$(prop gssgated.service ActiveState)"
check socket-group-and-mode test "$(stat -c %G:%a "${sock}")" = gssgate:660
check caller-starts-the-daemon as_alice gssgate --socket "${sock}" status
# Type=notify: active only after READY=1, with the STATUS= the daemon sent.
[ "$(prop gssgated.service Type)" = notify ] && [ "$(prop gssgated.service SubState)" = running ] &&
  [[ "$(prop gssgated.service StatusText)" == "serving on ${sock}" ]] && ok notify-ready ||
  fail notify-ready "$(systemctl show -p Type,SubState,StatusText gssgated.service | tr '\n' ' ')"
check both-sockets-from-systemd logged "gssgate.wire \\(wire listener wire, socket from systemd\\)"
check alice-whoami bash -c "runuser -u alice -- gssgate --socket ${sock} whoami | grep -q 'rule: *alice'"
check health-needs-no-rule gssgate --socket "${sock}" health
pid="$(prop gssgated.service MainPID)"

# 2. systemctl reload: ExecReload checks the file, SIGHUP re-reads it (systemctl returns when the
#    signal is sent: the journal says when it is done); a broken file is refused by ExecReload,
#    and by the daemon itself when SIGHUP comes without it; the old policy keeps serving.
check reload systemctl reload gssgated.service
check reload-logged logged "reloaded /etc/gssgate/gssgated.toml"
cp /etc/gssgate/gssgated.toml /probe/good.toml
echo "this is not toml" >> /etc/gssgate/gssgated.toml
if systemctl reload gssgated.service 2> /probe/bad-reload.txt; then
  fail broken-reload-refused "systemctl reload accepted a broken file"
else
  ok broken-reload-refused
fi
kill -HUP "${pid}"
check daemon-refuses-a-broken-file logged "reload failed, keeping the current rules"
cp /probe/good.toml /etc/gssgate/gssgated.toml
check still-serving-after-refused-reloads as_alice gssgate --socket "${sock}" status
[ "$(prop gssgated.service MainPID)" = "${pid}" ] && ok reload-keeps-the-process ||
  fail reload-keeps-the-process "MainPID ${pid} -> $(prop gssgated.service MainPID)"

# 3. The watchdog: with WatchdogSec=2s the daemon pings often enough that systemd never kills it.
mkdir -p /etc/systemd/system/gssgated.service.d
printf '[Service]\nWatchdogSec=2s\n' > /etc/systemd/system/gssgated.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart gssgated.service
first="$(prop gssgated.service WatchdogTimestampMonotonic)"
sleep 5
[ "$(prop gssgated.service WatchdogUSec)" = 2s ] &&
  [ "$(prop gssgated.service NRestarts)" = 0 ] &&
  [ "$(prop gssgated.service WatchdogTimestampMonotonic)" != "${first}" ] &&
  [ "$(prop gssgated.service SubState)" = running ] && ok watchdog-pings ||
  fail watchdog-pings "$(systemctl show -p WatchdogUSec,NRestarts,WatchdogTimestampMonotonic,SubState gssgated.service | tr '\n' ' ') first=${first}"

# 4. systemctl stop releases what callers hold: a caller keeps a credential handle open. The
#    watchdog (2 s) stays on for the stop: a drain must not end in SIGABRT.
(echo "acquire accept"; sleep 20) | runuser -u alice -- /probe/bin/gssgate-test-caller --socket "${sock}" > /probe/holder.txt 2>&1 &
holder=$!
check holder-has-a-handle eventually grep -q "^OK" /probe/holder.txt
check stop systemctl stop gssgated.service
check stop-releases-handles logged "stopped; releasing 1 handle"
[ "$(prop gssgated.service Result)" = success ] && ok stop-is-clean-under-the-watchdog ||
  fail stop-is-clean-under-the-watchdog "Result=$(prop gssgated.service Result)"
kill "${holder}" 2> /dev/null
[ "$(prop gssgated.socket ActiveState)" = active ] && ok socket-outlives-the-service ||
  fail socket-outlives-the-service "$(prop gssgated.socket ActiveState)"
rm /etc/systemd/system/gssgated.service.d/watchdog.conf
systemctl daemon-reload

# 5. The least-privilege drop-in: User=gssgated, no capabilities. The socket systemd made must
#    stay reachable for the gssgate group.
install -m 0644 /usr/share/doc/gssgate/gssgated-unprivileged.conf \
  /etc/systemd/system/gssgated.service.d/unprivileged.conf
chgrp gssgated /etc/gssgate/http.keytab && chmod 0640 /etc/gssgate/http.keytab
systemctl daemon-reload
check unprivileged-start as_alice gssgate --socket "${sock}" status
[ "$(stat -c %U "/proc/$(prop gssgated.service MainPID)")" = gssgated ] && ok runs-as-gssgated ||
  fail runs-as-gssgated "$(stat -c %U "/proc/$(prop gssgated.service MainPID)")"
check unprivileged-socket-keeps-its-group test "$(stat -c %U:%G:%a "${sock}")" = root:gssgate:660
check socket-directory-stays-roots test "$(stat -c %U:%a /run/gssgate)" = root:755
check unprivileged-keytab-readable bash -c "(echo 'acquire accept'; sleep 1) | runuser -u alice -- /probe/bin/gssgate-test-caller --socket ${sock} | grep -q '^OK'"
check unprivileged-restart systemctl restart gssgated.service
check unprivileged-after-restart as_alice gssgate --socket "${sock}" status

# 6. systemd-analyze security of the running unit (the drop-in applied).
systemd-analyze security --no-pager gssgated.service > /probe/security.txt 2>&1
score="$(sed -n 's/.*Overall exposure level for gssgated.service: \([0-9.]*\).*/\1/p' /probe/security.txt)"
[ -n "${score}" ] && awk -v s="${score}" 'BEGIN { exit !(s <= 2.5) }' && ok "security-exposure-${score}" ||
  fail security-exposure "$(tail -n 2 /probe/security.txt | tr '\n' ' ')"

journalctl -b --no-pager > /probe/journal.txt 2>&1
echo done >> "${out}"
