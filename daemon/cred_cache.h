#pragma once

// Default credentials per (rule, usage, stores), shared by all calls that need them, so a busy
// acceptor or initiator does not run gss_acquire_cred_from (and the principal check, which lists
// the keytab) on every init/accept. Entries live for a bounded time and are dropped on reload.
//
// Note: with a FILE: keytab MIT krb5 reads the keytab during each accept (krb5_rd_req looks the
// key up through the credential's keytab handle); the default credentials avoid that by reading a
// MEMORY copy of the file (owner_stores.h, StoreUse::kSharedDefault). A caller's handle of its
// rule's nameless acceptor accepts with them as well (handle_table.h, follows_default_acceptor).
//
// Thread-safety: all methods are thread-safe. A credential handed out may be used by many threads
// at once: MIT krb5 locks a credential internally.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/gss/handles.h"
#include "lib/gss/oid.h"

namespace gssgate::daemon {

// What the first step of a context checks about a credential (handlers/cred_guard.h): that it has
// an element for the step's mechanism, and that element's principal. A credential's elements do
// not change after acquisition, so the check, which costs gss_inquire_cred,
// gss_inquire_cred_by_mech and gss_display_name (each a krb5 context, the two inquiries each a read
// of a FILE keytab), runs once per credential and mechanism instead of once per handshake: for the
// shared default credentials (CachedCred) and for a caller's credential handle (Entry::checked)
// alike.
class CheckedElements {
 public:
  // The principal of the element for `mech` ("" for a nameless acceptor element), if a check of
  // this credential for `mech` has passed before.
  std::optional<std::string> checked_element(const gss::Oid& mech) const;
  // Records a passed check; only passes are kept (a failure is checked again next time).
  void remember_element(const gss::Oid& mech, std::string principal) const;

 private:
  mutable absl::Mutex mu_;
  // Keyed by the mechanism's DER; a handful of entries at most (the rule's mechanisms).
  mutable absl::flat_hash_map<std::string, std::string> elements_ ABSL_GUARDED_BY(mu_);
};

// A cached default credential, with its checks.
class CachedCred : public CheckedElements {
 public:
  explicit CachedCred(gss::CredHandle cred) : cred_(std::move(cred)) {}
  const gss::CredHandle& handle() const { return cred_; }

 private:
  const gss::CredHandle cred_;
};

class CredCache {
 public:
  using Cred = std::shared_ptr<const CachedCred>;

  // The cached credential for `key`, or null if absent, expired, or made from other stores than
  // `given` (what MIT is given for the key's stores now: a copy of a file that has changed since,
  // say). One slot per key, so a store whose file keeps changing does not grow the cache.
  Cred get(const std::string& key, const std::string& given);
  // Caches `cred`, made from `given`, for `ttl`, in place of what `key` held.
  void put(const std::string& key, const std::string& given, Cred cred, absl::Duration ttl);
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
    std::string given;
    Cred cred;
    absl::Time expires;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gssgate::daemon
