#include "daemon/handlers/common.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// The caller's handles, or (admin) everyone's; never their ids.
absl::Status Service::ListHandles(const Call& call, const v1::ListHandlesRequest& request,
                                  v1::ListHandlesReply* reply) {
  if (request.all()) {
    GSSGATE_RETURN_IF_ERROR(
        require(call, Right::kAdmin, "list_handles", "listing every caller's handles"));
  }

  const uid_t uid = call.peer.uid;
  for (const HandleTable::Listed& h : table().list(request.all() ? nullptr : &uid)) {
    v1::HandleInfo* info = reply->add_handles();
    info->set_kind(h.kind == HandleKind::kCred ? "credential" : "context");
    info->set_uid(h.owner.uid);
    info->set_connection(h.owner.connection);
    info->set_idle_seconds(static_cast<uint64_t>(absl::ToInt64Seconds(h.idle)));
  }
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
