#pragma once

// The handle table: every credential and security context the daemon holds for a caller, named by
// a 16-byte id from the kernel CSPRNG and bound to its owner (uid and connection).
//
// Thread-safety: all methods are thread-safe. Lookups lock one of kShards shards only; the owner
// index (quotas, release-by-connection) has its own lock, taken on insert and erase, never on
// lookup. A looked-up Entry is shared: callers lock Entry::mu around every GSSAPI call on it, so
// one gss_ctx_id_t is never used by two threads at once.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/cred_cache.h"
#include "lib/gss/handles.h"
#include "lib/gss/oid.h"

namespace gssgate::daemon {

inline constexpr size_t kHandleBytes = 16;

struct Owner {
  uid_t uid = 0;
  uint64_t connection = 0;
  bool operator==(const Owner&) const = default;
};

enum class HandleKind { kCred, kContext };
const char* to_string(HandleKind kind);

struct Entry {
  Entry(Owner o, HandleKind k) : owner(o), kind(k) {}
  const Owner owner;
  const HandleKind kind;
  // Serializes GSSAPI calls on `context` (MIT contexts are not thread-safe).
  absl::Mutex mu;
  // kind == kCred. Set before insert() and never replaced afterwards, so readers holding the
  // shared_ptr may use it without `mu`; MIT krb5 locks a credential internally.
  gss::CredHandle cred;
  // For kind == kCred (empty otherwise): the first-step checks of `cred` that passed
  // (cred_cache.h).
  CheckedElements checked;
  // kind == kCred: `cred` is its rule's nameless acceptor credential (AcquireCreds with usage
  // accept and no name, as Apache's mod_auth_gssapi and gssgate's module acquire one) from a
  // keytab only root can change. Its accept steps run with the rule's shared default acceptor
  // credential (handlers/acquire.h, default_creds), which holds the same keys but reads the
  // keytab from an in-memory copy that follows the file, where `cred` would have MIT open and
  // read the FILE keytab at every accept. `cred`'s own elements still decide which mechanisms the
  // handle accepts for (handlers/cred_guard.h). Usage "both" (python-gssapi's default) is not
  // flagged: such a handle also initiates, so it is not the default acceptor. Set before
  // insert(); cleared, never set again, when the caller sets a credential option on the handle
  // (SetCredOption), which the shared default must not take.
  std::atomic<bool> follows_default_acceptor{false};
  gss::ContextHandle context ABSL_GUARDED_BY(mu);  // kind == kContext
  // kind == kContext: which step RPC may continue the context, and the mechanism an initiator
  // started with. Set before insert() and never changed. MIT's gss_init_sec_context trusts the
  // mech passed on a later step and crashes (NULL dereference in SPNEGO) when it is not the one
  // the context has, or the context is an acceptor's: the daemon must pass the recorded one.
  enum class Role { kInitiator, kAcceptor };
  Role role = Role::kInitiator;
  gss::Oid mech;
  // kind == kContext, acceptor, under a rule without accept_delegated: credentials a peer
  // delegates are released, and the delegation flag MIT reports for the context is cleared in
  // every reply (each accept step, InquireContext). Set before insert() and never changed.
  bool hide_delegation = false;
  // kind == kContext, acceptor, with gssgated's replay cache: the AP-REQ MIT verified in one of
  // its steps has been recorded (handlers/accept_sec_context.cc). A context cannot complete
  // without it.
  bool replay_recorded ABSL_GUARDED_BY(mu) = false;
  // kind == kContext: the credential every step of the context runs with, checked on the first step
  // to hold an element for the context's mechanism (handlers/cred_guard.h), and the principal it
  // acts as ("" for an acceptor that accepts for any key of its keytab). A later step never passes
  // GSS_C_NO_CREDENTIAL: SPNEGO would hand its inner mechanism the process's default credentials.
  // Set before insert() and never changed.
  std::shared_ptr<const gss::CredHandle> step_cred;
  std::string principal;
  std::atomic<int64_t> last_used_ns{0};
};

class HandleTable {
 public:
  HandleTable();

  // Live handles of all callers together (DaemonSettings::max_handles_total): over it, insert()
  // is RESOURCE_EXHAUSTED for everyone, whatever their rule's quota, so many uids together cannot
  // grow the daemon without bound.
  static constexpr size_t kDefaultMaxTotal = 2'000'000;
  void set_max_total(size_t max_total) {
    absl::MutexLock lock(&owners_mu_);
    max_total_ = max_total;
  }

  // Adds `entry` under a fresh id. RESOURCE_EXHAUSTED when entry->owner.uid already holds `quota`
  // handles (the message names the limit).
  absl::StatusOr<std::string> insert(std::shared_ptr<Entry> entry, uint32_t quota);

  // The entry for `id` if it exists, belongs to `owner` and is of `kind`; otherwise NOT_FOUND with
  // one message for every case, so a caller cannot tell another owner's handle from random bytes.
  // INVALID_ARGUMENT if `id` is not kHandleBytes long.
  absl::StatusOr<std::shared_ptr<Entry>> find(const Owner& owner, std::string_view id,
                                              HandleKind kind);

  // Removes the handle (same checks as find). The GSSAPI object is released when the last
  // shared_ptr to the entry goes.
  absl::Status erase(const Owner& owner, std::string_view id, HandleKind kind);

  // Removes every handle of a connection (its process exited). Returns how many.
  size_t release_connection(uint64_t connection);
  // The same for a connection that closed; a call of it still running then cannot leave a handle
  // behind: insert() refuses one for it (UNAVAILABLE), for the last kClosedRemembered connections
  // that closed (ids are never reused, so older ones cannot run calls long after).
  size_t connection_closed(uint64_t connection);
  static constexpr size_t kClosedRemembered = 65536;
  // Removes handles unused for longer than `idle`. Returns how many.
  size_t expire_idle(absl::Duration idle);

  size_t size() const;
  size_t count_for_uid(uid_t uid) const;

  struct Listed {
    HandleKind kind;
    Owner owner;
    absl::Duration idle;
  };
  // Every live handle (of `uid` only, unless null), without its id.
  std::vector<Listed> list(const uid_t* uid) const;
  // Live handles of `kind`.
  size_t count(HandleKind kind) const;

 private:
  static constexpr size_t kShards = 16;
  using Id = std::array<uint8_t, kHandleBytes>;
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<Id, std::shared_ptr<Entry>> entries ABSL_GUARDED_BY(mu);
  };
  Shard& shard_for(const Id& id) { return shards_[id[0] % kShards]; }
  // Removes `id` from its shard and the owner index, if present.
  void remove(const Id& id, const Owner& owner);

  std::array<Shard, kShards> shards_;
  mutable absl::Mutex owners_mu_;
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<Id>> by_connection_ ABSL_GUARDED_BY(owners_mu_);
  absl::flat_hash_map<uid_t, uint32_t> per_uid_ ABSL_GUARDED_BY(owners_mu_);
  size_t total_ ABSL_GUARDED_BY(owners_mu_) = 0;
  absl::flat_hash_set<uint64_t> closed_ ABSL_GUARDED_BY(owners_mu_);
  std::deque<uint64_t> closed_order_ ABSL_GUARDED_BY(owners_mu_);
  size_t max_total_ ABSL_GUARDED_BY(owners_mu_) = kDefaultMaxTotal;
};

}  // namespace gssgate::daemon
