#pragma once

// The shared step logic of InitSecContext, AcceptSecContext and AcceptOnce: the handles a step
// works on, and how the context handle is settled after it.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "daemon/service.h"
#include "lib/gss/context.h"

namespace gssgate::daemon {

// The entries one init/accept step works on: the caller's credential handle when `cred_id` is
// non-empty (else null), and its context for `ctx_id`, or a fresh entry for a first step (empty
// `ctx_id`). NOT_FOUND / INVALID_ARGUMENT for handles that are not the caller's.
struct StepEntries {
  std::shared_ptr<Entry> cred;
  std::shared_ptr<Entry> context;
};
absl::StatusOr<StepEntries> step_entries(HandleTable& table, const Call& call,
                                         const std::string& ctx_id, const std::string& cred_id);

// Settles the context handle after one init/accept step and returns the handle for the reply:
// a successful first step registers `context` (RESOURCE_EXHAUSTED over quota), a later one keeps
// `ctx_id`; a failed later step drops the handle (GSSAPI has deleted the context) and gives "".
// With `release_when_complete`, a step that completes the context drops it too (a first step
// never registers it) and gives "". With `once` (AcceptOnce), a first step never registers the
// context at all, complete or not.
absl::StatusOr<std::string> settle_step(HandleTable& table, const Call& call,
                                        const gss::GssStatus& status, const std::string& ctx_id,
                                        std::shared_ptr<Entry> context,
                                        bool release_when_complete = false, bool once = false);

// The names gss_inquire_context gives for a context that a step has just completed, for the
// step's reply (so the caller need not inquire afterwards). Leaves them unset if MIT cannot say.
void complete_names_to_proto(const Call& call, Entry& context, v1::Name* initiator,
                             v1::Name* target);

// gss_import_sec_context of `token` as a context entry of `owner`, with its side and mechanism
// from gss_inquire_context (Entry::role, Entry::mech). Null, with the failure in *status, if GSSAPI
// refuses the token.
std::shared_ptr<Entry> imported_context_entry(const Owner& owner, std::string_view token,
                                              gss::GssStatus* status);

}  // namespace gssgate::daemon
