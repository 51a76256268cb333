#include "gssgate/errors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gssgate {
namespace {

constexpr uint32_t kCallingMask = 0xffu << 24;
constexpr uint32_t kRoutineMask = 0xffu << 16;

std::string make_message(const GSSError::Info& info) {
  return absl::StrCat(
      "Major (", info.major,
      "): ", info.major_text.empty() ? "No error" : absl::StrJoin(info.major_text, " -- "),
      ", Minor (", info.minor,
      "): ", info.minor_text.empty() ? "Unknown error" : absl::StrJoin(info.minor_text, " -- "));
}

}  // namespace

GSSError::GSSError(Info info) : info_(std::move(info)), message_(make_message(info_)) {}

void GSSError::raise(Info info) {
  const uint32_t calling = (info.major & kCallingMask) >> 24;
  const uint32_t routine = (info.major & kRoutineMask) >> 16;
  const uint32_t supplementary = info.major & 0xfffeu;
  // Calling errors first, with python-gssapi's combined classes.
  if (calling == 1) {
    if (routine == 8) throw ContextReadError(info);
    if (routine == 7) throw CredentialsReadError(info);
    if (routine == 2) throw NameReadError(info);
    if (routine == 3) throw NameTypeReadError(info);
    if (routine == 9) throw TokenReadError(info);
    throw ParameterReadError(info);
  }
  if (calling == 2) {
    if (routine == 8) throw ContextWriteError(info);
    if (routine == 7) throw CredentialsWriteError(info);
    throw ParameterWriteError(info);
  }
  if (calling == 3) throw MalformedParameterError(info);
  switch (routine) {
    case 1:
      throw BadMechanismError(info);
    case 2:
      throw BadNameError(info);
    case 3:
      throw BadNameTypeError(info);
    case 4:
      throw BadChannelBindingsError(info);
    case 5:
      throw BadStatusError(info);
    case 6:
      throw BadMICError(info);
    case 7:
      throw MissingCredentialsError(info);
    case 8:
      throw MissingContextError(info);
    case 9:
      throw InvalidTokenError(info);
    case 10:
      throw InvalidCredentialsError(info);
    case 11:
      throw ExpiredCredentialsError(info);
    case 12:
      throw ExpiredContextError(info);
    case 14:
      throw BadQoPError(info);
    case 15:
      throw UnauthorizedError(info);
    case 16:
      throw OperationUnavailableError(info);
    case 17:
      throw DuplicateCredentialsElementError(info);
    case 18:
      throw MechanismNameRequiredError(info);
    default:
      break;  // 0 or GSS_S_FAILURE (13): decided by the supplementary bits, if any
  }
  // Exactly one supplementary bit selects its class; several, or none, stay GSSError.
  switch (supplementary) {
    case 2:
      throw DuplicateTokenError(info);
    case 4:
      throw ExpiredTokenError(info);
    case 8:
      throw TokenTooLateError(info);
    case 16:
      throw TokenTooEarlyError(info);
    default:
      throw GSSError(info);
  }
}

GeneralError::GeneralError(const std::string& minor_message, const std::string& major_message)
    : std::runtime_error(absl::StrCat(major_message, ": ", minor_message, ".")) {}

UnknownUsageError::UnknownUsageError(const std::string& minor_message, const std::string& obj)
    : GeneralError(minor_message, absl::StrCat("Unable to determine ", obj, " usage")) {}

EncryptionNotUsed::EncryptionNotUsed(const std::string& minor_message,
                                     std::string unwrapped_message)
    : GeneralError(minor_message, "Confidentiality was requested, but not used"),
      unwrapped_message_(std::move(unwrapped_message)) {}

ConnectionError::ConnectionError(const std::string& socket, const std::string& why)
    : std::runtime_error(absl::StrCat("cannot reach gssgated at ", socket, ": ", why,
                                      " (is the daemon running? is GSSGATE_SOCKET right?)")),
      socket_(socket) {}

}  // namespace gssgate
