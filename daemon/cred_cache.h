#pragma once

// Default credentials per (rule, usage, stores), shared by all calls that need them, so a busy
// acceptor or initiator does not run gss_acquire_cred_from (and the principal check, which lists
// the keytab) on every init/accept. Entries live for a bounded time and are dropped on reload.
//
// Note: with a FILE: keytab MIT krb5 still reads the keytab during each accept (krb5_rd_req looks
// the key up through the credential's keytab handle); the cache saves the acquisition, not that.
//
// Thread-safety: all methods are thread-safe. A credential handed out may be used by many threads
// at once: MIT krb5 locks a credential internally.

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/gss/handles.h"

namespace gssgate::daemon {

class CredCache {
 public:
  using Cred = std::shared_ptr<const gss::CredHandle>;

  // The cached credential for `key`, or null if absent or expired.
  Cred get(const std::string& key);
  // Caches `cred` for `ttl`.
  void put(const std::string& key, Cred cred, absl::Duration ttl);
  void clear();
  // Drops the entry holding `cred`, if it is still cached: a credential that just failed (its
  // ccache removed or unwritable) is acquired afresh by the next call instead of failing until
  // it expires. Any caller of a rule shares that rule's entry, so one caller's failure makes the
  // next call of any of them re-acquire: a cost of one acquisition, nothing more.
  void drop(const Cred& cred);
  // Drops every entry whose key contains `needle` (e.g. "ccache=FILE:/path").
  void erase_containing(std::string_view needle);

 private:
  struct Slot {
    Cred cred;
    absl::Time expires;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gssgate::daemon
