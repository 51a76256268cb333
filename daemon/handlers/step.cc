#include "daemon/handlers/step.h"

#include "absl/strings/str_cat.h"
#include "daemon/handlers/convert.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

std::shared_ptr<Entry> imported_context_entry(const Owner& owner, std::string_view token,
                                              gss::GssStatus* status) {
  gss::ContextHandle ctx;
  *status = gss::import_context(token, &ctx);
  if (!status->ok()) return nullptr;
  gss::ContextInfo info;
  *status = gss::inquire_context(ctx, &info);
  if (!status->ok()) return nullptr;
  auto entry = std::make_shared<Entry>(owner, HandleKind::kContext);
  entry->role = info.locally_initiated ? Entry::Role::kInitiator : Entry::Role::kAcceptor;
  entry->mech = info.mech;
  absl::MutexLock lock(&entry->mu);
  entry->context = std::move(ctx);
  return entry;
}

absl::StatusOr<StepEntries> step_entries(HandleTable& table, const Call& call,
                                         const std::string& ctx_id, const std::string& cred_id) {
  StepEntries out;
  if (!cred_id.empty()) {
    GSSGATE_ASSIGN_OR_RETURN(out.cred, table.find(call.owner, cred_id, HandleKind::kCred));
  }
  if (ctx_id.empty()) {
    out.context = std::make_shared<Entry>(call.owner, HandleKind::kContext);
  } else {
    GSSGATE_ASSIGN_OR_RETURN(out.context, table.find(call.owner, ctx_id, HandleKind::kContext));
  }
  return out;
}

absl::StatusOr<std::string> settle_step(HandleTable& table, const Call& call,
                                        const gss::GssStatus& status, const std::string& ctx_id,
                                        std::shared_ptr<Entry> context, bool release_when_complete,
                                        bool once) {
  const bool first = ctx_id.empty();
  if (!status.ok() || (release_when_complete && !status.continue_needed()) || (first && once)) {
    if (!first) table.erase(call.owner, ctx_id, HandleKind::kContext).IgnoreError();
    return std::string();
  }
  if (first) return table.insert(std::move(context), call.grant.max_handles());
  return ctx_id;
}

void complete_names_to_proto(const Call& call, Entry& context, v1::Name* initiator,
                             v1::Name* target) {
  gss::ContextInfo info;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&context.mu);
    status = gss::inquire_context(
        context.context, &info,
        gss::ContextNames{.initiator = initiator != nullptr, .target = target != nullptr});
  }
  if (!status.ok()) return;
  if (info.initiator_name && initiator != nullptr) {
    name_to_proto(call, info.initiator_name, initiator);
  }
  if (info.target_name && target != nullptr) name_to_proto(call, info.target_name, target);
}

}  // namespace gssgate::daemon
