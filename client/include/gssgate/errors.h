#pragma once

/// @file
/// The exceptions libgssgate throws: python-gssapi's family, spelled the same, plus
/// ConnectionError and PermissionDenied so a caller can tell "the daemon is unreachable" and
/// "policy refused" from a GSSAPI failure.
///
/// GSSError subclasses are chosen from the major status as python-gssapi does: a calling error
/// (with the combined classes such as ContextReadError), else a routine error (plain
/// GSS_S_FAILURE has no subclass), else a single supplementary bit, else GSSError itself.
/// Classes with two parents use virtual inheritance from GSSError, so `catch (GSSError&)` and
/// `catch (MissingContextError&)` both see a ContextReadError.

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace gssgate {

/// A GSSAPI failure reported by the daemon (or, for a missing context or credential, by the
/// library before any call).
class GSSError : public std::exception {
 public:
  struct Info {
    uint32_t major = 0;
    uint32_t minor = 0;
    std::string mech;                     ///< DER of the mechanism OID; empty if unknown
    std::vector<std::string> major_text;  ///< gss_display_status lines for major
    std::vector<std::string> minor_text;  ///< gss_display_status lines for minor
    std::string token;                    ///< an error token to send to the peer, if any
    std::string operation;                ///< e.g. "gss_accept_sec_context"
  };

  explicit GSSError(Info info);
  const char* what() const noexcept override { return message_.c_str(); }

  uint32_t maj_code() const { return info_.major; }
  uint32_t min_code() const { return info_.minor; }
  const std::string& mech() const { return info_.mech; }
  const std::string& token() const { return info_.token; }
  const std::string& operation() const { return info_.operation; }
  /// "Major (N): …, Minor (M): …", as python-gssapi's gen_message().
  const std::string& gen_message() const { return message_; }
  /// python's get_all_statuses(code, is_maj) for this error's own codes: every line
  /// gss_display_status gave for the major (is_maj) or minor status, as the daemon reported them.
  const std::vector<std::string>& get_all_statuses(bool is_maj) const {
    return is_maj ? info_.major_text : info_.minor_text;
  }

  /// Throws the subclass python-gssapi would raise for `info.major`.
  [[noreturn]] static void raise(Info info);

 private:
  Info info_;
  std::string message_;
};

#define GSSGATE_GSS_ERROR_CLASS(Name, Base)                         \
  class Name : public Base {                                        \
   public:                                                          \
    explicit Name(const Info& info) : GSSError(info), Base(info) {} \
  };

// Calling errors.
class ParameterReadError : public virtual GSSError {
 public:
  explicit ParameterReadError(const Info& info) : GSSError(info) {}
};
class ParameterWriteError : public virtual GSSError {
 public:
  explicit ParameterWriteError(const Info& info) : GSSError(info) {}
};
class MalformedParameterError : public virtual GSSError {
 public:
  explicit MalformedParameterError(const Info& info) : GSSError(info) {}
};
// Routine errors.
#define GSSGATE_ROUTINE_ERROR(Name)                     \
  class Name : public virtual GSSError {                \
   public:                                              \
    explicit Name(const Info& info) : GSSError(info) {} \
  };
GSSGATE_ROUTINE_ERROR(BadMechanismError)
GSSGATE_ROUTINE_ERROR(BadNameError)
GSSGATE_ROUTINE_ERROR(BadNameTypeError)
GSSGATE_ROUTINE_ERROR(BadChannelBindingsError)
GSSGATE_ROUTINE_ERROR(BadStatusError)
GSSGATE_ROUTINE_ERROR(BadMICError)
GSSGATE_ROUTINE_ERROR(MissingCredentialsError)
GSSGATE_ROUTINE_ERROR(MissingContextError)
GSSGATE_ROUTINE_ERROR(InvalidTokenError)
GSSGATE_ROUTINE_ERROR(InvalidCredentialsError)
GSSGATE_ROUTINE_ERROR(ExpiredCredentialsError)
GSSGATE_ROUTINE_ERROR(ExpiredContextError)
GSSGATE_ROUTINE_ERROR(BadQoPError)
GSSGATE_ROUTINE_ERROR(UnauthorizedError)
GSSGATE_ROUTINE_ERROR(OperationUnavailableError)
GSSGATE_ROUTINE_ERROR(DuplicateCredentialsElementError)
GSSGATE_ROUTINE_ERROR(MechanismNameRequiredError)
GSSGATE_ROUTINE_ERROR(SupplementaryError)
#undef GSSGATE_ROUTINE_ERROR
// Calling error combined with a routine error.
#define GSSGATE_COMBINED_ERROR(Name, Calling, Routine)                                \
  class Name : public Calling, public Routine {                                       \
   public:                                                                            \
    explicit Name(const Info& info) : GSSError(info), Calling(info), Routine(info) {} \
  };
GSSGATE_COMBINED_ERROR(ContextReadError, ParameterReadError, MissingContextError)
GSSGATE_COMBINED_ERROR(ContextWriteError, ParameterWriteError, MissingContextError)
GSSGATE_COMBINED_ERROR(CredentialsReadError, ParameterReadError, MissingCredentialsError)
GSSGATE_COMBINED_ERROR(CredentialsWriteError, ParameterWriteError, MissingCredentialsError)
GSSGATE_COMBINED_ERROR(NameReadError, ParameterReadError, BadNameError)
GSSGATE_COMBINED_ERROR(NameTypeReadError, ParameterReadError, BadNameTypeError)
GSSGATE_COMBINED_ERROR(TokenReadError, ParameterReadError, InvalidTokenError)
#undef GSSGATE_COMBINED_ERROR
// Supplementary information.
GSSGATE_GSS_ERROR_CLASS(DuplicateTokenError, SupplementaryError)
GSSGATE_GSS_ERROR_CLASS(ExpiredTokenError, SupplementaryError)
GSSGATE_GSS_ERROR_CLASS(TokenOutOfSequenceError, SupplementaryError)
GSSGATE_GSS_ERROR_CLASS(TokenTooLateError, TokenOutOfSequenceError)
GSSGATE_GSS_ERROR_CLASS(TokenTooEarlyError, TokenOutOfSequenceError)
#undef GSSGATE_GSS_ERROR_CLASS

/// python-gssapi's non-GSS high-level error: "MAJOR: minor." messages.
class GeneralError : public std::runtime_error {
 public:
  explicit GeneralError(const std::string& minor_message,
                        const std::string& major_message = "General error");
};
/// The usage of a security context or credentials could not be determined or is not known.
class UnknownUsageError : public GeneralError {
 public:
  /// `obj` is "security context" or "credentials", as in python-gssapi.
  UnknownUsageError(const std::string& minor_message, const std::string& obj);
};
/// decrypt() found a token that was wrapped without confidentiality. The message is still
/// available, as in python-gssapi.
class EncryptionNotUsed : public GeneralError {
 public:
  EncryptionNotUsed(const std::string& minor_message, std::string unwrapped_message);
  const std::string& unwrapped_message() const { return unwrapped_message_; }

 private:
  std::string unwrapped_message_;
};

/// gssgated could not be reached (not running, wrong socket, no answer within the deadline). The
/// message names the socket and the reason.
class ConnectionError : public std::runtime_error {
 public:
  ConnectionError(const std::string& socket, const std::string& why);
  const std::string& socket() const { return socket_; }

 private:
  std::string socket_;
};

/// The daemon's policy refused the call; the message says what (e.g. "no policy rule for uid …").
class PermissionDenied : public std::runtime_error {
 public:
  explicit PermissionDenied(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace gssgate
