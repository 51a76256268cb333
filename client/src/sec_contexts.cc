#include "gssgate/sec_contexts.h"

#include <atomic>
#include <stdexcept>

#include "client/src/internal.h"
#include "lib/gss/context.h"
#include "lib/gss/status_proto.h"

namespace gssgate {
namespace {

std::atomic<bool> g_default_defer_step_errors{true};

constexpr uint32_t kNoContext = 8u << 16;
constexpr char kNoContextText[] = "No context has been established";

void fill_bindings(const ChannelBindings& cb, v1::ChannelBindings* out) {
  out->set_initiator_address_type(static_cast<uint32_t>(cb.initiator_address_type));
  out->set_initiator_address(cb.initiator_address);
  out->set_acceptor_address_type(static_cast<uint32_t>(cb.acceptor_address_type));
  out->set_acceptor_address(cb.acceptor_address);
  out->set_application_data(cb.application_data);
}

// A status of MIT in this process (a local context) through the same mapping to GSSError as the
// daemon's statuses.
void check_local(const gss::GssStatus& status, bool strict = false) {
  if (status.major == GSS_S_COMPLETE) return;  // the per-message fast path: no proto to build
  v1::GssStatus proto;
  gss::to_proto(status, &proto);
  internal::check(proto, strict);
}

// What a completing step's reply says of the context, as InquireContext would; false when the
// daemon named nothing (a step that did not complete), and the properties then inquire.
template <typename StepReply>
bool settled_info(StepReply* reply, bool locally_initiated, v1::InquireContextReply* info) {
  if (!reply->has_initiator_name() || !reply->has_target_name()) return false;
  *info->mutable_initiator_name() = std::move(*reply->mutable_initiator_name());
  *info->mutable_target_name() = std::move(*reply->mutable_target_name());
  info->set_locally_initiated(locally_initiated);
  info->set_mech(reply->mech());
  info->set_flags(reply->flags());
  info->set_lifetime(reply->lifetime());
  return true;
}

}  // namespace

struct SecurityContext::Info {
  v1::InquireContextReply reply;
};

struct SecurityContext::Local {
  gss::ContextHandle context;
  // InquireContext just before the move. Names, mech, flags and role do not change once a context
  // is complete; the lifetime is asked of MIT each time.
  v1::InquireContextReply info;
};

void SecurityContext::set_default_defer_step_errors(bool defer) {
  g_default_defer_step_errors = defer;
}

SecurityContext::SecurityContext(SecurityContextOptions o)
    : connection_(o.connection ? o.connection
                               : (o.creds ? o.creds->connection() : Connection::shared_default())),
      target_(std::move(o.name)),
      creds_(std::move(o.creds)),
      flags_(o.flags),
      mech_(std::move(o.mech)),
      lifetime_request_(o.lifetime),
      channel_bindings_(std::move(o.channel_bindings)),
      defer_step_errors_(g_default_defer_step_errors) {
  // python-gssapi's order: explicit usage, else the creds' usage unless "both", else initiate
  // when a target name is given, else accept.
  if (o.usage) {
    if (*o.usage != "initiate" && *o.usage != "accept") {
      throw UnknownUsageError("unknown usage \"" + *o.usage + "\" (use initiate or accept)",
                              "security context");
    }
    usage_ = *o.usage;
  } else {
    // The creds' usage when not "both" (one InquireCred). Empty credentials mean "the default
    // ones", whose usage is whatever the step needs.
    std::string creds_usage = creds_ && !CredentialsAccess::handle(*creds_).empty()
                                  ? creds_->usage()
                                  : std::string("both");
    usage_ = creds_usage != "both" ? creds_usage : target_ ? "initiate" : "accept";
  }
  if (usage_ == "initiate" && !target_) {
    throw std::invalid_argument(
        "You must pass the 'name' argument when creating an initiating security context");
  }
  if (usage_ == "accept" && (target_ || flags_ || mech_ || lifetime_request_)) {
    throw std::invalid_argument(
        "You must pass at most the 'creds' argument when creating an accepting security context");
  }
}

SecurityContext SecurityContext::from_token(std::string_view token,
                                            std::shared_ptr<Connection> connection) {
  SecurityContext ctx;
  ctx.connection_ = connection ? std::move(connection) : Connection::shared_default();
  ctx.defer_step_errors_ = g_default_defer_step_errors;
  v1::ImportContextRequest request;
  request.set_token(std::string(token));
  v1::ImportContextReply reply;
  internal::call(*ctx.connection_, &v1::Gssgate::Stub::ImportContext, request, &reply);
  internal::check(reply.status());
  ctx.handle_ = reply.context();
  ctx.started_ = true;
  ctx.imported_ = true;
  Info info = ctx.inquire();
  ctx.complete_ = info.reply.complete();
  ctx.usage_ = info.reply.locally_initiated() ? "initiate" : "accept";
  return ctx;
}

SecurityContext::~SecurityContext() { release(); }

SecurityContext::SecurityContext(SecurityContext&& o) noexcept { *this = std::move(o); }

SecurityContext& SecurityContext::operator=(SecurityContext&& o) noexcept {
  if (this != &o) {
    release();
    connection_ = std::move(o.connection_);
    handle_ = std::exchange(o.handle_, std::string());
    usage_ = std::move(o.usage_);
    target_ = std::move(o.target_);
    creds_ = std::move(o.creds_);
    flags_ = o.flags_;
    mech_ = std::move(o.mech_);
    lifetime_request_ = o.lifetime_request_;
    channel_bindings_ = std::move(o.channel_bindings_);
    delegated_ = std::move(o.delegated_);
    settled_ = std::move(o.settled_);
    settled_at_ = o.settled_at_;
    started_ = o.started_;
    complete_ = o.complete_;
    imported_ = o.imported_;
    defer_step_errors_ = o.defer_step_errors_;
    deferred_ = std::move(o.deferred_);
    local_ = std::move(o.local_);
  }
  return *this;
}

void SecurityContext::release() noexcept {
  local_.reset();
  settled_.reset();
  if (handle_.empty() || !connection_) return;
  internal::ConnectionAccess::release(*connection_, internal::HandleKind::kContext,
                                      std::exchange(handle_, std::string()));
}

void SecurityContext::raise_deferred() const {
  if (deferred_) std::rethrow_exception(std::exchange(deferred_, nullptr));
}

std::optional<std::string> SecurityContext::step(std::optional<std::string_view> token) {
  if (imported_) {
    throw std::logic_error(
        "SecurityContext::step: this context was imported from a token (from_token) and has no "
        "target, credentials or channel bindings to step with; an imported context is used as "
        "it is (wrap, unwrap, signatures, export_context)");
  }
  raise_deferred();
  std::string output;
  bool continue_needed = false;
  v1::GssStatus status;
  auto settled = std::make_unique<Info>();
  v1::InquireContextReply& info = settled->reply;
  if (usage_ == "initiate") {
    v1::InitSecContextRequest request;
    request.set_context(handle_);
    if (creds_) request.set_creds(CredentialsAccess::handle(*creds_));
    *request.mutable_target() = NameAccess::to_proto(*target_);
    if (mech_) request.set_mech(mech_->bytes());
    request.set_flags((flags_ ? *flags_
                              : RequirementFlagSet{RequirementFlag::mutual_authentication,
                                                   RequirementFlag::out_of_sequence_detection})
                          .to_int());
    if (lifetime_request_) request.set_lifetime(*lifetime_request_);
    if (channel_bindings_) fill_bindings(*channel_bindings_, request.mutable_channel_bindings());
    if (token) request.set_input_token(std::string(*token));
    v1::InitSecContextReply reply;
    internal::call(*connection_, &v1::Gssgate::Stub::InitSecContext, request, &reply,
                   internal::HandleKind::kContext);
    status = reply.status();
    output = reply.output_token();
    continue_needed = reply.continue_needed();
    handle_ = reply.context();
    if (!settled_info(&reply, /*locally_initiated=*/true, &info)) settled.reset();
  } else {
    v1::AcceptSecContextRequest request;
    request.set_context(handle_);
    if (creds_) request.set_creds(CredentialsAccess::handle(*creds_));
    if (channel_bindings_) fill_bindings(*channel_bindings_, request.mutable_channel_bindings());
    if (token) request.set_input_token(std::string(*token));
    v1::AcceptSecContextReply reply;
    internal::call(*connection_, &v1::Gssgate::Stub::AcceptSecContext, request, &reply,
                   internal::HandleKind::kContext);
    status = reply.status();
    output = reply.output_token();
    continue_needed = reply.continue_needed();
    handle_ = reply.context();
    if (!reply.delegated_creds().empty()) {
      delegated_ = CredentialsAccess::adopt(connection_, reply.delegated_creds());
    }
    if (!settled_info(&reply, /*locally_initiated=*/false, &info)) settled.reset();
  }
  if ((status.major() & 0xffff0000u) != 0) {
    try {
      internal::check(status, false, output);
    } catch (const GSSError&) {
      // python-gssapi's deferred step errors: hand out the error token first, raise next time.
      if (defer_step_errors_ && !output.empty()) {
        deferred_ = std::current_exception();
        return output;
      }
      throw;
    }
  }
  started_ = true;
  complete_ = !continue_needed;
  if (complete_ && settled) {
    settled->reply.set_complete(true);
    settled_ = std::move(settled);
    settled_at_ = std::chrono::steady_clock::now();
  }
  if (output.empty()) return std::nullopt;
  return output;
}

bool SecurityContext::complete() const {
  raise_deferred();
  return started_ && complete_;
}

SecurityContext::Info SecurityContext::inquire() const {
  require_handle();
  if (local_) {
    Info info{local_->info};
    OM_uint32 seconds = 0;
    gss::GssStatus status = gss::context_time(local_->context, &seconds);
    // gss_context_time says CONTEXT_EXPIRED where the daemon's gss_inquire_context says lifetime
    // 0: the same answer, and the other attributes still hold.
    if (GSS_ROUTINE_ERROR(status.major) != GSS_S_CONTEXT_EXPIRED) check_local(status);
    info.reply.set_lifetime(seconds);
    return info;
  }
  if (settled_) {
    // Names, mech, flags and role do not change once a context is complete; the lifetime counts
    // down from the completing step, as gss_inquire_context would count it.
    Info info{settled_->reply};
    const uint32_t lifetime = info.reply.lifetime();
    if (lifetime != 0xffffffffu) {
      const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - settled_at_)
                               .count();
      info.reply.set_lifetime(elapsed >= lifetime ? 0 : lifetime - static_cast<uint32_t>(elapsed));
    }
    return info;
  }
  v1::InquireContextRequest request;
  request.set_context(handle_);
  Info info;
  internal::call(*connection_, &v1::Gssgate::Stub::InquireContext, request, &info.reply,
                 internal::HandleKind::kContext);
  internal::check(info.reply.status());
  return info;
}

