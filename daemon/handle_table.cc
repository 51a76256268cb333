#include "daemon/handle_table.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gssgate::daemon {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Status not_found(HandleKind kind) {
  return absl::NotFoundError(
      absl::StrCat("no such ", to_string(kind),
                   " handle: it was released, expired, or never existed for this caller"));
}

}  // namespace

const char* to_string(HandleKind kind) {
  return kind == HandleKind::kCred ? "credential" : "security context";
}

HandleTable::HandleTable() = default;

absl::StatusOr<std::string> HandleTable::insert(std::shared_ptr<Entry> entry, uint32_t quota) {
  const Owner owner = entry->owner;
  {
    absl::MutexLock lock(&owners_mu_);
    if (total_ >= max_total_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "gssgated holds ", total_, " handles, its limit (max_handles_total = ", max_total_,
          "); try again later, or an administrator raises the limit"));
    }
    uint32_t& count = per_uid_[owner.uid];
    if (count >= quota) {
      return absl::ResourceExhaustedError(
          absl::StrCat("uid ", owner.uid, " already holds ", count, " handles, the limit of its ",
                       "policy rule (max_handles = ", quota,
                       "); release credentials or contexts it no longer needs"));
    }
    ++count;
    ++total_;
  }
  entry->last_used_ns.store(now_ns(), std::memory_order_relaxed);
  Id id;
  for (;;) {
    // 128 bits from the kernel CSPRNG: unguessable, and never reused in practice; the collision
    // check below makes "never" exact.
    if (getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size())) {
      absl::MutexLock lock(&owners_mu_);
      --per_uid_[owner.uid];
      --total_;
      return absl::InternalError(absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    Shard& shard = shard_for(id);
    absl::MutexLock lock(&shard.mu);
    if (shard.entries.try_emplace(id, entry).second) break;
  }
  {
    absl::MutexLock lock(&owners_mu_);
    // Checked under the lock connection_closed() records under: either this handle is indexed
    // before the connection's handles are collected, or the close is seen here.
    if (!closed_.contains(owner.connection)) {
      by_connection_[owner.connection].insert(id);
      return std::string(reinterpret_cast<const char*>(id.data()), id.size());
    }
  }
  remove(id, owner);
  return absl::UnavailableError(
      "the connection closed while the call ran; its handle was released (reconnect and retry)");
}

absl::StatusOr<std::shared_ptr<Entry>> HandleTable::find(const Owner& owner, std::string_view id,
                                                         HandleKind kind) {
  if (id.size() != kHandleBytes) {
    return absl::InvalidArgumentError(absl::StrCat("malformed ", to_string(kind),
                                                   " handle: ", id.size(), " bytes, handles are ",
                                                   kHandleBytes));
  }
  Id key;
  std::memcpy(key.data(), id.data(), key.size());
  Shard& shard = shard_for(key);
  std::shared_ptr<Entry> entry;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end()) entry = it->second;
  }
  if (!entry || !(entry->owner == owner) || entry->kind != kind) return not_found(kind);
  entry->last_used_ns.store(now_ns(), std::memory_order_relaxed);
  return entry;
}

absl::Status HandleTable::erase(const Owner& owner, std::string_view id, HandleKind kind) {
  auto entry = find(owner, id, kind);
  if (!entry.ok()) return entry.status();
  Id key;
  std::memcpy(key.data(), id.data(), key.size());
  remove(key, owner);
  return absl::OkStatus();
}

void HandleTable::remove(const Id& id, const Owner& owner) {
  std::shared_ptr<Entry> victim;  // released after the locks, outside any critical section
  {
    Shard& shard = shard_for(id);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end()) return;
    victim = std::move(it->second);
    shard.entries.erase(it);
  }
  absl::MutexLock lock(&owners_mu_);
  auto conn = by_connection_.find(owner.connection);
  if (conn != by_connection_.end()) {
    conn->second.erase(id);
    if (conn->second.empty()) by_connection_.erase(conn);
  }
  auto uid = per_uid_.find(owner.uid);
  if (uid != per_uid_.end() && --uid->second == 0) per_uid_.erase(uid);
  --total_;
}

size_t HandleTable::connection_closed(uint64_t connection) {
  {
    absl::MutexLock lock(&owners_mu_);
    if (closed_.insert(connection).second) closed_order_.push_back(connection);
    while (closed_order_.size() > kClosedRemembered) {
      closed_.erase(closed_order_.front());
      closed_order_.pop_front();
    }
  }
  return release_connection(connection);
}

size_t HandleTable::release_connection(uint64_t connection) {
  std::vector<Id> ids;
  {
    absl::MutexLock lock(&owners_mu_);
    auto it = by_connection_.find(connection);
    if (it == by_connection_.end()) return 0;
    ids.assign(it->second.begin(), it->second.end());
  }
  size_t removed = 0;
  for (const Id& id : ids) {
    std::shared_ptr<Entry> entry;
    {
      Shard& shard = shard_for(id);
      absl::MutexLock lock(&shard.mu);
      auto it = shard.entries.find(id);
      if (it != shard.entries.end()) entry = it->second;
    }
    if (entry && entry->owner.connection == connection) {
      remove(id, entry->owner);
      ++removed;
    }
  }
  return removed;
}

size_t HandleTable::expire_idle(absl::Duration idle) {
  const int64_t cutoff = now_ns() - absl::ToInt64Nanoseconds(idle);
  std::vector<std::pair<Id, Owner>> stale;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [id, entry] : shard.entries) {
      if (entry->last_used_ns.load(std::memory_order_relaxed) < cutoff) {
        stale.emplace_back(id, entry->owner);
      }
    }
  }
  for (const auto& [id, owner] : stale) remove(id, owner);
  return stale.size();
}

size_t HandleTable::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    n += shard.entries.size();
  }
  return n;
}

std::vector<HandleTable::Listed> HandleTable::list(const uid_t* uid) const {
  std::vector<Listed> out;
  const int64_t now = now_ns();
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [id, entry] : shard.entries) {
      if (uid != nullptr && entry->owner.uid != *uid) continue;
      out.push_back(
          Listed{entry->kind, entry->owner,
                 absl::Nanoseconds(now - entry->last_used_ns.load(std::memory_order_relaxed))});
    }
  }
  return out;
}

size_t HandleTable::count(HandleKind kind) const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [id, entry] : shard.entries) n += entry->kind == kind ? 1 : 0;
  }
  return n;
}

size_t HandleTable::count_for_uid(uid_t uid) const {
  absl::MutexLock lock(&owners_mu_);
  auto it = per_uid_.find(uid);
  return it == per_uid_.end() ? 0 : it->second;
}

}  // namespace gssgate::daemon
