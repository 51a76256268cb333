#pragma once

// Proto ⇄ lib conversions for the handlers, in one place: OIDs, names (with the sealing of
// composite name tokens), channel bindings, credential usages, and what exported tokens are bound
// to.

#include "absl/status/statusor.h"
#include "daemon/service.h"
#include "lib/gss/context.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"
#include "lib/gss/status_proto.h"

namespace gssgate::daemon {


using gss::to_proto;  // GssStatus → v1::GssStatus (lib/gss/status_proto.h)

// A DER OID field; empty gives the empty Oid. Malformed: INVALID_ARGUMENT naming `field`.
absl::StatusOr<gss::Oid> oid_field(const std::string& der, const char* field);
// The same for a field that must be set: empty is INVALID_ARGUMENT "`field` is required".
absl::StatusOr<gss::Oid> required_oid_field(const std::string& der, const char* field);

// A GSSAPI failure of the daemon's own making (minor 0), with `text` as its minor text: what is
// refused and why, which the caller's gss_display_status shows.
gss::GssStatus refusal(const char* operation, OM_uint32 major, std::string text);

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

// A mechanism name with attributes goes out as its composite exported token sealed for the
// caller's uid (so it round-trips exactly, attributes included, and cannot be altered); one
// without attributes as its plain exported name (all a composite token of it would hold); any
// other name as its display form. Display fields are always filled (from the token where it holds
// them: gss::krb5_display_from_token).
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

// What a sealed credential or exported-context token is bound to: the uid that exported it, the
// rule it exported under and, when that rule selects by cgroup or unit, the caller's cgroup, and
// by executable, the caller's executable. A token is good only for the same caller under the same
// rule (a reload that moves the caller to another rule, a process in another container of the
// same uid, or another program a rule admits by a pattern, cannot use it).
std::string export_binding(const Call& call);
// The longest an exported credential token stays good (less when the credential expires sooner).
inline constexpr OM_uint32 kMaxExportedCredSeconds = 24 * 3600;

}  // namespace gssgate::daemon