void SecurityContext::require_handle() const {
  raise_deferred();
  if (handle_.empty() && !local_) {
    internal::raise_local(kNoContext, kNoContextText,
                          started_ ? "the context was exported or deleted"
                                   : "the context has not been started: call step() first");
  }
}

WrapResult SecurityContext::wrap(std::string_view message, bool encrypt) {
  require_handle();
  if (local_) {
    gss::WrapResult out;
    check_local(gss::wrap(local_->context, message, encrypt, GSS_C_QOP_DEFAULT, &out));
    return WrapResult{std::move(out.token), out.encrypted};
  }
  v1::WrapRequest request;
  request.set_context(handle_);
  request.set_message(std::string(message));
  request.set_encrypt(encrypt);
  v1::WrapReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::Wrap, request, &reply,
                 internal::HandleKind::kContext);
  internal::check(reply.status());
  return WrapResult{reply.token(), reply.encrypted()};
}

UnwrapResult SecurityContext::unwrap(std::string_view message) {
  require_handle();
  if (local_) {
    gss::UnwrapResult out;
    check_local(gss::unwrap(local_->context, message, &out), /*strict=*/true);
    return UnwrapResult{std::move(out.message), out.encrypted, out.qop};
  }
  v1::UnwrapRequest request;
  request.set_context(handle_);
  request.set_token(std::string(message));
  v1::UnwrapReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::Unwrap, request, &reply,
                 internal::HandleKind::kContext);
  // python raises for replayed and out-of-sequence tokens too.
  internal::check(reply.status(), /*strict=*/true);
  return UnwrapResult{reply.message(), reply.encrypted(), reply.qop()};
}

