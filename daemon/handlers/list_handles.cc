#include "daemon/handlers/common.h"

namespace gssgate::daemon {

// The caller's handles, or (admin) everyone's; never their ids.
absl::Status Service::ListHandles(const Call& call, const v1::ListHandlesRequest& request,
                                  v1::ListHandlesReply* reply) {
  if (request.all() && !call.rule->admin) {
    audit(call, "list_handles", "reason=\"all handles need admin\"", "denied");
    return absl::PermissionDeniedError(
        absl::StrCat("listing every caller's handles needs admin = true; policy rule \"",
                     call.rule->name, "\" does not grant it to uid ", call.peer.uid));
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
