#include "daemon/cred_cache.h"

namespace gssgate::daemon {

std::optional<std::string> CheckedElements::checked_element(const gss::Oid& mech) const {
  absl::MutexLock lock(&mu_);
  auto it = elements_.find(mech.der());
  if (it == elements_.end()) return std::nullopt;
  return it->second;
}

void CheckedElements::remember_element(const gss::Oid& mech, std::string principal) const {
  absl::MutexLock lock(&mu_);
  elements_.insert_or_assign(mech.der(), std::move(principal));
}

CredCache::Cred CredCache::get(const std::string& key, const std::string& given) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return nullptr;
  if (it->second.given != given || absl::Now() >= it->second.expires) {
    slots_.erase(it);
    return nullptr;
  }
  return it->second.cred;
}

void CredCache::put(const std::string& key, const std::string& given, Cred cred,
                    absl::Duration ttl) {
  absl::MutexLock lock(&mu_);
  slots_[key] = Slot{given, std::move(cred), absl::Now() + ttl};
}

void CredCache::drop(const Cred& cred) {
  absl::MutexLock lock(&mu_);
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (it->second.cred == cred) {
      slots_.erase(it++);
    } else {
      ++it;
    }
  }
}

void CredCache::erase_containing(std::string_view needle) {
  absl::MutexLock lock(&mu_);
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (it->first.find(needle) != std::string::npos) {
      slots_.erase(it++);
    } else {
      ++it;
    }
  }
}

void CredCache::clear() {
  absl::MutexLock lock(&mu_);
  slots_.clear();
}

}  // namespace gssgate::daemon
