#include "daemon/handlers/convert.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/handlers/audit.h"
#include "daemon/log_format.h"
#include "daemon/policy.h"
#include "lib/gss/krb5.h"

namespace gssgate::daemon {

absl::StatusOr<gss::Oid> oid_field(const std::string& der, const char* field) {
  if (der.empty()) return gss::Oid();
  auto oid = gss::Oid::from_der(der);
  if (!oid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a DER-encoded OID (", der.size(), " bytes)"));
  }
  return *oid;
}

absl::StatusOr<gss::Oid> required_oid_field(const std::string& der, const char* field) {
  if (der.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  return oid_field(der, field);
}

gss::GssStatus refusal(const char* operation, OM_uint32 major, std::string text) {
  gss::GssStatus refused = gss::check(operation, major, 0);
  refused.minor_text = {std::move(text)};
  return refused;
}

namespace {

// RFC 6680 §7.8 / MIT: the token id of a composite exported name, under either name type.
constexpr std::string_view kCompositeTokenId("\x04\x02", 2);

gss::GssStatus refused_name_token(std::string text) {
  gss::GssStatus status = gss::check("gss_import_name", GSS_S_DEFECTIVE_TOKEN, 0);
  status.minor_text = {std::move(text)};
  return status;
}

}  // namespace

std::string name_token_binding(uid_t uid) { return absl::StrCat("gssgate-name-v1 uid=", uid); }

std::string exported_name_binding(const Call& call) {
  return absl::StrCat("gssgate-exported-name-v1 ", export_binding(call));
}

absl::Status import_wire_name(const Call& call, const v1::Name& name, const char* field,
                              gss::NameHandle* out, gss::GssStatus* status) {
  auto type = oid_field(name.name_type(), absl::StrCat(field, ".name_type").c_str());
  if (!type.ok()) return type.status();
  if (name.value().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  }
  const bool composite_type = *type == gss::oids::nt_composite_export();
  if (composite_type || *type == gss::oids::nt_export_name()) {
    std::string_view value = name.value();
    if (call.sealer != nullptr && value.substr(0, 4) == "GGS1") {
      // A name's own value (name_to_proto), or a token ExportName(composite) handed out; under
      // either exported-name type, as MIT imports a composite token under both.
      absl::StatusOr<std::string> token =
          call.sealer->open(value, name_token_binding(call.owner.uid));
      if (!token.ok()) token = call.sealer->open(value, exported_name_binding(call));
      if (!token.ok()) {
        *status = refused_name_token(absl::StrCat(
            field, ": ", token.status().message(),
            " (names with attributes are bound to the uid, rule and daemon that issued them)"));
        return absl::OkStatus();
      }
      *status = gss::import_name(*token, gss::oids::nt_composite_export(), out);
      return absl::OkStatus();
    }
    if (std::optional<std::string> plain = gss::composite_token_without_attributes(value)) {
      // No attribute data to parse: the name alone, as the plain exported name it equals (what
      // ExportName(composite) hands out for a name without attributes, and MIT's own token).
      *status = gss::import_name(*plain, gss::oids::nt_export_name(), out);
      return absl::OkStatus();
    }
    if (composite_type || value.substr(0, kCompositeTokenId.size()) == kCompositeTokenId) {
      *status = refused_name_token(absl::StrCat(
          field,
          ": composite name tokens (names with attributes) are accepted only as gssgated issued "
          "them (export_name(composite=true) through it); the daemon does not parse attribute "
          "data from callers. Pass the Name object itself, a token gssgated exported, or the "
          "plain exported name (export_name(composite=false))"));
      return absl::OkStatus();
    }
    if (std::string wrong = gss::check_exported_name_token(value); !wrong.empty()) {
      *status =
          refused_name_token(absl::StrCat(field, ": not an RFC 2743 exported name token: ", wrong));
      return absl::OkStatus();
    }
  }
  *status = gss::import_name(name.value(), *type, out);
  return absl::OkStatus();
}

gss::GssStatus settable_attribute(const Call& call, const std::string& attribute, const char* op) {
  // MIT matches the prefix case-sensitively; refusing every spelling costs nothing.
  if (!absl::StartsWithIgnoreCase(attribute, "urn:mspac:")) return gss::GssStatus();
  gss::GssStatus status =
      gss::check(op == std::string_view("delete_name_attribute") ? "gss_delete_name_attribute"
                                                                 : "gss_set_name_attribute",
                 GSS_S_UNAVAILABLE, 0);
  status.minor_text = {
      "gssgated does not set or delete urn:mspac: attributes: a name's PAC comes only from the "
      "ticket the KDC signed, and setting one would make the daemon parse caller bytes"};
  audit(call, op, absl::StrCat("attribute_bytes=", attribute.size(), " attribute=urn:mspac:"),
        "refused");
  return status;
}

std::string display_of(const gss::NameHandle& name) {
  gss::DisplayedName shown;
  return gss::display_name(name, &shown).ok() ? shown.text : std::string();
}

namespace {

// The display fields of `name`, read from its exported `token` where that holds them
// (gss::krb5_display_from_token), else asked of MIT.
void set_display(const gss::NameHandle& name, std::string_view token, v1::Name* out) {
  std::optional<gss::DisplayedName> shown = gss::krb5_display_from_token(token);
  if (!shown) {
    gss::DisplayedName asked;
    if (!gss::display_name(name, &asked).ok()) return;
    shown = std::move(asked);
  }
  out->set_display(std::move(shown->text));
  out->set_display_type(shown->type.der());
}

}  // namespace

void name_to_proto(const Call& call, const gss::NameHandle& name, v1::Name* out) {
  // A mechanism name goes out as its composite token, so its attributes come back with it
  // (import_wire_name): sealed when it has attributes; when it has none, as the plain exported
  // name it equals, which callers may send as they like (no sealing, no random bytes). Without a
  // sealing key, or for a mechanism without RFC 6680 support, as the plain exported name.
  // One call into MIT per name where the token carries the display form.
  std::string token;
  bool displayed = false;
  if (call.sealer != nullptr && gss::export_name_composite(name, &token).ok()) {
    set_display(name, token, out);
    displayed = true;
    if (std::optional<std::string> plain = gss::composite_token_without_attributes(token)) {
      out->set_value(*std::move(plain));
      out->set_name_type(gss::oids::nt_export_name().der());
      return;
    }
    absl::StatusOr<std::string> sealed =
        call.sealer->seal(token, name_token_binding(call.owner.uid));
    if (sealed.ok()) {
      out->set_value(*std::move(sealed));
      out->set_name_type(gss::oids::nt_composite_export().der());
      return;
    }
  }
  if (gss::export_name(name, &token).ok()) {
    if (!displayed) set_display(name, token, out);
    out->set_value(std::move(token));
    out->set_name_type(gss::oids::nt_export_name().der());
    return;
  }
  gss::DisplayedName shown;
  if (gss::display_name(name, &shown).ok()) {
    out->set_display(shown.text);
    out->set_display_type(shown.type.der());
  }
  out->set_value(shown.text);
  out->set_name_type(shown.type.der());
}

gss::ChannelBindings bindings_from_proto(const v1::ChannelBindings& cb) {
  gss::ChannelBindings out;
  out.initiator_address_type = cb.initiator_address_type();
  out.initiator_address = cb.initiator_address();
  out.acceptor_address_type = cb.acceptor_address_type();
  out.acceptor_address = cb.acceptor_address();
  out.application_data = cb.application_data();
  return out;
}

absl::StatusOr<gss::CredUsage> usage_from_proto(int usage) {
  switch (usage) {
    case v1::CRED_USAGE_UNSPECIFIED:
    case v1::CRED_USAGE_BOTH:
      return gss::CredUsage::kBoth;
    case v1::CRED_USAGE_INITIATE:
      return gss::CredUsage::kInitiate;
    case v1::CRED_USAGE_ACCEPT:
      return gss::CredUsage::kAccept;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown credential usage ", usage,
                                                     " (expected 0-3: unspecified, both, ",
                                                     "initiate, accept)"));
  }
}

