#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_release_cred: drops the handle (NOT_FOUND if it is not the caller's).
absl::Status Service::ReleaseCred(const Call& call, const v1::ReleaseCredRequest& request,
                                  v1::ReleaseCredReply*) {
  return table().erase(call.owner, request.creds(), HandleKind::kCred);
}

}  // namespace gssgate::daemon
