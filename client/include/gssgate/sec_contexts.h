#pragma once

/// @file
/// gssgate::SecurityContext — python-gssapi's gssapi.SecurityContext. The context lives in
/// gssgated (its session key never leaves unless policy allows export_context()).
///
/// The opt-in bulk path, make_local(): where policy allows export_context, an established context
/// can be moved into MIT krb5 in this process, so wrap/unwrap and signatures cost no round trip.
/// is_local() says where a context lives. See docs/client.md.
///
/// Deferred step errors (python's __DEFER_STEP_ERRORS__, on by default): when a step fails but
/// GSSAPI produced an error token, step() returns the token and the error is thrown by the next
/// call on the context, so the token can still reach the peer.
///
/// Round trips (docs/client.md): a step is one call; the step that completes a context brings its
/// names, mech, flags and lifetime along, so the properties of a complete context ask nothing of
/// the daemon; and the release of a context rides on the connection's next call. An acceptor that
/// only authenticates can use accept_once() instead: one call, and no context to release.
///
/// Not thread-safe: like a python object, one SecurityContext is used by one thread at a time
/// (different contexts may be used concurrently).

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gssgate/connection.h"
#include "gssgate/creds.h"
#include "gssgate/names.h"
#include "gssgate/types.h"

namespace gssgate {

struct SecurityContextOptions {
  std::optional<Name> name;  ///< the target; required to initiate
  std::optional<Credentials> creds;
  std::optional<uint32_t> lifetime;
  /// nullopt: mutual_authentication | out_of_sequence_detection (python's default).
  std::optional<RequirementFlagSet> flags;
  std::optional<OID> mech;
  std::optional<ChannelBindings> channel_bindings;
  /// "initiate" or "accept"; nullopt: the creds' usage if not "both", else "initiate" when a name
  /// is given, else "accept".
  std::optional<std::string> usage;
  std::shared_ptr<Connection> connection;
};

struct WrapResult {
  std::string message;
  bool encrypted = false;
};

struct UnwrapResult {
  std::string message;
  bool encrypted = false;
  uint32_t qop = 0;
};

class SecurityContext {
 public:
  /// Throws UnknownUsageError for an unknown usage, std::invalid_argument (python's TypeError)
  /// when initiating without a name, or accepting with a name, flags, mech or lifetime.
  explicit SecurityContext(SecurityContextOptions options);
  /// Imports an exported context (python: SecurityContext(token=…)).
  static SecurityContext from_token(std::string_view token,
                                    std::shared_ptr<Connection> connection = nullptr);
  ~SecurityContext();
  SecurityContext(SecurityContext&&) noexcept;
  SecurityContext& operator=(SecurityContext&&) noexcept;
  SecurityContext(const SecurityContext&) = delete;
  SecurityContext& operator=(const SecurityContext&) = delete;

  /// One negotiation step; nullopt when GSSAPI produced no token. A context made by from_token()
  /// cannot be stepped: std::logic_error, before anything reaches the daemon (python-gssapi
  /// raises AttributeError there, also before any GSSAPI call).
  std::optional<std::string> step(std::optional<std::string_view> token = std::nullopt);
  bool complete() const;
  const std::string& usage() const { return usage_; }

  WrapResult wrap(std::string_view message, bool encrypt);
  UnwrapResult unwrap(std::string_view message);
  /// wrap with confidentiality; throws EncryptionNotUsed if it was not applied.
  std::string encrypt(std::string_view message);
  /// unwrap. As python: throws EncryptionNotUsed (carrying the message) only when the context's
  /// actual flags include confidentiality and the token was not encrypted; otherwise returns the
  /// message, encrypted or not.
  std::string decrypt(std::string_view message);
  std::string get_signature(std::string_view message);
  /// Returns the QoP the signature was made with, as python does. Throws BadMICError (and the
  /// supplementary classes for replays) on failure.
  uint32_t verify_signature(std::string_view message, std::string_view mic);
  uint32_t get_wrap_size_limit(uint32_t desired_output_size, bool encrypted = true);
  void process_token(std::string_view token);
  /// Hands the context to the caller (only where policy allows); this object is then unusable.
  /// A local context (make_local()) is exported by MIT in this process.
  std::string export_context();

