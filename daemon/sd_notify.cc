#include "daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

Notifier Notifier::from_environment() {
  Notifier n;
  if (const char* socket = std::getenv("NOTIFY_SOCKET"); socket != nullptr) n.socket_ = socket;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  uint64_t period = 0;
  int watchdog_pid = 0;
  bool for_us =
      pid == nullptr || (absl::SimpleAtoi(pid, &watchdog_pid) && watchdog_pid == getpid());
  if (usec != nullptr && absl::SimpleAtoi(usec, &period) && period > 0 && for_us) {
    n.watchdog_interval_ = absl::Microseconds(period) / 2;
  }
  return n;
}

void Notifier::notify(std::string_view state) {
  if (socket_.empty()) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(addr.sun_path) || (socket_[0] != '/' && socket_[0] != '@')) {
    if (!warned_) spdlog::warn("NOTIFY_SOCKET {} is not a usable socket address", socket_);
    warned_ = true;
    return;
  }
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (socket_[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (sent < 0 && !warned_) {
    spdlog::warn("cannot notify systemd at {}: {}", socket_, std::strerror(err));
    warned_ = true;
  }
}

}  // namespace gssgate::daemon
