#include "gssgate/names.h"

#include "client/src/encoding.h"
#include "client/src/internal.h"

namespace gssgate {
namespace {

std::shared_ptr<Connection> or_default(std::shared_ptr<Connection> c) {
  return c ? std::move(c) : Connection::shared_default();
}

v1::InquireNameReply inquire(const Name& name) {
  v1::InquireNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(name);
  v1::InquireNameReply reply;
  internal::call(*name.connection(), &v1::Gssgate::Stub::InquireName, request, &reply);
  internal::check(reply.status());
  return reply;
}

}  // namespace

Name NameAccess::from_proto(const v1::Name& n, std::shared_ptr<Connection> connection) {
  Name out;
  out.connection_ = std::move(connection);
  out.value_ = n.value();
  out.value_type_ = n.name_type();
  out.display_ = n.display();
  out.display_type_ = n.display_type();
  // A name the daemon made (a context's peer, a credential's name): MIT creates those with their
  // mechanism's display type.
  out.source_type_ = n.display_type();
  return out;
}

v1::Name NameAccess::to_proto(const Name& name) {
  v1::Name out;
  out.set_value(name.value_);
  out.set_name_type(name.value_type_);
  return out;
}

Name Name::import(std::string value, std::optional<OID> name_type,
                  std::shared_ptr<Connection> connection) {
  Name out;
  out.connection_ = or_default(std::move(connection));
  out.value_ = std::move(value);
  out.value_type_ = name_type ? name_type->bytes() : std::string();
  v1::ImportNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(out);
  v1::ImportNameReply reply;
  internal::call(*out.connection_, &v1::Gssgate::Stub::ImportName, request, &reply);
  internal::check(reply.status());
  out.display_ = reply.name().display();
  out.display_type_ = reply.name().display_type();
  out.source_type_ = out.value_type_;
  return out;
}

Name::Name(std::string_view base, std::optional<OID> name_type,
           std::shared_ptr<Connection> connection)
    : Name(import(internal::encode_text(base), std::move(name_type), std::move(connection))) {}

Name Name::from_bytes(std::string_view base, std::optional<OID> name_type,
                      std::shared_ptr<Connection> connection) {
  return import(std::string(base), std::move(name_type), std::move(connection));
}

Name Name::from_token(std::string_view token, bool composite,
                      std::shared_ptr<Connection> connection) {
  return import(std::string(token), composite ? NameType::composite_export() : NameType::export_(),
                std::move(connection));
}

std::string Name::str() const { return internal::decode_text(display_); }

std::optional<OID> Name::name_type() const {
  if (display_type_.empty()) return std::nullopt;
  return OID::from_der(display_type_);
}

std::string Name::display_as(const OID& name_type) const {
  v1::DisplayNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(*this);
  request.set_display_as(name_type.bytes());
  v1::DisplayNameReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::DisplayName, request, &reply);
  if (reply.status().major() == (16u << 16) && !source_type_.empty() &&
      name_type.bytes() == source_type_) {
    return str();  // GSS_S_UNAVAILABLE for a token-borne name: MIT's in-process answer (above)
  }
  internal::check(reply.status());
  return internal::decode_text(reply.display());
}

std::string Name::export_name(bool composite) const {
  v1::ExportNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(*this);
  request.set_composite(composite);
  v1::ExportNameReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::ExportName, request, &reply);
  internal::check(reply.status());
  return reply.token();
}

Name Name::canonicalize(const OID& mech) const {
  v1::CanonicalizeNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(*this);
  request.set_mech(mech.bytes());
  v1::CanonicalizeNameReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::CanonicalizeName, request, &reply);
  internal::check(reply.status());
  Name out = NameAccess::from_proto(reply.name(), connection_);
  out.source_type_ = source_type_;  // as MIT's canonical name keeps its source's type
  return out;
}

bool Name::is_mech_name() const { return inquire(*this).is_mech_name(); }

