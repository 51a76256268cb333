#include "lib/gss/status.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gssgate::gss {
namespace {
constexpr int kMaxDisplayRounds = 8;
constexpr size_t kMaxDisplayBytes = 4096;

absl::StatusCode code_for(OM_uint32 major) {
  if (GSS_CALLING_ERROR(major) != 0) return absl::StatusCode::kInvalidArgument;
  switch (GSS_ROUTINE_ERROR(major)) {
    case GSS_S_BAD_MECH:
    case GSS_S_BAD_NAME:
    case GSS_S_BAD_NAMETYPE:
    case GSS_S_BAD_BINDINGS:
    case GSS_S_BAD_STATUS:
    case GSS_S_BAD_SIG:
    case GSS_S_DEFECTIVE_TOKEN:
    case GSS_S_DEFECTIVE_CREDENTIAL:
    case GSS_S_BAD_QOP:
      return absl::StatusCode::kInvalidArgument;
    case GSS_S_NO_CRED:
    case GSS_S_NO_CONTEXT:
    case GSS_S_CREDENTIALS_EXPIRED:
    case GSS_S_CONTEXT_EXPIRED:
      return absl::StatusCode::kFailedPrecondition;
    case GSS_S_UNAUTHORIZED:
      return absl::StatusCode::kPermissionDenied;
    case GSS_S_UNAVAILABLE:
      return absl::StatusCode::kUnimplemented;
    case GSS_S_DUPLICATE_ELEMENT:
      return absl::StatusCode::kAlreadyExists;
    case GSS_S_NAME_NOT_MN:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kUnknown;
  }
}
}  // namespace

std::vector<std::string> display_status(OM_uint32 code, int code_type, gss_const_OID mech) {
  std::vector<std::string> lines;
  size_t bytes = 0;
  OM_uint32 message_context = 0;
  for (int round = 0; round < kMaxDisplayRounds; ++round) {
    OM_uint32 minor = 0;
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
    OM_uint32 major = gss_display_status(&minor, code, code_type, const_cast<gss_OID>(mech),
                                         &message_context, &text);
    if (GSS_ERROR(major)) {
      gss_release_buffer(&minor, &text);
      if (lines.empty()) lines.push_back(absl::StrCat("(unrenderable status code ", code, ")"));
      break;
    }
    std::string line(static_cast<const char*>(text.value), text.length);
    gss_release_buffer(&minor, &text);
    if (bytes + line.size() > kMaxDisplayBytes) line.resize(kMaxDisplayBytes - bytes);
    bytes += line.size();
    if (!line.empty()) lines.push_back(std::move(line));
    if (message_context == 0 || bytes >= kMaxDisplayBytes) break;
  }
  return lines;
}

GssStatus check(const char* operation, OM_uint32 major, OM_uint32 minor, gss_const_OID mech) {
  GssStatus status;
  status.operation = operation;
  status.major = major;
  status.minor = minor;
  status.mech = Oid::from_gss(mech);
  // Render the routine/calling part and each supplementary bit; a bare CONTINUE_NEEDED or
  // COMPLETE needs no text on the hot path.
  if (GSS_ERROR(major) != 0 || GSS_SUPPLEMENTARY_INFO(major & ~GSS_S_CONTINUE_NEEDED) != 0) {
    status.major_text = display_status(major, GSS_C_GSS_CODE, GSS_C_NO_OID);
  }
  if (minor != 0) status.minor_text = display_status(minor, GSS_C_MECH_CODE, mech);
  return status;
}

std::string GssStatus::message() const {
  std::string out;
  if (!operation.empty()) absl::StrAppend(&out, operation, ": ");
  absl::StrAppend(&out, "Major (", major,
                  "): ", major_text.empty() ? "No error" : absl::StrJoin(major_text, ", "),
                  ", Minor (", minor,
                  "): ", minor_text.empty() ? "Unknown error" : absl::StrJoin(minor_text, ", "));
  return out;
}

absl::Status GssStatus::to_absl() const {
  if (ok()) return absl::OkStatus();
  return absl::Status(code_for(major), message());
}

}  // namespace gssgate::gss
