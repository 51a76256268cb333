#include "daemon/handlers/audit.h"

#include "absl/strings/str_cat.h"
#include "daemon/handlers/convert.h"
#include "daemon/log_format.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

std::string loggable_name(const gss::NameHandle& name, const v1::Name& wire) {
  if (name) {
    // Escaped where it is logged (log_value), like every caller-influenced value.
    std::string shown = display_of(name);
    if (!shown.empty()) return shown;
  }
  return absl::StrCat("<", wire.value().size(), "-byte name>");
}

void audit(const Call& call, const char* op, const std::string& details,
           const std::string& outcome) {
  // Listener names are letters, digits, _ . - (config.cc), so need no escaping.
  spdlog::info("audit op={} uid={} gid={} pid={} conn={} rule={} listener={} {} outcome={}", op,
               call.peer.uid, call.peer.gid, call.peer.pid, call.peer.connection, call.grant.rule_name(),
               call.peer.listener, details, outcome);
}

absl::Status deny(const Call& call, const char* op, const std::string& why) {
  audit(call, op, absl::StrCat("reason=", log_value(why)), "denied");
  return absl::PermissionDeniedError(why);
}

absl::Status require(const Call& call, Right right, const char* op, absl::string_view what) {
  if (call.grant.has(right)) return absl::OkStatus();
  return deny(call, op, refusal(call.grant.rule(), call.peer.uid, right, what));
}

}  // namespace gssgate::daemon
