#pragma once

// Credential acquisition from an explicit credential store (MIT's gss_acquire_cred_from), so the
// daemon never depends on process-global Kerberos state (KRB5CCNAME, KRB5_KTNAME, setenv).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/gss/handles.h"
#include "lib/gss/oid.h"
#include "lib/gss/status.h"

namespace gssgate::gss {

enum class CredUsage : int {
  kBoth = GSS_C_BOTH,
  kInitiate = GSS_C_INITIATE,
  kAccept = GSS_C_ACCEPT,
};
const char* to_string(CredUsage usage);

// MIT krb5 credential-store elements (gssapi_ext.h, "Credential store extensions"). Keys used here:
// "ccache", "client_keytab", "keytab", "rcache". (MIT 1.20 refuses a "password" element through the
// mechglue with "Credential usage type is unknown", whatever the usage; passwords are kinit's job.)
struct CredStore {
  std::vector<std::pair<std::string, std::string>> elements;

  CredStore& add(std::string key, std::string value) {
    elements.emplace_back(std::move(key), std::move(value));
    return *this;
  }
};

struct AcquireCredRequest {
  // Null for the default principal of the store (GSS_C_NO_NAME).
  const NameHandle* desired_name = nullptr;
  // Seconds; GSS_C_INDEFINITE for the longest the mechanism allows.
  OM_uint32 lifetime = GSS_C_INDEFINITE;
  // Empty for the default mechanism set.
  std::vector<Oid> mechs;
  CredUsage usage = CredUsage::kBoth;
  CredStore store;
};

struct AcquiredCred {
  CredHandle cred;
  std::vector<Oid> mechs;
  OM_uint32 lifetime = 0;
};

// gss_acquire_cred_from.
GssStatus acquire_cred(const AcquireCredRequest& request, AcquiredCred* out);

// gss_acquire_cred_impersonate_name (S4U2Self): credentials for `request.desired_name` (required)
// obtained with `impersonator`'s TGT. The KDC must allow the impersonator (MIT:
// +ok_to_auth_as_delegate for a forwardable result). `request.store` is ignored.
GssStatus acquire_cred_impersonate(const CredHandle& impersonator,
                                   const AcquireCredRequest& request, AcquiredCred* out);

struct CredInfo {
  NameHandle name;
  OM_uint32 lifetime = 0;
  CredUsage usage = CredUsage::kBoth;
  std::vector<Oid> mechs;
};

// gss_inquire_cred.
GssStatus inquire_cred(const CredHandle& cred, CredInfo* out);

struct CredByMechInfo {
  NameHandle name;
  OM_uint32 init_lifetime = 0;
  OM_uint32 accept_lifetime = 0;
  CredUsage usage = CredUsage::kBoth;
};

// gss_inquire_cred_by_mech.
GssStatus inquire_cred_by_mech(const CredHandle& cred, const Oid& mech, CredByMechInfo* out);

// gss_inquire_cred_by_oid: the buffers MIT returns for `what`, in order.
GssStatus inquire_cred_by_oid(const CredHandle& cred, const Oid& what,
                              std::vector<std::string>* values);

// gss_krb5_set_allowable_enctypes: the enctypes contexts made with `cred` may use, most
// preferred first (an empty list allows none); null: krb5.conf's again.
GssStatus set_allowable_enctypes(const CredHandle& cred, const std::vector<int32_t>* enctypes);

// gss_set_cred_option with an option that takes no value (GSS_KRB5_CRED_NO_CI_FLAGS_X).
GssStatus set_cred_flag_option(const CredHandle& cred, const Oid& option);

// gss_export_cred / gss_import_cred: a credential as a token (which holds its keys: seal it
// before it leaves the daemon).
GssStatus export_cred(const CredHandle& cred, std::string* token);
GssStatus import_cred(std::string_view token, CredHandle* out);

struct AddCredRequest {
  const NameHandle* desired_name = nullptr;  // null: the store's default principal
  Oid mech;                                  // required
  CredUsage usage = CredUsage::kBoth;
  OM_uint32 init_lifetime = GSS_C_INDEFINITE;
  OM_uint32 accept_lifetime = GSS_C_INDEFINITE;
  CredStore store;  // ignored by add_cred_impersonate
};

struct AddedCred {
  CredHandle cred;
  std::vector<Oid> mechs;
  OM_uint32 init_lifetime = 0;
  OM_uint32 accept_lifetime = 0;
};

// gss_add_cred_from: a new credential holding `base`'s elements (null `base`: none) plus one for
// `request.mech`. `base` is never touched: MIT's add with an output handle makes the new
// credential share `base`'s element objects (a double free once both are released), so this
// copies `base` through export/import and adds to the copy in place.
GssStatus add_cred(const CredHandle* base, const AddCredRequest& request, AddedCred* out);
// gss_add_cred_impersonate_name (S4U2Self), with the same copy rule for `base`; onto no base it is
// gss_acquire_cred_impersonate_name for `request.mech` (see the .cc for why).
GssStatus add_cred_impersonate(const CredHandle* base, const CredHandle& impersonator,
                               const AddCredRequest& request, AddedCred* out);

struct StoredCred {
  std::vector<Oid> mechs;
  CredUsage usage = CredUsage::kBoth;
};
// gss_store_cred_into. An empty `mech` stores every mechanism's element.
GssStatus store_cred_into(const CredHandle& cred, CredUsage usage, const Oid& mech, bool overwrite,
                          bool default_cred, const CredStore& store, StoredCred* out);

// gss_set_neg_mechs: the mechanisms SPNEGO may negotiate with `cred` (its SPNEGO element's inner
// credential). Fails (GSS_S_UNAVAILABLE) when `cred` has no SPNEGO element.
GssStatus set_neg_mechs(const CredHandle& cred, const std::vector<Oid>& mechs);

// Whether MIT acquires credentials for `mech` when asked for its default mechanisms (the mechglue
// leaves out mechanisms whose RFC 5587 attributes say deprecated or not-default).
bool is_default_mech(const Oid& mech);

// gss_indicate_mechs: the mechanisms this GSSAPI library supports.
GssStatus indicate_mechs(std::vector<Oid>* out);

}  // namespace gssgate::gss