std::string SecurityContext::encrypt(std::string_view message) {
  WrapResult r = wrap(message, true);
  if (!r.encrypted) throw EncryptionNotUsed("Wrapped message was not encrypted", "");
  return r.message;
}

std::string SecurityContext::decrypt(std::string_view message) {
  UnwrapResult r = unwrap(message);
  // python-gssapi raises only where the context promised confidentiality: a context without it
  // returns what the peer sent.
  if (!r.encrypted && actual_flags().contains(RequirementFlag::confidentiality)) {
    throw EncryptionNotUsed(
        "The context was established with encryption, but unwrapped message was not encrypted",
        std::move(r.message));
  }
  return r.message;
}

std::string SecurityContext::get_signature(std::string_view message) {
  require_handle();
  if (local_) {
    std::string mic;
    check_local(gss::get_mic(local_->context, message, GSS_C_QOP_DEFAULT, &mic));
    return mic;
  }
  v1::GetMicRequest request;
  request.set_context(handle_);
  request.set_message(std::string(message));
  v1::GetMicReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::GetMic, request, &reply,
                 internal::HandleKind::kContext);
  internal::check(reply.status());
  return reply.mic();
}

uint32_t SecurityContext::verify_signature(std::string_view message, std::string_view mic) {
  require_handle();
  if (local_) {
    gss_qop_t qop = GSS_C_QOP_DEFAULT;
    check_local(gss::verify_mic(local_->context, message, mic, &qop), /*strict=*/true);
    return qop;
  }
  v1::VerifyMicRequest request;
  request.set_context(handle_);
  request.set_message(std::string(message));
  request.set_mic(std::string(mic));
  v1::VerifyMicReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::VerifyMic, request, &reply,
                 internal::HandleKind::kContext);
  internal::check(reply.status(), /*strict=*/true);
  return reply.qop();
}

