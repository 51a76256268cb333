#pragma once

// Security contexts: establishment (init/accept, one step per call), per-message protection,
// inquiry, export/import. Every function returns the rendered GssStatus of its gss_* call.
// A ContextHandle must not be used by two threads at once.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/gss/cred.h"
#include "lib/gss/flags.h"
#include "lib/gss/handles.h"
#include "lib/gss/oid.h"
#include "lib/gss/status.h"

namespace gssgate::gss {

// RFC 2744 §3.11 channel bindings. Address types are GSS_C_AF_* values.
struct ChannelBindings {
  OM_uint32 initiator_address_type = GSS_C_AF_UNSPEC;
  std::string initiator_address;
  OM_uint32 acceptor_address_type = GSS_C_AF_UNSPEC;
  std::string acceptor_address;
  std::string application_data;

  // Points into this object: valid while it lives and is not modified.
  gss_channel_bindings_struct desc() const;
};

struct InitSecContextRequest {
  const CredHandle* cred = nullptr;    // null: default initiator credentials
  const NameHandle* target = nullptr;  // required
  Oid mech;                            // empty: the default mechanism (krb5)
  Flags flags = kDefaultInitFlags;
  OM_uint32 lifetime = 0;  // seconds; 0 = mechanism default
  const ChannelBindings* bindings = nullptr;
  std::string_view input_token;  // empty on the first step
};

struct InitSecContextResult {
  // Present even when the call failed, if the mechanism produced one (an error token).
  std::string output_token;
  Oid mech;
  Flags flags;
  OM_uint32 lifetime = 0;
};

// gss_init_sec_context. `ctx` starts empty and is updated in place; on failure GSSAPI may already
// have deleted it (it is then empty).
GssStatus init_sec_context(ContextHandle* ctx, const InitSecContextRequest& request,
                           InitSecContextResult* out);

struct AcceptSecContextRequest {
  const CredHandle* cred = nullptr;  // null: default acceptor credentials
  std::string_view input_token;
  const ChannelBindings* bindings = nullptr;
};

struct AcceptSecContextResult {
  std::string output_token;  // also the error token on failure, when the mechanism made one
  NameHandle initiator_name;
  Oid mech;
  Flags flags;
  OM_uint32 lifetime = 0;
  CredHandle delegated_cred;  // set when the initiator delegated (Flag::kDelegate)
};

// The mechanism MIT's mechglue selects for the first token an acceptor receives, found the way
// MIT 1.20 finds it (gssint_get_mech_type): a raw NTLMSSP message is NTLM, a first byte 0x6E (a
// raw Kerberos AP-REQ) is krb5, an empty token is SPNEGO, anything else must start with the
// RFC 2743 §3.1 InitialContextToken header [APPLICATION 0] { OID, ... } and is that OID.
// INVALID_ARGUMENT when the token has no such header: MIT then refuses it with
// GSS_S_DEFECTIVE_TOKEN before it looks at any credential.
absl::StatusOr<Oid> initial_token_mech(std::string_view token);

// gss_accept_sec_context.
GssStatus accept_sec_context(ContextHandle* ctx, const AcceptSecContextRequest& request,
                             AcceptSecContextResult* out);

struct WrapResult {
  std::string token;
  bool encrypted = false;
};
GssStatus wrap(const ContextHandle& ctx, std::string_view message, bool encrypt, gss_qop_t qop,
               WrapResult* out);

struct UnwrapResult {
  std::string message;
  bool encrypted = false;
  gss_qop_t qop = GSS_C_QOP_DEFAULT;
};
// gss_unwrap. Replay and sequence problems come back as supplementary bits with ok() still true.
GssStatus unwrap(const ContextHandle& ctx, std::string_view token, UnwrapResult* out);

GssStatus get_mic(const ContextHandle& ctx, std::string_view message, gss_qop_t qop,
                  std::string* mic);
GssStatus verify_mic(const ContextHandle& ctx, std::string_view message, std::string_view mic,
                     gss_qop_t* qop);

// gss_wrap_size_limit: the largest message whose wrap token fits in `max_output`.
GssStatus wrap_size_limit(const ContextHandle& ctx, bool encrypt, gss_qop_t qop,
                          OM_uint32 max_output, OM_uint32* max_input);

struct ContextInfo {
  NameHandle initiator_name;
  NameHandle target_name;
  OM_uint32 lifetime = 0;
  Oid mech;
  Flags flags;
  bool locally_initiated = false;
  bool open = false;  // established
};
// Which names gss_inquire_context copies out. Each costs MIT a name copy and, for the initiator
// of an accepted krb5 context, a copy of its authorization-data context: ask only for those used.
struct ContextNames {
  bool initiator = true;
  bool target = true;
};
GssStatus inquire_context(const ContextHandle& ctx, ContextInfo* out,
                          ContextNames names = ContextNames{});

// gss_context_time: seconds the context remains valid.
GssStatus context_time(const ContextHandle& ctx, OM_uint32* seconds);

// gss_inquire_sec_context_by_oid: the buffers MIT returns for `what`, in order.
GssStatus inquire_sec_context_by_oid(const ContextHandle& ctx, const Oid& what,
                                     std::vector<std::string>* values);

// gss_export_sec_context. On success the interprocess token holds the context (and its session
// key) and `ctx` is empty: the original is gone.
GssStatus export_context(ContextHandle* ctx, std::string* token);
GssStatus import_context(std::string_view token, ContextHandle* out);

// gss_process_context_token.
GssStatus process_context_token(const ContextHandle& ctx, std::string_view token);

}  // namespace gssgate::gss
