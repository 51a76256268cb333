#include "gssgate/creds.h"

#include "client/src/internal.h"

namespace gssgate {

// Owns one daemon credential handle; released (best effort) when the last copy goes.
struct Credentials::Handle {
  std::shared_ptr<Connection> connection;
  std::string id;
  ~Handle() {
    // Empty for Credentials::empty(). Never throws.
    if (connection) {
      internal::ConnectionAccess::release(*connection, internal::HandleKind::kCred, std::move(id));
    }
  }
};

namespace {

v1::CredUsage usage_to_proto(const std::string& usage) {
  if (usage == "both") return v1::CRED_USAGE_BOTH;
  if (usage == "initiate") return v1::CRED_USAGE_INITIATE;
  if (usage == "accept") return v1::CRED_USAGE_ACCEPT;
  throw UnknownUsageError("unknown usage \"" + usage + "\" (use both, initiate or accept)",
                          "credentials");
}

std::string usage_from_proto(int usage) {
  switch (usage) {
    case v1::CRED_USAGE_INITIATE:
      return "initiate";
    case v1::CRED_USAGE_ACCEPT:
      return "accept";
    default:
      return "both";
  }
}

std::optional<uint32_t> lifetime_from_proto(uint32_t lifetime) {
  if (lifetime == 0xffffffffu) return std::nullopt;  // GSS_C_INDEFINITE
  return lifetime;
}

std::set<OID> mechs_from_proto(const google::protobuf::RepeatedPtrField<std::string>& mechs) {
  std::set<OID> out;
  for (const std::string& der : mechs) out.insert(OID::from_der(der));
  return out;
}

}  // namespace

Credentials CredentialsAccess::adopt(std::shared_ptr<Connection> connection, std::string handle) {
  Credentials creds{Credentials::AdoptTag{}};
  creds.handle_ = std::make_shared<Credentials::Handle>();
  creds.handle_->connection = std::move(connection);
  creds.handle_->id = std::move(handle);
  return creds;
}

const std::string& CredentialsAccess::handle(const Credentials& creds) { return creds.handle_->id; }

AcquireCredResult Credentials::acquire(const CredentialsOptions& options) {
  std::shared_ptr<Connection> connection =
      options.connection ? options.connection : Connection::shared_default();
  v1::AcquireCredsRequest request;
  request.set_usage(usage_to_proto(options.usage));
  if (options.name) *request.mutable_name() = NameAccess::to_proto(*options.name);
  if (options.lifetime) request.set_lifetime(*options.lifetime);
  for (const OID& mech : options.mechs) request.add_mechs(mech.bytes());
  for (const auto& [k, v] : options.store) (*request.mutable_store())[k] = v;
  v1::AcquireCredsReply reply;
  internal::call(*connection, &v1::Gssgate::Stub::AcquireCreds, request, &reply);
  internal::check(reply.status());
  return AcquireCredResult{CredentialsAccess::adopt(connection, reply.creds()),
                           mechs_from_proto(reply.mechs()), lifetime_from_proto(reply.lifetime())};
}

Credentials::Credentials(const CredentialsOptions& options)
    : handle_(acquire(options).creds.handle_) {}

const std::shared_ptr<Connection>& Credentials::connection() const { return handle_->connection; }

Credentials Credentials::empty(std::shared_ptr<Connection> connection) {
  return CredentialsAccess::adopt(connection ? std::move(connection) : Connection::shared_default(),
                                  std::string());
}

const std::string& Credentials::id() const {
  if (handle_->id.empty()) {
    internal::raise_local(
        7u << 16,
        "No credentials were supplied, or the credentials were unavailable or "
        "inaccessible",
        "these are empty credentials (Credentials::empty()); acquire or add some");
  }
  return handle_->id;
}

Credentials Credentials::add(const Name& name, const OID& mech) const {
  return add(name, mech, AddCredOptions{});
}

Credentials Credentials::add(const Name& name, const OID& mech,
                             const AddCredOptions& options) const {
  if (options.impersonator && !options.store.empty()) {
    throw std::invalid_argument("add() takes a store or an impersonator, not both");
  }
  v1::AddCredRequest request;
  request.set_creds(handle_->id);  // empty for empty(): a new credential
  *request.mutable_name() = NameAccess::to_proto(name);
  request.set_mech(mech.bytes());
  request.set_usage(usage_to_proto(options.usage));
  if (options.init_lifetime) request.set_init_lifetime(*options.init_lifetime);
  if (options.accept_lifetime) request.set_accept_lifetime(*options.accept_lifetime);
  if (options.impersonator) request.set_impersonator(options.impersonator->id());
  for (const auto& [k, v] : options.store) (*request.mutable_store())[k] = v;
  v1::AddCredReply reply;
  internal::call(*handle_->connection, &v1::Gssgate::Stub::AddCred, request, &reply,
                 internal::HandleKind::kCred);
  internal::check(reply.status());
  return CredentialsAccess::adopt(handle_->connection, reply.creds());
}

StoreCredResult Credentials::store(const StoreCredOptions& options) const {
  v1::StoreCredRequest request;
  request.set_creds(id());
  request.set_usage(usage_to_proto(options.usage));
  if (options.mech) request.set_mech(options.mech->bytes());
  request.set_overwrite(options.overwrite);
  request.set_default_cred(options.set_default);
  for (const auto& [k, v] : options.store) (*request.mutable_store())[k] = v;
  v1::StoreCredReply reply;
  internal::call(*handle_->connection, &v1::Gssgate::Stub::StoreCred, request, &reply,
                 internal::HandleKind::kCred);
  internal::check(reply.status());
  return StoreCredResult{mechs_from_proto(reply.mechs()), usage_from_proto(reply.usage())};
}

InquireCredResult Credentials::inquire(bool name, bool lifetime, bool usage, bool mechs) const {
  v1::InquireCredRequest request;
  request.set_creds(id());
  v1::InquireCredReply reply;
  internal::call(*handle_->connection, &v1::Gssgate::Stub::InquireCred, request, &reply,
                 internal::HandleKind::kCred);
  internal::check(reply.status());
  InquireCredResult out;
  if (name && reply.has_name())
    out.name = NameAccess::from_proto(reply.name(), handle_->connection);
  if (lifetime) out.lifetime = lifetime_from_proto(reply.lifetime());
  if (usage) out.usage = usage_from_proto(reply.usage());
  if (mechs) out.mechs = mechs_from_proto(reply.mechs());
  return out;
}

Credentials Credentials::from_token(std::string_view token,
                                    std::shared_ptr<Connection> connection) {
  if (!connection) connection = Connection::shared_default();
  v1::ImportCredRequest request;
  request.set_token(std::string(token));
  v1::ImportCredReply reply;
  internal::call(*connection, &v1::Gssgate::Stub::ImportCred, request, &reply);
  internal::check(reply.status());
  return CredentialsAccess::adopt(connection, reply.creds());
}

std::string Credentials::export_creds() const {
  v1::ExportCredRequest request;
  request.set_creds(id());
  v1::ExportCredReply reply;
  internal::call(*handle_->connection, &v1::Gssgate::Stub::ExportCred, request, &reply,
                 internal::HandleKind::kCred);
  internal::check(reply.status());
  return reply.token();
}

Credentials Credentials::impersonate(const Name& name, std::optional<uint32_t> lifetime,
                                     const std::set<OID>& mechs, const std::string& usage) const {
  v1::AcquireCredImpersonateNameRequest request;
  request.set_impersonator(id());
  *request.mutable_name() = NameAccess::to_proto(name);
  if (lifetime) request.set_lifetime(*lifetime);
  for (const OID& mech : mechs) request.add_mechs(mech.bytes());
  request.set_usage(usage_to_proto(usage));
  v1::AcquireCredImpersonateNameReply reply;
  internal::call(*handle_->connection, &v1::Gssgate::Stub::AcquireCredImpersonateName, request,
                 &reply, internal::HandleKind::kCred);
  internal::check(reply.status());
  return CredentialsAccess::adopt(handle_->connection, reply.creds());
}

InquireCredByMechResult Credentials::inquire_by_mech(const OID& mech, bool name, bool init_lifetime,
                                                     bool accept_lifetime, bool usage) const {
  v1::InquireCredByMechRequest request;
  request.set_creds(id());
  request.set_mech(mech.bytes());
  v1::InquireCredByMechReply reply;
  internal::call(*handle_->connection, &v1::Gssgate::Stub::InquireCredByMech, request, &reply,
                 internal::HandleKind::kCred);
  internal::check(reply.status());
  InquireCredByMechResult out;
  if (name && reply.has_name())
    out.name = NameAccess::from_proto(reply.name(), handle_->connection);
  if (init_lifetime) out.init_lifetime = lifetime_from_proto(reply.init_lifetime());
  if (accept_lifetime) out.accept_lifetime = lifetime_from_proto(reply.accept_lifetime());
  if (usage) out.usage = usage_from_proto(reply.usage());
  return out;
}

std::optional<Name> Credentials::name() const { return inquire(true, false, false, false).name; }

std::optional<uint32_t> Credentials::lifetime() const {
  return inquire(false, true, false, false).lifetime;
}

std::set<OID> Credentials::mechs() const { return *inquire(false, false, false, true).mechs; }

std::string Credentials::usage() const { return *inquire(false, false, true, false).usage; }

}  // namespace gssgate