uint32_t SecurityContext::get_wrap_size_limit(uint32_t desired_output_size, bool encrypted) {
  require_handle();
  if (local_) {
    OM_uint32 max_input = 0;
    check_local(gss::wrap_size_limit(local_->context, encrypted, GSS_C_QOP_DEFAULT,
                                     desired_output_size, &max_input));
    return max_input;
  }
  v1::WrapSizeLimitRequest request;
  request.set_context(handle_);
  request.set_encrypt(encrypted);
  request.set_max_output_size(desired_output_size);
  v1::WrapSizeLimitReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::WrapSizeLimit, request, &reply,
                 internal::HandleKind::kContext);
  internal::check(reply.status());
  return reply.max_input_size();
}

void SecurityContext::process_token(std::string_view token) {
  require_handle();
  if (local_) {
    check_local(gss::process_context_token(local_->context, token));
    return;
  }
  v1::ProcessContextTokenRequest request;
  request.set_context(handle_);
  request.set_token(std::string(token));
  v1::ProcessContextTokenReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::ProcessContextToken, request, &reply,
                 internal::HandleKind::kContext);
  internal::check(reply.status());
}

std::string SecurityContext::export_context() {
  require_handle();
  if (local_) {
    std::string token;
    check_local(gss::export_context(&local_->context, &token));
    local_.reset();  // MIT gave the context away with the token
    return token;
  }
  v1::ExportContextRequest request;
  request.set_context(handle_);
  v1::ExportContextReply reply;
  internal::call(*connection_, &v1::Gssgate::Stub::ExportContext, request, &reply,
                 internal::HandleKind::kContext);
  internal::check(reply.status());
  handle_.clear();  // the daemon gave the context away with the token
  return reply.token();
}