std::optional<OID> Name::mech() const {
  v1::InquireNameReply reply = inquire(*this);
  if (!reply.is_mech_name() || reply.mech().empty()) return std::nullopt;
  return OID::from_der(reply.mech());
}

bool Name::operator==(const Name& other) const {
  v1::CompareNameRequest request;
  *request.mutable_first() = NameAccess::to_proto(*this);
  *request.mutable_second() = NameAccess::to_proto(other);
  v1::CompareNameReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::CompareName, request, &reply);
  internal::check(reply.status());
  return reply.equal();
}

// ---- NameAttributes
// ------------------------------------------------------------------------------

GetNameAttributeResult NameAttributes::operator[](std::string_view attribute) const {
  v1::GetNameAttributeRequest request;
  *request.mutable_name() = NameAccess::to_proto(*name_);
  request.set_attribute(internal::encode_text(attribute));
  v1::GetNameAttributeReply reply;
  internal::call(*name_->connection(), &v1::Gssgate::Stub::GetNameAttribute, request, &reply);
  internal::check(reply.status());
  GetNameAttributeResult out;
  out.values.insert(reply.values().begin(), reply.values().end());
  out.display_values.insert(reply.display_values().begin(), reply.display_values().end());
  out.authenticated = reply.authenticated();
  out.complete = reply.complete();
  return out;
}

std::vector<std::string> NameAttributes::keys() const {
  v1::InquireNameReply reply = inquire(*name_);
  // Keys are text in the name encoding both ways, so that a listed key is one operator[] takes
  // (python hands listed keys out as bytes, which its [] passes through unconverted).
  std::vector<std::string> keys;
  keys.reserve(reply.attributes_size());
  for (const std::string& key : reply.attributes()) keys.push_back(internal::decode_text(key));
  return keys;
}

bool NameAttributes::contains(std::string_view attribute) const {
  for (const std::string& key : keys()) {
    if (key == attribute) return true;
  }
  return false;
}

Name& NameAttributes::writable() const {
  if (mutable_name_ == nullptr) {
    // A view of a const Name (copied into a non-const variable, else set() would not compile).
    throw std::logic_error("attributes of a const Name cannot be changed");
  }
  return *mutable_name_;
}

void NameAttributes::set(std::string_view attribute, const std::set<std::string>& values,
                         bool complete) {
  Name& name = writable();
  v1::SetNameAttributeRequest request;
  *request.mutable_name() = NameAccess::to_proto(name);
  request.set_attribute(internal::encode_text(attribute));
  for (const std::string& v : values) request.add_values(v);
  request.set_complete(complete);
  v1::SetNameAttributeReply reply;
  internal::call(*name.connection(), &v1::Gssgate::Stub::SetNameAttribute, request, &reply);
  internal::check(reply.status());
  std::string source_type = std::move(name.source_type_);
  name = NameAccess::from_proto(reply.name(), name.connection());
  name.source_type_ = std::move(source_type);
}

void NameAttributes::set(std::string_view attribute, std::string_view value, bool complete) {
  set(attribute, std::set<std::string>{std::string(value)}, complete);
}

void NameAttributes::erase(std::string_view attribute) {
  Name& name = writable();
  v1::DeleteNameAttributeRequest request;
  *request.mutable_name() = NameAccess::to_proto(name);
  request.set_attribute(internal::encode_text(attribute));
  v1::DeleteNameAttributeReply reply;
  internal::call(*name.connection(), &v1::Gssgate::Stub::DeleteNameAttribute, request, &reply);
  internal::check(reply.status());
  std::string source_type = std::move(name.source_type_);
  name = NameAccess::from_proto(reply.name(), name.connection());
  name.source_type_ = std::move(source_type);
}

NameAttributes::Iterator NameAttributes::begin() const {
  return Iterator(std::make_shared<const std::vector<std::string>>(keys()));
}

}  // namespace gssgate
