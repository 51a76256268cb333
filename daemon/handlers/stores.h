#pragma once

// The credential stores of a caller's rule as MIT opens them, and what is wrong with them when
// an acquisition or a step fails (so the operator knows which rule and file to fix).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/owner_stores.h"
#include "daemon/service.h"
#include "lib/gss/krb5.h"

namespace gssgate::daemon {

// What a keytab holds (principals and kvnos; never keys), through a fresh krb5 context.
absl::StatusOr<std::vector<gss::KeytabEntry>> keytab_entries(const std::string& keytab);

// The store element `key` = `value` (expanded) of the caller's rule as MIT may open it
// (owner_stores.h: itself, or a mirror read with the caller's identity; *generation, when given,
// is the mirror's generation or 0). Errors as store_for_mit, with the rule named.
StoreOwner store_owner(const Call& call);
absl::StatusOr<std::string> rule_store_for_mit(const Call& call, const char* key,
                                               const std::string& value, uint64_t* generation,
                                               StoreUse use = StoreUse::kCaller);
// The entries of the rule's `keytab` (kKeytab or kClientKeytab) as granted to the caller, read as
// rule_store_for_mit reads it. NOT_FOUND when the rule names none.
absl::StatusOr<std::vector<gss::KeytabEntry>> rule_keytab_entries(const Call& call, Store keytab);

// For a failed acceptor acquisition or accept step: what is wrong with the keytab of the caller's
// rule ("policy rule \"web\": keytab /etc/x.keytab does not exist", "... holds HTTP/a@R kvno 2
// (aes256-cts-hmac-sha1-96), ...") so the operator knows which rule and file to fix. Empty when
// the rule names no keytab. Appended to the reply's minor_text by the handlers.
std::string keytab_diagnosis(const Call& call);
// Whether a minor status of the krb5 mechanism points at the acceptor's keys (missing keytab, no
// such principal or kvno, a key that does not decrypt the ticket).
bool is_keytab_error(OM_uint32 minor);
// When the rule names a file-backed ccache (FILE:, DIR: or a bare path) whose directory cannot
// take a write — a read-only file system, a full one, or no write permission for gssgated — says
// so with the rule and the path ("policy rule \"batch\": ccache FILE:/var/lib/x/1000: directory
// /var/lib/x is on a read-only file system; ..."). Empty otherwise. Called on initiator failures
// only (MIT writes the TGT and service tickets there), so the statvfs costs nothing when all is
// well.
std::string ccache_diagnosis(const Call& call);

}  // namespace gssgate::daemon
