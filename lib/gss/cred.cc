#include "lib/gss/cred.h"

#include <gssapi/gssapi_ext.h>

namespace gssgate::gss {
namespace {

// Builds a gss_OID_set that points into `mechs` (and `descs`, which must outlive the set).
gss_OID_set_desc make_oid_set(const std::vector<Oid>& mechs, std::vector<gss_OID_desc>* descs) {
  descs->clear();
  for (const Oid& mech : mechs) descs->push_back(mech.desc());
  return gss_OID_set_desc{descs->size(), descs->data()};
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
  elements.reserve(request.store.elements.size());
  for (const auto& [key, value] : request.store.elements) {
    elements.push_back(gss_key_value_element_desc{key.c_str(), value.c_str()});
  }
  gss_key_value_set_desc store{static_cast<OM_uint32>(elements.size()), elements.data()};

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

GssStatus indicate_mechs(std::vector<Oid>* out) {
  OM_uint32 minor = 0;
  OidSetHandle mechs;
  OM_uint32 major = gss_indicate_mechs(&minor, mechs.out());
  GssStatus status = check("gss_indicate_mechs", major, minor);
  if (status.ok()) *out = oids_from_set(mechs.get());
  return status;
}

}  // namespace gssgate::gss
