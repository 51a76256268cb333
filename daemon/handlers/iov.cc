#include <gssapi/gssapi_ext.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

namespace {

constexpr int kMaxIovBuffers = 64;

bool known_type(uint32_t type) {
  switch (type) {
    case GSS_IOV_BUFFER_TYPE_EMPTY:  // MIT skips it
    case GSS_IOV_BUFFER_TYPE_DATA:
    case GSS_IOV_BUFFER_TYPE_HEADER:
    case GSS_IOV_BUFFER_TYPE_MECH_PARAMS:
    case GSS_IOV_BUFFER_TYPE_TRAILER:
    case GSS_IOV_BUFFER_TYPE_PADDING:
    case GSS_IOV_BUFFER_TYPE_STREAM:
    case GSS_IOV_BUFFER_TYPE_SIGN_ONLY:
    case GSS_IOV_BUFFER_TYPE_MIC_TOKEN:
      return true;
    default:
      return false;
  }
}

// Parts the mechanism makes in a wrap or get_mic, when the caller sends none: MIT allocates them.
bool made_by_mechanism(v1::IovOp op, uint32_t type) {
  if (op == v1::IOV_OP_WRAP) {
    return type == GSS_IOV_BUFFER_TYPE_HEADER || type == GSS_IOV_BUFFER_TYPE_TRAILER ||
           type == GSS_IOV_BUFFER_TYPE_PADDING;
  }
  return op == v1::IOV_OP_GET_MIC && type == GSS_IOV_BUFFER_TYPE_MIC_TOKEN;
}

}  // namespace

// gss_wrap_iov, gss_unwrap_iov, gss_get_mic_iov, gss_verify_mic_iov and their _length calls. The
// caller's parts are copied in, the mechanism works on the copies in place (allocating the parts
// it makes), and every part goes back as it is after the call.
absl::Status Service::Iov(const Call& call, const v1::IovRequest& request, v1::IovReply* reply) {
  const v1::IovOp op = request.op();
  if (op == v1::IOV_OP_UNSPECIFIED || !v1::IovOp_IsValid(op)) {
    return absl::InvalidArgumentError(absl::StrCat("op ", static_cast<int>(op), " is not an IovOp"));
  }
  const int n = request.buffers_size();
  if (n < 1 || n > kMaxIovBuffers) {
    return absl::InvalidArgumentError(
        absl::StrCat("an IOV call takes 1 to ", kMaxIovBuffers, " buffers, not ", n));
  }
  std::vector<std::string> bytes(n);
  std::vector<gss_iov_buffer_desc> iov(n);
  for (int i = 0; i < n; ++i) {
    const v1::IovBuffer& part = request.buffers(i);
    if (!known_type(part.type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("buffers[", i, "].type ", part.type(), " is not a GSS_IOV_BUFFER_TYPE"));
    }
    bytes[i] = part.data();
    iov[i].type = part.type();
    iov[i].buffer.length = bytes[i].size();
    iov[i].buffer.value = bytes[i].empty() ? nullptr : bytes[i].data();
    if (op == v1::IOV_OP_WRAP_LENGTH || op == v1::IOV_OP_GET_MIC_LENGTH) {
      // The sizes the lengths depend on (the message's, for padding), without the bytes.
      iov[i].buffer.length = part.length();
      iov[i].buffer.value = nullptr;
    }
    if (bytes[i].empty() && made_by_mechanism(op, part.type())) {
      iov[i].type |= GSS_IOV_BUFFER_FLAG_ALLOCATE;
    }
  }
  GSSGATE_ASSIGN_OR_RETURN(auto entry,
                           table().find(call.owner, request.context(), HandleKind::kContext));
  OM_uint32 major = 0, minor = 0;
  int conf_state = 0;
  gss_qop_t qop = request.qop();
  const char* operation = "";
  {
    absl::MutexLock lock(&entry->mu);
    gss_ctx_id_t ctx = entry->context.get();
    switch (op) {
      case v1::IOV_OP_WRAP:
        operation = "gss_wrap_iov";
        major = gss_wrap_iov(&minor, ctx, request.encrypt(), qop, &conf_state, iov.data(), n);
        break;
      case v1::IOV_OP_UNWRAP:
        operation = "gss_unwrap_iov";
        major = gss_unwrap_iov(&minor, ctx, &conf_state, &qop, iov.data(), n);
        break;
      case v1::IOV_OP_WRAP_LENGTH:
        operation = "gss_wrap_iov_length";
        major = gss_wrap_iov_length(&minor, ctx, request.encrypt(), qop, &conf_state, iov.data(), n);
        break;
      case v1::IOV_OP_GET_MIC:
        operation = "gss_get_mic_iov";
        major = gss_get_mic_iov(&minor, ctx, qop, iov.data(), n);
        break;
      case v1::IOV_OP_VERIFY_MIC:
        operation = "gss_verify_mic_iov";
        major = gss_verify_mic_iov(&minor, ctx, &qop, iov.data(), n);
        break;
      case v1::IOV_OP_GET_MIC_LENGTH:
        operation = "gss_get_mic_iov_length";
        major = gss_get_mic_iov_length(&minor, ctx, qop, iov.data(), n);
        break;
      default:
        break;
    }
  }
  gss::GssStatus status = gss::check(operation, major, minor);
  to_proto(status, reply->mutable_status());
  if (status.ok()) {
    const bool lengths_only = op == v1::IOV_OP_WRAP_LENGTH || op == v1::IOV_OP_GET_MIC_LENGTH;
    reply->set_encrypted(conf_state != 0);
    reply->set_qop(qop);
    for (int i = 0; i < n; ++i) {
      v1::IovBuffer* out = reply->add_buffers();
      out->set_type(GSS_IOV_BUFFER_TYPE(iov[i].type));
      out->set_length(static_cast<uint32_t>(iov[i].buffer.length));
      if (!lengths_only && iov[i].buffer.value != nullptr) {
        out->set_data(static_cast<const char*>(iov[i].buffer.value), iov[i].buffer.length);
      }
    }
  }
  OM_uint32 ignored;
  gss_release_iov_buffer(&ignored, iov.data(), n);  // only what MIT allocated
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
