#include "daemon/dispatch.h"

namespace gssgate::daemon {

bool Dispatcher::enter(uid_t uid) {
  if (max_calls_per_uid_ <= 0) return true;
  absl::MutexLock lock(&calls_mu_);
  int& running = calls_[uid];
  if (running >= max_calls_per_uid_) {
    if (running == 0) calls_.erase(uid);
    return false;
  }
  ++running;
  return true;
}

void Dispatcher::leave(uid_t uid) {
  if (max_calls_per_uid_ <= 0) return;
  absl::MutexLock lock(&calls_mu_);
  auto it = calls_.find(uid);
  if (it != calls_.end() && --it->second <= 0) calls_.erase(it);
}

}  // namespace gssgate::daemon