v1::CredUsage usage_to_proto(gss::CredUsage usage) {
  switch (usage) {
    case gss::CredUsage::kInitiate:
      return v1::CRED_USAGE_INITIATE;
    case gss::CredUsage::kAccept:
      return v1::CRED_USAGE_ACCEPT;
    case gss::CredUsage::kBoth:
      break;
  }
  return v1::CRED_USAGE_BOTH;
}

std::string export_binding(const Call& call) {
  // What the rule selects by beyond ids is part of the binding: two callers one rule admits by a
  // pattern (two containers' cgroups, two programs) cannot use each other's tokens.
  // Each free-form field is quoted and escaped (log_value), so no two bindings read alike.
  const Rule& rule = call.grant.rule();
  const bool by_cgroup = !rule.cgroups.empty() || !rule.systemd_units.empty();
  return absl::StrCat(
      "uid=", call.owner.uid, " rule=", log_value(rule.name),
      by_cgroup ? absl::StrCat(" cgroup=", log_value(call.peer.cgroup)) : "",
      rule.executables.empty() ? "" : absl::StrCat(" exe=", log_value(call.peer.exe)),
      rule.executable_sha256.empty() ? "" : absl::StrCat(" sha256=", call.peer.exe_sha256));
}

}  // namespace gssgate::daemon