  /// The opt-in bulk path (not in python-gssapi): moves this established context out of gssgated
  /// into MIT krb5 in this process (export_context() there, gss_import_sec_context here). After
  /// it, wrap/unwrap, signatures, get_wrap_size_limit() and lifetime() run in-process, with no
  /// round trip; the names, mech, flags and role are those gssgated reported just before the move.
  /// The session key is then in this process's memory, which is why the caller's policy rule must
  /// say export_context = true (else PermissionDenied, and the context stays in gssgated). If MIT
  /// here cannot import the token, the context is handed back to gssgated and the GSSError is
  /// thrown. Calling it on a local context does nothing. Throws MissingContextError before the
  /// context is complete.
  void make_local();
  /// True when the context lives in this process (make_local()), false while gssgated holds it.
  bool is_local() const { return local_ != nullptr; }

  std::optional<uint32_t> lifetime() const;
  std::optional<Credentials> delegated_creds() const;
  Name initiator_name() const;
  Name target_name() const;
  OID mech() const;
  RequirementFlagSet actual_flags() const;
  bool locally_initiated() const;

  /// python's __DEFER_STEP_ERRORS__: the class default and this object's setting.
  static void set_default_defer_step_errors(bool defer);
  void set_defer_step_errors(bool defer) { defer_step_errors_ = defer; }

  const std::shared_ptr<Connection>& connection() const { return connection_; }

 private:
  SecurityContext() = default;
  void raise_deferred() const;
  // raise_deferred(), then MissingContextError if there is no daemon handle (not started yet, or
  // exported).
  void require_handle() const;
  struct Info;
  Info inquire() const;
  // What the step that completed the context said of it (names, mech, flags, lifetime), read by
  // the properties instead of an InquireContext call; the lifetime counts down from settled_at_.
  std::unique_ptr<Info> settled_;
  std::chrono::steady_clock::time_point settled_at_;
  void release() noexcept;
  // The context MIT runs in this process after make_local(), with gssgated's last inquiry.
  struct Local;
  std::unique_ptr<Local> local_;

  std::shared_ptr<Connection> connection_;
  std::string handle_;
  std::string usage_;
  std::optional<Name> target_;
  std::optional<Credentials> creds_;
  std::optional<RequirementFlagSet> flags_;
  std::optional<OID> mech_;
  std::optional<uint32_t> lifetime_request_;
  std::optional<ChannelBindings> channel_bindings_;
  std::optional<Credentials> delegated_;
  bool started_ = false;
  bool complete_ = false;
  // Made by from_token(): it has no target, credentials or bindings to step with.
  bool imported_ = false;
  bool defer_step_errors_ = true;
  // A step error held back until the next call (deferred step errors); cleared when thrown.
  mutable std::exception_ptr deferred_;
};

/// Not in python-gssapi: the common server case (HTTP Negotiate, SASL's first step) in one call.
/// Accepts the initiator's first token with a fresh context that gssgated releases as it
/// completes, and returns what the acceptor learns; no context object, nothing to release.
/// Throws the GSSError a SecurityContext's step() would (the error token, if any, in its token
/// field), and GeneralError when the mechanism needs another round trip (use SecurityContext).
struct AcceptOnceOptions {
  std::optional<Credentials> creds;  ///< nullopt: the caller's rule's default acceptor creds
  std::optional<ChannelBindings> channel_bindings;
  std::shared_ptr<Connection> connection;  ///< null: the creds' connection, else the default one
};

struct AcceptOnceResult {
  /// The token to return to the initiator (mutual authentication); nullopt when there is none.
  std::optional<std::string> token;
  Name initiator_name;
  Name target_name;
  OID mech;
  RequirementFlagSet actual_flags;
  /// Seconds the context would have remained valid; nullopt: indefinite.
  std::optional<uint32_t> lifetime;
  /// The initiator's delegated credentials, when it delegated and the rule grants
  /// accept_delegated.
  std::optional<Credentials> delegated_creds;
};

AcceptOnceResult accept_once(std::string_view token, AcceptOnceOptions options = {});

}  // namespace gssgate
