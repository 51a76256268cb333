#pragma once

// Helpers shared by the handlers: proto ⇄ lib conversions in one place, and the policy-checked
// credential acquisition every credential-using RPC goes through.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/log_format.h"
#include "daemon/owner_stores.h"
#include "daemon/policy.h"
#include "daemon/service.h"
#include "lib/gss/context.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"
#include "lib/gss/status_proto.h"

namespace gssgate::daemon {

using gss::to_proto;  // GssStatus → v1::GssStatus (lib/gss/status_proto.h)

// A DER OID field; empty gives the empty Oid. Malformed: INVALID_ARGUMENT naming `field`.
absl::StatusOr<gss::Oid> oid_field(const std::string& der, const char* field);

// Imports a wire name. A malformed name_type is INVALID_ARGUMENT (returned); a GSSAPI failure is
// reported through *status with OK returned, like every GSSAPI outcome.
//
// Composite name tokens (RFC 6680: a name with its attributes, e.g. a PAC) are imported only
// sealed, as name_to_proto() sent them to this caller's uid. A raw one from a caller is refused
// (DEFECTIVE_TOKEN, under either exported-name type): importing it would make the privileged
// daemon parse caller-made authorization data with MIT's PAC parser, which fuzz_requests found
// to overflow a heap buffer in krb5 1.20, and would let a caller forge "authenticated" attributes.
absl::Status import_wire_name(const Call& call, const v1::Name& name, const char* field,
                              gss::NameHandle* out, gss::GssStatus* status);

// Refuses setting or deleting an attribute whose setter would parse caller bytes inside the
// daemon: MIT's "urn:mspac:" attributes hand the value to krb5_pac_parse (whose out-of-bounds read
// tests/fuzz/regressions record). The PAC of a name comes only from the ticket the KDC signed.
// The refusal is GSS_S_UNAVAILABLE with a text saying so (python-gssapi over MIT raises
// OperationUnavailableError for a PAC attribute it cannot change, too), and an audit line as `op`.
// With this and import_wire_name, the daemon parses no attribute data from callers.
gss::GssStatus settable_attribute(const Call& call, const std::string& attribute, const char* op);

// A mechanism name goes out as its composite exported token sealed for the caller's uid (so it
// round-trips exactly, attributes included, and cannot be altered); any other name as its display
// form. Display fields are always filled.
void name_to_proto(const Call& call, const gss::NameHandle& name, v1::Name* out);

// What a sealed composite name token is bound to: the uid it was issued to.
std::string name_token_binding(uid_t uid);
// What a composite name token ExportName handed out is bound to: as an exported context (the
// uid, rule and cgroup of the exporting call; export_binding).
std::string exported_name_binding(const Call& call);
std::string display_of(const gss::NameHandle& name);

gss::ChannelBindings bindings_from_proto(const v1::ChannelBindings& cb);
absl::StatusOr<gss::CredUsage> usage_from_proto(int usage);
v1::CredUsage usage_to_proto(gss::CredUsage usage);

// What a caller asks for when acquiring credentials.
struct CredRequest {
  const gss::NameHandle* name = nullptr;  // null: the store's default principal
  gss::CredUsage usage = gss::CredUsage::kBoth;
  OM_uint32 lifetime = GSS_C_INDEFINITE;
  std::vector<gss::Oid> mechs;
  // Store elements the caller named; each must equal what its rule grants.
  const google::protobuf::Map<std::string, std::string>* store = nullptr;
};

// The policy checks of an acquisition, before any store is touched: the usage, the named store
// elements and the principal against the caller's rule. On success *stores holds what to acquire
// from. Refusals are PERMISSION_DENIED (returned, audit-logged as `op`); a GSSAPI failure while
// reading the name comes back in *status (with OK returned).
// *canonical (when not null) receives the name to acquire with: the one whose principal passed
// the check (see checked_name), never the caller's text.
absl::Status check_acquire(const Call& call, const CredRequest& request, const char* op,
                           gss::GssStatus* status, gss::CredStore* stores,
                           gss::NameHandle* canonical);

// The name to acquire as, for the krb5 mechanism name `mn` whose display form `principal` passed
// the policy check: `principal` imported as a Kerberos principal name (so no mechanism resolves
// the caller's original text again), or `mn` itself for a referral-realm principal.
gss::NameHandle checked_name(gss::NameHandle mn, const std::string& principal);

// S4U2Self policy: PERMISSION_DENIED (and an audit line) unless the caller's rule allows
// impersonating `name`; *principal is the name as "name@REALM" and *checked the name to acquire
// with (checked_name: the principal that passed, not the caller's text). GSSAPI failures in
// *status.
absl::Status check_impersonation(const Call& call, const gss::NameHandle& name,
                                 gss::GssStatus* status, std::string* principal,
                                 gss::NameHandle* checked);

// Acquires credentials from the stores the caller's rule grants, after check_acquire. Policy
// refusals are PERMISSION_DENIED (returned, and audit-logged); GSSAPI failures come back in
// *status.
absl::Status acquire_granted(const Call& call, const CredRequest& request, gss::GssStatus* status,
                             gss::AcquiredCred* out);

// The caller's default initiator or acceptor credentials (`usage` is kInitiate or kAccept): from
// the rule's stores via acquire_granted, shared through the service's CredCache. Never
// GSS_C_NO_CREDENTIAL, which would be the daemon's own default ccache or keytab.
absl::Status default_creds(Service& service, const Call& call, gss::CredUsage usage,
                           gss::GssStatus* status, CredCache::Cred* out);

// The caller's ccache for `principal` ("name@REALM"): the rule's `ccache` (expanded), else the
// caller's private MEMORY cache for that principal in the daemon.
absl::StatusOr<std::string> caller_ccache(const Call& call, const std::string& principal);
// Records that StoreCred put credentials into `ccache` (a per-principal MEMORY cache), so later
// acquisitions by that principal's name may use it although the client keytab lacks the key.
void note_stored_ccache(const std::string& ccache);

// The entries one init/accept step works on: the caller's credential handle when `cred_id` is
// non-empty (else null), and its context for `ctx_id`, or a fresh entry for a first step (empty
// `ctx_id`). NOT_FOUND / INVALID_ARGUMENT for handles that are not the caller's.
struct StepEntries {
  std::shared_ptr<Entry> cred;
  std::shared_ptr<Entry> context;
};
absl::StatusOr<StepEntries> step_entries(HandleTable& table, const Call& call,
                                         const std::string& ctx_id, const std::string& cred_id);

// Settles the context handle after one init/accept step and returns the handle for the reply:
// a successful first step registers `context` (RESOURCE_EXHAUSTED over quota), a later one keeps
// `ctx_id`; a failed later step drops the handle (GSSAPI has deleted the context) and gives "".
// With `release_when_complete`, a step that completes the context drops it too (a first step
// never registers it) and gives "". With `once` (AcceptOnce), a first step never registers the
// context at all, complete or not.
absl::StatusOr<std::string> settle_step(HandleTable& table, const Call& call,
                                        const gss::GssStatus& status, const std::string& ctx_id,
                                        std::shared_ptr<Entry> context,
                                        bool release_when_complete = false, bool once = false);

// The names gss_inquire_context gives for a context that a step has just completed, for the
// step's reply (so the caller need not inquire afterwards). Leaves them unset if MIT cannot say.
void complete_names_to_proto(const Call& call, Entry& context, v1::Name* initiator,
                             v1::Name* target);

// The one way a handler refuses a right the caller's rule lacks: OK when the rule grants `right`;
// else an audit line (`op`, the reason) and PERMISSION_DENIED with refusal()'s text, which names
// the rule, the right, `what` needed it, and how an administrator grants it.
absl::Status require(const Call& call, Right right, const char* op, absl::string_view what);

// What a keytab holds (principals and kvnos; never keys), through a fresh krb5 context.
absl::StatusOr<std::vector<gss::KeytabEntry>> keytab_entries(const std::string& keytab);

// The store element `key` = `value` (expanded) of the caller's rule as MIT may open it
// (owner_stores.h: itself, or a mirror read with the caller's identity; *generation, when given,
// is the mirror's generation or 0). Errors as store_for_mit, with the rule named.
StoreOwner store_owner(const Call& call);
absl::StatusOr<std::string> rule_store_for_mit(const Call& call, const char* key,
                                               const std::string& value, uint64_t* generation);
// The entries of the rule's `key` keytab (template `tmpl`), read as rule_store_for_mit reads it.
absl::StatusOr<std::vector<gss::KeytabEntry>> rule_keytab_entries(
    const Call& call, const char* key, const std::optional<std::string>& tmpl);

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

// gss_import_sec_context of `token` as a context entry of `owner`, with its side and mechanism
// from gss_inquire_context (Entry::role, Entry::mech). Null, with the failure in *status, if GSSAPI
// refuses the token.
std::shared_ptr<Entry> imported_context_entry(const Owner& owner, std::string_view token,
                                              gss::GssStatus* status);

// What a sealed credential or exported-context token is bound to: the uid that exported it, the
// rule it exported under and, when that rule selects by cgroup or unit, the caller's cgroup, and
// by executable, the caller's executable. A token is good only for the same caller under the same
// rule (a reload that moves the caller to another rule, a process in another container of the
// same uid, or another program a rule admits by a pattern, cannot use it).
std::string export_binding(const Call& call);
// The longest an exported credential token stays good (less when the credential expires sooner).
inline constexpr OM_uint32 kMaxExportedCredSeconds = 24 * 3600;

// How a caller-supplied name appears in logs: its display form once imported, else only its length
// (the raw value may be a binary exported-name token).
std::string loggable_name(const gss::NameHandle& name, const v1::Name& wire);

// A policy refusal: an audit line (`op`, reason=`why`, outcome=denied) and
// PERMISSION_DENIED(`why`).
absl::Status deny(const Call& call, const char* op, const std::string& why);

// One audit line: operation, caller, rule, free-form details, outcome. Never token bytes. Every
// caller-influenced value in `details` and `outcome` goes through log_value() (log_format.h).
void audit(const Call& call, const char* op, const std::string& details,
           const std::string& outcome);

}  // namespace gssgate::daemon
