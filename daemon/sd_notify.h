#pragma once

// systemd's service notification protocol (sd_notify(3)) without linking libsystemd: one datagram
// per state change to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace). Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op.
//
// gssgated sends READY=1 once its socket is served, RELOADING=1 / READY=1 around a SIGHUP
// reload, STOPPING=1 when it starts draining, and WATCHDOG=1 every half watchdog period when the
// unit sets WatchdogSec= ($WATCHDOG_USEC, for this pid per $WATCHDOG_PID).

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace gssgate::daemon {

class Notifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
  static Notifier from_environment();

  bool enabled() const { return !socket_.empty(); }
  // Sends `state` ("READY=1\nSTATUS=…"); best effort: a failure is logged once, never fatal.
  void notify(std::string_view state);
  // How often to send WATCHDOG=1 (half the configured period), if a watchdog is configured.
  std::optional<absl::Duration> watchdog_interval() const { return watchdog_interval_; }

 private:
  std::string socket_;
  std::optional<absl::Duration> watchdog_interval_;
  bool warned_ = false;
};

}  // namespace gssgate::daemon