void SecurityContext::make_local() {
  require_handle();
  if (local_) return;
  if (!complete_) {
    internal::raise_local(kNoContext, kNoContextText,
                          "make_local() needs an established context: finish step() first");
  }
  auto local = std::make_unique<Local>();
  local->info = inquire().reply;
  // PermissionDenied here (policy) leaves the context in gssgated, untouched.
  std::string token = export_context();
  gss::GssStatus imported = gss::import_context(token, &local->context);
  if (!imported.ok()) {
    // Lose nothing: gssgated takes back a token it exported to this caller, once.
    try {
      v1::ImportContextRequest request;
      request.set_token(std::move(token));
      v1::ImportContextReply reply;
      internal::call(*connection_, &v1::Gssgate::Stub::ImportContext, request, &reply);
      internal::check(reply.status());
      handle_ = reply.context();
    } catch (const std::exception& e) {
      // Both failed (the daemon restarted, the policy changed, …): the context is gone, and the
      // error says so rather than hiding either failure.
      internal::raise_local(imported.major, imported.message(),
                            std::string("make_local(): MIT in this process could not import the "
                                        "context, and handing it back to gssgated failed too (") +
                                e.what() + "); the context is lost");
    }
    check_local(imported);
  }
  local_ = std::move(local);
}

std::optional<uint32_t> SecurityContext::lifetime() const {
  uint32_t seconds = inquire().reply.lifetime();
  if (seconds == 0xffffffffu) return std::nullopt;
  return seconds;
}

std::optional<Credentials> SecurityContext::delegated_creds() const {
  raise_deferred();
  return delegated_;
}

Name SecurityContext::initiator_name() const {
  return NameAccess::from_proto(inquire().reply.initiator_name(), connection_);
}

Name SecurityContext::target_name() const {
  return NameAccess::from_proto(inquire().reply.target_name(), connection_);
}

OID SecurityContext::mech() const { return OID::from_der(inquire().reply.mech()); }

RequirementFlagSet SecurityContext::actual_flags() const {
  return RequirementFlagSet::from_int(inquire().reply.flags());
}

bool SecurityContext::locally_initiated() const { return inquire().reply.locally_initiated(); }

AcceptOnceResult accept_once(std::string_view token, AcceptOnceOptions options) {
  std::shared_ptr<Connection> connection =
      options.connection ? std::move(options.connection)
                         : (options.creds ? options.creds->connection()
                                          : Connection::shared_default());
  v1::AcceptOnceRequest request;
  if (options.creds) request.set_creds(CredentialsAccess::handle(*options.creds));
  if (options.channel_bindings) {
    fill_bindings(*options.channel_bindings, request.mutable_channel_bindings());
  }
  request.set_input_token(std::string(token));
  v1::AcceptOnceReply reply;
  internal::call(*connection, &v1::Gssgate::Stub::AcceptOnce, request, &reply,
                 internal::HandleKind::kCred);
  // A delegated credential is the caller's from here on, also when the status below throws.
  std::optional<Credentials> delegated;
  if (!reply.delegated_creds().empty()) {
    delegated = CredentialsAccess::adopt(connection, reply.delegated_creds());
  }
  if (reply.needs_another_step()) {
    throw GeneralError(
        "accept_once: the mechanism needs another round trip; accept with a SecurityContext");
  }
  internal::check(reply.status(), false, reply.output_token());
  return AcceptOnceResult{
      .token = reply.output_token().empty()
                   ? std::nullopt
                   : std::optional<std::string>(std::move(*reply.mutable_output_token())),
      .initiator_name = NameAccess::from_proto(reply.initiator_name(), connection),
      .target_name = NameAccess::from_proto(reply.target_name(), connection),
      .mech = OID::from_der(reply.mech()),
      .actual_flags = RequirementFlagSet::from_int(reply.flags()),
      .lifetime = reply.lifetime() == 0xffffffffu ? std::nullopt
                                                  : std::optional<uint32_t>(reply.lifetime()),
      .delegated_creds = std::move(delegated),
  };
}

}  // namespace gssgate
