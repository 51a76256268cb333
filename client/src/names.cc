#include "gssgate/names.h"

#include "client/src/internal.h"

namespace gssgate {
namespace {

std::shared_ptr<Connection> or_default(std::shared_ptr<Connection> c) {
  return c ? std::move(c) : Connection::shared_default();
}

constexpr uint32_t kUnavailable = 16u << 16;  // GSS_S_UNAVAILABLE
constexpr char kUnavailableText[] = "The operation or option is not available or unsupported";

}  // namespace

Name NameAccess::from_proto(const v1::Name& n, std::shared_ptr<Connection> connection) {
  Name out;
  out.connection_ = std::move(connection);
  out.value_ = n.value();
  out.value_type_ = n.name_type();
  out.display_ = n.display();
  out.display_type_ = n.display_type();
  return out;
}

v1::Name NameAccess::to_proto(const Name& name) {
  v1::Name out;
  out.set_value(name.value_);
  out.set_name_type(name.value_type_);
  return out;
}

Name::Name(std::string_view base, std::optional<OID> name_type,
           std::shared_ptr<Connection> connection)
    : connection_(or_default(std::move(connection))),
      value_(base),
      value_type_(name_type ? name_type->bytes() : std::string()) {
  v1::ImportNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(*this);
  v1::ImportNameReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::ImportName, request, &reply);
  internal::check(reply.status());
  display_ = reply.name().display();
  display_type_ = reply.name().display_type();
}

Name Name::from_token(std::string_view token, bool composite,
                      std::shared_ptr<Connection> connection) {
  if (composite) {
    internal::raise_local(kUnavailable, kUnavailableText,
                          "composite name tokens (RFC 6680) are not supported by gssgated yet");
  }
  return Name(token, NameType::export_(), std::move(connection));
}

std::optional<OID> Name::name_type() const {
  if (display_type_.empty()) return std::nullopt;
  return OID::from_der(display_type_);
}

std::string Name::export_name(bool composite) const {
  if (composite) {
    internal::raise_local(kUnavailable, kUnavailableText,
                          "composite name tokens (RFC 6680) are not supported by gssgated yet");
  }
  v1::ExportNameRequest request;
  *request.mutable_name() = NameAccess::to_proto(*this);
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
  return NameAccess::from_proto(reply.name(), connection_);
}

bool Name::is_mech_name() const { return value_type_ == NameType::export_().bytes(); }

OID Name::mech() const {
  // RFC 2743 §3.2: 04 01, two-byte OID length, the DER OID (06 len contents), name length, name.
  std::string token = is_mech_name() ? value_ : export_name();  // export_name throws if not an MN
  if (token.size() < 6 || token[0] != '\x04' || token[1] != '\x01' || token[4] != '\x06') {
    internal::raise_local(9u << 16, "Invalid token was supplied", "malformed exported name");
  }
  size_t oid_len = static_cast<unsigned char>(token[5]);
  if (token.size() < 6 + oid_len) {
    internal::raise_local(9u << 16, "Invalid token was supplied", "malformed exported name");
  }
  return OID::from_der(std::string_view(token).substr(6, oid_len));
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

}  // namespace gssgate
