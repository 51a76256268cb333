#include "lib/gss/cred.h"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "lib/gss/mech_attrs.h"

namespace gssgate::gss {
namespace {

// Builds a gss_OID_set that points into `mechs` (and `descs`, which must outlive the set).
gss_OID_set_desc make_oid_set(const std::vector<Oid>& mechs, std::vector<gss_OID_desc>* descs) {
  descs->clear();
  for (const Oid& mech : mechs) descs->push_back(mech.desc());
  return gss_OID_set_desc{descs->size(), descs->data()};
}

// A key/value set that points into `store` (and `elements`, which must outlive it).
gss_key_value_set_desc make_store(const CredStore& store,
                                  std::vector<gss_key_value_element_desc>* elements) {
  elements->clear();
  for (const auto& [key, value] : store.elements) {
    elements->push_back(gss_key_value_element_desc{key.c_str(), value.c_str()});
  }
  return gss_key_value_set_desc{static_cast<OM_uint32>(elements->size()), elements->data()};
}

// A private copy of `base` (export + import), or an empty handle for no base.
GssStatus copy_base(const CredHandle* base, CredHandle* out) {
  if (base == nullptr) return GssStatus();
  std::string token;
  GssStatus status = export_cred(*base, &token);
  if (status.ok()) status = import_cred(token, out);
  return status;
}

}  // namespace

const char* to_string(CredUsage usage) {
  switch (usage) {
    case CredUsage::kBoth:
      return "both";
    case CredUsage::kInitiate:
      return "initiate";
    case CredUsage::kAccept:
      return "accept";
  }
  return "unknown";
}

GssStatus acquire_cred(const AcquireCredRequest& request, AcquiredCred* out) {
  std::vector<gss_key_value_element_desc> elements;
  gss_key_value_set_desc store = make_store(request.store, &elements);

  std::vector<gss_OID_desc> descs;
  gss_OID_set_desc mech_set = make_oid_set(request.mechs, &descs);

  OM_uint32 minor = 0;
  CredHandle cred;
  OidSetHandle actual_mechs;
  OM_uint32 lifetime = 0;
  OM_uint32 major = gss_acquire_cred_from(
      &minor, request.desired_name ? request.desired_name->get() : GSS_C_NO_NAME, request.lifetime,
      request.mechs.empty() ? GSS_C_NO_OID_SET : &mech_set,
      static_cast<gss_cred_usage_t>(request.usage), elements.empty() ? GSS_C_NO_CRED_STORE : &store,
      cred.out(), actual_mechs.out(), &lifetime);
  GssStatus status = check("gss_acquire_cred_from", major, minor);
  if (status.ok()) {
    out->cred = std::move(cred);
    out->mechs = oids_from_set(actual_mechs.get());
    out->lifetime = lifetime;
  }
  return status;
}

GssStatus acquire_cred_impersonate(const CredHandle& impersonator,
                                   const AcquireCredRequest& request, AcquiredCred* out) {
  std::vector<gss_OID_desc> descs;
  gss_OID_set_desc mech_set = make_oid_set(request.mechs, &descs);
  OM_uint32 minor = 0;
  CredHandle cred;
  OidSetHandle actual_mechs;
  OM_uint32 lifetime = 0;
  OM_uint32 major = gss_acquire_cred_impersonate_name(
      &minor, impersonator.get(),
      request.desired_name ? request.desired_name->get() : GSS_C_NO_NAME, request.lifetime,
      request.mechs.empty() ? GSS_C_NO_OID_SET : &mech_set,
      static_cast<gss_cred_usage_t>(request.usage), cred.out(), actual_mechs.out(), &lifetime);
  GssStatus status = check("gss_acquire_cred_impersonate_name", major, minor);
  if (status.ok()) {
    out->cred = std::move(cred);
    out->mechs = oids_from_set(actual_mechs.get());
    out->lifetime = lifetime;
  }
  return status;
}

GssStatus inquire_cred(const CredHandle& cred, CredInfo* out) {
  OM_uint32 minor = 0;
  NameHandle name;
  OM_uint32 lifetime = 0;
  gss_cred_usage_t usage = GSS_C_BOTH;
  OidSetHandle mechs;
  OM_uint32 major =
      gss_inquire_cred(&minor, cred.get(), name.out(), &lifetime, &usage, mechs.out());
  GssStatus status = check("gss_inquire_cred", major, minor);
  if (status.ok()) {
    out->name = std::move(name);
    out->lifetime = lifetime;
    out->usage = static_cast<CredUsage>(usage);
    out->mechs = oids_from_set(mechs.get());
  }
  return status;
}

GssStatus inquire_cred_by_mech(const CredHandle& cred, const Oid& mech, CredByMechInfo* out) {
  OM_uint32 minor = 0;
  gss_OID_desc mech_desc = mech.desc();
  NameHandle name;
  OM_uint32 init_lifetime = 0;
  OM_uint32 accept_lifetime = 0;
  gss_cred_usage_t usage = GSS_C_BOTH;
  OM_uint32 major = gss_inquire_cred_by_mech(&minor, cred.get(), &mech_desc, name.out(),
                                             &init_lifetime, &accept_lifetime, &usage);
  GssStatus status = check("gss_inquire_cred_by_mech", major, minor, &mech_desc);
  if (status.ok()) {
    out->name = std::move(name);
    out->init_lifetime = init_lifetime;
    out->accept_lifetime = accept_lifetime;
    out->usage = static_cast<CredUsage>(usage);
  }
  return status;
}

GssStatus export_cred(const CredHandle& cred, std::string* token) {
  OM_uint32 minor = 0;
  Buffer out;
  OM_uint32 major = gss_export_cred(&minor, cred.get(), out.out());
  GssStatus status = check("gss_export_cred", major, minor);
  if (status.ok()) *token = out.str();
  return status;
}

GssStatus import_cred(std::string_view token, CredHandle* out) {
  OM_uint32 minor = 0;
  gss_buffer_desc in = input_buffer(token);
  CredHandle cred;
  OM_uint32 major = gss_import_cred(&minor, &in, cred.out());
  GssStatus status = check("gss_import_cred", major, minor);
  if (status.ok()) *out = std::move(cred);
  return status;
}

GssStatus add_cred(const CredHandle* base, const AddCredRequest& request, AddedCred* out) {
  CredHandle cred;
  GssStatus status = copy_base(base, &cred);
  if (!status.ok()) return status;
  std::vector<gss_key_value_element_desc> elements;
  gss_key_value_set_desc store = make_store(request.store, &elements);
  gss_OID_desc mech = request.mech.desc();
  OM_uint32 minor = 0;
  OidSetHandle mechs;
  OM_uint32 init_lifetime = 0;
  OM_uint32 accept_lifetime = 0;
  const gss_name_t name = request.desired_name ? request.desired_name->get() : GSS_C_NO_NAME;
  const auto usage = static_cast<gss_cred_usage_t>(request.usage);
  const gss_const_key_value_set_t store_arg = elements.empty() ? GSS_C_NO_CRED_STORE : &store;
  // Onto a private copy of `base` in place (no output handle), or a new credential.
  OM_uint32 major =
      gss_add_cred_from(&minor, base ? cred.get() : GSS_C_NO_CREDENTIAL, name, &mech, usage,
                        request.init_lifetime, request.accept_lifetime, store_arg,
                        base ? nullptr : cred.out(), mechs.out(), &init_lifetime, &accept_lifetime);
  status = check("gss_add_cred_from", major, minor, &mech);
  if (status.ok())
    *out = AddedCred{std::move(cred), oids_from_set(mechs.get()), init_lifetime, accept_lifetime};
  return status;
}

GssStatus add_cred_impersonate(const CredHandle* base, const CredHandle& impersonator,
                               const AddCredRequest& request, AddedCred* out) {
  if (base == nullptr) {
    // Onto no credential this is acquire_cred_impersonate for one mechanism. (MIT 1.20's
    // gss_add_cred_impersonate_name with GSS_C_NO_CREDENTIAL leaks its temporary union credential,
    // 32 bytes a call, which LeakSanitizer reports from the daemon.)
    const bool accept = request.usage == CredUsage::kAccept;
    AcquireCredRequest want;
    want.desired_name = request.desired_name;
    want.lifetime = accept ? request.accept_lifetime : request.init_lifetime;
    want.mechs = {request.mech};
    want.usage = request.usage;
    AcquiredCred acquired;
    GssStatus status = acquire_cred_impersonate(impersonator, want, &acquired);
    if (status.ok()) {
      *out = AddedCred{std::move(acquired.cred), std::move(acquired.mechs),
                       request.usage != CredUsage::kAccept ? acquired.lifetime : 0,
                       request.usage != CredUsage::kInitiate ? acquired.lifetime : 0};
    }
    return status;
  }
  CredHandle cred;
  GssStatus status = copy_base(base, &cred);
  if (!status.ok()) return status;
  gss_OID_desc mech = request.mech.desc();
  OM_uint32 minor = 0;
  OidSetHandle mechs;
  OM_uint32 init_lifetime = 0;
  OM_uint32 accept_lifetime = 0;
  OM_uint32 major = gss_add_cred_impersonate_name(
      &minor, cred.get(), impersonator.get(),
      request.desired_name ? request.desired_name->get() : GSS_C_NO_NAME, &mech,
      static_cast<gss_cred_usage_t>(request.usage), request.init_lifetime, request.accept_lifetime,
      nullptr, mechs.out(), &init_lifetime, &accept_lifetime);
  status = check("gss_add_cred_impersonate_name", major, minor, &mech);
  if (status.ok())
    *out = AddedCred{std::move(cred), oids_from_set(mechs.get()), init_lifetime, accept_lifetime};
  return status;
}

GssStatus store_cred_into(const CredHandle& cred, CredUsage usage, const Oid& mech, bool overwrite,
                          bool default_cred, const CredStore& store, StoredCred* out) {
  std::vector<gss_key_value_element_desc> elements;
  gss_key_value_set_desc store_set = make_store(store, &elements);
  gss_OID_desc mech_desc = mech.desc();
  OM_uint32 minor = 0;
  OidSetHandle stored;
  gss_cred_usage_t usage_stored = GSS_C_BOTH;
  OM_uint32 major = gss_store_cred_into(
      &minor, cred.get(), static_cast<gss_cred_usage_t>(usage),
      mech.empty() ? GSS_C_NO_OID : &mech_desc, overwrite ? 1 : 0, default_cred ? 1 : 0,
      elements.empty() ? GSS_C_NO_CRED_STORE : &store_set, stored.out(), &usage_stored);
  GssStatus status = check("gss_store_cred_into", major, minor);
  if (status.ok()) {
    out->mechs = oids_from_set(stored.get());
    out->usage = static_cast<CredUsage>(usage_stored);
  }
  return status;
}

GssStatus set_neg_mechs(const CredHandle& cred, const std::vector<Oid>& mechs) {
  std::vector<gss_OID_desc> descs;
  gss_OID_set_desc set = make_oid_set(mechs, &descs);
  OM_uint32 minor = 0;
  OM_uint32 major = gss_set_neg_mechs(&minor, cred.get(), &set);
  return check("gss_set_neg_mechs", major, minor);
}

GssStatus inquire_cred_by_oid(const CredHandle& cred, const Oid& what,
                              std::vector<std::string>* values) {
  OM_uint32 minor = 0;
  gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
  gss_OID_desc oid = what.desc();
  OM_uint32 major = gss_inquire_cred_by_oid(&minor, cred.get(), &oid, &set);
  GssStatus status = check("gss_inquire_cred_by_oid", major, minor);
  take_buffer_set(&set, status.ok(), values);
  return status;
}

GssStatus set_allowable_enctypes(const CredHandle& cred, const std::vector<int32_t>* enctypes) {
  // MIT resets on a null list whatever the count, and allows none on an empty one: a list
  // always has an element here, so data() is never null for an empty one.
  std::vector<krb5_enctype> ktypes;
  if (enctypes != nullptr) ktypes.assign(enctypes->begin(), enctypes->end());
  const OM_uint32 count = static_cast<OM_uint32>(ktypes.size());
  ktypes.push_back(0);
  OM_uint32 minor = 0;
  OM_uint32 major = gss_krb5_set_allowable_enctypes(&minor, cred.get(), count,
                                                    enctypes != nullptr ? ktypes.data() : nullptr);
  return check("gss_krb5_set_allowable_enctypes", major, minor);
}

GssStatus set_cred_flag_option(const CredHandle& cred, const Oid& option) {
  OM_uint32 minor = 0;
  gss_OID_desc oid = option.desc();
  // The mechglue replaces the handle only when it is GSS_C_NO_CREDENTIAL, which `cred` is not.
  gss_cred_id_t handle = cred.get();
  gss_buffer_desc empty{0, nullptr};
  OM_uint32 major = gss_set_cred_option(&minor, &handle, &oid, &empty);
  return check("gss_set_cred_option", major, minor);
}

bool is_default_mech(const Oid& mech) {
  gss_OID_desc desc = mech.desc();
  return gssgate_is_default_mech(&desc) != 0;
}

GssStatus indicate_mechs(std::vector<Oid>* out) {
  OM_uint32 minor = 0;
  OidSetHandle mechs;
  OM_uint32 major = gss_indicate_mechs(&minor, mechs.out());
  GssStatus status = check("gss_indicate_mechs", major, minor);
  if (status.ok()) *out = oids_from_set(mechs.get());
  return status;
}

}  // namespace gssgate::gss
