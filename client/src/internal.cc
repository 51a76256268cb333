#include "client/src/internal.h"

#include "absl/strings/str_cat.h"

namespace gssgate::internal {

GSSError::Info info_from(const v1::GssStatus& status, std::string token) {
  GSSError::Info info;
  info.major = status.major();
  info.minor = status.minor();
  info.mech = status.mech();
  info.major_text.assign(status.major_text().begin(), status.major_text().end());
  info.minor_text.assign(status.minor_text().begin(), status.minor_text().end());
  info.token = std::move(token);
  info.operation = status.operation();
  return info;
}

void check(const v1::GssStatus& status, bool strict, std::string token) {
  uint32_t errors = status.major() & 0xffff0000u;
  uint32_t supplementary = status.major() & 0xfffeu;  // CONTINUE_NEEDED is not a failure
  if (errors != 0 || (strict && supplementary != 0)) {
    GSSError::raise(info_from(status, std::move(token)));
  }
}

void raise_local(uint32_t major, const std::string& major_text, const std::string& detail) {
  GSSError::Info info;
  info.major = major;
  info.major_text = {major_text};
  if (!detail.empty()) info.minor_text = {detail};
  GSSError::raise(std::move(info));
}

void throw_rpc_error(const Connection& c, const grpc::Status& status, HandleKind kind) {
  const std::string& msg = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      throw ConnectionError(c.socket(), msg);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      throw ConnectionError(
          c.socket(), absl::StrCat("no answer within ", c.timeout().count(), " ms (", msg, ")"));
    case grpc::StatusCode::PERMISSION_DENIED:
      throw PermissionDenied(msg);
    case grpc::StatusCode::NOT_FOUND:
      if (kind == HandleKind::kContext) {
        raise_local(8u << 16, "No context has been established", msg);  // GSS_S_NO_CONTEXT
      }
      if (kind == HandleKind::kCred) {
        raise_local(7u << 16,  // GSS_S_NO_CRED, MIT's text
                    "No credentials were supplied, or the credentials were unavailable or "
                    "inaccessible",
                    msg);
      }
      break;
    default:
      break;
  }
  throw GeneralError(
      absl::StrCat(msg, " (gRPC status ", static_cast<int>(status.error_code()), ")"));
}

}  // namespace gssgate::internal
